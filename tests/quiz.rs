//! The quiz: scripted answers scored exactly, a terminal driven with arrow
//! keys, live questions cross-checked against the kernel, and progress.

mod common;

use std::io::{Read, Write};
use std::process::Stdio;

use common::{OnTerminal, learnns, privileged, run, stdout};

/// A lesson's bank, read the way learnns reads it.
fn bank(name: &str) -> Vec<toml::Table> {
    let text = std::fs::read_to_string(format!(
        "{}/lessons/{name}.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let table: toml::Table = toml::from_str(&text).unwrap();
    table["question"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q.as_table().unwrap().clone())
        .collect()
}

/// Text without white space or backticks: the same however the quiz
/// wrapped it (code spans lose their backticks on screen).
fn squashed(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && *c != '`')
        .collect()
}

/// The numbered choices of the last question printed in `screen` (before
/// its prompt), joined up again where they were wrapped.
fn printed_choices(screen: &str) -> Vec<String> {
    let question = &screen[screen.rfind("Question ").expect("a question")..];
    let mut choices: Vec<String> = Vec::new();
    for line in question.lines().map(|l| l.trim_end_matches('\r')) {
        let numbered = line
            .strip_prefix("    ")
            .and_then(|rest| rest.split_once(") "))
            .filter(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        if let Some((n, text)) = numbered
            && n.parse::<usize>() == Ok(choices.len() + 1)
        {
            choices.push(text.to_string());
        } else if !choices.is_empty() && line.starts_with("       ") {
            let last = choices.last_mut().unwrap();
            last.push(' ');
            last.push_str(line.trim());
        } else if !choices.is_empty() {
            break;
        }
    }
    choices
}

/// The number of the bank question's right choice where this quiz printed
/// it (the quiz shuffles the choices).
fn right_number(q: &toml::Table, screen: &str) -> usize {
    let choices = q["choices"].as_array().unwrap();
    let right = choices[q["answer"].as_integer().unwrap() as usize - 1]
        .as_str()
        .unwrap();
    let printed = printed_choices(screen);
    assert_eq!(printed.len(), choices.len(), "{screen}");
    1 + printed
        .iter()
        .position(|c| squashed(c) == squashed(right))
        .unwrap_or_else(|| panic!("`{right}` is not among the choices:\n{screen}"))
}

/// A right (or a wrong) answer to a bank question, as a learner types it
/// after reading the question on `screen`.
fn answer(q: &toml::Table, screen: &str, right: bool) -> String {
    match q.get("choices") {
        Some(choices) => {
            let n = choices.as_array().unwrap().len();
            let r = right_number(q, screen);
            if right { r } else { r % n + 1 }.to_string()
        }
        None if right => q["accept"][0].as_str().unwrap().to_string(),
        None => "certainly not this".to_string(),
    }
}

/// The bank question a quiz printed last, by its number: without a seed a
/// lesson's questions come in the bank's order.
fn asked<'a>(questions: &'a [toml::Table], screen: &str) -> (usize, &'a toml::Table) {
    let header = &screen[screen.rfind("Question ").unwrap() + "Question ".len()..];
    let n: usize = header
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap();
    (n - 1, &questions[n - 1])
}

fn quiz_with(args: &[&str], input: &str) -> std::process::Output {
    common::run_with_input(learnns(args), input)
}

#[test]
fn scripted_answers_are_scored_exactly() {
    let questions = bank("net");
    let n = questions.len();
    let text = converse(learnns(&["quiz", "--lesson", "5"]), |screen| {
        let (_, q) = asked(&questions, screen);
        answer(q, screen, true)
    });
    assert!(text.contains(&format!("Score: {n} of {n}")), "{text}");
    // Every third answer wrong: exactly those are marked.
    let text = converse(learnns(&["quiz", "--lesson", "net"]), |screen| {
        let (i, q) = asked(&questions, screen);
        answer(q, screen, i % 3 != 0)
    });
    let wrong = n.div_ceil(3);
    assert_eq!(text.matches("✗ not quite").count(), wrong, "{text}");
    assert!(
        text.contains(&format!("Score: {} of {n}", n - wrong)),
        "{text}"
    );
    // Each answer comes with its explanation and where to read up.
    assert_eq!(text.matches("see: learnns lesson 5 (net)").count(), n);
}

#[test]
fn the_net_inode_question_is_explained_fully() {
    let questions = bank("net");
    let input: String = questions
        .iter()
        .map(|q| {
            if q.contains_key("choices") {
                "1\n"
            } else {
                "x\n"
            }
        })
        .collect();
    let text = stdout(&quiz_with(&["quiz", "--lesson", "5"], &input));
    assert!(text.contains("net:[4026532421]") && text.contains("net:[4026531992]"));
    for must in [
        "different network namespaces",
        "nsenter -t 123 -n ip addr",
        "127.0.0.1",
        "device",
    ] {
        assert!(text.contains(must), "{must} in:\n{text}");
    }
}

#[test]
fn scenario_output_is_shown_above_its_question() {
    let mut seen = String::new();
    converse(learnns(&["quiz", "--lesson", "pid"]), |screen| {
        if screen.contains("Cannot allocate memory") {
            seen = screen.to_string();
            return "q".into();
        }
        "1".into()
    });
    let shown = seen.find("bash: fork: Cannot allocate memory").unwrap();
    let question = seen.find("What happened").unwrap();
    assert!(shown < question, "{seen}");
}

#[test]
fn choices_are_shuffled_and_a_seed_repeats_their_order() {
    let uts = bank("uts");
    let mut places = std::collections::BTreeSet::new();
    for seed in 1..=30 {
        let seed = seed.to_string();
        let args = ["quiz", "--lesson", "1", "--count", "1", "--seed", &seed];
        let screen = stdout(&quiz_with(&args, ""));
        assert_eq!(screen, stdout(&quiz_with(&args, "")), "seed {seed}");
        // With a seed the questions are shuffled too: a typed one tells
        // nothing about choices.
        let first = uts.iter().find(|q| {
            q.contains_key("choices")
                && squashed(&screen).contains(&squashed(q["ask"].as_str().unwrap()))
        });
        if let Some(q) = first {
            places.insert(right_number(q, &screen));
        }
    }
    assert!(
        places.len() > 2,
        "the right choice hardly moves: {places:?}"
    );
}

#[test]
fn end_of_input_and_garbage_never_panic() {
    let out = quiz_with(&["quiz", "--lesson", "5"], "");
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("Stopped after 0 of"),
        "{}",
        stdout(&out)
    );
    let out = quiz_with(&["quiz", "--lesson", "1"], "x\n99\n\u{1b}[A\n0\n");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(
        text.matches("is not one of the choices").count(),
        4,
        "{text}"
    );
    assert!(text.contains("Stopped after 0 of"));
    let out = quiz_with(&["quiz", "--lesson", "1"], "\u{0}\u{ff}binary\n");
    assert!(!common::stderr(&out).contains("panicked"));
    let out = quiz_with(&["quiz", "--lesson", "1"], "2\nq\n");
    assert!(
        stdout(&out).contains("Stopped after 1 of"),
        "{}",
        stdout(&out)
    );
    for bad in [
        vec!["quiz", "--lesson", "42"],
        vec!["quiz", "--count", "0"],
        vec!["quiz", "--count", "-3"],
        vec!["quiz", "--lesson", "1", "--live"],
        vec!["quiz", "--seed", "pi"],
    ] {
        let out = run(&bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
}

#[test]
fn a_seed_repeats_a_quiz_exactly() {
    let first = stdout(&quiz_with(&["quiz", "--seed", "42", "--count", "5"], ""));
    let again = stdout(&quiz_with(&["quiz", "--seed", "42", "--count", "5"], ""));
    let other = stdout(&quiz_with(&["quiz", "--seed", "43", "--count", "5"], ""));
    assert_eq!(first, again);
    assert_ne!(first, other);
}

#[test]
fn the_readme_script_scores_full_marks() {
    // README, "Quiz and progress": a seed fixes the choices' order, so the
    // script's choice number stays right.
    let readme = include_str!("../README.md");
    assert!(readme.contains("printf '3\\n--uts\\n' | learnns quiz --lesson 1 --count 2 --seed 39"));
    let out = quiz_with(
        &["quiz", "--lesson", "1", "--count", "2", "--seed", "39"],
        "3\n--uts\n",
    );
    assert!(stdout(&out).contains("Score: 2 of 2"), "{}", stdout(&out));
}

#[test]
fn on_a_terminal_arrow_keys_choose() {
    // Lesson 1: a multiple-choice question, then a typed one. The right
    // choice is wherever this quiz shuffled it: read it off the screen.
    let uts = bank("uts");
    let mut term = OnTerminal::start(&["quiz", "--lesson", "1", "--count", "2"]);
    term.wait_for("↑/↓ and Enter", 1);
    let screen = term.seen[..term.seen.find("↑/↓ and Enter").unwrap()].to_string();
    for _ in 1..right_number(&uts[0], &screen) {
        term.press(b"\x1b[B");
    }
    term.press(b"\r");
    term.wait_for("✓ right.", 1);
    term.wait_for("your answer", 1);
    term.type_line("--uts");
    term.wait_for("Score:", 1);
    let (code, screen) = term.finish();
    assert_eq!(code, Some(0), "{screen}");
    assert!(screen.contains("Score: 2 of 2"), "{screen}");
}

#[test]
fn progress_is_kept_and_shown_on_the_course_map() {
    let dir = common::state_dir().join("map");
    let _ = std::fs::remove_dir_all(&dir);
    let with_state = |args: &[&str], input: &str| {
        let mut command = learnns(args);
        command.env("XDG_STATE_HOME", &dir);
        common::run_with_input(command, input)
    };
    let map = stdout(&with_state(&[], ""));
    assert!(map.contains("learnns lesson 0"), "{map}");
    assert!(
        with_state(&["lesson", "0", "--no-pause"], "")
            .status
            .success()
    );
    let questions = bank("intro");
    let mut quiz = learnns(&["quiz", "--lesson", "0"]);
    quiz.env("XDG_STATE_HOME", &dir);
    converse(quiz, |screen| {
        let (_, q) = asked(&questions, screen);
        answer(q, screen, true)
    });
    let map = stdout(&with_state(&[], ""));
    let n = questions.len();
    assert!(
        map.lines()
            .any(|l| l.contains("✓  0  intro") && l.contains(&format!("quiz {n}/{n}"))),
        "{map}"
    );
    assert!(map.contains("learnns lesson 1"), "the next step: {map}");
    // A damaged file is reported with the fix, and nothing breaks.
    std::fs::write(dir.join("learnns/progress.toml"), "completed = [1, 2").unwrap();
    let out = with_state(&[], "");
    assert!(out.status.success());
    assert!(
        common::stderr(&out).contains("rm ") || stdout(&out).contains("learnns lesson 0"),
        "{}",
        common::stderr(&out)
    );
}

#[test]
fn under_sudo_progress_belongs_to_the_invoking_user() {
    use std::os::unix::fs::MetadataExt;
    if !privileged() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("lnstest-state-{}", std::process::id()));
    std::fs::create_dir(&dir).unwrap();
    nix::unistd::chown(&dir, Some(65534.into()), Some(65534.into())).unwrap();
    let out = learnns(&["lesson", "0", "--no-pause"])
        .env("XDG_STATE_HOME", &dir)
        .env("SUDO_UID", "65534")
        .env("SUDO_GID", "65534")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    let file = dir.join("learnns/progress.toml");
    let meta = std::fs::metadata(&file);
    let owner = meta.as_ref().map(|m| (m.uid(), m.gid())).ok();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(owner, Some((65534, 65534)), "{}", common::stderr(&out));
}

/// Drive a plain-mode quiz: read up to each prompt, answer from `decide`.
fn converse(mut command: std::process::Command, mut decide: impl FnMut(&str) -> String) -> String {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let mut output = child.stdout.take().unwrap();
    let mut seen = String::new();
    let mut answered = 0;
    let mut buf = [0u8; 4096];
    loop {
        let n = output.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        if seen.matches("(q to stop): ").count() > answered {
            let question = &seen[seen.rfind("Question ").unwrap()..];
            let reply = decide(question);
            writeln!(input, "{reply}").unwrap();
            answered += 1;
        }
    }
    child.wait().unwrap();
    seen
}

fn link(pid: &str, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The PIDs a question names, in order.
fn pids(text: &str) -> Vec<String> {
    text.split("PID ")
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            (!digits.is_empty()).then_some(digits)
        })
        .collect()
}

