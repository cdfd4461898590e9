//! Observations: run the same command outside and inside, and show both
//! answers next to each other; compare namespace identities kind by kind.

use std::process::{Command, Stdio};

use colored::Colorize;

use crate::ns::{Identities, ORDER, link_text};

/// What one command printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    pub status: Option<i32>,
    pub text: String,
}

/// Run a prepared command, collecting stdout then stderr. A command that is
/// missing or fails is reported in its output, not as an error: the lesson
/// goes on and the learner sees what happened.
pub fn capture(mut command: Command) -> Capture {
    let program = command.get_program().to_string_lossy().into_owned();
    command.stdin(Stdio::null());
    match command.output() {
        Ok(out) => {
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            Capture {
                status: out.status.code(),
                text,
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Capture {
            status: None,
            text: format!("learnns: `{program}` is not installed here\n"),
        },
        Err(e) => Capture {
            status: None,
            text: format!("learnns: could not run `{program}`: {e}\n"),
        },
    }
}

/// A command to run on the host, as learnns itself sees it.
pub fn host_command(argv: &[String]) -> Command {
    let mut command = Command::new(&argv[0]);
    command.args(&argv[1..]);
    command
}

const MAX_LINES: usize = 18;

/// Break text into lines no wider than `width`, at most MAX_LINES of them.
fn layout(text: &str, width: usize) -> Vec<String> {
    if text.trim().is_empty() {
        return vec!["(nothing)".to_string()];
    }
    let mut lines = Vec::new();
    for line in text.trim_end_matches('\n').split('\n') {
        let chars: Vec<char> = line.replace('\t', "    ").chars().collect();
        if chars.is_empty() {
            lines.push(String::new());
        }
        for chunk in chars.chunks(width.max(1)) {
            lines.push(chunk.iter().collect());
        }
    }
    if lines.len() > MAX_LINES {
        let more = lines.len() - (MAX_LINES - 1);
        lines.truncate(MAX_LINES - 1);
        lines.push(format!("… {more} more lines"));
    }
    lines
}

// ANCHOR: side_by_side
/// Two outputs in two columns, or one above the other when the terminal is
/// too narrow for two readable columns or a line would not fit in one.
pub fn side_by_side(left: (&str, &str), right: (&str, &str), width: usize) -> String {
    let mut out = String::new();
    let column = width.saturating_sub(7) / 2;
    let widest = |t: &str| t.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    if width < 72 || widest(left.1).max(widest(right.1)) > column {
        for (title, text) in [left, right] {
            out.push_str(&format!("  {}\n", title.bold()));
            for line in layout(text, width.saturating_sub(4)) {
                out.push_str(&format!("  │ {line}\n"));
            }
        }
        return out;
    }
    let l = layout(left.1, column);
    let r = layout(right.1, column);
    out.push_str(&format!(
        "  {}{} │ {}\n",
        left.0.bold(),
        " ".repeat(column.saturating_sub(left.0.chars().count())),
        right.0.bold()
    ));
    out.push_str(&format!(
        "  {}─┼─{}\n",
        "─".repeat(column),
        "─".repeat(column)
    ));
    for i in 0..l.len().max(r.len()) {
        let a = l.get(i).map(String::as_str).unwrap_or("");
        let b = r.get(i).map(String::as_str).unwrap_or("");
        let pad = " ".repeat(column.saturating_sub(a.chars().count()));
        out.push_str(format!("  {a}{pad} │ {b}").trim_end());
        out.push('\n');
    }
    out
}
// ANCHOR_END: side_by_side

// ANCHOR: inode_table
/// The eight namespace links of two processes, kind by kind: which differ,
/// and what each difference (or sameness) means for the inside process.
pub fn inode_table(outside: &Identities, inside: &Identities) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "  {:<7} {:<20} {}\n",
        "kind".bold(),
        "outside (learnns)".bold(),
        "inside (container)".bold()
    ));
    let differing = outside.differing(inside);
    for kind in ORDER {
        let a = link_text(kind, outside.get(kind));
        let b = link_text(kind, inside.get(kind));
        let same = !differing.contains(kind);
        let row = format!("  {:<7} {:<20} {}", kind.proc_name(), a, b);
        if same {
            out.push_str(&format!("{}\n", row.dimmed()));
            out.push_str(&format!(
                "          {}\n",
                format!("= shared: {}", kind.when_shared()).dimmed()
            ));
        } else {
            out.push_str(&format!("{}\n", row.green().bold()));
            out.push_str(&format!(
                "          ≠ {} {}\n",
                "new:".green().bold(),
                kind.when_different()
            ));
        }
    }
    let count = differing.iter().count();
    let summary = if count == 8 {
        format!("All 8 differ ({differing}): nothing of the host's is shared.")
    } else if count == 0 {
        "All eight are the same: this is an ordinary process, sharing every namespace with the host."
            .to_string()
    } else {
        format!(
            "{count} of 8 differ ({differing}); in the other {} the container sees exactly what the host sees.",
            8 - count
        )
    };
    out.push_str(&format!("  {summary}\n"));
    out
}
// ANCHOR_END: inode_table

/// Show both captures with their titles.
pub fn print_pair(outside: &Capture, inside: &Capture) {
    out!(
        "{}",
        side_by_side(
            ("outside (the host)", &outside.text),
            ("inside (the container)", &inside.text),
            crate::ui::width(),
        )
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ns::{Identity, Kind};
    use std::collections::BTreeMap;

    fn no_color() {
        colored::control::set_override(false);
    }

    #[test]
    fn columns_line_up_and_wrap() {
        no_color();
        let out = side_by_side(("out", "host\n"), ("in", "box\nsecond\n"), 80);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4);
        let bar = lines[0].find('│').unwrap();
        assert_eq!(lines[2].find('│'), Some(bar));
        assert!(lines[2].ends_with("│ box"));
        assert!(lines[3].trim_start().starts_with("│ second"));
    }

    #[test]
    fn narrow_terminals_stack() {
        no_color();
        let out = side_by_side(("out", "host"), ("in", "box"), 40);
        assert_eq!(out, "  out\n  │ host\n  in\n  │ box\n");
        let wide = "x".repeat(60);
        let out = side_by_side(("out", &wide), ("in", "box"), 100);
        assert_eq!(out.lines().count(), 4, "a line wider than a column stacks");
    }

    #[test]
    fn long_output_is_cut_with_a_count() {
        let text: String = (0..30).map(|i| format!("{i}\n")).collect();
        let lines = layout(&text, 10);
        assert_eq!(lines.len(), MAX_LINES);
        assert_eq!(lines.last().unwrap(), "… 13 more lines");
    }

    #[test]
    fn table_marks_differences_and_counts_them() {
        no_color();
        let mut a = BTreeMap::new();
        let mut b = BTreeMap::new();
        for (i, kind) in ORDER.into_iter().enumerate() {
            let id = Identity {
                device: 4,
                inode: 100 + i as u64,
            };
            a.insert(kind, id);
            let other = if kind == Kind::Uts {
                Identity {
                    device: 4,
                    inode: 999,
                }
            } else {
                id
            };
            b.insert(kind, other);
        }
        let table = inode_table(&Identities(a), &Identities(b));
        assert!(table.contains("uts:[105]"));
        assert!(table.contains("uts:[999]"));
        assert!(table.contains(Kind::Uts.when_different()));
        assert!(table.contains(Kind::Net.when_shared()));
        assert!(table.contains("1 of 8 differ (uts)"));
    }
}
