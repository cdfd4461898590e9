//! Faults and soak: learnns killed mid-lesson, its container's init killed
//! from outside, observation commands missing or failing, broken roots, no
//! `ip`, and many runs in a row. After each, the host is as it was.

mod common;

use common::{
    Fingerprint, OnTerminal, Scratch, assert_host_unchanged, learnns, privileged, run, serial,
    stderr, stdout,
};
use nix::sys::signal::Signal;

#[test]
fn learnns_killed_in_lesson_4_leaves_nothing_after_the_next_start() {
    if !privileged() {
        return;
    }
    let _guard = serial();
    let before = Fingerprint::take();
    let mut term = OnTerminal::start(&["lesson", "4"]);
    // Pause 3 is after the container's root was switched.
    term.walk_to_pause(3);
    term.signal(Signal::SIGKILL);
    let _ = term.finish();
    let out = run(&["lessons"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_host_unchanged(&before, "SIGKILL during lesson 4, then a new start");
}

#[test]
fn the_containers_init_killed_from_outside_ends_the_lesson_cleanly() {
    if !privileged() {
        return;
    }
    let _guard = serial();
    let before = Fingerprint::take();
    let mut term = OnTerminal::start(&["lesson", "1"]);
    // Pause 2 comes after the container started.
    term.walk_to_pause(2);
    let at = term.seen.find("container init: PID ").unwrap() + "container init: PID ".len();
    let init: i32 = term.seen[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(init), Signal::SIGKILL).unwrap();
    term.type_line("");
    let (code, screen) = term.finish();
    assert_eq!(code, Some(1), "{screen}");
    assert!(
        screen.contains(&format!("the container's init (PID {init}) is gone")),
        "{screen}"
    );
    assert!(!screen.contains("panicked"));
    assert_host_unchanged(&before, "the container's init killed from outside");
}

#[test]
fn a_missing_or_failing_observation_command_is_shown_not_fatal() {
    if !privileged() {
        return;
    }
    let _guard = serial();
    let before = Fingerprint::take();
    // Nothing on PATH: every observed command is missing.
    let out = learnns(&["lesson", "1", "--no-pause"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains("`hostname` is not installed here"), "{text}");
    assert!(
        text.contains('✗'),
        "a claim that could not be shown says so"
    );
    // A `hostname` that fails: its error is shown and the lesson goes on.
    let fake = Scratch::new("path");
    fake.script("hostname", "echo 'hostname: broken on purpose' >&2; exit 3");
    let path = format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", fake.0.display());
    let out = learnns(&["lesson", "1", "--no-pause"])
        .env("PATH", &path)
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("broken on purpose"), "{text}");
    assert!(text.contains("Lesson 1 done."), "{text}");
    assert_host_unchanged(&before, "lesson 1 with missing and failing commands");
}

#[test]
fn missing_ip_names_the_package_to_install() {
    if !privileged() {
        return;
    }
    let _guard = serial();
    let before = Fingerprint::take();
    for args in [
        vec!["lesson", "5", "--no-pause"],
        vec!["run", "--upto", "5", "--veth", "--", "true"],
    ] {
        let out = learnns(&args).env("PATH", "/nonexistent").output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stdout(&out));
        assert!(
            stderr(&out).contains("install iproute2"),
            "{}",
            stderr(&out)
        );
        assert!(!stderr(&out).contains("panicked"));
    }
    assert_host_unchanged(&before, "no ip on PATH");
}

#[test]
fn broken_roots_are_refused_with_a_reason() {
    if !privileged() {
        return;
    }
    let _guard = serial();
    let before = Fingerprint::take();
    // A /bin/sh that is not a program.
    let root = Scratch::new("root");
    std::fs::create_dir_all(root.0.join("bin")).unwrap();
    std::fs::write(root.0.join("bin/sh"), "not a program").unwrap();
    let dir = root.0.display().to_string();
    let out = run(&["run", "--mnt", "--pid", "--rootfs", &dir, "--", "/bin/sh"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(!stderr(&out).is_empty() && !stderr(&out).contains("panicked"));
    // A root without the program asked for.
    let out = run(&["run", "--mnt", "--pid", "--rootfs", &dir, "--", "true"]);
    assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
    assert!(stderr(&out).contains("`true` was not found inside the container"));
    // A /proc that is a file, so no proc can be mounted on it.
    std::fs::write(root.0.join("proc"), "").unwrap();
    let out = run(&["run", "--mnt", "--pid", "--rootfs", &dir, "--", "/bin/sh"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("could not be set up"),
        "{}",
        stderr(&out)
    );
    // A root that vanishes: a path that is gone by the time it is used.
    let out = run(&[
        "run",
        "--mnt",
        "--rootfs",
        &format!("{dir}/gone"),
        "--",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no such directory"));
    assert_host_unchanged(&before, "broken --rootfs trees");
}

#[test]
fn progress_that_cannot_be_read_or_written_never_stops_a_lesson() {
    // Its learnns runs would show in the others' fingerprints.
    let _guard = serial();
    let state = Scratch::new("state");
    // The progress file is a directory: unreadable, unwritable.
    std::fs::create_dir_all(state.0.join("learnns/progress.toml")).unwrap();
    let out = learnns(&["lesson", "0", "--no-pause"])
        .env("XDG_STATE_HOME", &state.0)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("progress not saved"),
        "{}",
        stderr(&out)
    );
    let out = learnns(&[])
        .env("XDG_STATE_HOME", &state.0)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("cannot be read"), "{}", stderr(&out));
    assert!(stdout(&out).contains("learnns lesson 0"));
}

#[test]
fn two_hundred_runs_in_a_row_leave_nothing() {
    if !privileged() {
        return;
    }
    let _guard = serial();
    let before = Fingerprint::take();
    for i in 0..200 {
        let out = run(&["run", "--all", "--", "/bin/true"]);
        assert_eq!(out.status.code(), Some(0), "run {i}: {}", stderr(&out));
    }
    assert_host_unchanged(&before, "200 runs of learnns run --all -- /bin/true");
}

#[test]
fn every_lesson_twenty_times_leaves_nothing() {
    if !privileged() {
        return;
    }
    let _guard = serial();
    let before = Fingerprint::take();
    let started = std::time::Instant::now();
    for n in common::lesson_numbers() {
        for i in 0..20 {
            let out = run(&["lesson", &n.to_string(), "--no-pause"]);
            assert_eq!(
                out.status.code(),
                Some(0),
                "lesson {n}, run {i}: {}",
                stderr(&out)
            );
            assert!(
                !stdout(&out).contains('✗'),
                "lesson {n}, run {i}:\n{}",
                stdout(&out)
            );
        }
    }
    assert_host_unchanged(&before, "20 runs of every lesson");
    eprintln!("every lesson 20 times: {:?}", started.elapsed());
}

#[test]
fn a_kill_at_every_creating_call_is_undone_by_the_next_start() {
    if !privileged() {
        return;
    }
    use std::os::unix::process::ExitStatusExt;
    let _guard = serial();
    // Each step that makes something on the host, with a lesson that takes
    // it: right before the object exists (its record is written) and right
    // after (its identity is not yet).
    let points = [
        ("journal-created", "2"),
        ("recorded-msgqueue", "2"),
        ("msgget", "2"),
        ("recorded-cgroup", "7"),
        ("cgroup-mkdir", "7"),
        ("recorded-link", "5"),
        ("link-add", "5"),
        ("recorded-file", "6"),
        ("file-created", "6"),
    ];
    for (point, lesson) in points {
        let before = Fingerprint::take();
        let out = learnns(&["lesson", lesson, "--no-pause"])
            .env("LEARNNS_FAILPOINT", point)
            .output()
            .unwrap();
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGKILL),
            "lesson {lesson} reached {point}: {}",
            stderr(&out)
        );
        let next = run(&["lessons"]);
        assert!(next.status.success(), "{}", stderr(&next));
        // Where the object already existed, the next start says it removed it.
        if !point.starts_with("recorded-") && point != "journal-created" {
            assert!(
                stderr(&next).contains("cleaned up: removed"),
                "after {point}: {}",
                stderr(&next)
            );
        }
        assert_host_unchanged(
            &before,
            &format!("a kill at {point} in lesson {lesson}, then a new start"),
        );
    }
}

#[test]
fn a_signal_at_any_moment_of_any_lesson_exits_130_and_leaves_nothing() {
    if !privileged() {
        return;
    }
    let _guard = serial();
    let signals = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];
    for (n, lesson) in common::lesson_numbers().into_iter().enumerate() {
        for (i, signal) in signals.iter().enumerate() {
            // Spread over the lesson; lesson 7 is mostly its fork bomb.
            let delay = std::time::Duration::from_millis(20 + 45 * ((n * 3 + i) as u64 % 9));
            let before = Fingerprint::take();
            let child = learnns(&["lesson", &lesson.to_string(), "--no-pause"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            std::thread::sleep(delay);
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), *signal);
            let out = child.wait_with_output().unwrap();
            let said = stderr(&out);
            match out.status.code() {
                // It had finished before the signal came.
                Some(0) => assert!(stdout(&out).contains("done."), "{said}"),
                Some(130) => assert!(
                    said.contains("interrupted") && said.contains("undone")
                        || said.contains("changed nothing"),
                    "lesson {lesson}, {signal} after {delay:?}: {said}"
                ),
                other => {
                    panic!("lesson {lesson}, {signal} after {delay:?}: exit {other:?}\n{said}")
                }
            }
            assert_host_unchanged(&before, &format!("{signal} during lesson {lesson}"));
        }
    }
}

#[test]
fn a_shell_and_what_it_started_die_with_learnns() {
    if !privileged() {
        return;
    }
    let _guard = serial();
    // Containers without a PID namespace (lessons 1 and 2, shell --upto
    // 0..2) used to leave a root shell behind on a SIGKILL.
    let cases: [(&[&str], usize); 5] = [
        (&["lesson", "1"], 2),
        (&["lesson", "2"], 3),
        (&["lesson", "4"], 3),
        (&["shell", "--upto", "0"], 0),
        (&["shell", "--upto", "2"], 0),
    ];
    for (i, (args, pause)) in cases.into_iter().enumerate() {
        let before = Fingerprint::take();
        let shells_before = common::running("bash --norc --noprofile");
        let mut term = OnTerminal::start(args);
        if pause > 0 {
            term.walk_to_pause(pause);
            term.type_line("s");
        }
        term.wait_for("· inside]", 1);
        // A job in the background, and one that left the shell's session.
        let marker = format!("31{i}7{}", std::process::id() % 1000);
        term.type_line(&format!("sleep {marker} & setsid sleep {marker}1 &"));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while common::running(&format!("sleep {marker}")).len() < 2 {
            assert!(std::time::Instant::now() < deadline, "{}", term.seen);
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let shells: Vec<i32> = common::running("bash --norc --noprofile")
            .into_iter()
            .filter(|pid| !shells_before.contains(pid))
            .collect();
        assert!(!shells.is_empty(), "{}", term.seen);
        term.signal(Signal::SIGKILL);
        let _ = term.finish();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        let alive = |pids: &[i32]| {
            pids.iter()
                .any(|p| common::running("bash --norc").contains(p))
        };
        while !common::running(&format!("sleep {marker}")).is_empty() || alive(&shells) {
            assert!(
                std::time::Instant::now() < deadline,
                "{args:?}: processes outlived learnns: {:?}",
                common::running(&format!("sleep {marker}"))
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let next = run(&["lessons"]);
        assert!(next.status.success());
        assert_host_unchanged(&before, &format!("SIGKILL of learnns {}", args.join(" ")));
    }
}
