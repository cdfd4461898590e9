//! The host is left exactly as learnns found it: after every lesson, after
//! `run`, after Ctrl-C, and after a run that was killed outright (the next
//! start cleans up). One test binary, tests run one at a time, so no other
//! learnns run can blur the fingerprint.

mod common;

use common::{Fingerprint, OnTerminal, PAUSE, assert_host_unchanged, privileged, run, stderr};
use nix::sys::signal::Signal;

#[test]
fn every_lesson_and_run_leaves_the_host_unchanged() {
    if !privileged() {
        return;
    }
    let _guard = common::serial();
    let lessons: Vec<String> = common::lesson_numbers()
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert!(lessons.len() >= 7, "{lessons:?}");
    let mut cases: Vec<Vec<&str>> = lessons
        .iter()
        .map(|n| vec!["lesson", n.as_str(), "--no-pause"])
        .collect();
    cases.push(vec!["lesson", "3", "--mnt", "--pid", "--no-pause"]);
    cases.push(vec!["run", "--all", "--", "true"]);
    cases.push(vec![
        "run",
        "--all",
        "--hostname",
        "x",
        "--",
        "sh",
        "-c",
        "ipcmk -Q; hostname y; exit 3",
    ]);
    cases.push(vec!["run", "--uts", "--", "no-such-command"]);
    cases.push(vec!["run", "--upto", "5", "--veth", "--", "ip", "link"]);
    cases.push(vec![
        "run", "--upto", "5", "--", "mount", "-t", "tmpfs", "x", "/tmp",
    ]);
    cases.push(vec!["lesson", "5", "--user", "--net", "--no-pause"]);
    for args in cases {
        let before = Fingerprint::take();
        let out = run(&args);
        assert!(!stderr(&out).contains("panicked"), "{args:?}");
        assert_host_unchanged(&before, &format!("learnns {}", args.join(" ")));
    }
}

fn queue_exists(id: i32) -> bool {
    std::fs::read_to_string("/proc/sysvipc/msg")
        .unwrap()
        .lines()
        .skip(1)
        .any(|l| l.split_whitespace().nth(1) == Some(&id.to_string()))
}

/// Lesson 2 on a terminal, stopped at the pause after it made its host queue.
fn lesson_2_paused_with_queue() -> (OnTerminal, i32) {
    let mut term = OnTerminal::start(&["lesson", "2"]);
    term.walk_to_pause(2);
    let id = term
        .seen
        .lines()
        .find_map(|l| l.trim().strip_prefix("Message queue id: "))
        .expect("lesson 2 made a queue before its second pause")
        .trim()
        .parse()
        .unwrap();
    assert!(queue_exists(id));
    (term, id)
}

#[test]
fn ctrl_c_at_every_pause_undoes_everything() {
    if !privileged() {
        return;
    }
    let _guard = common::serial();
    for lesson in common::lesson_numbers() {
        let done = format!("Lesson {lesson} done.");
        for pause in 1.. {
            let before = Fingerprint::take();
            let mut term = OnTerminal::start(&["lesson", &lesson.to_string()]);
            for earlier in 1..pause {
                term.wait_for(PAUSE, earlier);
                term.type_line("");
            }
            term.wait_until(|seen| seen.matches(PAUSE).count() >= pause || seen.contains(&done));
            if term.seen.contains(&done) {
                // Every pause has been tried: the lesson ran through.
                let (code, screen) = term.finish();
                assert_eq!(code, Some(0), "{screen}");
                assert_host_unchanged(
                    &before,
                    &format!("lesson {lesson} run through on a terminal"),
                );
                assert!(pause > 3, "lesson {lesson} pauses between its steps");
                break;
            }
            term.signal(Signal::SIGINT);
            let (code, screen) = term.finish();
            assert_eq!(code, Some(130), "lesson {lesson}, pause {pause}:\n{screen}");
            assert!(screen.contains("interrupted"), "{screen}");
            assert_host_unchanged(
                &before,
                &format!("Ctrl-C at pause {pause} of lesson {lesson}"),
            );
        }
    }
}

