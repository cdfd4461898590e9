//! Each lesson, run for real, shows what its prose says the learner will see.

mod common;

use common::shown::Shown;
use common::{learnns, privileged, run, stdout};

/// The first line of a command's output.
fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").trim().to_string()
}

/// Run a lesson for its events; it must succeed with every check held.
fn lesson(args: &[&str]) -> Shown {
    let mut args = args.to_vec();
    args.extend(["--format", "json"]);
    let out = run(&args);
    let shown = Shown::parse(&stdout(&out));
    assert!(
        out.status.success(),
        "{args:?} failed:\n{}\n{}",
        shown.all_text(),
        common::stderr(&out)
    );
    let failed = shown.failed_checks();
    assert!(failed.is_empty(), "a lesson check failed: {failed:?}");
    shown
}

fn host_name() -> String {
    nix::unistd::gethostname()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn lesson_1_hostname_differs_inside_and_the_host_keeps_its_own() {
    if !privileged() {
        return;
    }
    let before = host_name();
    let shown = lesson(&["lesson", "1"]);
    let seen: Vec<(String, String)> = shown
        .observations("--uts -- hostname")
        .map(|(a, b)| (first_line(&a), first_line(&b)))
        .collect();
    assert_eq!(
        seen,
        [
            (before.clone(), "container".to_string()),
            (before.clone(), "renamed-inside".to_string())
        ]
    );
    assert!(
        shown
            .commands()
            .iter()
            .any(|(_, l)| l.starts_with("nsenter -t") && l.ends_with("hostname renamed-inside")),
        "the nsenter equivalent is shown"
    );
    assert_eq!(shown.differing(), ["uts"]);
    assert_eq!(host_name(), before, "the host's hostname is unchanged");
}

#[test]
fn lesson_2_host_queue_is_absent_inside_and_removed_afterwards() {
    if !privileged() {
        return;
    }
    let shown = lesson(&["lesson", "ipc"]);
    let id: i32 = shown
        .output_of("ipcmk -Q")
        .lines()
        .find_map(|l| l.trim().strip_prefix("Message queue id: "))
        .expect("the host queue id is shown")
        .parse()
        .unwrap();
    let queue_ids = |block: &str| -> Vec<i32> {
        block
            .lines()
            .filter(|l| l.starts_with("0x"))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
            .collect()
    };
    let (outside, inside) = shown.observed("-- ipcs -q");
    let (outside, inside) = (queue_ids(&outside), queue_ids(&inside));
    assert!(outside.contains(&id), "host lists queue {id}: {outside:?}");
    assert!(
        inside.is_empty(),
        "the container starts with no queues: {inside:?}"
    );
    assert!(
        shown
            .commands()
            .iter()
            .any(|(_, l)| *l == format!("ipcrm -q {id}"))
    );
    let msg = std::fs::read_to_string("/proc/sysvipc/msg").unwrap();
    assert!(
        !msg.lines()
            .skip(1)
            .any(|l| l.split_whitespace().nth(1) == Some(&id.to_string())),
        "queue {id} was removed from the host"
    );
}

#[test]
fn lesson_3_shell_is_pid_1_and_nspid_has_both_numbers() {
    if !privileged() {
        return;
    }
    let shown = lesson(&["lesson", "3"]);
    let (outside, inside) = shown.observed("sh -c 'echo $$'");
    assert_eq!(inside.trim(), "1");
    assert_ne!(outside.trim(), "1");
    let nspid = shown
        .outputs()
        .iter()
        .flat_map(|o| o.lines().map(str::to_string).collect::<Vec<_>>())
        .find(|l| l.trim_start().starts_with("NSpid:"))
        .expect("the NSpid line is shown");
    let numbers: Vec<i32> = nspid
        .split_whitespace()
        .skip(1)
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(numbers.len(), 2, "{nspid}");
    assert_eq!(numbers[1], 1);
    assert!(shown.says(&format!("container init: PID {} on the host", numbers[0])));
    // ps inside still shows the host's PID 1, with the reason.
    let (outside_ps, inside_ps) = shown.observed("-- ps -o pid,comm -p 1");
    assert_eq!(first_line(&outside_ps), "PID COMMAND");
    assert_eq!(first_line(&inside_ps), "PID COMMAND");
    assert!(shown.says("its /proc is the host's"));
    assert!(shown.passed("the kernel killed `sleep` with it"));
}

#[test]
fn lesson_3_with_only_a_pid_namespace() {
    if !privileged() {
        return;
    }
    let shown = lesson(&["lesson", "3", "--pid"]);
    assert!(matches!(
        &shown.events[0],
        learnns::events::Event::Lesson { kinds, default_kinds, chosen: true, .. }
            if kinds == "pid" && default_kinds == "pid ipc uts"
    ));
    assert_eq!(shown.differing(), ["pid"]);
    assert!(shown.observations("--pid -- ps").count() > 0);
}

#[test]
fn lesson_1_without_a_uts_namespace_never_renames_the_host() {
    if !privileged() {
        return;
    }
    let before = host_name();
    let shown = lesson(&["lesson", "1", "--ipc"]);
    assert!(
        shown
            .skipped()
            .iter()
            .any(|r| r.starts_with("without a UTS namespace")),
        "{:?}",
        shown.skipped()
    );
    assert_eq!(host_name(), before);
}

#[test]
fn lesson_0_shows_links_and_an_ordinary_process() {
    if !privileged() {
        return;
    }
    let shown = lesson(&["lesson", "intro"]);
    let text = shown.all_text();
    for kind in ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"] {
        assert!(
            text.contains(&format!("{kind} -> {kind}:["))
                || text.contains(&format!("{kind} -> '{kind}:[")),
            "{kind} link shown"
        );
    }
    assert!(
        text.contains("CLONE_NEWUTS") && text.contains("CLONE_NEWTIME"),
        "flags listed"
    );
    assert!(text.contains("device") && text.contains("inode"));
    assert_eq!(shown.table().1, 0, "an ordinary process shares all eight");
}

