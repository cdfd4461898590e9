//! Events laid out as lines no wider than a given width: words wrap with a
//! hanging indent, never in the middle (only a word wider than the whole
//! line is cut), and tables stack when two columns would not fit. Colour
//! comes from `colored`, decided once for the run; widths are measured on
//! the text before it is coloured.

use colored::Colorize;

use crate::events::{Event, GridRow, Row, Where};

/// Wrap one paragraph: the first line starts with `first`, the others with
/// `rest`.
pub fn wrap(text: &str, width: usize, first: &str, rest: &str) -> Vec<String> {
    let options = textwrap::Options::new(width.max(first.len() + 8))
        .initial_indent(first)
        .subsequent_indent(rest)
        .word_separator(textwrap::WordSeparator::AsciiSpace)
        .word_splitter(textwrap::WordSplitter::NoHyphenation)
        .break_words(true);
    let lines: Vec<String> = textwrap::wrap(text, options)
        .into_iter()
        .map(|l| l.trim_end().to_string())
        .collect();
    if lines.is_empty() {
        vec![first.trim_end().to_string()]
    } else {
        lines
    }
}

/// Program output, line by line: each line keeps its own leading spaces
/// (columns in `ps`, `ip addr`) and continues under itself when too long.
pub fn wrap_output(text: &str, width: usize, indent: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for line in text.trim_end_matches('\n').split('\n') {
        let line = line.replace('\t', "    ");
        let own: String = line.chars().take_while(|c| *c == ' ').collect();
        let first = format!("{indent}{own}");
        let rest = format!("{first}  ");
        lines.extend(wrap(line.trim_start(), width, &first, &rest));
    }
    lines
}

/// A lesson's Markdown prose: paragraphs reflowed to the width, list items
/// with a hanging indent, code blocks kept line by line, `code` coloured.
pub fn prose(markdown: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut paragraph: Vec<&str> = Vec::new();
    let mut item_indent = "  ".to_string();
    let mut fenced = false;
    let flush = |paragraph: &mut Vec<&str>, indent: &str, out: &mut Vec<String>| {
        if paragraph.is_empty() {
            return;
        }
        let text = paragraph.join(" ");
        let rest = " ".repeat(indent.chars().count().max(2));
        let lines = wrap(&text, width, indent, &rest);
        out.extend(inline_code(&lines));
        paragraph.clear();
    };
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            flush(&mut paragraph, &item_indent, &mut out);
            fenced = !fenced;
            continue;
        }
        if fenced {
            for wrapped in wrap(line.trim_end(), width, "      ", "          ") {
                out.push(wrapped.yellow().to_string());
            }
            continue;
        }
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            flush(&mut paragraph, &item_indent, &mut out);
            item_indent = "  ".into();
            out.push(String::new());
        } else if let Some(title) = trimmed.strip_prefix('#') {
            flush(&mut paragraph, &item_indent, &mut out);
            let title = title.trim_start_matches('#').trim();
            for l in wrap(title, width, "  ", "  ") {
                out.push(l.bold().to_string());
            }
        } else if let Some(marker) = list_marker(trimmed) {
            flush(&mut paragraph, &item_indent, &mut out);
            // The item's text continues under its first word, not under
            // the marker.
            item_indent = format!("  {marker}");
            paragraph.push(&trimmed[marker.len()..]);
            let text = paragraph.join(" ");
            paragraph.clear();
            let rest = " ".repeat(item_indent.chars().count());
            out.extend(inline_code(&wrap(&text, width, &item_indent, &rest)));
            item_indent = rest;
        } else {
            paragraph.push(trimmed);
        }
    }
    flush(&mut paragraph, &item_indent, &mut out);
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out
}

fn list_marker(line: &str) -> Option<String> {
    for bullet in ["- ", "* "] {
        if line.starts_with(bullet) {
            return Some(bullet.to_string());
        }
    }
    let digits: String = line.chars().take_while(|c| c.is_ascii_digit()).collect();
    if !digits.is_empty() && line[digits.len()..].starts_with(". ") {
        return Some(format!("{digits}. "));
    }
    None
}

/// Colour `code spans` and drop the backticks; a span may run on over a
/// line break.
fn inline_code(lines: &[String]) -> Vec<String> {
    let mut open = false;
    lines
        .iter()
        .map(|line| {
            let mut out = String::new();
            for (i, part) in line.split('`').enumerate() {
                if i > 0 {
                    open = !open;
                }
                if open {
                    out.push_str(&part.yellow().to_string());
                } else {
                    out.push_str(part);
                }
            }
            out
        })
        .collect()
}

/// The most lines of one command's output shown in a pair of columns.
const MAX_LINES: usize = 18;

