//! `learnns quiz`: questions kept as data beside each lesson's prose
//! (`lessons/<name>.toml`), asked with arrow keys on a terminal or as plain
//! lines otherwise, each answer followed by its explanation.

pub mod bank;
pub mod key;
mod live;

use std::io::Write;

use colored::Colorize;

use crate::cli::QuizArgs;
use crate::error::{Error, Result};
use crate::lessons::{self, LESSONS};
use crate::ns::{Kind, ORDER};
use crate::progress;
use crate::render::layout;
use crate::ui;

/// How an answer is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// The 0-based index of the right choice.
    Choice(usize),
    /// Any of these texts, compared without case or extra spaces.
    Text(Vec<String>),
    /// These words in any order (namespace kinds), compared as a set.
    Words(Vec<String>),
}

/// A question ready to be asked.
#[derive(Debug, Clone)]
pub struct Asked {
    /// What the learner looks at first (live questions show real output).
    pub shown: Option<String>,
    pub text: String,
    pub choices: Vec<String>,
    pub expect: Expect,
    pub explain: String,
    /// Where to read up: `learnns lesson 5 (net)`.
    pub see: String,
}

/// What the learner answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    Choice(usize),
    Text(String),
}

impl Asked {
    pub fn is_right(&self, response: &Response) -> bool {
        match (&self.expect, response) {
            (Expect::Choice(right), Response::Choice(given)) => right == given,
            (Expect::Text(accepted), Response::Text(given)) => {
                let given = normalize(given);
                accepted.iter().any(|a| normalize(a) == given)
            }
            (Expect::Words(words), Response::Text(given)) => {
                words_of(given) == words_of(&words.join(" "))
            }
            _ => false,
        }
    }

    /// The same question with its choices in an order of `rng`'s making,
    /// the right one followed to its new place. Typed questions are left
    /// as they are.
    pub fn shuffled(mut self, rng: &mut fastrand::Rng) -> Asked {
        let Expect::Choice(right) = self.expect else {
            return self;
        };
        let mut order: Vec<usize> = (0..self.choices.len()).collect();
        rng.shuffle(&mut order);
        let old = std::mem::take(&mut self.choices);
        self.choices = order.iter().map(|&i| old[i].clone()).collect();
        self.expect = Expect::Choice(order.iter().position(|&i| i == right).unwrap_or(right));
        self
    }

    /// The right answer, in words.
    pub fn answer(&self) -> String {
        match &self.expect {
            Expect::Choice(i) => self.choices.get(*i).cloned().unwrap_or_default(),
            Expect::Text(accepted) => accepted.first().cloned().unwrap_or_default(),
            Expect::Words(words) if words.is_empty() => "(none)".into(),
            Expect::Words(words) => words.join(" "),
        }
    }
}

/// A typed answer without what does not change its meaning: surrounding
/// spaces, quotes and backticks, a shell prompt (`$ `, `# `) or `sudo` in
/// front, repeated spaces, case (except in short options, where `-U` and
/// `-u` differ), a trailing `/` on a path, and the way a PID is written in
/// a `/proc` path (`/proc/PID/`, `/proc/[pid]/`, `/proc/self/`, `/proc/42/`).
pub fn normalize(text: &str) -> String {
    let text = text
        .trim()
        .trim_matches(|c| matches!(c, '`' | '"' | '\''))
        .trim();
    let text = ["$ ", "# "]
        .iter()
        .find_map(|prompt| text.strip_prefix(prompt))
        .unwrap_or(text)
        .trim_start();
    let mut words: Vec<String> = text.split_whitespace().map(word).collect();
    if words.len() > 1 && words[0] == "sudo" {
        words.remove(0);
    }
    words.join(" ")
}

/// One word of a typed answer, normalized.
fn word(word: &str) -> String {
    let short_option = word.starts_with('-') && !word.starts_with("--");
    if short_option {
        return word.to_string();
    }
    let mut word = word.to_lowercase();
    if word.len() > 1 && word.starts_with('/') {
        word = word.trim_end_matches('/').to_string();
        if word.is_empty() {
            word.push('/');
        }
    }
    if let Some(rest) = word.strip_prefix("/proc/") {
        let (pid, tail) = rest.split_once('/').unwrap_or((rest, ""));
        let placeholder = matches!(
            pid,
            "pid" | "[pid]" | "<pid>" | "$pid" | "${pid}" | "{pid}" | "self" | "$$"
        ) || (!pid.is_empty() && pid.chars().all(|c| c.is_ascii_digit()));
        if placeholder {
            word = if tail.is_empty() {
                "/proc/pid".to_string()
            } else {
                format!("/proc/pid/{tail}")
            };
        }
    }
    word
}

