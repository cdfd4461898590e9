//! Each lesson's prose follows the run that prints it: with kind flags that
//! leave a namespace out, and without root, the sentences that would be
//! false give way to the variant that is true.

mod common;

use common::shown::Shown;
use common::{privileged, run, stdout};

fn lesson(args: &[&str]) -> Shown {
    let mut args = args.to_vec();
    args.extend(["--format", "json"]);
    let out = run(&args);
    let shown = Shown::parse(&stdout(&out));
    assert!(
        out.status.success() && shown.failed_checks().is_empty(),
        "{args:?}: {:?}\n{}",
        shown.failed_checks(),
        common::stderr(&out)
    );
    shown
}

/// Does the run say `needle`? Prose keeps its source's line breaks, so
/// all white space counts as one space, and backticks are left out.
fn says(shown: &Shown, needle: &str) -> bool {
    let text = shown.all_text().replace('`', "");
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    text.contains(needle)
}

/// Sentences of the default runs, and of the runs without the namespace.
const EMPTY_LIST: &str = "the container's list is empty";
const SHARED_QUEUE: &str = "so it shares the host's System V objects";
const CLONES_NEWUTS: &str = "clones its first container process with CLONE_NEWUTS";
const NO_NEWUTS: &str = "without CLONE_NEWUTS";
const FIRST_OF_NEW: &str = "as the first process of a new PID namespace";
const STILL_LISTS: &str = "inside the new PID namespace still lists";
const DOCKER_STOP: &str = "This is why docker stop";
const FRESH_PROC: &str = "Then it mounts a fresh /proc for its PID namespace";
const ONLY_CONTAINER: &str = "It lists only the container's processes";

#[test]
fn lessons_without_their_own_namespace_say_so() {
    if !privileged() {
        return;
    }
    let shown = lesson(&["lesson", "1", "--net"]);
    assert!(!says(&shown, CLONES_NEWUTS) && says(&shown, NO_NEWUTS));
    assert!(!says(&shown, "rename the machine freely"));

    let shown = lesson(&["lesson", "2", "--uts"]);
    assert!(!says(&shown, EMPTY_LIST) && says(&shown, SHARED_QUEUE));
    assert!(!says(&shown, "a queue made inside is invisible"));

    let shown = lesson(&["lesson", "3", "--uts", "--ipc"]);
    for false_here in [
        FIRST_OF_NEW,
        STILL_LISTS,
        DOCKER_STOP,
        "for the reason above",
    ] {
        assert!(
            !says(&shown, false_here),
            "lesson 3 --uts --ipc: {false_here}"
        );
    }
    assert!(says(&shown, "Kind flags left the PID namespace out"));

    let shown = lesson(&["lesson", "3", "--mnt", "--pid"]);
    assert!(says(&shown, "learnns mounted a fresh /proc") && !says(&shown, STILL_LISTS));
    assert!(!says(&shown, "for the reason above"));

    let shown = lesson(&["lesson", "4", "--mnt"]);
    assert!(!says(&shown, FRESH_PROC) && !says(&shown, ONLY_CONTAINER));
    assert!(says(&shown, "binds the host's /proc into the new root"));
    assert!(says(&shown, "On a host where / is shared"));
}

#[test]
fn the_usual_kinds_keep_the_usual_sentences() {
    if !privileged() {
        return;
    }
    let shown = lesson(&["lesson", "1"]);
    assert!(says(&shown, CLONES_NEWUTS) && !says(&shown, NO_NEWUTS));
    let shown = lesson(&["lesson", "2", "--ipc"]);
    assert!(says(&shown, EMPTY_LIST) && !says(&shown, SHARED_QUEUE));
    let shown = lesson(&["lesson", "3"]);
    assert!(says(&shown, FIRST_OF_NEW) && says(&shown, STILL_LISTS) && says(&shown, DOCKER_STOP));
    let shown = lesson(&["lesson", "4"]);
    assert!(says(&shown, FRESH_PROC) && says(&shown, ONLY_CONTAINER));
    let shown = lesson(&["lesson", "9"]);
    assert!(says(&shown, "root inside is root outside"));
    assert!(shown.passed("the same CapEff mask"));
    assert!(!says(&shown, "every bit set") && !says(&shown, "Without root"));
    assert!(says(&shown, "could load a kernel module"));
}

#[test]
fn lesson_9_as_root_with_a_user_namespace() {
    if !privileged() {
        return;
    }
    let shown = lesson(&["lesson", "9", "--user", "--mnt"]);
    assert!(!says(&shown, "root inside is root outside") && !says(&shown, "Without root"));
    assert!(says(&shown, "with --user among its kind flags"));
    assert!(!says(&shown, "could load a kernel module"));
    assert!(says(&shown, "The dangerous powers are out of reach here"));
}

#[test]
fn lesson_9_without_root() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    if !privileged() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("learnns-variants-{}", std::process::id()));
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    nix::unistd::chown(&home, Some(65534.into()), Some(65534.into())).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_learnns"), dir.join("learnns")).unwrap();
    let out = std::process::Command::new(dir.join("learnns"))
        .args(["lesson", "9", "--format", "json"])
        .uid(65534)
        .gid(65534)
        .current_dir("/")
        .env("NO_COLOR", "1")
        .env("HOME", &home)
        .env_remove("XDG_STATE_HOME")
        .env_remove("XDG_RUNTIME_DIR")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let shown = Shown::parse(&stdout(&out));
    assert!(
        out.status.success() && shown.failed_checks().is_empty(),
        "{:?}\n{}",
        shown.failed_checks(),
        common::stderr(&out)
    );
    for false_here in [
        "root inside is root outside",
        "every bit set",
        "So root inside can do what root can do",
        "could load a kernel module",
    ] {
        assert!(!says(&shown, false_here), "rootless lesson 9: {false_here}");
    }
    assert!(says(
        &shown,
        "Without root, learnns gives the container a user namespace"
    ));
    assert!(says(&shown, "holds them in the container's user namespace"));
    assert!(says(&shown, "The dangerous powers are out of reach here"));
}