fn cut(mut lines: Vec<String>) -> Vec<String> {
    if lines.len() > MAX_LINES {
        let more = lines.len() - (MAX_LINES - 1);
        lines.truncate(MAX_LINES - 1);
        lines.push(format!("… {more} more lines"));
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
            out.extend(cut(wrap_output(text, width, "  │ ")));
        }
        return out;
    }
    let l = cut(text_lines(left.1));
    let r = cut(text_lines(right.1));
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
        let explained = wrap(
            &format!("{mark} {meaning}"),
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
    let cell = columns
        .iter()
        .map(|c| c.chars().count())
        .chain(
            rows.iter()
                .flat_map(|r| r.cells.iter().map(|c| c.chars().count())),
        )
        .max()
        .unwrap_or(0)
        + 2;
    let paint = |text: &str, padded: String| match text {
        "done" => padded.green().to_string(),
        "refused" => padded.red().to_string(),
        _ => padded,
    };
    let mut out = Vec::new();
    if 4 + label + cell * columns.len() <= width {
        let mut head = format!("    {:<label$}", "");
        for c in columns {
            head.push_str(&format!("{c:<cell$}"));
        }
        out.push(head.trim_end().to_string());
        for row in rows {
            let mut line = format!("    {:<label$}", row.label);
            for (i, c) in row.cells.iter().enumerate() {
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

/// A command with its prompt; a long one continues under itself.
pub fn command(place: Where, line: &str, width: usize) -> Vec<String> {
    let prompt = match place {
        Where::Host => "$",
        Where::Inside => "#",
    };
    labelled_command(prompt, line, width)
}

fn labelled_command(prompt: &str, line: &str, width: usize) -> Vec<String> {
    let first = format!("  {prompt} ");
    let rest = " ".repeat(first.chars().count() + 2);
    wrap(line, width, &first, &rest)
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                let body = &l[first.len()..];
                format!("  {} {}", prompt.dimmed(), body.yellow())
            } else {
                l.yellow().to_string()
            }
        })
        .collect()
}

/// One event as lines. `heading` is the step being shown (a skip names it).
pub fn event(event: &Event, width: usize) -> Vec<String> {
    match event {
        Event::Lesson {
            number,
            name,
            title,
            kinds,
            default_kinds,
            chosen,
        } => {
            let mut out: Vec<String> = wrap(
                &format!("Lesson {number} · {name} · {title}"),
                width,
                "",
                "  ",
            )
            .into_iter()
            .map(|l| l.bold().to_string())
            .collect();
            if *chosen {
                out.extend(wrap(
                    &format!(
                        "(your kinds replace this lesson's usual ones: {kinds} instead of {default_kinds})"
                    ),
                    width,
                    "  ",
                    "   ",
                ));
            }
            out
        }
        Event::Heading { text } => {
            let mut out = vec![String::new()];
            out.extend(
                wrap(&format!("▶ {text}"), width, "", "  ")
                    .into_iter()
                    .map(|l| l.bold().cyan().to_string()),
            );
            out
        }
        Event::Prose { text } => {
            let mut out = vec![String::new()];
            out.extend(prose(text, width));
            out.push(String::new());
            out
        }
        Event::Note { text } => wrap(text, width, "  ", "    "),
        Event::Command { place, line } => command(*place, line, width),
        Event::Output { text } => {
            if text.trim().is_empty() {
                Vec::new()
            } else {
                wrap_output(text, width, "    ")
            }
        }
        Event::Observation {
            command,
            inside_command,
            outside,
            inside,
            labels,
        } => {
            let mut out = Vec::new();
            let (left, right) = match labels {
                Some((l, r)) => {
                    out.extend(labelled_command("$", command, width));
                    out.extend(labelled_command("$", inside_command, width));
                    (l.as_str(), r.as_str())
                }
                None => {
                    out.extend(labelled_command("outside $", command, width));
                    out.extend(labelled_command(" inside #", inside_command, width));
                    ("outside (the host)", "inside (the container)")
                }
            };
            out.extend(side_by_side((left, outside), (right, inside), width));
            out
        }
        Event::Check { ok: true, text, .. } => {
            let mut out = wrap(text, width, "  ✓ ", "    ");
            out[0] = out[0].replacen('✓', &"✓".green().bold().to_string(), 1);
            out
        }
        Event::Check {
            ok: false,
            text,
            but,
        } => {
            let mut out = wrap(&format!("expected: {text}"), width, "  ✗ ", "    ");
            out[0] = out[0].replacen('✗', &"✗".red().bold().to_string(), 1);
            if let Some(but) = but {
                out.extend(wrap(&format!("but: {but}"), width, "    ", "      "));
            }
            out
        }
        Event::Skip { reason, .. } => {
            let mut out = wrap(&format!("skipped: {reason}"), width, "  – ", "    ");
            out[0] = out[0].replacen('–', &"–".yellow().bold().to_string(), 1);
            out
        }
        Event::Table {
            command,
            rows,
            differ,
        } => {
            let mut out = labelled_command("$", command, width);
            out.extend(inode_table(rows, *differ, width));
            out
        }
        Event::Grid { columns, rows } => grid(columns, rows, width),
        Event::Pause => Vec::new(),
        Event::Done {
            ok: _,
            stopped: true,
            ..
        } => wrap(
            "Stopped. The container is gone and the host is as it was.",
            width,
            "",
            "  ",
        ),
        Event::Done { ok, number, .. } => {
            let mut out = vec![String::new()];
            let done = format!("Lesson {number} done.");
            let mut first = wrap(
                &format!("{done} The container is gone and the host is as it was."),
                width,
                "",
                "  ",
            );
            first[0] = first[0].replacen(&done, &done.bold().to_string(), 1);
            out.extend(first);
            if !ok {
                out.extend(wrap(
                    "Some checks did not hold (marked ✗ above): what they expected is what this lesson teaches, and what happened instead may say what is different on this machine.",
                    width,
                    "  ",
                    "  ",
                ));
            }
            out.extend(wrap(
                &format!("check yourself: learnns quiz --lesson {number}"),
                width,
                "  ",
                "    ",
            ));
            if let Some(next) = crate::lessons::LESSONS.get(*number as usize + 1) {
                out.extend(wrap(
                    &format!("next: learnns lesson {}   ({})", next.number, next.title),
                    width,
                    "  ",
                    "    ",
                ));
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_color() {
        colored::control::set_override(false);
    }

    #[test]
    fn wrapping_never_cuts_a_word_and_hangs_the_indent() {
        let lines = wrap(
            "a process cannot signal processes it cannot see",
            24,
            "  ",
            "    ",
        );
        assert!(lines.iter().all(|l| l.chars().count() <= 24), "{lines:?}");
        assert_eq!(lines[0], "  a process cannot");
        assert!(lines[1].starts_with("    signal"));
    }

    #[test]
    fn prose_reflows_paragraphs_and_keeps_code_lines() {
        no_color();
        let text = "One two three four five six seven.\nEight nine.\n\n```\nls -l /proc\n```\n- an item that goes on and on\n";
        let lines = prose(text, 20);
        assert!(lines.iter().all(|l| l.chars().count() <= 20), "{lines:?}");
        assert_eq!(lines[0], "  One two three four");
        assert!(lines.contains(&"      ls -l /proc".to_string()));
        let item = lines.iter().position(|l| l.starts_with("  - an")).unwrap();
        assert!(lines[item + 1].starts_with("    "), "{lines:?}");
    }

    #[test]
    fn columns_line_up_or_stack() {
        no_color();
        let out = side_by_side(("out", "host\n"), ("in", "box\nsecond\n"), 80);
        assert_eq!(out.len(), 4);
        let bar = out[0].find('│').unwrap();
        assert_eq!(out[2].find('│'), Some(bar));
        assert!(out[2].ends_with("│ box"));
        let narrow = side_by_side(("out", "host"), ("in", "box"), 40);
        assert_eq!(narrow, vec!["  out", "  │ host", "  in", "  │ box"]);
    }

    #[test]
    fn long_output_is_cut_with_a_count() {
        no_color();
        let text: String = (0..30).map(|i| format!("{i}\n")).collect();
        let out = side_by_side(("a", &text), ("b", "x"), 80);
        assert!(out.iter().any(|l| l.contains("… 13 more lines")));
    }

    #[test]
    fn no_line_is_wider_than_the_terminal() {
        no_color();
        let rows: Vec<Row> = ["user", "mnt", "pid"]
            .iter()
            .map(|k| Row {
                kind: k.to_string(),
                outside: format!("{k}:[4026531837]"),
                inside: format!("{k}:[4026532999]"),
                differs: *k == "pid",
                meaning:
                    "a fairly long explanation of what this difference means to the process inside"
                        .into(),
            })
            .collect();
        for width in [30, 50, 80, 100] {
            for line in inode_table(&rows, 1, width) {
                assert!(line.chars().count() <= width, "{width}: {line}");
            }
            let cmd = command(
                Where::Inside,
                "nsenter -t 12345 --uts --ipc --pid --mount --net --user --cgroup --time -- ip addr show",
                width,
            );
            assert!(cmd.iter().all(|l| l.chars().count() <= width));
        }
        assert!(inode_table(&rows, 1, 100)[0].starts_with("  kind"));
        assert_eq!(inode_table(&rows, 1, 30)[0], "  user");
    }

    #[test]
    fn grids_stack_when_narrow() {
        no_color();
        let columns: Vec<String> = ["a", "b"].map(String::from).to_vec();
        let rows = vec![GridRow {
            label: "mount".into(),
            cells: vec!["done".into(), "refused".into()],
        }];
        let wide = grid(&columns, &rows, 80);
        assert_eq!(wide.len(), 2);
        let narrow = grid(&columns, &rows, 20);
        assert!(
            narrow.iter().any(|l| l.trim() == "b: refused"),
            "{narrow:?}"
        );
    }
}
