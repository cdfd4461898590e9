//! Text laid out to a width: words wrap with a hanging indent, never in
//! the middle (only a word wider than the whole line is cut). Colour comes
//! from `colored`, decided once for the run; widths are measured on the
//! text before it is coloured.

use colored::Colorize;

/// Wrap one paragraph: the first line starts with `first`, the others with
/// `rest`.
pub fn wrap(text: &str, width: usize, first: &str, rest: &str) -> Vec<String> {
    let options = textwrap::Options::new(width.max(first.len() + 8))
        .initial_indent(first)
        .subsequent_indent(rest)
        .word_separator(textwrap::WordSeparator::AsciiSpace)
        .word_splitter(textwrap::WordSplitter::NoHyphenation)
        .break_words(true)
        .wrap_algorithm(balanced());
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

/// Lines of even length, as textwrap's optimal fit makes them, but never
/// longer than the width: its default penalties let a line overflow by a
/// character or two when that evens out the others.
fn balanced() -> textwrap::WrapAlgorithm {
    let mut penalties = textwrap::wrap_algorithms::Penalties::new();
    penalties.overflow_penalty = 1_000_000_000;
    textwrap::WrapAlgorithm::OptimalFit(penalties)
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
            // Commands to type: broken, when they must be, so that they
            // still paste as one.
            let own: String = line.chars().take_while(|c| *c == ' ').collect();
            let first = format!("    {own}");
            let rest = format!("{first}    ");
            if first.chars().count() + line.trim().chars().count() <= width {
                out.push(format!("{first}{}", line.trim()).yellow().to_string());
                continue;
            }
            for wrapped in shell_lines(line.trim(), width, &first, &rest) {
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
pub fn inline_code(lines: &[String]) -> Vec<String> {
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

/// A shell command over several lines that still pastes as one: it breaks
/// only between words, outside quotes, each broken line ending in ` \`.
/// A quoted word longer than a whole line is the only thing cut inside.
pub fn shell_lines(line: &str, width: usize, first: &str, rest: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    for c in line.chars() {
        match (quote, c) {
            (None, ' ') => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                continue;
            }
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
        word.push(c);
    }
    if !word.is_empty() {
        words.push(word);
    }
    let mut lines: Vec<String> = Vec::new();
    let mut current = first.to_string();
    let mut empty = true;
    for word in words {
        let len = current.chars().count() + usize::from(!empty) + word.chars().count();
        // Room for the ` \` that continues the line.
        if !empty && len + 2 > width {
            current.push_str(" \\");
            lines.push(std::mem::take(&mut current));
            current = rest.to_string();
            empty = true;
        }
        if empty && current.chars().count() + word.chars().count() > width {
            // Too long for any line: a quoted script (`sh -c '...'`). A
            // line break inside the quotes is part of the script, so it
            // goes where a newline means what the text says: after `;`,
            // `&&`, `||` or `|`.
            let indent = current.clone();
            let mut cut = script_lines(&word, width, &indent, rest);
            current = cut.pop().unwrap_or_default();
            lines.extend(cut);
            empty = false;
            continue;
        }
        if !empty {
            current.push(' ');
        }
        current.push_str(&word);
        empty = false;
    }
    lines.push(current);
    lines
}

/// A quoted script on lines of at most `width`, each break after a command
/// separator; a piece between separators too long for a line is cut at its
/// spaces, the one place where a pasted line may mean something else.
fn script_lines(word: &str, width: usize, first: &str, rest: &str) -> Vec<String> {
    let mut pieces: Vec<String> = Vec::new();
    let mut piece = String::new();
    let mut chars = word.chars().peekable();
    while let Some(c) = chars.next() {
        piece.push(c);
        let ends = matches!(c, ';' | '&' | '|');
        if matches!(c, '&' | '|') && chars.peek() == Some(&c) {
            piece.push(chars.next().unwrap_or(c));
        }
        if ends && chars.peek() == Some(&' ') {
            piece.push(chars.next().unwrap_or(' '));
            pieces.push(std::mem::take(&mut piece));
        }
    }
    pieces.push(piece);
    let mut lines = Vec::new();
    let mut current = first.to_string();
    let mut empty = true;
    for piece in pieces {
        if !empty && current.chars().count() + piece.trim_end().chars().count() > width {
            lines.push(current.trim_end().to_string());
            current = rest.to_string();
            empty = true;
        }
        if empty && current.chars().count() + piece.trim_end().chars().count() > width {
            let mut cut = wrap(piece.trim_end(), width, &current, rest);
            current = cut.pop().unwrap_or_default();
            if piece.ends_with(' ') {
                current.push(' ');
            }
            lines.extend(cut);
        } else {
            current.push_str(&piece);
        }
        empty = false;
    }
    lines.push(current.trim_end().to_string());
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_quoted_script_breaks_only_after_a_separator() {
        let line = "SCRIPT='mount -t tmpfs none /mnt 2>/dev/null; echo mount=$?; mknod /mnt/null c 1 3 2>/dev/null; echo mknod=$?; unshare --net true 2>/dev/null; echo unshare=$?'";
        let lines = shell_lines(line, 80, "  # ", "      ");
        assert!(lines.len() > 1, "{lines:?}");
        for l in &lines {
            assert!(l.chars().count() <= 80, "{l}");
        }
        for l in &lines[..lines.len() - 1] {
            assert!(l.ends_with(';'), "{lines:#?}");
        }
        // Joined by newlines, it is the same script.
        let joined: Vec<&str> = lines
            .iter()
            .map(|l| l.trim_start_matches("  # ").trim())
            .collect();
        assert_eq!(joined.join(" "), line);
    }

    #[test]
    fn no_line_is_longer_than_the_width() {
        // Optimal fit with textwrap's own penalties made the second line
        // 81 columns wide, to even out the others.
        let text = "process 4444 (unshare) is in a UTS namespace of its own, but its hostname is `cap`, not `lab`: the hostname was not set inside it; run `hostname\u{a0}lab` inside it (e.g. `sudo\u{a0}nsenter\u{a0}-t\u{a0}4444\u{a0}-u\u{a0}hostname\u{a0}lab`; for a namespace of your own user namespace, `nsenter\u{a0}-t\u{a0}4444\u{a0}-U\u{a0}-u\u{a0}--preserve-credentials\u{a0}hostname\u{a0}lab`)";
        for width in 40..=100 {
            for line in wrap(text, width, "  ", "  ") {
                assert!(line.chars().count() <= width, "{width}: {line}");
            }
        }
    }
}
