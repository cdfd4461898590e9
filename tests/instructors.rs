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

/// Every lesson's bank, read from the files as the author wrote them:
/// (lesson name, questions).
fn banks() -> Vec<(String, Vec<toml::Table>)> {
    let names: Vec<String> = stdout(&run(&["lessons"]))
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .collect();
    assert_eq!(names.len(), 10, "the lessons: {names:?}");
    names
        .into_iter()
        .map(|name| {
            let path = format!("{}/lessons/{name}.toml", env!("CARGO_MANIFEST_DIR"));
            let table: toml::Table =
                toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            let questions = table["question"]
                .as_array()
                .unwrap()
                .iter()
                .map(|q| q.as_table().unwrap().clone())
                .collect();
            (name, questions)
        })
        .collect()
}

fn text_of(q: &toml::Table, key: &str) -> String {
    q[key].as_str().unwrap().trim().to_string()
}

#[test]
fn the_key_has_every_question_with_the_right_answer_marked() {
    let out = run(&["quiz", "--key"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let key = stdout(&out);
    assert!(key.starts_with("# learnns quiz: answer key"), "{key}");
    let mut total = 0;
    for (name, questions) in banks() {
        let start = key
            .find(&format!("({name}):"))
            .unwrap_or_else(|| panic!("no heading for lesson {name}"));
        let section = &key[start..];
        let section = &section[..section[1..].find("\n## ").map_or(section.len(), |e| e + 1)];
        for (i, q) in questions.iter().enumerate() {
            total += 1;
            let n = i + 1;
            let at = section
                .find(&format!("### Question {n}\n"))
                .unwrap_or_else(|| panic!("{name}: no question {n}"));
            let entry = &section[at..];
            let entry = &entry[..entry[1..].find("### ").map_or(entry.len(), |e| e + 1)];
            assert!(entry.contains(&text_of(q, "ask")), "{name} {n}: {entry}");
            assert!(
                entry.contains(&text_of(q, "explain")),
                "{name} {n}: {entry}"
            );
            match q.get("answer") {
                Some(answer) => {
                    let right = answer.as_integer().unwrap() as usize;
                    let choices = q["choices"].as_array().unwrap();
                    for (c, choice) in choices.iter().enumerate() {
                        let choice = choice.as_str().unwrap().trim();
                        let marked = format!("{}. **{choice}** **(right)**", c + 1);
                        assert_eq!(
                            entry.contains(&marked),
                            c + 1 == right,
                            "{name} {n}, choice {}: {entry}",
                            c + 1
                        );
                        assert!(entry.contains(choice), "{name} {n}: {entry}");
                    }
                }
                None => {
                    for accepted in q["accept"].as_array().unwrap() {
                        let accepted = accepted.as_str().unwrap();
                        assert!(
                            entry.contains(&format!("`{accepted}`")),
                            "{name} {n}: {entry}"
                        );
                    }
                }
            }
        }
    }
    assert_eq!(key.matches("### Question ").count(), total);
}

#[test]
fn the_key_of_one_lesson_holds_that_lesson_only() {
    let key = stdout(&run(&["quiz", "--key", "--lesson", "net"]));
    assert_eq!(key.matches("\n## Lesson ").count(), 1, "{key}");
    assert!(key.contains("## Lesson 5 (net)"), "{key}");
    let same = stdout(&run(&["quiz", "--key", "--lesson", "5"]));
    assert_eq!(key, same);
    let out = run(&["quiz", "--key", "--lesson", "nosuch"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("pick one of"), "{}", stderr(&out));
}

#[test]
fn the_key_never_waits_and_is_never_coloured() {
    // On a terminal, with colour asked for: no question, no colour.
    let mut command = learnns(&["--color", "always", "quiz", "--key", "--lesson", "1"]);
    command.env_remove("NO_COLOR");
    let mut term = OnTerminal::spawn(command);
    // Panics after 20 s if learnns waits for anything.
    term.wait_for("### Question 5", 1);
    let (code, screen) = term.finish();
    assert_eq!(code, Some(0), "{screen}");
    assert!(screen.contains("### Question 5"), "{screen}");
    assert!(!screen.contains('\u{1b}'), "colour in the key: {screen:?}");
}

#[test]
fn the_key_conflicts_with_what_only_a_quiz_can_do() {
    for extra in [&["--live"][..], &["--count", "3"], &["--seed", "7"]] {
        let mut args = vec!["quiz", "--key"];
        args.extend_from_slice(extra);
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&out).contains("cannot be used with"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn the_man_page_names_pages_that_exist_and_each_has_its_options() {
    let main = run(&["man"]);
    assert_eq!(main.status.code(), Some(0), "{}", stderr(&main));
    let page = stdout(&main);
    assert!(page.contains(".TH learnns 1"), "{page}");
    assert!(!page.contains("(1)\n"), "no page named NAME(1): {page}");
    assert!(page.contains(".SH \"SEE ALSO\""), "{page}");
    // Every page the main page names can be had.
    let named: Vec<&str> = page
        .split("\\fBlearnns man ")
        .skip(1)
        .filter_map(|rest| rest.split("\\fR").next())
        .filter(|name| name.chars().all(|c| c.is_ascii_lowercase()))
        .collect();
    for name in ["run", "lesson", "quiz", "progress", "man"] {
        assert!(named.contains(&name), "{name} in {named:?}");
    }
    for name in &named {
        let out = run(&["man", name]);
        assert_eq!(out.status.code(), Some(0), "learnns man {name}");
        let sub = stdout(&out);
        assert!(sub.contains(&format!(".TH learnns-{name} 1")), "{sub}");
        assert!(
            sub.contains(&format!("\\fBlearnns {name}\\fR")),
            "synopsis: {sub}"
        );
    }
    let run_page = stdout(&run(&["man", "run"]));
    for option in ["upto", "all", "hostname", "rootfs", "veth", "seccomp"] {
        assert!(
            run_page.contains(&format!("\\fB\\-\\-{option}\\fR")),
            "--{option}: {run_page}"
        );
    }
    let quiz_page = stdout(&run(&["man", "quiz"]));
    assert!(quiz_page.contains("\\-\\-key"), "{quiz_page}");
}

#[test]
fn a_man_page_of_no_command_is_a_usage_error_listing_the_commands() {
    let out = run(&["man", "nosuch"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).is_empty());
    let said = stderr(&out);
    assert!(said.contains("`nosuch`"), "{said}");
    assert!(said.contains("run, shell"), "{said}");
    assert!(said.contains("progress"), "{said}");
}

#[test]
fn progress_shows_challenges_passed_and_hints_taken() {
    let dir = state("challenges");
    std::fs::create_dir_all(dir.join("learnns")).unwrap();
    std::fs::write(
        progress_file(&dir),
        "completed = [\"uts\"]\nchallenges = [\"uts\"]\n\n[hints]\nuts = 2\npid = 1\n",
    )
    .unwrap();
    let out = output(&dir, &["progress"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Challenges"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("✓  1  uts") && l.contains("2 hints")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("·  3  pid") && l.contains("1 hint")),
        "{text}"
    );
    let out = output(&dir, &["progress", "--reset", "--yes"]);
    assert!(
        stdout(&out).contains("1 challenge passed (uts)"),
        "{}",
        stdout(&out)
    );
}