/// A set of namespace kinds written any way: `net, uts`, `UTS net`,
/// `mount`; `none` or nothing is the empty set. Unknown words stay as
/// they are (and so never match).
pub fn words_of(text: &str) -> Vec<String> {
    let mut words: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(normalize)
        .filter(|w| !w.is_empty() && w != "none" && w != "and")
        .map(|w| match Kind::from_name(&w) {
            Some(kind) => kind.proc_name().to_string(),
            None => w,
        })
        .collect();
    let rank = |w: &String| {
        ORDER
            .iter()
            .position(|k| k.proc_name() == w)
            .unwrap_or(ORDER.len())
    };
    words.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
    words.dedup();
    words
}

/// Asks questions and reads answers: a terminal or plain lines.
trait Front {
    /// None when the learner stops (q, Esc, end of input).
    fn ask(&mut self, question: &Asked, number: usize, total: usize) -> Result<Option<Response>>;
}

/// Arrow keys and Enter, with dialoguer.
struct Terminal;

impl Front for Terminal {
    fn ask(&mut self, q: &Asked, number: usize, total: usize) -> Result<Option<Response>> {
        print_question(q, number, total);
        let outcome = if q.choices.is_empty() {
            dialoguer::Input::<String>::new()
                .with_prompt("your answer (empty line: stop)")
                .allow_empty(true)
                .interact_text()
                .map(|text| (!text.trim().is_empty()).then_some(Response::Text(text)))
        } else {
            dialoguer::Select::new()
                .with_prompt("↑/↓ and Enter (Esc: stop)")
                .items(short_choices(&q.choices))
                // The menu line would repeat the chosen text, wider than
                // the terminal; the answer below says what was chosen.
                .report(false)
                .default(0)
                .interact_opt()
                .map(|choice| choice.map(Response::Choice))
        };
        match outcome {
            Ok(response) => Ok(response),
            Err(dialoguer::Error::IO(e)) if e.kind() == std::io::ErrorKind::Interrupted => {
                Err(Error::Interrupted)
            }
            Err(dialoguer::Error::IO(e)) => Err(Error::io("read an answer", e)),
        }
    }
}

/// Numbered choices, one answer per line: scriptable.
struct Plain;

impl Front for Plain {
    fn ask(&mut self, q: &Asked, number: usize, total: usize) -> Result<Option<Response>> {
        print_question(q, number, total);
        loop {
            if q.choices.is_empty() {
                out!("answer (q to stop): ");
            } else {
                out!("answer 1-{} (q to stop): ", q.choices.len());
            }
            let _ = std::io::stdout().flush();
            let Some(line) = ui::read_line()? else {
                outln!();
                return Ok(None);
            };
            let line = line.trim();
            if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                // Echo a piped answer, so the transcript reads like a dialogue.
                outln!("{line}");
            }
            if line.eq_ignore_ascii_case("q") {
                return Ok(None);
            }
            if q.choices.is_empty() {
                if line.is_empty() {
                    outln!("  (type an answer, or q to stop)");
                    continue;
                }
                return Ok(Some(Response::Text(line.to_string())));
            }
            match parse_choice(line, q.choices.len()) {
                Some(i) => return Ok(Some(Response::Choice(i))),
                None => outln!(
                    "  `{line}` is not one of the choices: type a number from 1 to {}",
                    q.choices.len()
                ),
            }
        }
    }
}

/// `2` or `b` means the second choice.
pub fn parse_choice(text: &str, count: usize) -> Option<usize> {
    let text = text.trim().to_ascii_lowercase();
    let index = match text.parse::<usize>() {
        Ok(n) => n.checked_sub(1)?,
        Err(_) => {
            let mut chars = text.chars();
            match (chars.next(), chars.next()) {
                (Some(c @ 'a'..='z'), None) => c as usize - 'a' as usize,
                _ => return None,
            }
        }
    };
    (index < count).then_some(index)
}

