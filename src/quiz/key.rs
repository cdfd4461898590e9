//! `learnns quiz --key`: every question of the banks with its answer and
//! explanation, as Markdown to print or project. It never asks anything
//! and has no colour, so it is the same on a terminal, in a pipe and in a
//! file.

use std::fmt::Write as _;

use super::bank::Question;
use crate::error::Result;
use crate::lessons::{self, LESSONS, Lesson};

/// `learnns quiz --key [--lesson N]`.
pub fn print(lesson: Option<&str>) -> Result<i32> {
    let chosen: Vec<&Lesson> = match lesson {
        Some(selector) => vec![lessons::find(selector)?],
        None => LESSONS.iter().collect(),
    };
    out!("{}", render(&chosen)?);
    Ok(0)
}

/// The key of these lessons' questions, in the order `learnns quiz
/// --lesson N` asks them.
pub fn render(chosen: &[&Lesson]) -> Result<String> {
    let mut md = String::new();
    let _ = writeln!(md, "# learnns quiz: answer key\n");
    let _ = writeln!(
        md,
        "Questions in the order `learnns quiz --lesson N` asks them; the right choice is marked **(right)**. Choices are listed in the bank's order: a quiz shuffles them, so on a learner's screen the right one may have another number (the same for everyone who uses the same `--seed`).\n"
    );
    for lesson in chosen {
        let bank = super::bank::of_lesson(lesson)?;
        let _ = writeln!(
            md,
            "## Lesson {} ({}): {}\n",
            lesson.number, lesson.name, lesson.title
        );
        for (i, question) in bank.questions.iter().enumerate() {
            entry(&mut md, i + 1, question);
        }
    }
    Ok(md)
}

fn entry(md: &mut String, number: usize, q: &Question) {
    let _ = writeln!(md, "### Question {number}\n");
    if let Some(shown) = &q.shown {
        let fence = "`".repeat(longest_run(shown, '`').max(2) + 1);
        let _ = writeln!(md, "{fence}\n{}\n{fence}\n", shown.trim_end());
    }
    let _ = writeln!(md, "{}\n", q.ask.trim());
    match q.answer {
        Some(right) => {
            for (i, choice) in q.choices.iter().enumerate() {
                if i + 1 == right {
                    let _ = writeln!(md, "{}. **{}** **(right)**", i + 1, choice.trim());
                } else {
                    let _ = writeln!(md, "{}. {}", i + 1, choice.trim());
                }
            }
            let answer = q.choices.get(right - 1).map_or("", |c| c.trim());
            let _ = writeln!(md, "\n**Answer:** {right}. {answer}\n");
        }
        None => {
            let how = if q.kinds {
                "typed; namespace kinds, in any order"
            } else {
                "typed"
            };
            let accepted: Vec<String> = q.accept.iter().map(|a| code(a)).collect();
            let (first, also) = accepted
                .split_first()
                .map_or(("", &[][..]), |(f, a)| (f, a));
            let _ = write!(md, "**Answer** ({how}): {first}");
            if !also.is_empty() {
                let _ = write!(md, " (also accepted: {})", also.join(", "));
            }
            let _ = writeln!(md, "\n");
        }
    }
    let _ = writeln!(md, "**Why:** {}\n", q.explain.trim());
}

/// The longest run of `c` in `text`.
fn longest_run(text: &str, c: char) -> usize {
    text.split(|x| x != c).map(str::len).max().unwrap_or(0)
}

/// Text as a Markdown code span, whatever backticks it holds.
fn code(text: &str) -> String {
    let text = if text.is_empty() { "(nothing)" } else { text };
    let longest = longest_run(text, '`');
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_question_of_every_lesson_is_in_the_key_with_its_answer() {
        let all: Vec<&Lesson> = LESSONS.iter().collect();
        let md = render(&all).unwrap();
        for lesson in &LESSONS {
            assert!(md.contains(&format!("## Lesson {} ({})", lesson.number, lesson.name)));
            for q in super::super::bank::of_lesson(lesson).unwrap().questions {
                assert!(md.contains(q.ask.trim()), "{}", q.ask);
                assert!(md.contains(q.explain.trim()), "{}", q.explain);
                match q.answer {
                    Some(a) => assert!(
                        md.contains(&format!("{a}. **{}** **(right)**", q.choices[a - 1].trim())),
                        "{}",
                        q.ask
                    ),
                    None => assert!(md.contains(&code(&q.accept[0])), "{}", q.ask),
                }
            }
        }
        assert!(!md.contains('\u{1b}'), "no colour, ever");
    }

    #[test]
    fn typed_answers_are_code_spans_whatever_they_hold() {
        assert_eq!(code("--uts"), "`--uts`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x`"), "`` `x` ``");
        assert_eq!(code(""), "`(nothing)`");
    }
}
