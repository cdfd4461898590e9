//! Things side by side: two outputs in columns, the namespace-link table,
//! a grid of outcomes. Each stacks when its columns would not fit.

use colored::Colorize;

use super::text::{wrap, wrap_output};
use crate::events::{GridRow, Row};

/// The most lines of one command's output shown in a pair of columns.
const MAX_LINES: usize = 18;

fn cut(mut lines: Vec<String>, indent: &str) -> Vec<String> {
    if lines.len() > MAX_LINES {
        let more = lines.len() - (MAX_LINES - 1);
        lines.truncate(MAX_LINES - 1);
        lines.push(format!("{indent}… {more} more lines"));
    }
    lines
}

fn text_lines(text: &str) -> Vec<String> {
    if text.trim().is_empty() {
        return vec!["(nothing)".into()];
    }
    text.trim_end_matches('\n')
        .split('\n')
        .map(|l| l.replace('\t', "    "))
        .collect()
}

// ANCHOR: side_by_side
/// Two outputs in two columns, or one above the other when the terminal is
/// too narrow for two readable columns or a line would not fit in one.
pub fn side_by_side(left: (&str, &str), right: (&str, &str), width: usize) -> Vec<String> {
    let column = width.saturating_sub(5) / 2;
    let widest = |t: &str| {
        text_lines(t)
            .iter()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(0)
    };
    let mut out = Vec::new();
    if width < 60 || widest(left.1).max(widest(right.1)) > column {
        for (title, text) in [left, right] {
            out.push(format!("  {}", title.bold()));
            let text = if text.trim().is_empty() {
                "(nothing)"
            } else {
                text
            };
            out.extend(cut(wrap_output(text, width, "  │ "), "  │ "));
        }
        return out;
    }
    let l = cut(text_lines(left.1), "");
    let r = cut(text_lines(right.1), "");
    let pad = |s: &str| " ".repeat(column.saturating_sub(s.chars().count()));
    out.push(format!(
        "  {}{} │ {}",
        left.0.bold(),
        pad(left.0),
        right.0.bold()
    ));
    out.push(format!("  {}─┼─{}", "─".repeat(column), "─".repeat(column)));
    for i in 0..l.len().max(r.len()) {
        let a = l.get(i).map(String::as_str).unwrap_or("");
        let b = r.get(i).map(String::as_str).unwrap_or("");
        out.push(format!("  {a}{} │ {b}", pad(a)).trim_end().to_string());
    }
    out
}
// ANCHOR_END: side_by_side

// ANCHOR: inode_table
/// The eight namespace links of two processes, kind by kind: which differ,
/// and what each difference (or sameness) means for the inside process.
/// Stacked, one kind under another, when the columns would not fit.
pub fn inode_table(rows: &[Row], differ: usize, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let link = rows
        .iter()
        .map(|r| r.outside.len().max(r.inside.len()))
        .max()
        .unwrap_or(0)
        .max(18);
    let wide = width >= 2 + 8 + link + 1 + link;
    if wide {
        out.push(format!(
            "  {:<7} {:<w$} {}",
            "kind".bold(),
            "outside (learnns)".bold(),
            "inside (container)".bold(),
            w = link + 1
        ));
    }
    for row in rows {
        let (mark, meaning) = if row.differs {
            ("≠ new:", row.meaning.as_str())
        } else {
            ("= shared:", row.meaning.as_str())
        };
        let mut lines = if wide {
            vec![format!(
                "  {:<7} {:<w$} {}",
                row.kind,
                row.outside,
                row.inside,
                w = link + 1
            )]
        } else {
            vec![
                format!("  {}", row.kind),
                format!("    outside {}", row.outside),
                format!("    inside  {}", row.inside),
            ]
        };
        let indent = if wide { "          " } else { "    " };
        // Inside a coloured row a code span stays plain: no backticks.
        let explained = wrap(
            &format!("{mark} {}", meaning.replace('`', "")),
            width,
            indent,
            &format!("{indent}  "),
        );
        if row.differs {
            for l in lines.iter_mut() {
                *l = l.green().bold().to_string();
            }
            lines.extend(explained.into_iter().map(|l| match l.split_once("new:") {
                Some((a, b)) => format!("{a}{}{b}", "new:".green().bold()),
                None => l,
            }));
        } else {
            lines.extend(explained);
            for l in lines.iter_mut() {
                *l = l.dimmed().to_string();
            }
        }
        out.extend(lines);
    }
    let differing: Vec<&str> = rows
        .iter()
        .filter(|r| r.differs)
        .map(|r| r.kind.as_str())
        .collect();
    let total = rows.len();
    let summary = if differ == total {
        format!(
            "All {total} differ ({}): the container has its own namespace of every kind. It still runs on the host's kernel.",
            differing.join(" ")
        )
    } else if differ == 0 {
        format!(
            "All {total} are the same: this is an ordinary process, sharing every namespace with the host."
        )
    } else {
        format!(
            "{differ} of {total} differ ({}); in the other {} the container sees exactly what the host sees.",
            differing.join(" "),
            total - differ
        )
    };
    out.extend(wrap(&summary, width, "  ", "  "));
    out
}
// ANCHOR_END: inode_table

/// A grid of short cells; stacked by row when the columns would not fit.
pub fn grid(columns: &[String], rows: &[GridRow], width: usize) -> Vec<String> {
    let label = rows
        .iter()
        .map(|r| r.label.chars().count())
        .max()
        .unwrap_or(0)
        + 2;
    // Each column as wide as its title or its widest cell.
    let cells: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            rows.iter()
                .filter_map(|r| r.cells.get(i))
                .map(|c| c.chars().count())
                .chain(std::iter::once(c.chars().count()))
                .max()
                .unwrap_or(0)
                + 2
        })
        .collect();
    let paint = |text: &str, padded: String| match text {
        "done" => padded.green().to_string(),
        "refused" => padded.red().to_string(),
        _ => padded,
    };
    let mut out = Vec::new();
    if 4 + label + cells.iter().sum::<usize>() <= width + 2 {
        let mut head = format!("    {:<label$}", "");
        for (c, cell) in columns.iter().zip(&cells) {
            head.push_str(&format!("{c:<cell$}"));
        }
        out.push(head.trim_end().to_string());
        for row in rows {
            let mut line = format!("    {:<label$}", row.label);
            for (i, (c, cell)) in row.cells.iter().zip(&cells).enumerate() {
                let padded = if i + 1 == row.cells.len() {
                    c.clone()
                } else {
                    format!("{c:<cell$}")
                };
                line.push_str(&paint(c, padded));
            }
            out.push(line);
        }
        return out;
    }
    for row in rows {
        out.push(format!("    {}", row.label.bold()));
        for (c, value) in columns.iter().zip(&row.cells) {
            out.extend(
                wrap(&format!("{c}: {value}"), width, "      ", "        ")
                    .into_iter()
                    .map(|l| paint(value, l)),
            );
        }
    }
    out
}
