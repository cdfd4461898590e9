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
    for cmd in ["lessons", "lesson", "run", "shell", "doctor"] {
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
        (vec!["man", "learnns"], "unexpected argument"),
        (vec!["--color", "sometimes"], "invalid value"),
        (vec!["unknown-command"], "unrecognized subcommand"),
    ] {
        let out = run(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}");
    }
}
