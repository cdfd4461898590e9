//! The one printer for what went wrong: `learnns:` and what happened, the
//! fix on a line of its own, both wrapped to the terminal, on stderr.

use colored::Colorize;

use super::text::wrap;
use crate::error::Problem;

/// How bad it is: an error ends the command; a warning does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
}

pub fn lines(problem: &Problem, level: Level, width: usize) -> Vec<String> {
    let label = "learnns:";
    let mut out = wrap(&format!("{label} {}", problem.what), width, "", "  ");
    let painted = match level {
        Level::Error => label.red().bold().to_string(),
        Level::Warning => label.yellow().to_string(),
    };
    out[0] = out[0].replacen(label, &painted, 1);
    if let Some(fix) = &problem.fix {
        let mut fix_lines = wrap(&format!("fix: {fix}"), width, "  ", "       ");
        fix_lines[0] = fix_lines[0].replacen("fix:", &"fix:".bold().to_string(), 1);
        out.extend(fix_lines);
    }
    out
}

pub fn print(problem: &Problem, level: Level) {
    // A log or a pipe keeps each message on one line, for grep.
    let width = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        crate::ui::width()
    } else {
        *crate::ui::WIDTHS.end()
    };
    for line in lines(problem, level, width) {
        crate::errln!("{line}");
    }
}

/// Something the learner should know that does not stop the command.
pub fn warn(problem: impl Into<Problem>) {
    print(&problem.into(), Level::Warning);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_and_fix_wrap_under_themselves() {
        colored::control::set_override(false);
        let problem = Problem::new(
            "the progress file cannot be read because it is not a file at all",
        )
        .fix("remove it (`rm ~/.local/state/learnns/progress.toml`); your progress starts over");
        let lines = lines(&problem, Level::Error, 40);
        assert!(lines.iter().all(|l| l.chars().count() <= 40), "{lines:?}");
        assert!(lines[0].starts_with("learnns: the progress"));
        let fix = lines.iter().position(|l| l.starts_with("  fix: ")).unwrap();
        assert!(lines[fix + 1].starts_with("       "), "{lines:?}");
    }
}
