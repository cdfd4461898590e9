//! The question banks: `lessons/<name>.toml`, one per lesson, embedded in
//! the binary like the prose. Each question is multiple choice (`choices`
//! and the 1-based `answer`) or typed (`accept`: the answers taken as
//! right; with `kinds = true`, a set of namespace kinds in any order).
//! A scenario question also has `shown`: the output the learner looks at
//! (a `readlink` pair, an error message), printed above the question as
//! program output.

use serde::Deserialize;

use super::{Asked, Expect};
use crate::error::{Error, Result};
use crate::lessons::Lesson;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bank {
    #[serde(rename = "question", default)]
    pub questions: Vec<Question>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// Output to look at first (a scenario question).
    pub shown: Option<String>,
    pub ask: String,
    #[serde(default)]
    pub choices: Vec<String>,
    /// 1-based, as the learner types it.
    pub answer: Option<usize>,
    #[serde(default)]
    pub accept: Vec<String>,
    /// Compare a typed answer as a set of namespace kinds.
    #[serde(default)]
    pub kinds: bool,
    pub explain: String,
}

impl Bank {
    /// Parse and check a bank: every question has a way to be right.
    pub fn parse(text: &str) -> std::result::Result<Bank, String> {
        let bank: Bank = toml::from_str(text).map_err(|e| e.message().to_string())?;
        for (i, q) in bank.questions.iter().enumerate() {
            let n = i + 1;
            match (q.choices.len(), q.answer, q.accept.is_empty()) {
                (0, None, false) => {}
                (c, Some(a), true) if c >= 2 && (1..=c).contains(&a) => {}
                _ => {
                    return Err(format!(
                        "question {n} needs either `choices` (2 or more) with an `answer` among them, or `accept`"
                    ));
                }
            }
            if q.ask.trim().is_empty() || q.explain.trim().is_empty() {
                return Err(format!("question {n} needs `ask` and `explain`"));
            }
            if q.shown.as_ref().is_some_and(|s| s.trim().is_empty()) {
                return Err(format!("question {n} has an empty `shown`"));
            }
            for (i, choice) in q.choices.iter().enumerate() {
                if choice.trim().is_empty() || q.choices[..i].contains(choice) {
                    return Err(format!(
                        "question {n}: choice {} is empty or repeats another",
                        i + 1
                    ));
                }
            }
        }
        Ok(bank)
    }
}

impl Question {
    fn asked(&self, see: &str) -> Asked {
        let expect = match self.answer {
            Some(a) => Expect::Choice(a - 1),
            None if self.kinds => Expect::Words(self.accept.clone()),
            None => Expect::Text(self.accept.clone()),
        };
        Asked {
            shown: self.shown.as_ref().map(|s| s.trim_end().to_string()),
            text: self.ask.clone(),
            choices: self.choices.clone(),
            expect,
            explain: self.explain.clone(),
            see: see.to_string(),
        }
    }
}

/// A lesson's question bank, read from the text embedded in the binary.
pub fn of_lesson(lesson: &Lesson) -> Result<Bank> {
    Bank::parse(lesson.quiz).map_err(|why| {
        Error::Setup(
            format!(
                "the question bank of lesson {} is broken: {why}",
                lesson.number
            )
            .into(),
        )
    })
}