#[test]
fn run_passes_the_exit_status_through() {
    if !privileged() {
        return;
    }
    for code in [0, 1, 7, 42] {
        let out = run(&["run", "--all", "--", "sh", "-c", &format!("exit {code}")]);
        assert_eq!(out.status.code(), Some(code));
    }
    let out = run(&["run", "--uts", "--", "sh", "-c", "kill -KILL $$"]);
    assert_eq!(out.status.code(), Some(128 + 9), "death by signal is 128+N");
    // Inside its own namespace, PID 1 gets only the signals it handles:
    // not even SIGKILL from inside can kill it.
    let out = run(&[
        "run",
        "--pid",
        "--",
        "sh",
        "-c",
        "kill -KILL $$; echo survived",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "survived\n");
    let out = run(&["run", "--uts", "--", "no-such-command-here"]);
    assert_eq!(out.status.code(), Some(127));
    assert!(common::stderr(&out).contains("`no-such-command-here` was not found"));
}

#[test]
fn run_sets_the_hostname_inside_only() {
    if !privileged() {
        return;
    }
    let before = host_name();
    let out = run(&["run", "--uts", "--hostname", "box", "--", "hostname"]);
    assert!(out.status.success());
    assert_eq!(stdout(&out), "box\n");
    assert_eq!(host_name(), before);
}

#[test]
fn run_gives_each_kind_in_its_plain_form() {
    if !privileged() {
        return;
    }
    let script = "echo pid=$$; ip -o link | wc -l; cat /proc/self/uid_map; grep '^0::' /proc/self/cgroup; readlink /proc/self/ns/time";
    let out = learnns(&["run", "--all", "--", "sh", "-c", script])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", common::stderr(&out));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "pid=1");
    // What any new network namespace has on this host: lo, and the
    // fallback devices of tunnel modules if some are loaded.
    let fresh = std::process::Command::new("unshare")
        .args(["--net", "sh", "-c", "ip -o link | wc -l"])
        .output()
        .unwrap();
    assert_eq!(
        lines[1].trim(),
        String::from_utf8_lossy(&fresh.stdout).trim(),
        "only what every new network namespace has (lo)"
    );
    assert_eq!(
        lines[2].split_whitespace().collect::<Vec<_>>(),
        ["0", "0", "1"]
    );
    assert_eq!(lines[3], "0::/");
    let own_time = std::fs::read_link("/proc/self/ns/time").unwrap();
    assert_ne!(lines[4], own_time.to_string_lossy(), "a new time namespace");
    // A fresh /proc: ps sees only the container.
    let out = run(&["run", "--mnt", "--pid", "--", "ps", "-e", "-o", "pid="]);
    assert_eq!(stdout(&out).split_whitespace().collect::<Vec<_>>(), ["1"]);
}

/// A copy of learnns that any user may run, in a directory removed on drop.
struct Shared(std::path::PathBuf);

impl Shared {
    fn new() -> Shared {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("learnns-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::copy(env!("CARGO_BIN_EXE_learnns"), dir.join("learnns")).unwrap();
        Shared(dir)
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn rootless_with_a_user_namespace_first() {
    use std::os::unix::process::CommandExt;
    if !privileged() {
        return;
    }
    let shared = Shared::new();
    // An ordinary user with a home of their own, and no XDG_RUNTIME_DIR:
    // the journal goes to their state directory.
    let home = shared.0.join("home");
    std::fs::create_dir_all(&home).unwrap();
    nix::unistd::chown(&home, Some(65534.into()), Some(65534.into())).unwrap();
    let nobody = |args: &[&str]| {
        std::process::Command::new(shared.0.join("learnns"))
            .args(args)
            .uid(65534)
            .gid(65534)
            .current_dir("/")
            .env("NO_COLOR", "1")
            .env("HOME", &home)
            .env_remove("XDG_STATE_HOME")
            .env_remove("XDG_RUNTIME_DIR")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let out = nobody(&[
        "run",
        "--user",
        "--pid",
        "--mnt",
        "--uts",
        "--hostname",
        "mine",
        "--",
        "sh",
        "-c",
        "id -u; hostname; echo $$; cat /proc/self/uid_map",
    ]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", common::stderr(&out));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(&lines[..3], ["0", "mine", "1"]);
    assert_eq!(
        lines[3].split_whitespace().collect::<Vec<_>>(),
        ["0", "65534", "1"]
    );
    // Without a user namespace an ordinary user is refused, with the fix.
    let out = nobody(&["run", "--uts", "--", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(common::stderr(&out).contains("add --user"));
    let out = nobody(&["lesson", "1", "--uts", "--user", "--no-pause"]);
    assert!(
        out.status.success() && !stdout(&out).contains('✗'),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("2 of 8 differ (user uts)"));
    // Every lesson runs without root; each step it leaves out says so, and
    // the workshop chapter's list of what needs root is exactly those steps.
    let mut skipped = Vec::new();
    for number in common::lesson_numbers() {
        let out = nobody(&["lesson", &number.to_string(), "--format", "json"]);
        let shown = Shown::parse(&stdout(&out));
        assert!(
            out.status.success() && shown.failed_checks().is_empty(),
            "rootless lesson {number}: {:?}\n{}",
            shown.failed_checks(),
            common::stderr(&out)
        );
        let steps: Vec<String> = shown
            .events
            .iter()
            .filter_map(|e| match e {
                learnns::events::Event::Skip { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect();
        let lesson = &learnns::lessons::LESSONS[number as usize];
        assert_eq!(
            steps.is_empty(),
            lesson.without_root.is_none(),
            "lesson {number} skips {steps:?}; its entry says {:?}",
            lesson.without_root
        );
        if !steps.is_empty() {
            skipped.push(format!("lesson {number}: {}", steps.join("; ")));
        }
    }
    // Kind flags without root: the user namespace learnns adds is named as
    // the reason its row differs, and the lesson's own kind as left out.
    let out = nobody(&["lesson", "3", "--uts", "--ipc", "--format", "json"]);
    let shown = Shown::parse(&stdout(&out));
    assert!(out.status.success() && shown.failed_checks().is_empty());
    assert_eq!(shown.differing(), ["user", "ipc", "uts"]);
    assert!(shown.says("The user row differs because you are not root"));
    assert!(shown.says("The pid row, this lesson's own, is the same: your kind flags left"));
    let chapter = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/book/src/instructors.md"
    ))
    .unwrap();
    let listed: Vec<String> = chapter
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- "))
        .filter(|l| l.starts_with("lesson "))
        .map(str::to_string)
        .collect();
    assert_eq!(
        listed, skipped,
        "book/src/instructors.md lists what needs root"
    );
    assert!(
        !std::path::Path::new("/tmp/learnns-65534").exists()
            && !home.join(".local/state/learnns/run").exists(),
        "no journal directory left"
    );
}

#[test]
fn lesson_4_ps_shows_only_the_container_and_mounts_stay_inside() {
    if !privileged() {
        return;
    }
    let before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let shown = lesson(&["lesson", "4"]);
    // ps inside: PID 1 is the container's init, and nothing of the host's.
    let (_, ps) = shown.observed("-- ps -e -o pid,comm");
    let inside: Vec<String> = ps
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        inside.first().map(String::as_str),
        Some("PID COMMAND"),
        "{ps}"
    );
    assert_eq!(inside.get(1).map(String::as_str), Some("1 learnns-init"));
    assert!(
        inside.len() <= 4,
        "only the container's processes: {inside:?}"
    );
    // The tmpfs made inside is found inside, not outside.
    let (outside, inside) = shown.observed("-- findmnt -n --source lesson4-scratch");
    assert_eq!(outside.trim(), "");
    assert!(
        inside.starts_with("/mnt") && inside.contains("tmpfs"),
        "{inside}"
    );
    assert!(
        !std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .contains("lesson4-scratch")
    );
    assert!(shown.passed("from the chroot the escape reached the host's /"));
    // pivot_root . . needs no directory for the old root, in any tree.
    let lines: Vec<String> = shown.commands().into_iter().map(|(_, l)| l).collect();
    assert!(
        lines
            .windows(3)
            .any(|w| w == ["cd /mnt", "pivot_root . .", "umount -l ."]),
        "{lines:?}"
    );
    assert!(!shown.says(".oldroot"));
    assert_eq!(
        before,
        std::fs::read_to_string("/proc/self/mountinfo").unwrap()
    );
}

#[test]
fn lesson_5_only_lo_then_a_veth_pinged_both_ways_then_gone() {
    if !privileged() {
        return;
    }
    let shown = lesson(&["lesson", "5"]);
    let (_, links) = shown.observed("-- ip link");
    let inside: Vec<&str> = links.lines().filter(|l| l.contains(": <")).collect();
    assert_eq!(inside.len(), 1, "{links}");
    assert!(inside[0].contains("lo:") && inside[0].contains("state DOWN"));
    // `ping` when it is installed, learnns's own echo otherwise: either
    // way a reply line like ping's.
    let pings = shown
        .outputs()
        .iter()
        .filter(|o| o.contains("bytes from"))
        .count();
    assert!(
        pings >= 3,
        "lo, host to container, container to host: {pings}"
    );
    let add = shown
        .commands()
        .into_iter()
        .find(|(_, l)| l.starts_with("ip link add learnns"))
        .expect("the exact ip commands are shown")
        .1;
    assert!(shown.passed("reach each other both ways"));
    assert!(shown.passed("there is no default route"));
    // Its own link is gone (other links may come and go: other tests, a
    // learner's lesson).
    let link = add.split_whitespace().nth(3).unwrap().to_string();
    assert!(
        !std::path::Path::new("/sys/class/net").join(&link).exists(),
        "{link}"
    );
}

#[test]
fn run_upto_5_reads_the_skeleton_hostname() {
    if !privileged() {
        return;
    }
    let out = run(&["run", "--upto", "5", "--", "cat", "/etc/hostname"]);
    assert_eq!(stdout(&out), "container\n");
    let out = run(&[
        "run",
        "--upto",
        "4",
        "--hostname",
        "box",
        "--",
        "sh",
        "-c",
        "hostname; cat /etc/hostname; ls /usr/bin/ps; touch /usr/x 2>&1 || true",
    ]);
    let text = stdout(&out);
    assert!(text.starts_with("box\nbox\n/usr/bin/ps\n"), "{text}");
    assert!(
        text.contains("Read-only file system"),
        "the host's /usr is read-only inside: {text}"
    );
}

/// A root file system of its own for `--rootfs`: the host's sh and the
/// libraries it needs, copied into a temporary directory.
fn tiny_root() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("learnns-test-root-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["bin", "proc", "dev", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let sh = std::fs::canonicalize("/bin/sh").unwrap();
    std::fs::copy(&sh, dir.join("bin/sh")).unwrap();
    let ldd = std::process::Command::new("ldd").arg(&sh).output().unwrap();
    for lib in String::from_utf8_lossy(&ldd.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
    {
        let target = dir.join(lib.trim_start_matches('/'));
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(lib, &target).unwrap();
    }
    dir
}

#[test]
fn run_with_a_rootfs_of_ones_own() {
    if !privileged() {
        return;
    }
    let dir = tiny_root();
    let root = dir.to_str().unwrap();
    let out = run(&[
        "run",
        "--mnt",
        "--pid",
        "--rootfs",
        root,
        "--",
        "/bin/sh",
        "-c",
        "echo $$; echo /*",
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(
        stdout(&out),
        "1\n/bin /dev /lib /lib64 /proc /tmp\n".replace(
            " /lib64",
            if std::path::Path::new("/lib64").exists() {
                " /lib64"
            } else {
                ""
            }
        )
    );
}

#[test]
fn bad_rootfs_and_network_flags_are_refused() {
    let file = "/etc/hostname";
    for (args, says) in [
        (
            vec!["run", "--mnt", "--rootfs", "/no/such/dir", "--", "true"],
            "no such directory",
        ),
        (
            vec!["run", "--mnt", "--rootfs", file, "--", "true"],
            "not a directory",
        ),
        (
            vec!["run", "--mnt", "--rootfs", "/", "--", "true"],
            "host's own root",
        ),
        (
            vec!["run", "--mnt", "--rootfs", "/proc/self/fd", "--", "true"],
            "no /bin/sh",
        ),
        (
            vec!["run", "--pid", "--rootfs", "/tmp", "--", "true"],
            "needs a mount namespace",
        ),
        (
            vec!["run", "--uts", "--veth", "--", "true"],
            "--veth needs a network namespace",
        ),
        (
            vec![
                "run",
                "--net",
                "--veth",
                "--subnet",
                "10.0.0.0/30",
                "--",
                "true",
            ],
            "documentation range",
        ),
        (
            vec!["run", "--net", "--subnet", "192.0.2.0/30", "--", "true"],
            "--veth",
        ),
    ] {
        let out = run(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            common::stderr(&out)
        );
        assert!(
            common::stderr(&out).contains(says),
            "{args:?}: {}",
            common::stderr(&out)
        );
    }
}

#[test]
fn run_veth_reaches_the_host_end_and_leaves_nothing() {
    if !privileged() {
        return;
    }
    // The host end listens; the container connects across the veth pair
    // (bash's /dev/tcp: no ping or nc needed).
    let subnet = "203.0.113.4/30";
    let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = format!("exec 3<>/dev/tcp/203.0.113.5/{port} && echo connected");
    let out = run(&[
        "run", "--upto", "5", "--veth", "--subnet", subnet, "--", "bash", "-c", &script,
    ]);
    assert!(
        out.status.success(),
        "{}{}",
        stdout(&out),
        common::stderr(&out)
    );
    assert_eq!(stdout(&out), "connected\n");
    let (_, from) = listener.accept().unwrap();
    assert_eq!(
        from.ip().to_string(),
        "203.0.113.6",
        "it came from the container's end"
    );
    assert!(
        common::stderr(&out).contains("ip link add learnns"),
        "set-up commands go to stderr"
    );
    assert!(
        !std::fs::read_dir("/sys/class/net")
            .unwrap()
            .flatten()
            .any(|e| e
                .file_name()
                .to_string_lossy()
                .starts_with(&format!("learnns{}", out_pid(&out))))
    );
}

/// The PID of the learnns run, from the veth name it printed.
fn out_pid(out: &std::process::Output) -> String {
    let err = common::stderr(out);
    let at = err.find("ip link add learnns").unwrap() + "ip link add learnns".len();
    err[at..].chars().take_while(char::is_ascii_digit).collect()
}

#[test]
fn shell_runs_inside_the_container_of_a_lesson() {
    if !privileged() {
        return;
    }
    let out = common::run_with_input(
        learnns(&["shell", "--upto", "5"]),
        "hostname; cat /etc/hostname; echo $HOME; ip -o link | wc -l; exit 3\n",
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "the shell's status is passed through"
    );
    let text = stdout(&out);
    assert!(
        text.contains("inside a learnns container"),
        "the motd greets: {text}"
    );
    assert!(text.ends_with("container\ncontainer\n/root\n1\n"), "{text}");
}

#[test]
fn lesson_8_shifts_uptime_but_not_the_wall_clock() {
    if !privileged() {
        return;
    }
    let shown = lesson(&["lesson", "8"]);
    let (outside, inside) = shown.observed("-- cat /proc/uptime");
    let up = |s: &str| s.split_whitespace().next().unwrap().parse::<f64>().unwrap();
    let shift = up(&inside) - up(&outside);
    assert!((shift - 604800.0).abs() < 5.0, "uptime shifted by {shift}");
    let (outside, inside) = shown.observed("-- date +%s");
    let (a, b): (i64, i64) = (
        outside.trim().parse().unwrap(),
        inside.trim().parse().unwrap(),
    );
    assert!((a - b).abs() <= 2, "wall clock {a} vs {b}");
    assert!(shown.says("timens_offsets"));
    assert!(shown.passed("its offsets can no longer change"));
}

#[test]
fn run_time_offset_moves_the_boot_clock() {
    if !privileged() {
        return;
    }
    let host: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let out = run(&[
        "run",
        "--time",
        "--time-offset",
        "86400",
        "--",
        "cat",
        "/proc/uptime",
    ]);
    let inside: f64 = stdout(&out)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((inside - host - 86400.0).abs() < 5.0, "{inside} vs {host}");
    let out = run(&["run", "--uts", "--time-offset", "5", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("add --time"));
}

#[test]
fn lesson_6_root_inside_is_an_unused_host_id_and_cannot_touch_host_files() {
    if !privileged() {
        return;
    }
    let shown = lesson(&["lesson", "6"]);
    let (outside, inside) = shown.observed("-- cat /proc/self/uid_map");
    assert_eq!(
        outside.split_whitespace().collect::<Vec<_>>(),
        ["0", "0", "4294967295"]
    );
    // Root inside is the first of 65536 host IDs that no account and no
    // /etc/subuid range of this machine uses.
    let map: Vec<&str> = inside.split_whitespace().collect();
    assert_eq!((map[0], map[2]), ("0", "65536"), "{inside}");
    let first: u32 = map[1].parse().unwrap();
    let subuid = std::fs::read_to_string("/etc/subuid").unwrap_or_default();
    for line in subuid.lines() {
        let f: Vec<u64> = line
            .split(':')
            .skip(1)
            .filter_map(|n| n.parse().ok())
            .collect();
        if let [start, count] = f[..] {
            assert!(
                u64::from(first) + 65536 <= start || start + count <= u64::from(first),
                "{first} overlaps {line}"
            );
        }
    }
    assert!(nix::unistd::User::from_uid(first.into()).unwrap().is_none());
    let (_, id) = shown.observed("-- id");
    assert!(id.starts_with("uid=0(root)"), "{id}");
    let text = shown.all_text();
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("Uid:") && l.contains(&first.to_string())),
        "the host sees root inside as {first}"
    );
    assert!(
        text.contains("65534 65534"),
        "the host's root is unmapped inside"
    );
    assert!(text.contains("Permission denied"));
    let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with("-host-file"))
        .collect();
    assert!(left.is_empty(), "the host file is removed");
}

/// Run learnns and also return the PID it ran as, which names its cgroups.
fn run_with_pid(args: &[&str]) -> (std::process::Output, u32) {
    let child = learnns(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    (child.wait_with_output().unwrap(), pid)
}

#[test]
fn lesson_7_contains_a_fork_bomb_and_an_oom_and_shows_a_rooted_view() {
    if !privileged() {
        return;
    }
    let (out, pid) = run_with_pid(&["lesson", "7", "--format", "json"]);
    let shown = Shown::parse(&stdout(&out));
    assert!(
        out.status.success() && shown.failed_checks().is_empty(),
        "{}",
        shown.all_text()
    );
    // The view: every line inside ends at `/`; outside shows learnns-PID-N.
    let (outside, inside) = shown.observed("-- cat /proc/self/cgroup");
    assert!(
        !inside.trim().is_empty() && inside.lines().all(|l| l.ends_with(":/")),
        "{inside}"
    );
    assert!(outside.contains(":/learnns-"), "{outside}");
    let text = shown.all_text();
    // The bomb: limited to 20 processes, the rest refused and counted.
    let line = text
        .lines()
        .find(|l| l.contains("forks worked;"))
        .expect("the bomb reports");
    let numbers: Vec<u32> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    let (worked, tried, refused) = (numbers[0], numbers[1], numbers[2]);
    assert_eq!(tried, 100);
    assert!(worked < 20 && worked + refused == 100, "{line}");
    assert!(
        text.contains(&format!("max {refused}")),
        "pids.events:\n{text}"
    );
    assert!(text.contains("(exit status 137)"), "dd was killed:\n{text}");
    assert!(text.contains("oom_kill 1"), "{text}");
    assert!(
        common::cgroups_of(pid).is_empty(),
        "the cgroup directories are gone"
    );
}

#[test]
fn run_limits_processes_and_memory() {
    if !privileged() {
        return;
    }
    let out = run(&[
        "run",
        "--pid",
        "--mnt",
        "--pids-max",
        "5",
        "--",
        "sh",
        "-c",
        "for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; echo all started",
    ]);
    assert_ne!(out.status.code(), Some(0), "the sixth fork is refused");
    assert!(!stdout(&out).contains("all started"));
    assert!(
        common::stderr(&out).to_lowercase().contains("fork"),
        "{}",
        common::stderr(&out)
    );
    let out = run(&[
        "run",
        "--pid",
        "--memory-max",
        "32M",
        "--",
        "dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=64M",
        "count=1",
    ]);
    assert_eq!(
        out.status.code(),
        Some(137),
        "dd is killed: {}",
        common::stderr(&out)
    );
    // Within the limits, a command runs normally, also without a PID namespace.
    let (out, pid) = run_with_pid(&[
        "run",
        "--uts",
        "--pids-max",
        "50",
        "--memory-max",
        "256M",
        "--",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    assert!(
        common::cgroups_of(pid).is_empty(),
        "no cgroup is left behind"
    );
    let out = run(&["run", "--uts", "--memory-max", "1K", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("at least 4M"));
}

#[test]
fn run_without_a_pid_namespace_leaves_nothing_in_its_cgroup() {
    if !privileged() {
        return;
    }
    // The command exits at once; its background sleeper would outlive it,
    // but the cgroup is the container: learnns kills what is left in it.
    let (out, pid) = run_with_pid(&[
        "run",
        "--uts",
        "--pids-max",
        "10",
        "--",
        "sh",
        "-c",
        "sleep 300 & echo $!",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let sleeper: i32 = stdout(&out).trim().parse().unwrap();
    assert!(
        !std::path::Path::new(&format!("/proc/{sleeper}")).exists()
            || std::fs::read_to_string(format!("/proc/{sleeper}/stat"))
                .is_ok_and(|s| s.contains(") Z")),
        "the sleeper {sleeper} was killed with its cgroup"
    );
    assert!(common::cgroups_of(pid).is_empty());
}

#[test]
fn lesson_9_shows_what_each_layer_refuses() {
    if !privileged() {
        return;
    }
    let shown = lesson(&["lesson", "9"]);
    let rows = shown
        .events
        .iter()
        .find_map(|e| match e {
            learnns::events::Event::Grid { columns, rows } => {
                assert!(columns.iter().any(|c| c == "seccomp alone"));
                Some(rows.clone())
            }
            _ => None,
        })
        .expect("the results table");
    let row = |action: &str| -> Vec<String> {
        rows.iter()
            .find(|r| r.label == action)
            .unwrap_or_else(|| panic!("no row {action}"))
            .cells
            .clone()
    };
    assert_eq!(
        row("mount"),
        ["done", "refused", "refused", "refused", "refused"]
    );
    assert_eq!(row("mknod"), ["done", "done", "done", "refused", "refused"]);
    assert_eq!(
        row("unshare --net"),
        ["done", "refused", "refused", "refused", "refused"]
    );
    // The raw clone of a user and a network namespace needs no capability,
    // unless this machine reserves user namespaces to CAP_SYS_ADMIN; the
    // filter refuses it either way.
    let free = learnns::doctor::Machine::inspect().userns == learnns::doctor::Userns::Allowed;
    let caps = if free { "done" } else { "refused" };
    assert_eq!(
        row("clone(USER|NET)"),
        ["done", caps, caps, "refused", "refused"]
    );
    // The table is explained by what happened in it.
    assert_eq!(shown.says("It did not stop the clone"), free);
    assert_eq!(shown.says("Here the clone failed too"), !free);
    assert!(shown.passed("the filter refused the raw clone, with capabilities and without"));
    // The learner is told the container's root holds every capability.
    let (outside, inside) = shown.observed("/proc/self/status");
    assert!(outside.starts_with("Uid:") && inside.starts_with("Uid:"));
    assert!(shown.passed("root in the container mounted, made a device node and a namespace"));
}

#[test]
fn run_puts_on_security_layers() {
    if !privileged() {
        return;
    }
    let mount = ["mount", "-t", "tmpfs", "none", "/tmp"];
    let try_mount = |layers: &[&str]| {
        let mut args = vec!["run", "--mnt", "--pid"];
        args.extend_from_slice(layers);
        args.push("--");
        args.extend_from_slice(&mount);
        run(&args)
    };
    assert_eq!(try_mount(&[]).status.code(), Some(0));
    for layers in [&["--drop-caps"][..], &["--seccomp"]] {
        let out = try_mount(layers);
        assert_eq!(out.status.code(), Some(32), "{layers:?}: mount fails");
        assert!(
            common::stderr(&out).contains("permission denied"),
            "{}",
            common::stderr(&out)
        );
    }
    let status = |layers: &[&str]| {
        let mut args = vec!["run", "--uts"];
        args.extend_from_slice(layers);
        args.extend_from_slice(&["--", "cat", "/proc/self/status"]);
        stdout(&run(&args))
    };
    let field = |text: &str, name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_default()
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string()
    };
    let plain = status(&[]);
    assert_eq!(field(&plain, "NoNewPrivs:"), "0");
    assert_eq!(field(&plain, "Seccomp:"), "0");
    let all = status(&["--drop-caps", "--no-new-privs", "--seccomp"]);
    assert_eq!(field(&all, "NoNewPrivs:"), "1");
    assert_eq!(field(&all, "Seccomp:"), "2");
    // Docker's default 14 capabilities, also in the bounding set.
    assert_eq!(field(&all, "CapEff:"), "00000000a80425fb");
    assert_eq!(field(&all, "CapBnd:"), "00000000a80425fb");
    // The filter alone does not set no_new_privs: each layer is its own.
    let seccomp = status(&["--seccomp"]);
    assert_eq!(field(&seccomp, "NoNewPrivs:"), "0");
    assert_eq!(field(&seccomp, "Seccomp:"), "2");
}

#[test]
fn the_seccomp_layer_refuses_namespaces_by_every_call_but_not_processes_or_threads() {
    if !privileged() {
        return;
    }
    let inside = |layers: &[&str], script: &str| {
        let mut args = vec!["run", "--upto", "8"];
        args.extend_from_slice(layers);
        args.extend_from_slice(&["--", "sh", "-c", script]);
        let out = run(&args);
        assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
        stdout(&out)
    };
    let tries = "unshare -U true 2>/dev/null; echo user=$?; \
        unshare -n true 2>/dev/null; echo net=$?; \
        unshare -U -n true 2>/dev/null; echo user+net=$?";
    let all = ["--drop-caps", "--no-new-privs", "--seccomp"];
    // Capabilities alone stop the network namespace, not the user namespace.
    assert_eq!(
        inside(&all[..2], tries),
        "user=0\nnet=1\nuser+net=0\n",
        "without the filter"
    );
    assert_eq!(inside(&all, tries), "user=1\nnet=1\nuser+net=1\n");
    assert_eq!(inside(&["--seccomp"], tries), "user=1\nnet=1\nuser+net=1\n");
    // What every program does still works: fork, background jobs, and
    // threads (glibc's clone3 gets ENOSYS and it falls back to clone).
    let jobs = "true & wait; echo bg=$?; (sleep 0.1; echo sub) & wait";
    assert_eq!(inside(&all, jobs), "bg=0\nsub\n");
    let perl_threads = [
        "perl",
        "-Mthreads",
        "-e",
        "print threads->create(sub { 42 })->join",
    ];
    if std::process::Command::new(perl_threads[0])
        .args(&perl_threads[1..])
        .output()
        .is_ok_and(|o| o.stdout == b"42")
    {
        let mut args = vec!["run", "--upto", "8"];
        args.extend_from_slice(&all);
        args.push("--");
        args.extend_from_slice(&perl_threads);
        let out = run(&args);
        assert_eq!(
            stdout(&out),
            "42",
            "a thread started: {}",
            common::stderr(&out)
        );
    } else {
        eprintln!("skipped: the thread check needs perl with threads");
    }
}

#[test]
fn time_offsets_the_kernel_accepts_are_accepted_to_the_edge() {
    if !privileged() {
        return;
    }
    let out = run(&[
        "run",
        "--time",
        "--time-offset",
        "-99999999999",
        "--",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let said = common::stderr(&out);
    let range = said
        .split("accepts ")
        .nth(1)
        .and_then(|r| r.split(" seconds").next())
        .unwrap_or_else(|| panic!("{said}"));
    let (low, high) = range.split_once(" to ").unwrap();
    for edge in [low, high] {
        let out = run(&["run", "--time", "--time-offset", edge, "--", "true"]);
        assert!(
            out.status.success(),
            "{edge} is within what was said: {}",
            common::stderr(&out)
        );
    }
}

/// `learnns lesson N --format json`: every line one JSON object naming its
/// event, the lesson first and done last, and the fields of the contract
/// (see src/events.rs) on every event of those kinds.
#[test]
fn every_lesson_emits_the_event_contract_as_json_lines() {
    if !privileged() {
        return;
    }
    for number in common::lesson_numbers() {
        let out = run(&["lesson", &number.to_string(), "--format", "json"]);
        assert!(out.status.success(), "{}", common::stderr(&out));
        let text = stdout(&out);
        let values: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        let kinds: Vec<&str> = values
            .iter()
            .map(|v| v["event"].as_str().expect("every event names itself"))
            .collect();
        assert_eq!(kinds.first(), Some(&"lesson"), "lesson {number}");
        assert_eq!(kinds.last(), Some(&"done"), "lesson {number}");
        for wanted in ["heading", "prose", "command", "check", "table", "pause"] {
            assert!(kinds.contains(&wanted), "lesson {number} has no {wanted}");
        }
        let has = |v: &serde_json::Value, fields: &[&str]| fields.iter().all(|f| !v[*f].is_null());
        for v in &values {
            let ok = match v["event"].as_str().unwrap() {
                "lesson" => has(v, &["number", "name", "title"]),
                "heading" | "prose" => has(v, &["text"]),
                "command" => {
                    has(v, &["where", "line"])
                        && ["host", "inside"].contains(&v["where"].as_str().unwrap())
                }
                "observation" => has(v, &["command", "outside", "inside"]),
                "check" => has(v, &["ok", "text"]),
                "skip" => has(v, &["text", "reason"]),
                "table" => {
                    let rows = v["rows"].as_array().unwrap();
                    let differ = rows.iter().filter(|r| r["differs"] == true).count();
                    rows.len() == 8
                        && rows
                            .iter()
                            .all(|r| has(r, &["kind", "outside", "inside", "differs", "meaning"]))
                        && v["differ"] == differ
                }
                "done" => has(v, &["ok"]) && v["ok"] == true,
                _ => true,
            };
            assert!(ok, "lesson {number}: {v}");
        }
        assert_eq!(values[0]["number"], number);
    }
}

/// Kind flags replace a lesson's kinds: with only its own kind, or without
/// it, every lesson still runs to the end with every check holding, and
/// what it says about the table names the rows that really differ.
#[test]
fn every_lesson_runs_with_kind_flags() {
    if !privileged() {
        return;
    }
    for lesson in &learnns::lessons::LESSONS[1..] {
        let number = lesson.number.to_string();
        let own = lesson.adds.map(|k| format!("--{}", k.proc_name()));
        let other = if lesson.adds == Some(learnns::ns::Kind::Uts) {
            "--ipc"
        } else {
            "--uts"
        };
        let mut runs = vec![vec![other.to_string()]];
        if let Some(own) = own {
            runs.push(vec![own]);
        }
        for flags in runs {
            let mut args = vec!["lesson", number.as_str()];
            args.extend(flags.iter().map(String::as_str));
            let shown = lesson_run(&args);
            let differing = shown.differing();
            let kind = lesson.adds.map(|k| k.proc_name().to_string());
            let says = |needle: &str| shown.says(needle);
            match &kind {
                Some(k) if differing.contains(k) => {
                    assert!(
                        says(&format!("New in this lesson: the {k} row")),
                        "{args:?}"
                    )
                }
                Some(k) => assert!(
                    says(&format!("The {k} row, this lesson's own, is the same")),
                    "{args:?}"
                ),
                None => {}
            }
        }
    }
}

fn lesson_run(args: &[&str]) -> Shown {
    lesson(args)
}

/// The checks read the tools' output in any locale: in C, lsns draws its
/// tree in ASCII.
#[test]
fn lessons_hold_in_the_c_locale() {
    if !privileged() {
        return;
    }
    for number in ["0", "3", "5"] {
        let out = learnns(&["lesson", number, "--format", "json"])
            .env("LANG", "C")
            .env("LC_ALL", "C")
            .output()
            .unwrap();
        let shown = Shown::parse(&stdout(&out));
        assert!(out.status.success(), "{}", common::stderr(&out));
        assert!(
            shown.failed_checks().is_empty(),
            "lesson {number} in the C locale: {:?}",
            shown.failed_checks()
        );
    }
}