#[test]
fn after_a_shell_in_a_pid_namespace_the_pause_keys_still_work() {
    if !privileged() {
        return;
    }
    let _guard = common::serial();
    let before = Fingerprint::take();
    // Lesson 3's container (a PID namespace) exists from pause 3 on.
    let mut term = OnTerminal::start(&["lesson", "3"]);
    term.walk_to_pause(3);
    term.type_line("s");
    term.wait_for("· inside]", 1);
    term.type_line("exit");
    // Back at the same pause: learnns has the terminal again (it used to
    // be stopped in the background here, and Enter went to the shell).
    term.wait_for(PAUSE, 4);
    term.type_line("");
    term.wait_for(PAUSE, 5);
    term.type_line("q");
    let (code, screen) = term.finish();
    assert_eq!(code, Some(0), "{screen}");
    assert!(screen.contains("Stopped."), "{screen}");
    assert_host_unchanged(&before, "s, exit, Enter, q in lesson 3");
}

#[test]
fn quitting_at_a_pause_cleans_up_and_exits_0() {
    if !privileged() {
        return;
    }
    let _guard = common::serial();
    let before = Fingerprint::take();
    let (mut term, id) = lesson_2_paused_with_queue();
    term.type_line("q");
    let (code, screen) = term.finish();
    assert_eq!(code, Some(0), "{screen}");
    assert!(screen.contains("Stopped."));
    assert!(!queue_exists(id));
    assert_host_unchanged(&before, "q at a pause of lesson 2");
}

#[test]
fn a_killed_run_is_cleaned_up_by_the_next_start() {
    if !privileged() {
        return;
    }
    let _guard = common::serial();
    let before = Fingerprint::take();
    let (term, id) = lesson_2_paused_with_queue();
    term.signal(Signal::SIGKILL);
    let _ = term.finish();
    assert!(
        queue_exists(id),
        "a killed learnns cannot clean up by itself"
    );
    let out = run(&["lessons"]);
    assert!(
        stderr(&out).contains(&format!("removed message queue {id}")),
        "the next start says what it removed: {}",
        stderr(&out)
    );
    assert!(!queue_exists(id));
    assert_host_unchanged(&before, "SIGKILL during lesson 2, then a new start");
}

/// Kill learnns outright at pause `pause` of `lesson`. What `made` lists
/// (host paths, each with the line the next start prints about it, found
/// from the killed run's PID) must outlive it, then be removed by the next
/// start, leaving the host as it was.
fn killed_at_pause(
    lesson: &str,
    pause: usize,
    made: impl Fn(u32) -> Vec<(std::path::PathBuf, String)>,
) {
    let _guard = common::serial();
    let before = Fingerprint::take();
    let mut term = OnTerminal::start(&["lesson", lesson]);
    term.walk_to_pause(pause);
    let made = made(term.child.id());
    assert!(
        !made.is_empty() && made.iter().all(|(path, _)| path.exists()),
        "{made:?} exist at pause {pause}"
    );
    term.signal(Signal::SIGKILL);
    let _ = term.finish();
    assert!(
        made.iter().all(|(path, _)| path.exists()),
        "a killed learnns cannot clean up by itself"
    );
    let out = run(&["lessons"]);
    for (_, said) in &made {
        assert!(
            stderr(&out).contains(said),
            "the next start says what it removed: {}",
            stderr(&out)
        );
    }
    assert_host_unchanged(
        &before,
        &format!("SIGKILL during lesson {lesson}, then a new start"),
    );
}

#[test]
fn a_killed_network_lesson_leaves_a_veth_that_the_next_start_removes() {
    if !privileged() {
        return;
    }
    // Pause 4 comes right after the veth pair was made and pinged.
    killed_at_pause("5", 4, |pid| {
        let link = format!("learnns{pid}h");
        let path = std::path::Path::new("/sys/class/net").join(&link);
        vec![(path, format!("removed network link {link}"))]
    });
}

#[test]
fn a_killed_cgroup_lesson_leaves_a_cgroup_that_the_next_start_removes() {
    if !privileged() {
        return;
    }
    // Pause 2 comes right after the container got its cgroup.
    killed_at_pause("7", 2, |pid| {
        common::cgroups_of(pid)
            .into_iter()
            .map(|dir| {
                let said = format!("removed cgroup {}", dir.display());
                (dir, said)
            })
            .collect()
    });
}
