//! What a learner sees of their progress: `learnns progress`, its
//! `--reset`, and the marks and next step the course map shows.

use super::*;

/// The first lesson not yet done, in the course's order.
pub fn next_lesson(progress: &Progress) -> Option<&'static Lesson> {
    LESSONS.iter().find(|l| !progress.is_done(l))
}

/// What to type next: the next lesson, or the live quiz once all are done.
pub fn next_step(progress: &Progress) -> String {
    let sudo = if nix::unistd::geteuid().is_root() {
        ""
    } else {
        "sudo "
    };
    match next_lesson(progress) {
        Some(next) => format!("{sudo}learnns lesson {}   ({})", next.number, next.title),
        None => {
            format!("every lesson done. Test yourself on this machine: {sudo}learnns quiz --live")
        }
    }
}

/// The mark of a lesson on the course map and in `learnns progress`.
pub fn mark(done: bool) -> colored::ColoredString {
    use colored::Colorize;
    if done {
        "✓".green().bold()
    } else {
        "·".dimmed()
    }
}

/// The topics of quizzes that are not one lesson's, as they are shown.
pub const OTHER_QUIZZES: [(&str, &str); 2] =
    [("course", "whole-course quiz"), ("live", "live quiz")];

/// `learnns progress`: what this learner has done, where it is kept, and
/// what to do next.
pub fn show() -> Result<i32> {
    use colored::Colorize;
    let place = Place::here()?;
    let file = place.file();
    let progress = place.load()?;
    if progress.is_empty() {
        outln!("No progress yet: no lesson finished, no quiz taken.");
        outln!("It will be kept in {}", file.display());
    } else {
        outln!("Progress kept in {}", file.display());
    }
    let done = LESSONS.iter().filter(|l| progress.is_done(l)).count();
    outln!(
        "\n{}",
        format!("Lessons: {done} of {} done", LESSONS.len()).bold()
    );
    for lesson in &LESSONS {
        let quiz = progress
            .quiz
            .get(lesson.name)
            .map(|s| format!("  quiz {}", s.describe()))
            .unwrap_or_default();
        outln!(
            " {} {:>2}  {:<9} {}{}",
            mark(progress.is_done(lesson)),
            lesson.number,
            lesson.name,
            lesson.title,
            quiz.dimmed()
        );
    }
    let others: Vec<_> = OTHER_QUIZZES
        .iter()
        .filter_map(|(topic, label)| progress.quiz.get(*topic).map(|s| (label, s)))
        .collect();
    if !others.is_empty() {
        outln!("\n{}", "Quizzes".bold());
        for (label, score) in others {
            outln!("  {label:<18} {}", score.describe());
        }
    }
    if !progress.challenges.is_empty() || !progress.hints.is_empty() {
        outln!("\n{}", "Challenges".bold());
        // In course order, as the list and the map show them.
        let touched = crate::challenge::CHALLENGES.iter().filter(|c| {
            progress.challenges.contains(c.lesson) || progress.hints.contains_key(c.lesson)
        });
        for c in touched {
            let hints = progress.hints.get(c.lesson).copied().unwrap_or(0);
            outln!(
                "  {} {:>2}  {:<9} {}",
                mark(progress.challenges.contains(c.lesson)),
                c.number,
                c.lesson,
                if hints == 0 {
                    "no hints".to_string()
                } else {
                    format!("{hints} hint{}", if hints == 1 { "" } else { "s" })
                }
                .dimmed()
            );
        }
    }
    outln!("\n{}", "Next".bold());
    outln!("  {}", next_step(&progress));
    if !progress.is_empty() {
        outln!("  learnns progress --reset   start over");
    }
    Ok(0)
}

/// `learnns progress --reset`: remove the progress file, once the learner
/// said yes (on a terminal, by answering; elsewhere, with `--yes`).
pub fn reset(yes: bool) -> Result<i32> {
    let place = Place::here()?;
    let file = place.file();
    if !place.as_owner(|| Ok(fs::symlink_metadata(&file).is_ok()))? {
        outln!(
            "Nothing to reset: no progress is kept in {}.",
            file.display()
        );
        return Ok(0);
    }
    let what = match place.load() {
        Ok(progress) => summary(&progress),
        Err(_) => "a progress file that cannot be read".to_string(),
    };
    if !yes {
        if !crate::ui::interactive() {
            return Err(Error::NeedsTerminal(
                Problem::new(format!(
                    "--reset removes {what} and asks first, but there is no terminal to ask on"
                ))
                .fix("add --yes (`learnns progress --reset --yes`)"),
            ));
        }
        out!("Remove {what} ({})? [y/N] ", file.display());
        let _ = std::io::Write::flush(&mut std::io::stdout());
        let answer = crate::ui::read_line()?.unwrap_or_default();
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            outln!("Kept: nothing was removed.");
            return Ok(0);
        }
    }
    place.as_owner(|| {
        fs::remove_file(&file).map_err(|e| Error::io(format!("rm {}", file.display()), e))
    })?;
    outln!("Removed {}: {what}.", file.display());
    outln!("Start again with: {}", next_step(&Progress::default()));
    Ok(0)
}

/// What a progress holds, in a few words: `2 lessons done (intro, uts) and
/// 1 quiz score (net)`.
pub fn summary(progress: &Progress) -> String {
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let lessons: Vec<&str> = LESSONS
        .iter()
        .filter(|l| progress.is_done(l))
        .map(|l| l.name)
        .collect();
    let topics: Vec<&str> = progress.quiz.keys().map(String::as_str).collect();
    let mut parts = Vec::new();
    if !lessons.is_empty() {
        parts.push(format!(
            "{} ({})",
            plural(lessons.len(), "lesson done", "lessons done"),
            lessons.join(", ")
        ));
    }
    if !topics.is_empty() {
        parts.push(format!(
            "{} ({})",
            plural(topics.len(), "quiz score", "quiz scores"),
            topics.join(", ")
        ));
    }
    if !progress.challenges.is_empty() {
        let passed: Vec<&str> = progress.challenges.iter().map(String::as_str).collect();
        parts.push(format!(
            "{} ({})",
            plural(passed.len(), "challenge passed", "challenges passed"),
            passed.join(", ")
        ));
    }
    if parts.is_empty() {
        "an empty progress file".to_string()
    } else {
        parts.join(" and ")
    }
}