/// The number of the printed choice that starts with `start`.
fn choose(screen: &str, start: &str) -> String {
    let printed = printed_choices(screen);
    let i = printed
        .iter()
        .position(|c| c.starts_with(start))
        .unwrap_or_else(|| panic!("no choice starts with {start}:\n{screen}"));
    (i + 1).to_string()
}

#[test]
fn live_questions_are_graded_against_the_kernel() {
    if !privileged() {
        return;
    }
    // Answer every question from what the kernel says right now, without
    // trusting learnns: all must be graded right.
    let kinds = ["user", "mnt", "pid", "net", "ipc", "uts", "cgroup", "time"];
    let live = learnns(&["quiz", "--live", "--count", "5", "--seed", "11"]);
    let text = converse(live, |q| {
        let ask = q.lines().filter(|l| !l.contains('│')).collect::<String>();
        let named = pids(&ask);
        if ask.contains("In which namespace kinds") {
            let (a, b) = (&named[1], &named[0]);
            let differ: Vec<&str> = kinds
                .iter()
                .copied()
                .filter(|k| link(a, k) != link(b, k))
                .collect();
            if differ.is_empty() {
                "none".into()
            } else {
                differ.join(" ")
            }
        } else if ask.contains("127.0.0.1:8080") {
            let same = link(&named[0], "net") == link(&named[1], "net");
            choose(q, if same { "Yes" } else { "No" })
        } else if ask.contains("hostname box") {
            let same = link(&named[0], "uts") == link(&named[1], "uts");
            choose(q, if same { "It becomes box" } else { "Nothing" })
        } else if ask.contains("NSpid")
            || ask.contains("Which PID does `ps`")
            || ask.contains("Which PID does ps")
        {
            let status = std::fs::read_to_string(format!("/proc/{}/status", named[0])).unwrap();
            let line = status.lines().find(|l| l.starts_with("NSpid:")).unwrap();
            line.split_whitespace().last().unwrap().to_string()
        } else if ask.contains("uid_map") || ask.contains("act on the host") {
            let map = std::fs::read_to_string(format!("/proc/{}/uid_map", named[0])).unwrap();
            map.split_whitespace().nth(1).unwrap().to_string()
        } else {
            panic!("a live question the test does not know:\n{q}")
        }
    });
    assert!(text.contains("Score: 5 of 5"), "{text}");
}