/// The question, wrapped to the terminal, with its choices numbered (the
/// arrow-key menu below them names each by its first words).
fn print_question(q: &Asked, number: usize, total: usize) {
    let width = ui::width();
    outln!("\n{}", format!("Question {number} of {total}").bold());
    if let Some(shown) = &q.shown {
        for line in layout::wrap_output(shown, width, "  ") {
            outln!("{line}");
        }
        outln!();
    }
    for line in layout::prose(&q.text, width) {
        outln!("{line}");
    }
    for (i, choice) in q.choices.iter().enumerate() {
        let first = format!("    {}) ", i + 1);
        let rest = " ".repeat(first.len());
        for line in layout::wrap(choice, width, &first, &rest) {
            outln!("{line}");
        }
    }
}

/// Each choice cut at a word to fit one menu line: a menu line the
/// terminal wraps would break the menu's redrawing.
fn short_choices(choices: &[String]) -> Vec<String> {
    let room = ui::width().saturating_sub(8).max(12);
    choices
        .iter()
        .enumerate()
        .map(|(i, choice)| {
            let label = format!("{}) {choice}", i + 1);
            if label.chars().count() <= room {
                return label;
            }
            let mut short = String::new();
            for word in label.split(' ') {
                if short.chars().count() + word.chars().count() + 2 > room {
                    break;
                }
                if !short.is_empty() {
                    short.push(' ');
                }
                short.push_str(word);
            }
            short + " …"
        })
        .collect()
}

/// The questions of one quiz: from the banks, or made live as they come.
enum Questions {
    Bank(Vec<Asked>),
    Live(Box<live::Live>, usize),
}

impl Questions {
    fn total(&self) -> usize {
        match self {
            Questions::Bank(asked) => asked.len(),
            Questions::Live(_, count) => *count,
        }
    }

    fn get(&mut self, i: usize) -> Result<Asked> {
        match self {
            Questions::Bank(asked) => Ok(asked[i].clone()),
            Questions::Live(live, _) => live.question(i),
        }
    }
}

/// What the quiz is about (for the progress file), and its questions.
fn topic(args: &QuizArgs) -> Result<(String, Questions)> {
    let mut rng = match args.seed {
        Some(seed) => fastrand::Rng::with_seed(seed),
        None => fastrand::Rng::new(),
    };
    if args.live {
        let count = args.count.unwrap_or(live::DEFAULT_COUNT);
        if count > live::MAX_COUNT {
            return Err(Error::usage(
                format!(
                    "--live asks at most {} questions, each about containers it starts",
                    live::MAX_COUNT
                ),
                format!("--count {} or fewer", live::MAX_COUNT),
            ));
        }
        let questions = Questions::Live(Box::new(live::Live::new(rng)), count as usize);
        return Ok(("live".into(), questions));
    }
    match &args.lesson {
        Some(selector) => {
            let lesson = lessons::find(selector)?;
            let mut asked = bank::for_lesson(lesson)?;
            // A lesson's questions follow the lesson, unless a seed asks
            // for a shuffle; their choices are shuffled either way.
            if args.seed.is_some() {
                rng.shuffle(&mut asked);
            }
            if let Some(count) = args.count {
                asked.truncate(count as usize);
            }
            Ok((
                lesson.name.to_string(),
                Questions::Bank(shuffled(asked, &mut rng)),
            ))
        }
        None => {
            let mut asked = Vec::new();
            for lesson in &LESSONS {
                asked.extend(bank::for_lesson(lesson)?);
            }
            rng.shuffle(&mut asked);
            asked.truncate(args.count.unwrap_or(10) as usize);
            Ok(("course".into(), Questions::Bank(shuffled(asked, &mut rng))))
        }
    }
}

/// Every question's choices in an order of this quiz's own: the right
/// answer is not where the bank (or the key) has it, and `--seed` repeats
/// the order exactly.
fn shuffled(asked: Vec<Asked>, rng: &mut fastrand::Rng) -> Vec<Asked> {
    asked.into_iter().map(|q| q.shuffled(rng)).collect()
}

