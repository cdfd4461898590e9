//! Events laid out as lines no wider than a given width, from the text
//! and table layouts.

use colored::Colorize;

pub use super::tables::{grid, inode_table, side_by_side};
pub use super::text::{inline_code, prose, shell_lines, wrap, wrap_output};
use crate::events::{Event, Where};

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
    shell_lines(line, width, &first, &rest)
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
        Event::Note { text } => inline_code(&wrap(text, width, "  ", "    ")),
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
            let mut out = inline_code(&wrap(text, width, "  ✓ ", "    "));
            out[0] = out[0].replacen('✓', &"✓".green().bold().to_string(), 1);
            out
        }
        Event::Check {
            ok: false,
            text,
            but,
        } => {
            let mut out = inline_code(&wrap(&format!("expected: {text}"), width, "  ✗ ", "    "));
            out[0] = out[0].replacen('✗', &"✗".red().bold().to_string(), 1);
            if let Some(but) = but {
                out.extend(inline_code(&wrap(
                    &format!("but: {but}"),
                    width,
                    "    ",
                    "      ",
                )));
            }
            out
        }
        Event::Skip { reason, .. } => {
            let mut out = inline_code(&wrap(&format!("skipped: {reason}"), width, "  – ", "    "));
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
            number,
            ..
        } => {
            let mut out = vec![String::new()];
            out.extend(wrap(
                "Stopped. The container is gone and the host is as it was.",
                width,
                "",
                "  ",
            ));
            out.extend(wrap(
                &format!("not marked done; to start it again: learnns lesson {number}"),
                width,
                "  ",
                "    ",
            ));
            out
        }
        Event::Done {
            ok, number, next, ..
        } => {
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
            if let Some(next) = next {
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
    use crate::events::{GridRow, Row};

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
        assert!(lines.contains(&"    ls -l /proc".to_string()));
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
    fn long_commands_break_outside_quotes_and_paste_as_one() {
        no_color();
        let line =
            "sudo unshare --uts sh -c 'hostname inside; hostname; readlink /proc/self/ns/uts'";
        let lines = command(Where::Host, line, 40);
        assert!(lines.iter().all(|l| l.chars().count() <= 40), "{lines:?}");
        let pasted: String = lines
            .iter()
            .map(|l| {
                l.trim()
                    .trim_start_matches("$ ")
                    .trim_end_matches('\\')
                    .trim()
            })
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(pasted, line, "{lines:?}");
        assert!(lines[0].ends_with(" \\"), "{lines:?}");
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
