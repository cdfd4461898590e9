//! The instructors' commands: `progress` (and `--reset`), `quiz --key`,
//! `man [SUBCOMMAND]`. None of these need privilege.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{OnTerminal, learnns, run, stderr, stdout};

/// A progress location of this test's own.
fn state(test: &str) -> PathBuf {
    let dir = common::state_dir().join(test);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn with_state(dir: &Path, args: &[&str]) -> Command {
    let mut command = learnns(args);
    command.env("XDG_STATE_HOME", dir);
    command
}

fn output(dir: &Path, args: &[&str]) -> std::process::Output {
    with_state(dir, args).output().unwrap()
}

fn progress_file(dir: &Path) -> PathBuf {
    dir.join("learnns/progress.toml")
}

#[test]
fn progress_shows_a_done_lesson_where_it_is_kept_and_what_is_next() {
    let dir = state("shows");
    let out = output(&dir, &["progress"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("No progress yet"), "{text}");
    assert!(text.contains("Lessons: 0 of 10 done"), "{text}");
    assert!(text.contains("learnns lesson 0"), "{text}");
    assert!(!text.contains("--reset"), "nothing to reset yet: {text}");

    let lesson = output(&dir, &["lesson", "0", "--no-pause"]);
    assert!(lesson.status.success(), "{}", stderr(&lesson));
    let text = stdout(&output(&dir, &["progress"]));
    assert!(
        text.contains(&format!(
            "Progress kept in {}",
            progress_file(&dir).display()
        )),
        "{text}"
    );
    assert!(text.contains("Lessons: 1 of 10 done"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with(" ✓  0  intro")),
        "{text}"
    );
    assert!(text.lines().any(|l| l.starts_with(" ·  1  uts")), "{text}");
    assert!(text.contains("learnns lesson 1"), "the next step: {text}");
    assert!(text.contains("learnns progress --reset"), "{text}");
}

#[test]
fn progress_of_the_old_format_is_shown_by_the_lessons_it_meant() {
    let dir = state("old");
    std::fs::create_dir_all(dir.join("learnns")).unwrap();
    std::fs::write(
        progress_file(&dir),
        "completed = [0, 3]\n\n[quiz.net]\nlast_right = 4\nlast_asked = 5\nbest_right = 5\nbest_asked = 5\n\n[quiz.course]\nlast_right = 7\nlast_asked = 10\nbest_right = 8\nbest_asked = 10\n",
    )
    .unwrap();
    let text = stdout(&output(&dir, &["progress"]));
    assert!(text.contains("Lessons: 2 of 10 done"), "{text}");
    assert!(text.lines().any(|l| l.starts_with(" ✓  3  pid")), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with(" ·  5  net") && l.contains("quiz best 5/5, last 4/5")),
        "{text}"
    );
    assert!(
        text.contains("whole-course quiz") && text.contains("best 8/10, last 7/10"),
        "{text}"
    );
    // The course map reads it the same way.
    let map = stdout(&output(&dir, &[]));
    assert!(map.lines().any(|l| l.contains("✓  3  pid")), "{map}");
    assert!(map.contains("learnns lesson 1"), "{map}");
}

#[test]
fn reset_without_a_terminal_needs_yes_and_then_removes_the_progress() {
    let dir = state("reset");
    // Nothing kept: nothing to do, and that is no failure.
    let out = output(&dir, &["progress", "--reset"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Nothing to reset"),
        "{}",
        stdout(&out)
    );

    assert!(
        output(&dir, &["lesson", "0", "--no-pause"])
            .status
            .success()
    );
    assert!(progress_file(&dir).exists());
    let out = output(&dir, &["progress", "--reset"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert!(
        progress_file(&dir).exists(),
        "nothing removed without --yes"
    );

    let out = output(&dir, &["progress", "--reset", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(said.contains("Removed"), "{said}");
    assert!(said.contains("1 lesson done (intro)"), "{said}");
    assert!(!progress_file(&dir).exists());
    let text = stdout(&output(&dir, &["progress"]));
    assert!(text.contains("Lessons: 0 of 10 done"), "{text}");

    // --yes means nothing without --reset.
    assert_eq!(output(&dir, &["progress", "--yes"]).status.code(), Some(2));
}

#[test]
fn reset_on_a_terminal_asks_first() {
    let dir = state("ask");
    assert!(
        output(&dir, &["lesson", "0", "--no-pause"])
            .status
            .success()
    );
    for (answer, removed) in [("n", false), ("", false), ("y", true)] {
        let mut term = OnTerminal::spawn(with_state(&dir, &["progress", "--reset"]));
        term.wait_for("[y/N]", 1);
        term.type_line(answer);
        let (code, screen) = term.finish();
        assert_eq!(code, Some(0), "{screen}");
        assert_eq!(
            !progress_file(&dir).exists(),
            removed,
            "{answer:?}: {screen}"
        );
        let said = if removed { "Removed" } else { "Kept" };
        assert!(screen.contains(said), "{answer:?}: {screen}");
    }
}

#[test]
fn a_damaged_progress_file_can_be_reset() {
    let dir = state("damaged");
    std::fs::create_dir_all(dir.join("learnns")).unwrap();
    std::fs::write(progress_file(&dir), "completed = [1, 2").unwrap();
    let out = output(&dir, &["progress"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot be read"), "{}", stderr(&out));
    let out = output(&dir, &["progress", "--reset", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!progress_file(&dir).exists());
}

#[test]
fn progress_help_has_examples() {
    let out = run(&["progress", "--help"]);
    assert!(stdout(&out).contains("Example"));
}
