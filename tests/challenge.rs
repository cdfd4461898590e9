//! `learnns challenge`: for each challenge a scripted correct solution
//! passes, and typical mistakes are named. Every check grades only the
//! process the test started (`--pid`), so other tests' namespaces running
//! at the same time change nothing; the processes started are killed by
//! PID at the end, and the test makes sure none is left.

mod common;

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{learnns, privileged, stderr, stdout};

/// A solution (or a mistake) left running, as a learner leaves it.
struct Running {
    child: Child,
}

impl Running {
    /// Start `argv`, as `uid` when given.
    fn start(argv: &[&str], uid: Option<u32>) -> Running {
        let mut command = Command::new(argv[0]);
        command
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(uid) = uid {
            command.uid(uid).gid(uid).current_dir("/");
        }
        Running {
            child: command.spawn().expect("the command starts"),
        }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The process that runs `sleep` once everything before it is done:
    /// the one started, or (after `unshare --fork`) its child.
    fn sleeper(&self) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            for pid in std::iter::once(self.pid()).chain(children(self.pid())) {
                if comm(pid).as_deref() == Some("sleep") {
                    return pid;
                }
            }
            assert!(Instant::now() < deadline, "sleep never started");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    /// Kill exactly what this test started: the process and its children,
    /// by PID, and wait until none of them is left.
    fn drop(&mut self) {
        let mut pids = children(self.pid());
        pids.push(self.pid());
        for pid in &pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.child.wait();
        let deadline = Instant::now() + Duration::from_secs(5);
        while pids.iter().any(|p| alive(*p)) {
            if Instant::now() > deadline {
                if !std::thread::panicking() {
                    panic!("left running: {pids:?}");
                }
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn children(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn comm(pid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|c| c.trim().to_string())
}

fn alive(pid: i32) -> bool {
    procfs::process::Process::new(pid)
        .and_then(|p| p.stat())
        .is_ok_and(|s| s.state != 'Z')
}

/// `learnns challenge N --check --pid PID` as root.
fn check(n: &str, pid: i32) -> Output {
    learnns(&["challenge", n, "--check", "--pid", &pid.to_string()])
        .output()
        .unwrap()
}

fn passes(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(out), stderr(out));
    assert!(stdout(out).contains("done"), "{}", stdout(out));
}

/// Exit 1, and the reason names the mistake.
/// What learnns printed, each run of whitespace one space: a phrase can
/// wrap anywhere at the terminal's width.
fn said(out: &Output) -> String {
    stdout(out).split_whitespace().collect::<Vec<_>>().join(" ")
}

fn fails_naming(out: &Output, mistake: &str) {
    let text = stdout(out).split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(out));
    assert!(text.contains("not yet"), "{text}");
    assert!(text.contains(mistake), "wanted {mistake:?} in: {text}");
}

#[test]
fn uts_a_hostname_of_its_own() {
    if !privileged() {
        return;
    }
    let solution = Running::start(
        &[
            "unshare",
            "--uts",
            "sh",
            "-c",
            "hostname lab; exec sleep 60",
        ],
        None,
    );
    let out = check("1", solution.sleeper());
    passes(&out);
    assert!(said(&out).contains("`lab`"));
    // A UTS namespace, but the hostname never set.
    let unnamed = Running::start(&["unshare", "--uts", "sleep", "60"], None);
    fails_naming(&check("uts", unnamed.sleeper()), "hostname was not set");
    // The hostname command alone, without a namespace of its own.
    let plain = Running::start(&["sleep", "60"], None);
    fails_naming(
        &check("1", plain.sleeper()),
        &format!(
            "process {} (sleep) is not in a UTS namespace",
            plain.sleeper()
        ),
    );
}

/// The solution as an ordinary user types it (`sudo unshare ...`, then
/// `sudo learnns challenge 1 --check`): the process is root's, and graded
/// as the user's because they started it with sudo; a root process someone
/// else started is not theirs unless named by its PID; without sudo the
/// check says to use it.
#[test]
fn a_process_started_with_sudo_is_graded_as_the_users() {
    if !privileged() {
        return;
    }
    // What `sudo unshare ...` typed by uid 65534 leaves: a root process
    // with SUDO_UID in its environment.
    let by_sudo = Running::start(
        &[
            "env",
            "SUDO_UID=65534",
            "unshare",
            "--uts",
            "sh",
            "-c",
            "hostname lab; exec sleep 60",
        ],
        None,
    );
    let out = learnns(&["challenge", "1", "--check"])
        .env("SUDO_UID", "65534")
        .output()
        .unwrap();
    passes(&out);
    assert!(
        said(&out).contains("and those they started with sudo"),
        "{}",
        stdout(&out)
    );
    assert!(
        said(&out).contains(&format!("process {}", by_sudo.sleeper())),
        "{}",
        stdout(&out)
    );
    drop(by_sudo);
    // A root process someone else started is not theirs.
    let by_root = Running::start(
        &[
            "unshare",
            "--uts",
            "sh",
            "-c",
            "hostname lab; exec sleep 60",
        ],
        None,
    );
    let out = learnns(&["challenge", "1", "--check"])
        .env("SUDO_UID", "65534")
        .output()
        .unwrap();
    fails_naming(&out, "no process of yours");
    // Named by its PID, it is graded.
    let out = learnns(&["challenge", "1", "--check", "--pid"])
        .arg(by_root.sleeper().to_string())
        .env("SUDO_UID", "65534")
        .output()
        .unwrap();
    passes(&out);
    // Without sudo, the user cannot read a root process: the note says
    // to check with sudo.
    let nobody = Nobody::new();
    let out = nobody.learnns(&["challenge", "1", "--check"]);
    fails_naming(&out, "Started it with `sudo`?");
    assert!(
        said(&out).contains("`sudo learnns challenge 1 --check`"),
        "{}",
        stdout(&out)
    );
}

/// A lesson open in another terminal has a container learnns made: it is
/// not the learner's work and is not graded; what `learnns run` starts is
/// (the tasks offer it as a way to build).
#[test]
fn a_lessons_container_is_not_graded() {
    if !privileged() {
        return;
    }
    // A stand-in for learnns, by its name and its command line: a link,
    // not a copy, since a file just written may still be open in a child
    // another test thread forks, and exec then fails with ETXTBSY.
    let dir = common::state_dir().join("fake-learnns");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let fake = dir.join("learnns");
    std::os::unix::fs::symlink("/bin/sh", &fake).unwrap();
    let fake = fake.to_str().unwrap();
    let script = "unshare --uts sh -c 'hostname lab; exec sleep 60' & wait";
    // Graded as uid 65533 under sudo: nothing else of this suite is.
    let check = || {
        learnns(&["challenge", "1", "--check"])
            .env("SUDO_UID", "65533")
            .output()
            .unwrap()
    };
    let lesson = Running::start(
        &["env", "SUDO_UID=65533", fake, "-c", script, "lesson"],
        None,
    );
    lesson.sleeper();
    fails_naming(&check(), "no process of yours");
    drop(lesson);
    let run = Running::start(&["env", "SUDO_UID=65533", fake, "-c", script, "run"], None);
    let out = check();
    passes(&out);
    assert!(
        said(&out).contains(&format!("process {}", run.sleeper())),
        "{}",
        stdout(&out)
    );
    drop(run);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pid_its_own_pid_1_and_its_own_proc() {
    if !privileged() {
        return;
    }
    let solution = Running::start(
        &["unshare", "--pid", "--fork", "--mount-proc", "sleep", "60"],
        None,
    );
    let pid1 = solution.sleeper();
    assert_ne!(pid1, solution.pid(), "--fork runs sleep in a child");
    passes(&check("3", pid1));
    // The unshare that forked it stays outside: the check names the child.
    fails_naming(
        &check("3", solution.pid()),
        &format!("its child, process {pid1}, is in it"),
    );
    let no_fork = Running::start(&["unshare", "--pid", "sleep", "60"], None);
    fails_naming(&check("3", no_fork.sleeper()), "without `--fork`");
    let no_proc = Running::start(&["unshare", "--pid", "--fork", "sleep", "60"], None);
    fails_naming(&check("pid", no_proc.sleeper()), "no fresh /proc");
    fails_naming(&check("pid", no_proc.sleeper()), "--mount-proc");
}

/// A copy of learnns that uid 65534 may run, and a home for its progress.
struct Nobody {
    dir: std::path::PathBuf,
}

impl Nobody {
    fn new() -> Nobody {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("lnstest-challenge-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("home")).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::copy(env!("CARGO_BIN_EXE_learnns"), dir.join("learnns")).unwrap();
        nix::unistd::chown(&dir.join("home"), Some(65534.into()), Some(65534.into())).unwrap();
        Nobody { dir }
    }

    fn learnns(&self, args: &[&str]) -> Output {
        Command::new(self.dir.join("learnns"))
            .args(args)
            .uid(65534)
            .gid(65534)
            .current_dir("/")
            .env("NO_COLOR", "1")
            .env("COLUMNS", "100")
            .env("HOME", self.dir.join("home"))
            .env_remove("XDG_STATE_HOME")
            .env_remove("SUDO_UID")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}

impl Drop for Nobody {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn user_root_inside_yourself_outside() {
    if !privileged() {
        return;
    }
    let nobody = Nobody::new();
    let solution = Running::start(
        &["unshare", "--user", "--map-root-user", "sleep", "60"],
        Some(65534),
    );
    let pid = solution.sleeper().to_string();
    let out = nobody.learnns(&["challenge", "6", "--check", "--pid", &pid]);
    passes(&out);
    assert!(said(&out).contains("uid 65534 outside"), "{}", stdout(&out));
    // Graded among all of the user's processes, it passes too, says whose
    // it graded, and the pass is on the list and the course map.
    let out = nobody.learnns(&["challenge", "6", "--check"]);
    passes(&out);
    assert!(said(&out).contains("uid 65534"), "{}", stdout(&out));
    let list = stdout(&nobody.learnns(&["challenge"]));
    assert!(
        list.lines().any(|l| l.contains('✓') && l.contains("user")),
        "{list}"
    );
    let map = stdout(&nobody.learnns(&[]));
    assert!(map.contains("challenges passed (1 of 10): 6 user"), "{map}");
    // Root grading under sudo grades the invoking user's processes.
    let out = learnns(&["challenge", "6", "--check"])
        .env("SUDO_UID", "65534")
        .output()
        .unwrap();
    passes(&out);
    assert!(said(&out).contains("uid 65534"), "{}", stdout(&out));

    let no_map = Running::start(&["unshare", "--user", "sleep", "60"], Some(65534));
    let pid = no_map.sleeper().to_string();
    fails_naming(
        &nobody.learnns(&["challenge", "user", "--check", "--pid", &pid]),
        "no uid map",
    );
    let same = Running::start(
        &["unshare", "--user", "--map-current-user", "sleep", "60"],
        Some(65534),
    );
    let pid = same.sleeper().to_string();
    fails_naming(
        &nobody.learnns(&["challenge", "6", "--check", "--pid", &pid]),
        "not root inside",
    );
    // Root doing it proves nothing: root outside too.
    let as_root = Running::start(
        &["unshare", "--user", "--map-root-user", "sleep", "60"],
        None,
    );
    let out = learnns(&["challenge", "6", "--check", "--pid"])
        .arg(as_root.sleeper().to_string())
        .env_remove("SUDO_UID")
        .output()
        .unwrap();
    fails_naming(&out, "root (uid 0) outside too");
}

#[test]
fn hints_come_one_at_a_time_and_then_say_so() {
    let nobody_state = common::state_dir().join("hints");
    let hint = || {
        learnns(&["challenge", "3", "--hint"])
            .env("XDG_STATE_HOME", &nobody_state)
            .output()
            .unwrap()
    };
    let mut seen = Vec::new();
    for i in 1..=4 {
        let out = hint();
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            stdout(&out).starts_with(&format!("Hint {i} of 4")),
            "{}",
            stdout(&out)
        );
        seen.push(stdout(&out));
    }
    assert!(seen.windows(2).all(|w| w[0] != w[1]));
    for _ in 0..2 {
        let all = stdout(&hint());
        assert!(all.starts_with("No more hints"), "{all}");
        // Each hint is numbered once; its next lines continue under its
        // text, not under a repeated number.
        for n in 1..=4 {
            assert_eq!(all.matches(&format!("  {n}. ")).count(), 1, "{all}");
        }
    }
    // Reading them all again is no extra hint: 4 are counted, not 6.
    let progress = learnns(&["progress"])
        .env("XDG_STATE_HOME", &nobody_state)
        .output()
        .unwrap();
    let progress = stdout(&progress);
    let line = progress
        .lines()
        .find(|l| l.trim_start().starts_with("·  3  pid") && l.contains("hint"))
        .unwrap_or("");
    assert!(line.ends_with("4 hints"), "{progress}");
    let _ = std::fs::remove_dir_all(&nobody_state);
}

/// At 80 columns every task and every verdict fits, and no command in
/// backticks is cut across two lines (`learnns challenge 6` on one line
/// and `--check` on the next reads as two commands).
#[test]
fn tasks_and_verdicts_fit_80_columns_without_cutting_a_command() {
    let fits = |args: &[&str]| {
        let out = learnns(args).env("COLUMNS", "80").output().unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{args:?}: {}",
            stderr(&out)
        );
        for line in stdout(&out).lines() {
            assert!(line.chars().count() <= 80, "{args:?}:\n{line}");
            assert_eq!(line.matches('`').count() % 2, 0, "{args:?}:\n{line}");
        }
    };
    for n in 1..=10 {
        fits(&["challenge", &n.to_string()]);
    }
    // What is graded, then the verdict: nothing needs to be running.
    fits(&["challenge", "1", "--check"]);
    fits(&["challenge", "3", "--check"]);
}

/// A learner with several terminals: hints taken at the same moment, each
/// saved by its own learnns, are all kept.
#[test]
fn progress_written_at_once_loses_nothing() {
    let state = common::state_dir().join("at-once");
    let _ = std::fs::remove_dir_all(&state);
    let children: Vec<_> = (0..4)
        .flat_map(|_| 1..=10)
        .map(|n| {
            learnns(&["challenge", &n.to_string(), "--hint"])
                .env("XDG_STATE_HOME", &state)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let out = learnns(&["progress"])
        .env("XDG_STATE_HOME", &state)
        .output()
        .unwrap();
    let text = stdout(&out);
    let counted = text.lines().filter(|l| l.ends_with("4 hints")).count();
    assert_eq!(counted, 10, "{text}");
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn bad_input_is_refused_with_the_fix() {
    let out = learnns(&["challenge", "42"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        [
            "1 uts",
            "2 ipc",
            "3 pid",
            "4 mnt",
            "5 net",
            "6 user",
            "7 cgroup",
            "8 time",
            "9 security",
            "10 capstone"
        ]
        .iter()
        .all(|c| stderr(&out).contains(c)),
        "{}",
        stderr(&out)
    );
    for argv in [
        vec!["challenge", "1", "--check", "--watch"],
        vec!["challenge", "--check"],
        vec!["challenge", "1", "--hint", "--clean"],
        vec!["challenge", "1", "--pid", "0", "--check"],
        vec!["challenge", "5", "--check", "--pid", "1"],
    ] {
        let out = learnns(&argv).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{argv:?}");
    }
    let out = learnns(&["challenge", "1", "--pid", "1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("add --check or --watch"));
    // The task, not the commands.
    let task = stdout(&learnns(&["challenge", "3"]).output().unwrap());
    assert!(task.contains("PID 1") && !task.contains("--fork"), "{task}");
}

#[test]
fn clean_removes_nothing_and_kills_nothing() {
    let sleeper = Running::start(&["sleep", "60"], None);
    let pid = sleeper.sleeper();
    let out = learnns(&["challenge", "1", "--clean"]).output().unwrap();
    assert!(out.status.success());
    let text = stdout(&out)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(text.contains("nothing for learnns to remove"), "{text}");
    assert!(text.contains("`kill -KILL PID`"), "{text}");
    assert!(alive(pid));
    // The capstone's objects are named by the learner: said, not removed.
    let out = learnns(&["challenge", "10", "--clean"]).output().unwrap();
    assert!(out.status.success());
    let text = said(&out);
    assert!(text.contains("leaves the names to you"), "{text}");
    assert!(alive(pid));
}

#[test]
fn watch_stops_when_the_state_is_there() {
    if !privileged() {
        return;
    }
    let solution = Running::start(
        &[
            "unshare",
            "--uts",
            "sh",
            "-c",
            "sleep 1.5; hostname lab; exec sleep 60",
        ],
        None,
    );
    let pid = solution.pid().to_string();
    let host_uts = std::fs::read_link("/proc/self/ns/uts").unwrap();
    while std::fs::read_link(format!("/proc/{pid}/ns/uts")).ok() == Some(host_uts.clone()) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let started = Instant::now();
    let out = learnns(&["challenge", "1", "--watch", "--pid", &pid])
        .output()
        .unwrap();
    passes(&out);
    let text = stdout(&out);
    // One "not yet" while the hostname is unset, then the pass: only
    // changes are printed.
    assert_eq!(text.matches("not yet").count(), 1, "{text}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn lessons_with_a_challenge_end_by_pointing_to_it() {
    if !privileged() {
        return;
    }
    for (lesson, pointer) in [
        ("3", Some("learnns challenge 3")),
        ("2", Some("learnns challenge 2")),
        ("4", Some("learnns challenge 4")),
    ] {
        let out = learnns(&["lesson", lesson, "--format", "plain"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        match pointer {
            Some(p) => assert!(text.contains(p), "lesson {lesson}: {text}"),
            None => assert!(!text.contains("learnns challenge"), "lesson {lesson}"),
        }
    }
}

/// A `learnns run` left running: its command is killed first, so that
/// learnns ends by itself and removes what it made (its cgroup); only then
/// does [`Running`] make sure of the rest.
struct LearnnsRun(Running);

impl LearnnsRun {
    fn start(layers: &[&str]) -> LearnnsRun {
        let mut argv = vec![env!("CARGO_BIN_EXE_learnns"), "run"];
        argv.extend_from_slice(layers);
        argv.extend_from_slice(&["--", "sleep", "60"]);
        LearnnsRun(Running::start(&argv, None))
    }
}

impl Drop for LearnnsRun {
    fn drop(&mut self) {
        for pid in children(self.0.pid()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        // Not reaped here: until Running reaps it, its PID stays ours.
        while alive(self.0.pid()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A message queue a test made on the host, removed by its id at the end.
struct HostQueue(Option<i32>);

impl Drop for HostQueue {
    fn drop(&mut self) {
        if let Some(id) = self.0 {
            let _ = Command::new("ipcrm").args(["-q", &id.to_string()]).status();
            assert!(
                std::thread::panicking()
                    || !learnns::sysvipc::msg_queues().iter().any(|q| q.id == id),
                "queue {id} left on the host"
            );
        }
    }
}

#[test]
fn ipc_a_queue_the_host_cannot_see() {
    if !privileged() {
        return;
    }
    let solution = Running::start(
        &["unshare", "--ipc", "sh", "-c", "ipcmk -Q; exec sleep 60"],
        None,
    );
    let out = check("2", solution.sleeper());
    passes(&out);
    assert!(said(&out).contains("does not list"), "{}", stdout(&out));
    // The namespace, but the queue never made in it.
    let empty = Running::start(&["unshare", "--ipc", "sleep", "60"], None);
    fails_naming(
        &check("ipc", empty.sleeper()),
        "own IPC namespace but no queue in it",
    );
    // The queue, made on the host: no `unshare --ipc`.
    let file = std::env::temp_dir().join(format!("lnstest-ipcmk-{}", std::process::id()));
    let made = Command::new("sh")
        .arg("-c")
        .arg(format!("ipcmk -Q > {}", file.display()))
        .status()
        .unwrap();
    assert!(made.success());
    let said = std::fs::read_to_string(&file).unwrap();
    let _ = std::fs::remove_file(&file);
    let queue = HostQueue(
        said.split_whitespace()
            .last()
            .and_then(|id| id.parse().ok()),
    );
    assert!(queue.0.is_some(), "ipcmk said {said:?}");
    let plain = Running::start(&["sleep", "60"], None);
    let out = check("2", plain.sleeper());
    fails_naming(
        &out,
        "no IPC namespace of its own (the queue is on the host)",
    );
    fails_naming(&out, "without `unshare --ipc`");
}

#[test]
fn time_a_boot_clock_a_day_ahead() {
    if !privileged() {
        return;
    }
    let solution = Running::start(
        &["unshare", "--time", "--boottime", "86400", "sleep", "60"],
        None,
    );
    let out = check("8", solution.sleeper());
    passes(&out);
    assert!(said(&out).contains("86400 s ahead"), "{}", stdout(&out));
    // A time namespace whose offsets were never written.
    let zero = Running::start(&["unshare", "--time", "sleep", "60"], None);
    fails_naming(
        &check("time", zero.sleeper()),
        "own time namespace but offsets 0",
    );
    // The wrong clock.
    let monotonic = Running::start(
        &["unshare", "--time", "--monotonic", "86400", "sleep", "60"],
        None,
    );
    fails_naming(&check("8", monotonic.sleeper()), "not on the boot-time one");
    // No time namespace at all.
    let plain = Running::start(&["sleep", "60"], None);
    fails_naming(&check("8", plain.sleeper()), "no time namespace");
}

#[test]
fn security_no_sys_admin_and_a_filter() {
    if !privileged() {
        return;
    }
    let solution = LearnnsRun::start(&["--uts", "--drop-caps", "--seccomp"]);
    let out = check("9", solution.0.sleeper());
    passes(&out);
    assert!(said(&out).contains("Seccomp 2"), "{}", stdout(&out));
    // The bounding set shrunk, but no filter.
    let no_filter = Running::start(
        &["setpriv", "--bounding-set", "-sys_admin", "sleep", "60"],
        None,
    );
    fails_naming(&check("security", no_filter.sleeper()), "no seccomp filter");
    fails_naming(&check("9", no_filter.sleeper()), "systemd-run");
    // A filter, but the bounding set intact.
    let intact = LearnnsRun::start(&["--uts", "--seccomp"]);
    fails_naming(
        &check("9", intact.0.sleeper()),
        "CAP_SYS_ADMIN still in the bounding set",
    );
}

/// The objects challenge 5 names, made by the test; whatever happens, the
/// guard removes exactly them (the netns `lab`, and `lab-h` if still there).
/// `ip netns add` also makes /run/netns a mount point: when the test made
/// it one and it is empty at the end, the guard undoes that too, so the
/// host's mount table (which lesson 4's transcript counts) is as it was.
struct Lab {
    made_run_netns: bool,
}

impl Lab {
    /// None (after saying why) when a learner's `lab` or `lab-h` is there:
    /// the test must not touch it. Under LEARNNS_REQUIRE_PRIVILEGED=1 that
    /// fails instead.
    fn new() -> Option<Lab> {
        let taken = std::path::Path::new("/run/netns/lab").exists()
            || ["lab-h", "lab-c"]
                .iter()
                .any(|l| std::path::Path::new("/sys/class/net").join(l).exists());
        if taken {
            let why = "a `lab` netns or a `lab-h`/`lab-c` link already exists on this host (a learner's?)";
            if std::env::var("LEARNNS_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
                panic!("{why}; remove it, or run without LEARNNS_REQUIRE_PRIVILEGED=1");
            }
            eprintln!("skipped: challenge 5: {why}");
            return None;
        }
        let made_run_netns = !std::path::Path::new("/run/netns").exists();
        Some(Lab { made_run_netns })
    }

    fn ip(&self, line: &str) {
        let out = Command::new("ip")
            .args(line.split_whitespace())
            .output()
            .unwrap();
        assert!(out.status.success(), "ip {line}: {}", stderr(&out));
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", "lab"]).output();
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::path::Path::new("/sys/class/net/lab-h").exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("ip").args(["link", "del", "lab-h"]).output();
        let _ = Command::new("ip").args(["link", "del", "lab-c"]).output();
        let empty = std::fs::read_dir("/run/netns").is_ok_and(|mut d| d.next().is_none());
        if self.made_run_netns && empty {
            let _ = Command::new("umount").arg("/run/netns").output();
            let _ = std::fs::remove_dir("/run/netns");
        }
    }
}

fn check_net() -> Output {
    learnns(&["challenge", "5", "--check"]).output().unwrap()
}

/// What challenge 5 and its `--clean` may touch (mounts, links, network
/// namespaces) is as it was, but for one line: `ip netns add` leaves
/// /run/netns a mount point for good. The other fields are left out: this
/// test starts no process and makes no cgroup, and the machine's own
/// churn there is not learnns's.
fn assert_net_unchanged(before: &common::Fingerprint) {
    let at_run_netns = |m: &String| m.split(' ').nth(4) == Some("/run/netns");
    let had = before.mounts.iter().any(at_run_netns);
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut after = common::Fingerprint::take();
        if !had {
            after.mounts.retain(|m| !at_run_netns(m));
        }
        let same = (&after.mounts, &after.links, &after.netns)
            == (&before.mounts, &before.links, &before.netns);
        if same || Instant::now() > deadline {
            assert_eq!(
                before.mounts, after.mounts,
                "challenge 5 changed the mounts"
            );
            assert_eq!(before.links, after.links, "challenge 5 changed the links");
            assert_eq!(before.netns, after.netns, "challenge 5 changed /run/netns");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn net_a_namespace_and_a_veth_pair_that_answer_both_ways() {
    if !privileged() {
        return;
    }
    let _one = common::serial();
    let Some(lab) = Lab::new() else { return };
    let before = common::Fingerprint::take();
    let free = learnns::network::suggest_subnet().expect("a free /30");
    let (h, c) = (free.host(), free.container());
    fails_naming(&check_net(), "`ip netns add lab`");
    lab.ip("netns add lab");
    lab.ip("link add lab-h type veth peer name lab-c");
    // The inside end never moved.
    fails_naming(&check_net(), "`lab-c` is still on the host");
    lab.ip("link set lab-c netns lab");
    lab.ip(&format!("addr add {h}/30 dev lab-h"));
    lab.ip(&format!("-n lab addr add {c}/30 dev lab-c"));
    lab.ip("-n lab link set lab-c up");
    // The host end left DOWN.
    fails_naming(&check_net(), "`ip link set lab-h up`");
    lab.ip("link set lab-h up");
    let out = check_net();
    passes(&out);
    let text = stdout(&out)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(text.contains(&format!("64 bytes from {c}")), "{text}");
    assert!(text.contains(&format!("64 bytes from {h}")), "{text}");
    assert!(text.contains("`lo` in `lab` is down"), "{text}");
    // The inside end moved to another /30.
    let other = std::net::Ipv4Addr::from(u32::from(c) ^ 4);
    lab.ip(&format!("-n lab addr del {c}/30 dev lab-c"));
    lab.ip(&format!("-n lab addr add {other}/30 dev lab-c"));
    fails_naming(&check_net(), "different subnets");
    let out = learnns(&["challenge", "5", "--clean"]).output().unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(text.contains("$ ip netns del lab"), "{text}");
    assert!(text.contains("does not unmount"), "{text}");
    assert!(!std::path::Path::new("/run/netns/lab").exists());
    assert_net_unchanged(&before);
    drop(lab);
}

/// What a `learnns run` made on the host for its container (its veth's host
/// end, its cgroups), named after learnns's PID: none of it may be left.
fn assert_learnns_run_cleaned_up(learnns_pid: i32) {
    let link = format!("/sys/class/net/learnns{learnns_pid}h");
    let prefix = format!("learnns-{learnns_pid}-");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let cgroups: Vec<String> = ["pids", "memory", "unified", ""]
            .iter()
            .flat_map(|h| std::fs::read_dir(format!("/sys/fs/cgroup/{h}")).into_iter())
            .flatten()
            .flatten()
            .map(|e| e.path().display().to_string())
            .filter(|p| p.rsplit('/').next().is_some_and(|n| n.starts_with(&prefix)))
            .collect();
        let veth = std::path::Path::new(&link).exists();
        if (!veth && cgroups.is_empty()) || Instant::now() > deadline {
            assert!(!veth, "{link} left on the host");
            assert!(cgroups.is_empty(), "cgroups left: {cgroups:?}");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn capstone_the_whole_container_by_hand() {
    if !privileged() {
        return;
    }
    // Its veth pair takes a free /30, as challenge 5's test does.
    let _one = common::serial();
    let solution = LearnnsRun::start(&[
        "--uts",
        "--ipc",
        "--pid",
        "--mnt",
        "--net",
        "--cgroup",
        "--veth",
        "--pids-max",
        "20",
    ]);
    let learnns_pid = solution.0.pid();
    let sleeper = solution.0.sleeper();
    // The veth is set up after the command starts: wait for its address.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut out = check("capstone", sleeper);
    while out.status.code() != Some(0) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        out = check("capstone", sleeper);
    }
    passes(&out);
    let text = stdout(&out);
    // The lessons' table, then one line per kind.
    assert!(text.contains(&format!("/proc/{sleeper}/ns/*")), "{text}");
    assert!(text.contains("6 of 8 differ"), "{text}");
    for kind in ["uts", "ipc", "pid", "mnt", "net", "cgroup"] {
        assert!(text.contains(&format!("✓ {kind}:")), "{kind}: {text}");
    }
    assert!(
        text.contains("pids.max 20") && text.contains("64 bytes from"),
        "{text}"
    );
    drop(solution);
    assert_learnns_run_cleaned_up(learnns_pid);

    // No network, no cgroup: those two rows are named, the rest pass.
    let half = LearnnsRun::start(&["--uts", "--ipc", "--pid", "--mnt"]);
    let out = check("10", half.0.sleeper());
    fails_naming(&out, "4 of the 6 kinds are right");
    fails_naming(&out, "✗ net: it shares the host's net namespace");
    fails_naming(&out, "✗ cgroup: it is in the same cgroup as your shell");
    fails_naming(&out, "✓ mnt:");
    assert!(said(&out).contains("4 of 8 differ"), "{}", stdout(&out));
    let half_pid = half.0.pid();
    drop(half);
    assert_learnns_run_cleaned_up(half_pid);

    // unshare alone: no PID 1, no root of its own, no veth.
    let bare = Running::start(&["unshare", "--uts", "--ipc", "--net", "sleep", "60"], None);
    let out = check("capstone", bare.sleeper());
    fails_naming(&out, "✗ pid: it shares the host's pid namespace");
    fails_naming(&out, "add `--mount`");
    fails_naming(
        &out,
        "✗ net: a network namespace of its own with no veth in it",
    );
    // Own mount namespace, but `/` is still the host's: no pivot_root.
    let no_pivot = Running::start(
        &["unshare", "--pid", "--fork", "--mount-proc", "sleep", "60"],
        None,
    );
    let out = check("10", no_pivot.sleeper());
    fails_naming(&out, "✓ pid:");
    fails_naming(&out, "its `/` is still the host's");
}

/// A directory under /tmp a challenge 4 test mounts on inside its own
/// mount namespace; removed at the end (nothing is mounted on it on the
/// host, as the namespaces are private).
struct TmpDir(String);

impl TmpDir {
    fn new(what: &str) -> TmpDir {
        let dir = format!("/tmp/learnns-ch4-{what}-{}", std::process::id());
        std::fs::create_dir_all(&dir).unwrap();
        TmpDir(dir)
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::remove_dir(&self.0).is_err() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn mnt_a_root_of_its_own_by_pivot_root() {
    if !privileged() {
        return;
    }
    // By hand: a tmpfs holding the host's /usr, pivoted into.
    let new = TmpDir::new("root");
    let script = format!(
        "mount -t tmpfs lab {0} && cd {0} && mkdir usr old proc && mount --bind -o ro /usr usr && \
         ln -s usr/bin bin && ln -s usr/lib lib && ln -s usr/lib64 lib64 && \
         pivot_root . old && mount -t proc proc /proc && umount -l /old && exec sleep 60",
        new.0
    );
    let by_hand = Running::start(
        &[
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
        ],
        None,
    );
    let out = check("4", by_hand.sleeper());
    passes(&out);
    assert!(said(&out).contains("tmpfs lab"), "{}", stdout(&out));
    drop(by_hand);
    // learnns does the same.
    let solution = LearnnsRun::start(&["--mnt", "--pid"]);
    passes(&check("mnt", solution.0.sleeper()));
    // A mount namespace, shared, with the host's root.
    let shared = Running::start(
        &[
            "unshare",
            "--mount",
            "--propagation",
            "shared",
            "sleep",
            "60",
        ],
        None,
    );
    let out = check("4", shared.sleeper());
    fails_naming(&out, "shared propagation");
    fails_naming(&out, "still the host's root");
    // chroot into a bind of the host's /.
    let bind = TmpDir::new("chroot");
    let script = format!("mount --rbind / {0} && exec chroot {0} sleep 60", bind.0);
    let chroot = Running::start(
        &[
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
        ],
        None,
    );
    fails_naming(
        &check("4", chroot.sleeper()),
        "chroot instead of pivot_root",
    );
    // Nothing at all.
    let plain = Running::start(&["sleep", "60"], None);
    fails_naming(
        &check("4", plain.sleeper()),
        "same mount namespace as the host",
    );
}

/// The cgroup `lab` a challenge 7 test makes; removed at the end once the
/// processes the test started (dropped before it) are gone.
struct LabCgroup(std::path::PathBuf);

impl LabCgroup {
    /// None (after saying why) when a learner's `lab` is there.
    fn new() -> Option<LabCgroup> {
        let tree = learnns::challenge::cgroup::PidsTree::detect().expect("a pids hierarchy");
        let dir = tree.lab();
        if dir.exists() {
            let why = format!("{} already exists (a learner's?)", dir.display());
            if std::env::var("LEARNNS_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
                panic!("{why}; remove it, or run without LEARNNS_REQUIRE_PRIVILEGED=1");
            }
            eprintln!("skipped: challenge 7: {why}");
            return None;
        }
        std::fs::create_dir(&dir).unwrap();
        Some(LabCgroup(dir))
    }

    fn write(&self, file: &str, value: &str) {
        std::fs::write(self.0.join(file), value).unwrap();
    }

    fn procs(&self) -> String {
        self.0.join("cgroup.procs").display().to_string()
    }
}

impl Drop for LabCgroup {
    fn drop(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.0.exists() && std::fs::remove_dir(&self.0).is_err() {
            if Instant::now() > deadline {
                if !std::thread::panicking() {
                    panic!("{} left behind", self.0.display());
                }
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn cgroup_lab_with_a_pids_limit_seen_as_root() {
    if !privileged() {
        return;
    }
    let _one = common::serial();
    let Some(lab) = LabCgroup::new() else { return };
    lab.write("pids.max", "20");
    let solution = Running::start(
        &[
            "sh",
            "-c",
            &format!("echo $$ > {}; exec unshare --cgroup sleep 60", lab.procs()),
        ],
        None,
    );
    let out = check("7", solution.sleeper());
    passes(&out);
    assert!(said(&out).contains("pids.max 20"), "{}", stdout(&out));
    // In `lab`, but no cgroup namespace of its own.
    let no_ns = Running::start(
        &[
            "sh",
            "-c",
            &format!("echo $$ > {}; exec sleep 60", lab.procs()),
        ],
        None,
    );
    fails_naming(&check("7", no_ns.sleeper()), "sees the full path");
    // Moved into `lab` after unshare --cgroup.
    let late = Running::start(&["unshare", "--cgroup", "sleep", "60"], None);
    let pid = late.sleeper();
    std::fs::write(lab.procs(), pid.to_string()).unwrap();
    fails_naming(&check("7", pid), "after `unshare --cgroup`");
    // Never moved.
    let plain = Running::start(&["sleep", "60"], None);
    fails_naming(&check("7", plain.sleeper()), "not in the cgroup");
    // No limit.
    lab.write("pids.max", "max");
    fails_naming(&check("cgroup", solution.sleeper()), "pids.max is max");
    // --clean leaves a cgroup with processes in it, and kills nothing.
    let out = learnns(&["challenge", "7", "--clean"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(said(&out).contains("Left alone"), "{}", stdout(&out));
    assert!(alive(solution.sleeper()) && lab.0.exists());
    drop((solution, no_ns, late, plain));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !std::fs::read_to_string(lab.procs())
        .unwrap()
        .trim()
        .is_empty()
    {
        assert!(Instant::now() < deadline, "processes left in lab");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = learnns(&["challenge", "7", "--clean"]).output().unwrap();
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(said(&out).contains("$ rmdir"), "{}", stdout(&out));
    assert!(!lab.0.exists());
    let out = learnns(&["challenge", "7", "--clean"]).output().unwrap();
    assert!(said(&out).contains("nothing to remove"), "{}", stdout(&out));
}