/// The questions of one lesson, in the bank's order.
pub fn for_lesson(lesson: &Lesson) -> Result<Vec<Asked>> {
    let bank = of_lesson(lesson)?;
    let see = format!("learnns lesson {} ({})", lesson.number, lesson.name);
    Ok(bank.questions.iter().map(|q| q.asked(&see)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lessons::LESSONS;

    /// The content rules of the banks (an honest quiz): enough questions,
    /// scenarios to read, and no way to guess the answer from its length
    /// or its place.
    const MIN_QUESTIONS: usize = 8;
    const MIN_SCENARIOS: usize = 2;
    /// Chance with four choices is 25%.
    const MAX_LONGEST_RIGHT: f64 = 0.40;
    const MAX_AT_ONE_POSITION: f64 = 0.40;

    fn banks() -> Vec<(&'static str, Bank)> {
        LESSONS
            .iter()
            .map(|lesson| {
                let bank = Bank::parse(lesson.quiz)
                    .unwrap_or_else(|e| panic!("lessons/{}.toml: {e}", lesson.name));
                (lesson.name, bank)
            })
            .collect()
    }

    fn choice_questions() -> Vec<Question> {
        banks()
            .into_iter()
            .flat_map(|(_, bank)| bank.questions)
            .filter(|q| q.answer.is_some())
            .collect()
    }

    #[test]
    fn every_lesson_has_enough_questions_and_scenarios() {
        for (name, bank) in banks() {
            let n = bank.questions.len();
            assert!(n >= MIN_QUESTIONS, "lessons/{name}.toml: {n} questions");
            let scenarios = bank.questions.iter().filter(|q| q.shown.is_some()).count();
            assert!(
                scenarios >= MIN_SCENARIOS,
                "lessons/{name}.toml: {scenarios} scenario questions (with `shown`)"
            );
        }
    }

    #[test]
    fn the_right_answer_is_seldom_the_longest() {
        let questions = choice_questions();
        let longest = questions
            .iter()
            .filter(|q| {
                let right = q.answer.unwrap() - 1;
                let len = |i: usize| q.choices[i].chars().count();
                (0..q.choices.len()).all(|i| i == right || len(i) < len(right))
            })
            .count();
        let share = longest as f64 / questions.len() as f64;
        assert!(
            share <= MAX_LONGEST_RIGHT,
            "the right answer is the longest choice in {longest} of {} questions",
            questions.len()
        );
    }

    #[test]
    fn right_answers_are_spread_over_the_positions() {
        let questions = choice_questions();
        let mut at = [0usize; 8];
        for q in &questions {
            at[q.answer.unwrap() - 1] += 1;
        }
        for (i, count) in at.iter().enumerate() {
            let share = *count as f64 / questions.len() as f64;
            assert!(
                share <= MAX_AT_ONE_POSITION,
                "choice {} is right in {count} of {} questions",
                i + 1,
                questions.len()
            );
        }
    }

    #[test]
    fn shuffled_right_answers_land_on_every_position_alike() {
        // As a quiz asks them: 200 quizzes, each with a seed of its own.
        let course: Vec<Asked> = LESSONS
            .iter()
            .flat_map(|lesson| for_lesson(lesson).unwrap())
            .collect();
        let mut at = [0usize; 4];
        let mut total = 0;
        for seed in 0..200 {
            let mut rng = fastrand::Rng::with_seed(seed);
            for asked in course.iter().cloned() {
                let asked = asked.shuffled(&mut rng);
                if let (4, Expect::Choice(right)) = (asked.choices.len(), &asked.expect) {
                    at[*right] += 1;
                    total += 1;
                }
            }
        }
        for (i, count) in at.iter().enumerate() {
            let share = *count as f64 / total as f64;
            assert!(
                (0.15..=0.35).contains(&share),
                "after shuffling, choice {} is right in {count} of {total}",
                i + 1
            );
        }
    }

    #[test]
    fn shuffling_keeps_the_right_answer_and_every_choice() {
        for lesson in &LESSONS {
            for (q, asked) in of_lesson(lesson)
                .unwrap()
                .questions
                .iter()
                .zip(for_lesson(lesson).unwrap())
            {
                let before = asked.answer();
                let mut rng = fastrand::Rng::with_seed(7);
                let shuffled = asked.clone().shuffled(&mut rng);
                assert_eq!(shuffled.answer(), before, "{}", q.ask);
                let mut a = asked.choices.clone();
                let mut b = shuffled.choices.clone();
                a.sort();
                b.sort();
                assert_eq!(a, b, "{}", q.ask);
                let again = asked.shuffled(&mut fastrand::Rng::with_seed(7));
                assert_eq!(again.choices, shuffled.choices, "a seed repeats the order");
            }
        }
    }

    #[test]
    fn typed_answers_accept_harmless_variants() {
        for (name, bank) in banks() {
            let see = "";
            for q in bank.questions.iter().filter(|q| q.answer.is_none()) {
                let asked = q.asked(see);
                for a in &q.accept {
                    let mut variants = vec![
                        format!("  {a}  "),
                        format!("`{a}`"),
                        format!("$ {a}"),
                        a.replace(' ', "   "),
                    ];
                    if a.starts_with('/') {
                        variants.push(format!("{a}/"));
                    }
                    let short_option = a
                        .split_whitespace()
                        .any(|w| w.starts_with('-') && !w.starts_with("--"));
                    if !short_option {
                        variants.push(a.to_uppercase());
                    }
                    for v in variants {
                        assert!(
                            asked.is_right(&super::super::Response::Text(v.clone())),
                            "lessons/{name}.toml: `{v}` for {:?}",
                            q.ask
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn every_lesson_has_questions_of_both_kinds() {
        for lesson in &LESSONS {
            let bank = Bank::parse(lesson.quiz)
                .unwrap_or_else(|e| panic!("lessons/{}.toml: {e}", lesson.name));
            assert!(
                bank.questions.iter().any(|q| q.answer.is_some()),
                "{} has no multiple-choice question",
                lesson.name
            );
            assert!(
                bank.questions.iter().any(|q| q.answer.is_none()),
                "{} has no typed question",
                lesson.name
            );
        }
    }

    #[test]
    fn the_net_inode_question_is_answered_fully() {
        let net = &LESSONS[5];
        let bank = Bank::parse(net.quiz).unwrap();
        let q = bank
            .questions
            .iter()
            .find(|q| {
                let shown = q.shown.as_deref().unwrap_or_default();
                shown.contains("net:[4026532421]") && shown.contains("net:[4026531992]")
            })
            .expect("the net inode question");
        let right = &q.choices[q.answer.unwrap() - 1];
        assert!(right.contains("different network namespaces"), "{right}");
        for must in [
            "interfaces",
            "routes",
            "firewall",
            "sockets",
            "127.0.0.1",
            "nsenter -t 123 -n",
            "device",
        ] {
            assert!(q.explain.contains(must), "the explanation mentions {must}");
        }
    }

    #[test]
    fn broken_banks_are_refused_with_a_reason() {
        for bad in [
            "[[question]]\nask = \"?\"\nexplain = \"x\"",
            "[[question]]\nask = \"?\"\nchoices = [\"a\", \"b\"]\nanswer = 3\nexplain = \"x\"",
            "[[question]]\nask = \"?\"\nchoices = [\"a\"]\nanswer = 1\nexplain = \"x\"",
            "[[question]]\nask = \"?\"\naccept = [\"a\"]\nexplain = \"\"",
            "[[question]]\nask = \"?\"\naccept = [\"a\"]\nexplain = \"x\"\nextra = 1",
            "[[question]]\nask = \"?\"\nchoices = [\"a\", \"a\"]\nanswer = 1\nexplain = \"x\"",
            "[[question]]\nshown = \" \"\nask = \"?\"\naccept = [\"a\"]\nexplain = \"x\"",
            "not toml at all [",
        ] {
            assert!(Bank::parse(bad).is_err(), "{bad}");
        }
    }
}
