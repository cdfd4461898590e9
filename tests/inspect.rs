//! `learnns ns` and `learnns compare` on processes made by `unshare`,
//! cross-checked against `readlink` and `lsns`.

mod common;

use std::process::{Child, Command, Stdio};

use common::{privileged, run, stderr, stdout};

const KINDS: [&str; 8] = ["user", "mnt", "pid", "net", "ipc", "uts", "cgroup", "time"];

/// A `sleep` in new namespaces, made by util-linux's unshare.
struct Unshared(Child);

impl Unshared {
    fn start(flags: &[&str]) -> Unshared {
        let child = Command::new("unshare")
            .args(flags)
            .args(["sleep", "60"])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare runs");
        let pid = child.id();
        // unshare execs sleep in place: wait until it has.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default() != "sleep\n"
        {
            assert!(
                std::time::Instant::now() < deadline,
                "unshare never became sleep"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        Unshared(child)
    }

    fn pid(&self) -> String {
        self.0.id().to_string()
    }
}

impl Drop for Unshared {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn readlink(pid: &str, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// The namespace inode lsns reports for a process and kind.
fn lsns(pid: &str, kind: &str) -> String {
    let out = Command::new("lsns")
        .args(["-n", "-o", "NS", "-t", kind, "-p", pid])
        .output()
        .expect("lsns runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn compare_says_what_unshare_separated_and_matches_readlink_and_lsns() {
    if !privileged() {
        return;
    }
    let me = std::process::id().to_string();
    let other = Unshared::start(&["--net"]);
    let pid = other.pid();
    let out = run(&["compare", &me, &pid]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    for kind in KINDS {
        let row = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{kind} ")))
            .unwrap_or_else(|| panic!("no {kind} row:\n{text}"));
        let (mine, theirs) = (readlink(&me, kind), readlink(&pid, kind));
        assert!(row.contains(&mine) && row.contains(&theirs), "{row}");
        let inode = theirs.trim_start_matches(|c| c != '[');
        assert_eq!(
            format!("[{}]", lsns(&pid, kind)),
            inode,
            "lsns agrees on {kind}"
        );
        let verdict = if kind == "net" { "different" } else { "same" };
        assert!(row.trim_end().ends_with(verdict), "{kind}: {row}");
    }
    assert!(text.contains("Different: net."), "{text}");
    assert!(text.contains("cannot be reached by the other"), "{text}");
    assert!(
        text.contains(&format!("nsenter -t {me} -n ip addr")),
        "{text}"
    );
}

#[test]
fn ns_lists_a_processs_own_namespaces() {
    if !privileged() {
        return;
    }
    let other = Unshared::start(&["--uts", "--ipc"]);
    let pid = other.pid();
    let out = run(&["ns", &pid]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    for kind in KINDS {
        assert!(text.contains(&readlink(&pid, kind)), "{kind}: {text}");
    }
    assert!(text.contains("Its own namespaces: ipc uts"), "{text}");
}

#[test]
fn bad_pids_get_a_clear_message_and_the_right_exit_code() {
    for (args, code, says) in [
        (vec!["compare", "0", "1"], 2, "0 is not in 1.."),
        (vec!["compare", "1", "-5"], 2, "unexpected argument"),
        (vec!["compare", "1", "x"], 2, "invalid digit"),
        (vec!["compare", "1", "99999999999"], 2, "not in 1.."),
        (vec!["compare", "1"], 2, "PID_B"),
        (vec!["ns", "4194304"], 1, "does not exist"),
        (vec!["compare", "4194304", "1"], 1, "does not exist"),
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("panicked"));
    }
}

#[test]
fn a_process_that_has_exited_is_reported_as_such() {
    // A child that exited and was not waited for is a zombie: its PID is
    // still there, its namespaces are gone, as for a process that exits
    // while learnns reads it.
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id().to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_default()
        .contains(") Z")
    {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let out = run(&["ns", &pid]);
    let _ = child.wait();
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("exited while learnns was reading"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn another_users_process_is_a_permission_problem_with_a_fix() {
    use std::os::unix::process::CommandExt;
    if !privileged() {
        return;
    }
    let root_process = Unshared::start(&["--uts"]);
    let out = common::learnns(&[
        "compare",
        &std::process::id().to_string(),
        &root_process.pid(),
    ])
    .uid(65534)
    .gid(65534)
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("permission denied"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("fix:"));
}

#[test]
fn completions_and_man_page_come_from_the_command_line_definition() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = run(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let text = stdout(&out);
        for word in ["learnns", "quiz", "compare", "no-pause"] {
            assert!(text.contains(word), "{shell} completes {word}");
        }
    }
    let man = stdout(&run(&["man"]));
    assert!(man.contains(".TH learnns 1"), "{man}");
    assert!(man.contains("quiz") && man.contains("doctor"));
}
