//! The lines learnns shows, typed as shown: each must do what learnns did,
//! as root and, against a rootless learnns, as the same ordinary user.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::shown::Shown;
use common::{Scratch, learnns, learnns_at, privileged, stdout};

/// What both sides are asked: the hostname, who we are, which UTS namespace.
const ASK: &str = "hostname; id -u; readlink /proc/self/ns/uts";

/// `learnns shell --upto N`, held open: it shows its `nsenter` line and
/// then waits for commands on stdin, so the container lives meanwhile.
struct HeldShell {
    child: Child,
    line: String,
}

impl HeldShell {
    fn start(mut command: Command) -> HeldShell {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let line = loop {
            let mut next = String::new();
            if out.read_line(&mut next).unwrap() == 0 {
                let _ = child.kill();
                panic!("learnns shell ended before showing its nsenter line");
            }
            if let Some(at) = next.find("nsenter -t") {
                // A long line goes on after a backslash, as a shell reads it.
                let mut line = next[at..].trim_end().to_string();
                while let Some(head) = line.strip_suffix('\\') {
                    let mut more = String::new();
                    out.read_line(&mut more).unwrap();
                    line = format!("{}{}", head, more.trim());
                }
                break line;
            }
        };
        // Keep the rest for `answer`.
        child.stdout = Some(out.into_inner());
        HeldShell { child, line }
    }

    /// The shown line with its command replaced by `sh -c ASK`.
    fn typed(&self) -> String {
        let (prefix, command) = self.line.split_once(" -- ").unwrap();
        assert_eq!(command, "bash --norc --noprofile", "{}", self.line);
        format!("{prefix} -- sh -c '{ASK}'")
    }

    /// What the shell inside answers to ASK; ends the shell.
    fn answer(mut self) -> String {
        let mut stdin = self.child.stdin.take().unwrap();
        writeln!(stdin, "{ASK}").unwrap();
        drop(stdin);
        let out = self.child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", common::stderr(&out));
        stdout(&out)
    }
}

/// Run a shown line with sh, as `uid` when given.
fn type_line(line: &str, uid: Option<(u32, &Path)>) -> std::process::Output {
    let mut command = Command::new("sh");
    command
        .args(["-c", line])
        .current_dir("/")
        .stdin(Stdio::null());
    if let Some((uid, home)) = uid {
        command.uid(uid).gid(uid).env("HOME", home);
    }
    command.output().unwrap()
}

#[test]
fn nsenter_lines_typed_as_root_reach_the_container() {
    if !privileged() {
        return;
    }
    // Lesson 9's container has every kind but user and time as root;
    // lesson 8's has a user namespace too.
    for lesson in ["1", "8", "9"] {
        let shell = HeldShell::start(learnns(&["shell", "--upto", lesson]));
        let typed = shell.typed();
        assert!(!typed.contains("--preserve-credentials"), "{typed}");
        let out = type_line(&typed, None);
        let inside = shell.answer();
        assert!(out.status.success(), "{typed}: {}", common::stderr(&out));
        assert_eq!(stdout(&out), inside, "{typed}");
        assert!(inside.starts_with("container\n0\n"), "{inside}");
    }
}

/// A copy of learnns any user may run, and a home for uid 65534.
struct Shared {
    dir: Scratch,
}

impl Shared {
    fn new() -> Shared {
        let dir = Scratch::new("shown-lines");
        std::fs::copy(env!("CARGO_BIN_EXE_learnns"), dir.0.join("learnns")).unwrap();
        std::fs::create_dir(dir.0.join("home")).unwrap();
        nix::unistd::chown(&dir.0.join("home"), Some(65534.into()), Some(65534.into())).unwrap();
        Shared { dir }
    }

    fn home(&self) -> PathBuf {
        self.dir.0.join("home")
    }

    /// The copy of learnns, as uid 65534.
    fn nobody(&self, args: &[&str]) -> Command {
        let mut command = learnns_at(&self.dir.0.join("learnns"), args);
        command
            .uid(65534)
            .gid(65534)
            .current_dir("/")
            .env("HOME", self.home())
            .env_remove("XDG_STATE_HOME")
            .env_remove("XDG_RUNTIME_DIR");
        command
    }
}