// ANCHOR: run
/// `learnns quiz`: ask, check, explain, and keep the score.
pub fn run(args: &QuizArgs) -> Result<i32> {
    let (topic, mut questions) = topic(args)?;
    let mut front: Box<dyn Front> = if ui::interactive() {
        Box::new(Terminal)
    } else {
        Box::new(Plain)
    };
    let total = questions.total();
    let mut right = 0;
    let mut asked = 0;
    for i in 0..total {
        ui::check_interrupt()?;
        let question = questions.get(i)?;
        let Some(response) = front.ask(&question, i + 1, total)? else {
            break;
        };
        asked += 1;
        if question.is_right(&response) {
            right += 1;
            outln!("{} right.", "✓".green().bold());
        } else {
            let told = layout::wrap(
                &format!("✗ not quite. The answer: {}", question.answer()),
                ui::width(),
                "",
                "  ",
            );
            for (i, line) in told.iter().enumerate() {
                if i == 0 {
                    outln!("{}", line.replacen('✗', &"✗".red().bold().to_string(), 1));
                } else {
                    outln!("{line}");
                }
            }
        }
        for line in layout::prose(&question.explain, ui::width()) {
            outln!("{line}");
        }
        for line in layout::wrap(&format!("see: {}", question.see), ui::width(), "  ", "    ") {
            outln!("{}", line.dimmed());
        }
    }
    outln!();
    if asked < total {
        for line in layout::wrap(
            &format!(
                "Stopped after {asked} of {total} questions. Score: {right} of {asked}. Not recorded: only a finished quiz counts."
            ),
            ui::width(),
            "",
            "  ",
        ) {
            outln!("{line}");
        }
    } else {
        outln!("{} {right} of {total}", "Score:".bold());
        progress::quiz_done(&topic, right as u32, total as u32);
    }
    Ok(0)
}
// ANCHOR_END: run

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(expect: Expect) -> Asked {
        Asked {
            shown: None,
            text: String::new(),
            choices: Vec::new(),
            expect,
            explain: String::new(),
            see: String::new(),
        }
    }

    #[test]
    fn typed_answers_ignore_case_quotes_and_spaces() {
        let q = typed(Expect::Text(vec!["unshare --uts".into()]));
        assert!(q.is_right(&Response::Text("  `Unshare   --UTS` ".into())));
        assert!(!q.is_right(&Response::Text("unshare".into())));
        assert!(!q.is_right(&Response::Choice(0)));
    }

    #[test]
    fn typed_answers_tolerate_harmless_variants_only() {
        let path = typed(Expect::Text(vec!["/proc/PID/uid_map".into()]));
        for yes in [
            "/proc/PID/uid_map/",
            "/proc/4242/uid_map",
            "/proc/self/uid_map",
            "/proc/[pid]/uid_map",
            "$ /proc/<pid>/uid_map",
        ] {
            assert!(path.is_right(&Response::Text(yes.into())), "{yes}");
        }
        assert!(!path.is_right(&Response::Text("/proc/PID/gid_map".into())));
        let option = typed(Expect::Text(vec!["-U".into(), "--user".into()]));
        assert!(option.is_right(&Response::Text("sudo -U".into())));
        assert!(option.is_right(&Response::Text("--USER".into())));
        // -u is another option (uts): case matters in short options.
        assert!(!option.is_right(&Response::Text("-u".into())));
        let root = typed(Expect::Text(vec!["0::/".into()]));
        assert!(root.is_right(&Response::Text(" `0::/` ".into())));
        assert!(!root.is_right(&Response::Text("0::".into())));
        let slash = typed(Expect::Text(vec!["/".into()]));
        assert!(slash.is_right(&Response::Text("/".into())));
    }

    #[test]
    fn kind_sets_match_in_any_order_and_spelling() {
        let q = typed(Expect::Words(vec!["mnt".into(), "net".into()]));
        for yes in ["net mnt", "mount, net", "NET and MNT", "mnt net net"] {
            assert!(q.is_right(&Response::Text(yes.into())), "{yes}");
        }
        for no in ["net", "mnt net uts", "", "network mnt"] {
            assert!(!q.is_right(&Response::Text(no.into())), "{no}");
        }
        let none = typed(Expect::Words(vec![]));
        assert!(none.is_right(&Response::Text("none".into())));
        assert_eq!(none.answer(), "(none)");
    }

    #[test]
    fn choices_are_numbers_or_letters_in_range() {
        assert_eq!(parse_choice("2", 4), Some(1));
        assert_eq!(parse_choice(" b ", 4), Some(1));
        assert_eq!(parse_choice("D", 4), Some(3));
        for bad in [
            "0",
            "5",
            "e",
            "-1",
            "",
            "1.5",
            "two",
            "99999999999999999999999",
        ] {
            assert_eq!(parse_choice(bad, 4), None, "{bad}");
        }
    }
}
