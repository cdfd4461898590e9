//! A crowded machine: a workshop runs many lessons at once, and the tests
//! run while a learner has a lesson open. Every check stays green, no two
//! runs share a subnet, and nothing is left behind.

mod common;

use std::collections::BTreeSet;
use std::process::Stdio;

use common::{
    Fingerprint, OnTerminal, assert_host_unchanged, learnns, privileged, run, serial, stdout,
};

#[test]
fn sixteen_of_each_network_and_ipc_lesson_at_once_pass_every_check() {
    if !privileged() {
        return;
    }
    let _guard = serial();
    let before = Fingerprint::take();
    // Sixteen network lessons hold their veth pairs at the same time...
    let mut held = Vec::new();
    for _ in 0..16 {
        let mut term = OnTerminal::start(&["lesson", "5"]);
        // Pause 4 comes right after the pair was made and pinged.
        term.walk_to_pause(4);
        held.push(term);
    }
    let mut subnets = BTreeSet::new();
    for term in &held {
        assert!(!term.seen.contains('✗'), "{}", term.seen);
        let line = term
            .seen
            .lines()
            .find(|l| l.contains("reach each other both ways"))
            .unwrap_or_else(|| panic!("{}", term.seen));
        let host_end = line.split_whitespace().nth(1).unwrap().to_string();
        assert!(subnets.insert(host_end.clone()), "{host_end} twice at once");
    }
    // ...while sixteen IPC lessons and sixteen more network lessons run
    // through at once.
    let crowd: Vec<(&str, std::process::Child)> = (0..32)
        .map(|i| {
            let lesson = if i % 2 == 0 { "2" } else { "5" };
            let child = learnns(&["lesson", lesson, "--no-pause"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (lesson, child)
        })
        .collect();
    for (lesson, child) in crowd {
        let out = child.wait_with_output().unwrap();
        let text = stdout(&out);
        assert!(
            out.status.success() && !text.contains('✗'),
            "lesson {lesson} in a crowd:\n{text}{}",
            common::stderr(&out)
        );
        assert!(text.contains(&format!("Lesson {lesson} done.")));
    }
    for mut term in held {
        term.type_line("q");
        let (code, screen) = term.finish();
        assert_eq!(code, Some(0), "{screen}");
    }
    assert_host_unchanged(&before, "48 lessons at once");
}

/// `learnns ARGS` on a terminal, started the way a learner's would be: not
/// by these tests, so it is someone else's run to them.
fn learners_lesson(args: &[&str]) -> OnTerminal {
    OnTerminal::spawn_orphan(learnns(args))
}

#[test]
fn the_tests_pass_beside_a_learners_open_lessons() {
    if !privileged() {
        return;
    }
    let _guard = serial();
    // A learner has lessons open that hold a queue, a veth pair and a
    // cgroup, and a shell.
    let lessons: [(&[&str], usize); 3] = [
        (&["lesson", "2"], 2),
        (&["lesson", "5"], 4),
        (&["lesson", "7"], 2),
    ];
    let mut open: Vec<(OnTerminal, i32)> = Vec::new();
    for (args, pause) in lessons {
        let mut term = learners_lesson(args);
        term.walk_to_pause(pause);
        let pid = term.learnns_pid();
        open.push((term, pid));
    }
    let mut shell = learners_lesson(&["shell", "--upto", "2"]);
    shell.wait_for("· inside]", 1);
    // And the learner keeps busy meanwhile: lessons that make and remove
    // queues, veth pairs and cgroups, one after another, from a shell of
    // their own (not a child of these tests), until told to stop (or, if
    // this test fails half-way, until its scratch directory is gone).
    let scratch = common::Scratch::new("busy");
    let (stop, log) = (scratch.0.join("stop"), scratch.0.join("rounds"));
    let script = format!(
        "while [ -d {dir} ] && [ ! -e {stop} ]; do for n in 2 5 7; do \"$0\" lesson $n --no-pause > {out} 2>&1; grep -q '✗' {out} && echo FAIL >> {log}; echo $n >> {log}; done; done; echo end >> {log}",
        dir = scratch.0.display(),
        stop = stop.display(),
        log = log.display(),
        out = scratch.0.join("out").display(),
    );
    let mut busy = std::process::Command::new("sh");
    busy.args(["-c", &script, env!("CARGO_BIN_EXE_learnns")]);
    for (key, value) in learnns(&[]).get_envs() {
        match value {
            Some(value) => busy.env(key, value),
            None => busy.env_remove(key),
        };
    }
    let _ = OnTerminal::spawn_orphan(busy);
    // What the tests do meanwhile, each checked against the fingerprint.
    for args in [
        vec!["lesson", "2", "--no-pause"],
        vec!["lesson", "5", "--no-pause"],
        vec!["lesson", "7", "--no-pause"],
        vec!["run", "--all", "--", "true"],
        vec!["run", "--upto", "5", "--veth", "--", "true"],
    ] {
        let before = Fingerprint::take();
        let out = run(&args);
        assert!(out.status.success(), "{args:?}: {}", common::stderr(&out));
        assert!(!stdout(&out).contains('✗'), "{}", stdout(&out));
        assert_host_unchanged(
            &before,
            &format!("learnns {} beside a learner", args.join(" ")),
        );
    }
    std::fs::write(&stop, "").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let rounds = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("end") {
            assert!(!text.contains("FAIL"), "a learner's lesson failed a check");
            break text.lines().count() - 1;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the learner's loop never ended"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(
        rounds >= 3,
        "the learner's lessons ran alongside ({rounds})"
    );
    // A start while the learner's runs live undoes nothing of theirs.
    let out = run(&["lessons"]);
    assert!(!common::stderr(&out).contains("removed"));
    for (pid, name) in open.iter().map(|(_, pid)| (*pid, "learnns")) {
        assert!(
            procfs::process::Process::new(pid).is_ok(),
            "the learner's {name} {pid} is gone"
        );
    }
    // The learner finishes.
    shell.type_line("exit");
    let _ = shell.finish();
    for (mut term, pid) in open {
        term.type_line("q");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while procfs::process::Process::new(pid)
            .is_ok_and(|p| p.stat().is_ok_and(|s| s.state != 'Z'))
        {
            assert!(std::time::Instant::now() < deadline, "{}", term.seen);
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = term.finish();
    }
}

#[test]
fn a_subnet_in_use_on_the_host_is_refused_with_the_rule() {
    if !privileged() {
        return;
    }
    let _guard = serial();
    let before = Fingerprint::take();
    let mut term = OnTerminal::start(&["lesson", "5"]);
    term.walk_to_pause(4);
    let line = term
        .seen
        .lines()
        .find(|l| l.contains("ip addr add") && l.contains("dev learnns"))
        .unwrap_or_else(|| panic!("{}", term.seen))
        .to_string();
    let cidr = line.split_whitespace().nth(4).unwrap();
    let out = run(&[
        "run", "--upto", "5", "--veth", "--subnet", cidr, "--", "true",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    let said = common::stderr(&out);
    assert!(
        said.contains("overlaps") && said.contains("learnns"),
        "{said}"
    );
    assert!(
        said.contains("fix: pick a subnet the host does not use, e.g."),
        "{said}"
    );
    term.type_line("q");
    let (code, screen) = term.finish();
    assert_eq!(code, Some(0), "{screen}");
    assert_host_unchanged(&before, "a subnet in use refused");
}
