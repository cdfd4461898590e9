//! The command line: help, usage errors, exit codes, colour. None of these
//! need privilege.

mod common;

use common::{learnns, run, stderr, stdout};

#[test]
fn help_snapshot() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    insta::assert_snapshot!("help", stdout(&out));
    let out = run(&["run", "--help"]);
    insta::assert_snapshot!("run_help", stdout(&out));
}

#[test]
fn every_command_has_an_example() {
    for cmd in ["lessons", "lesson", "run", "shell", "doctor", "progress"] {
        let out = run(&[cmd, "--help"]);
        assert!(
            stdout(&out).contains("Example"),
            "{cmd} --help has an example"
        );
    }
}

#[test]
fn version() {
    let out = run(&["--version"]);
    assert_eq!(
        stdout(&out),
        format!("learnns {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn course_map_names_the_next_command() {
    let out = run(&[]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("learnns lesson 0"));
    assert!(text.contains(" 3  pid       Becoming PID 1"), "{text}");
}

/// With everything done (the longest map), the map and the prompt under it
/// fit a 80x24 terminal, so its title is still on screen.
#[test]
fn course_map_fits_80_by_24() {
    let state = common::state_dir().join("full-map");
    std::fs::create_dir_all(state.join("learnns")).unwrap();
    let names: Vec<String> = learnns::lessons::LESSONS
        .iter()
        .map(|l| format!("{:?}", l.name))
        .collect();
    let mut file = format!(
        "completed = [{0}]\nchallenges = [{0}, \"capstone\"]\n",
        names.join(", ")
    );
    for topic in ["uts", "ipc", "pid", "course", "live"] {
        file += &format!(
            "[quiz.{topic}]\nlast_right = 9\nlast_asked = 10\nbest_right = 10\nbest_asked = 10\n"
        );
    }
    std::fs::write(state.join("learnns/progress.toml"), file).unwrap();
    let out = learnns(&[])
        .env("COLUMNS", "80")
        .env("XDG_STATE_HOME", &state)
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(text.contains("10 capstone"), "{text}");
    assert!(text.lines().count() <= 23, "{text}");
    for line in text.lines() {
        assert!(line.chars().count() <= 80, "{line}");
    }
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn unknown_lesson_is_a_usage_error_that_lists_the_lessons() {
    for bad in ["42", "docker", "-1", ""] {
        let out = run(&["lesson", bad]);
        assert_eq!(out.status.code(), Some(2), "lesson `{bad}`");
        let err = stderr(&out);
        assert!(err.contains("0 intro") || err.contains("error"), "{err}");
        assert!(!err.contains("panicked"));
    }
}

#[test]
fn conflicting_flags_are_usage_errors() {
    for args in [
        vec!["run", "--all", "--uts", "--", "true"],
        vec!["run", "--upto", "2", "--all", "--", "true"],
        vec!["run", "--uts"],
        vec!["run", "--", "true"],
        vec!["run", "--pid", "--hostname", "x", "--", "true"],
        vec!["run", "--upto", "nine", "--", "true"],
        vec!["lesson", "1", "--no-pause", "--shell"],
        vec!["lesson", "1", "--bogus"],
        vec!["--color", "sometimes"],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"));
    }
}

#[test]
fn shell_without_a_terminal_says_so() {
    let out = run(&["lesson", "1", "--shell"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--shell needs a terminal"));
}

#[test]
fn colour_is_decided_by_the_flag_and_no_color() {
    let coloured = stdout(&run(&["--color", "always"]));
    assert!(coloured.contains("\x1b["));
    let plain = stdout(&run(&["--color", "auto"]));
    assert!(
        !plain.contains("\x1b["),
        "not a terminal, and NO_COLOR is set"
    );
    let never = stdout(&run(&["--color", "never"]));
    assert!(!never.contains("\x1b["));
}

#[test]
fn doctor_reports_every_lesson() {
    let out = learnns(&["doctor"]).output().unwrap();
    let text = stdout(&out);
    for lesson in ["0 intro", "3 pid", "9 security"] {
        assert!(text.contains(lesson), "{lesson} in:\n{text}");
    }
    assert!(text.contains("namespace kinds in this kernel"));
    assert!(text.contains("cgroup"));
    if nix::unistd::geteuid().is_root() {
        assert_eq!(out.status.code(), Some(0), "{text}");
    }
}

#[test]
fn bad_input_for_every_command_is_a_usage_error_naming_the_problem() {
    for (args, says) in [
        (vec!["lesson"], "<LESSON>"),
        (vec!["lesson", "11"], "there is no lesson `11`"),
        (vec!["lesson", "1", "--all"], "unexpected argument"),
        (vec!["lessons", "extra"], "unexpected argument"),
        (vec!["shell", "--upto", "42"], "there is no lesson `42`"),
        (
            vec!["run", "--time", "--time-offset", "abc", "--", "true"],
            "invalid value",
        ),
        (
            vec!["run", "--uts", "--pids-max", "-1", "--", "true"],
            "unexpected argument",
        ),
        (
            vec!["run", "--uts", "--memory-max", "lots", "--", "true"],
            "is not a size",
        ),
        (
            vec![
                "run",
                "--net",
                "--veth",
                "--subnet",
                "203.0.113.0/31",
                "--",
                "true",
            ],
            "/30",
        ),
        (vec!["ns", "0"], "0 is not in 1.."),
        (vec!["compare", "1", "2", "3"], "unexpected argument"),
        (vec!["quiz", "--count", "many"], "invalid value"),
        (vec!["doctor", "now"], "unexpected argument"),
        (vec!["completions", "nushell"], "invalid value"),
        (vec!["man", "learnns"], "there is no command `learnns`"),
        (vec!["man", "run", "lesson"], "unexpected argument"),
        (vec!["--color", "sometimes"], "invalid value"),
        (vec!["unknown-command"], "unrecognized subcommand"),
        // Hostnames: what resolvers and /etc/hostname can hold.
        (
            vec!["run", "--uts", "--hostname", "", "--", "true"],
            "1 to 64",
        ),
        (
            vec!["run", "--uts", "--hostname", &"x".repeat(65), "--", "true"],
            "(this one has 65)",
        ),
        (
            vec!["run", "--uts", "--hostname", "a b", "--", "true"],
            "' '",
        ),
        (
            vec!["run", "--uts", "--hostname", "a\tb", "--", "true"],
            "'\\t'",
        ),
        (
            vec!["run", "--uts", "--hostname", "a\nb", "--", "true"],
            "'\\n'",
        ),
        (
            vec!["run", "--uts", "--hostname", "a/b", "--", "true"],
            "'/'",
        ),
        // Limits the kernel would refuse.
        (
            vec!["run", "--all", "--pids-max", "4194305", "--", "true"],
            "1..=4194304",
        ),
        (
            vec![
                "run",
                "--time",
                "--time-offset",
                "99999999999",
                "--",
                "true",
            ],
            "the kernel accepts",
        ),
        (
            vec![
                "run",
                "--time",
                "--time-offset",
                "-99999999999",
                "--",
                "true",
            ],
            "below 0",
        ),
        // Variables passed inside.
        (
            vec!["run", "--uts", "--env", "1A=x", "--", "true"],
            "not a variable name",
        ),
        (
            vec!["run", "--uts", "--env", "A-B=x", "--", "true"],
            "not a variable name",
        ),
        (
            vec![
                "run",
                "--uts",
                "--env",
                "LEARNNS_SURELY_UNSET",
                "--",
                "true",
            ],
            "no LEARNNS_SURELY_UNSET here",
        ),
        // A live quiz builds containers: bounded.
        (vec!["quiz", "--live", "--count", "21"], "at most 20"),
    ] {
        let out = run(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}");
    }
}

#[test]
fn output_that_cannot_be_written_is_an_error_and_a_closed_pipe_is_quiet() {
    let full = std::fs::File::options()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = learnns(&["man"]).stdout(full).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("No space left on device"),
        "{}",
        stderr(&out)
    );
    // A reader that stops after one line: learnns stops too, saying nothing.
    let mut child = learnns(&["lesson", "0", "--no-pause"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    std::io::Read::read(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        matches!(out.status.code(), Some(0) | Some(141)),
        "{:?} {}",
        out.status,
        stderr(&out)
    );
    assert!(!stderr(&out).contains("interrupted"), "{}", stderr(&out));
}

#[test]
fn absurd_widths_are_clamped() {
    let out = learnns(&["lessons"])
        .env("COLUMNS", "99999999999")
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = learnns(&["quiz", "--lesson", "1", "--count", "1"])
        .env("COLUMNS", "18446744073709551615")
        .output()
        .unwrap();
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    assert!(stdout(&out).lines().all(|l| l.chars().count() <= 1100));
}

#[test]
fn a_fifo_where_progress_is_kept_never_hangs_learnns() {
    let state = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("fifo-state-{}", std::process::id()));
    std::fs::create_dir_all(state.join("learnns")).unwrap();
    let fifo = state.join("learnns/progress.toml");
    let _ = std::fs::remove_file(&fifo);
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let mut child = learnns(&[])
        .env("XDG_STATE_HOME", &state)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("learnns hangs on a FIFO at progress.toml");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(
        stderr(&out).contains("not a regular file"),
        "{}",
        stderr(&out)
    );
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn an_unwritable_stderr_never_panics() {
    let full = || {
        std::fs::File::options()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    for (args, code) in [(vec!["lesson", "99"], 2), (vec!["ns", "999999999"], 1)] {
        let out = learnns(&args).stderr(full()).output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}");
    }
}

#[test]
fn the_privilege_gate_names_the_test_it_gates() {
    // privileged() takes the test's name from libtest's thread name: a
    // skip line names the test without anyone typing it.
    assert_eq!(
        common::current_test(),
        "the_privilege_gate_names_the_test_it_gates"
    );
    let from_a_thread = std::thread::spawn(common::current_test).join().unwrap();
    assert!(from_a_thread.contains("unnamed thread"), "{from_a_thread}");
}