#[test]
fn nsenter_lines_typed_without_root_reach_the_container() {
    if !privileged() {
        return;
    }
    let shared = Shared::new();
    for (lesson, has_net) in [("1", false), ("5", true), ("9", true)] {
        let shell = HeldShell::start(shared.nobody(&["shell", "--upto", lesson]));
        let typed = shell.typed();
        assert!(
            typed.contains(" --user ") && typed.contains(" --preserve-credentials -- "),
            "{typed}"
        );
        let out = type_line(&typed, Some((65534, &shared.home())));
        // Lesson 5's own lines enter only the network namespace, with the
        // user namespace the others belong to: that form works too.
        let pid = typed.split_whitespace().nth(2).unwrap().to_string();
        let net = format!(
            "nsenter -t {pid} --user --net --preserve-credentials -- readlink /proc/self/ns/net"
        );
        let net_out = type_line(&net, Some((65534, &shared.home())));
        let container_net = std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
        let inside = shell.answer();
        assert!(out.status.success(), "{typed}: {}", common::stderr(&out));
        assert_eq!(stdout(&out), inside, "{typed}");
        assert!(inside.starts_with("container\n0\n"), "{inside}");
        if !has_net {
            continue;
        }
        assert!(
            net_out.status.success(),
            "{net}: {}",
            common::stderr(&net_out)
        );
        assert_eq!(
            stdout(&net_out).trim(),
            container_net.to_string_lossy(),
            "{net}"
        );
    }
    // And lesson 5 shows its nc and socat lines in that very form.
    let out = shared
        .nobody(&["lesson", "5", "--format", "json", "--no-pause"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    let shown = Shown::parse(&stdout(&out));
    let hand_built: Vec<String> = shown
        .commands()
        .into_iter()
        .map(|(_, line)| line)
        .filter(|l| l.contains("-- nc ") || l.contains("-- socat "))
        .collect();
    assert_eq!(hand_built.len(), 4, "{hand_built:?}");
    for line in hand_built {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[..2], ["nsenter", "-t"], "{line}");
        assert_eq!(
            words[3..7],
            ["--user", "--net", "--preserve-credentials", "--"],
            "{line}"
        );
    }
}

#[test]
fn unshare_line_as_root_makes_the_map_learnns_made() {
    if !privileged() {
        return;
    }
    if common_newuidmap().is_none() {
        assert!(
            std::env::var("LEARNNS_REQUIRE_PRIVILEGED").as_deref() != Ok("1"),
            "newuidmap is missing (apt install uidmap), and LEARNNS_REQUIRE_PRIVILEGED=1 forbids skipping"
        );
        eprintln!(
            "skipped: {}: unshare --map-users needs newuidmap (apt install uidmap)",
            common::current_test()
        );
        return;
    }
    let out = learnns(&["lesson", "6", "--format", "json", "--no-pause"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    let shown = Shown::parse(&stdout(&out));
    let line = shown
        .commands()
        .into_iter()
        .map(|(_, line)| line)
        .find(|l| l.starts_with("unshare ") && l.contains("--map-users="))
        .expect("lesson 6 as root shows an unshare line with --map-users");
    let (_, inside_map) = shown.observed("cat /proc/self/uid_map");
    let range = |option: &str| -> (u32, u32) {
        let value = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix(option))
            .unwrap_or_else(|| panic!("{option} in {line}"));
        let fields: Vec<u32> = value.split(',').map(|f| f.parse().unwrap()).collect();
        assert_eq!(fields[1], 0, "{line}");
        (fields[0], fields[2])
    };
    let (uid, count) = range("--map-users=");
    let (gid, gcount) = range("--map-groups=");
    // newuidmap allows root only what /etc/subuid gives it: give it the
    // range in a mount namespace of the test's own, never on the host.
    let scratch = Scratch::new("subids");
    std::fs::write(scratch.0.join("subuid"), format!("root:{uid}:{count}\n")).unwrap();
    std::fs::write(scratch.0.join("subgid"), format!("root:{gid}:{gcount}\n")).unwrap();
    let typed = line.replace(
        "sleep infinity",
        "sh -c 'cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g'",
    );
    assert_ne!(typed, line);
    let script = format!(
        "mount --bind {dir}/subuid /etc/subuid && mount --bind {dir}/subgid /etc/subgid && {typed}",
        dir = scratch.0.display()
    );
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{typed}: {}", common::stderr(&out));
    let text = stdout(&out);
    let lines: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let learnns_map: Vec<&str> = inside_map.split_whitespace().collect();
    assert_eq!(lines[0], learnns_map, "{typed}");
    assert_eq!(lines[0], ["0", &uid.to_string(), &count.to_string()]);
    assert_eq!(lines[1], ["0", &gid.to_string(), &gcount.to_string()]);
    assert_eq!(lines[2..], [["0"], ["0"]], "root inside, as learnns's init");
}

fn common_newuidmap() -> Option<PathBuf> {
    [
        "/usr/bin/newuidmap",
        "/usr/sbin/newuidmap",
        "/bin/newuidmap",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}
