//! Sentences printed straight to the terminal (the challenges' tasks,
//! verdicts and clean-up reports, the course map), wrapped to its width.

/// A paragraph wrapped to the terminal, indented.
pub fn paragraph(text: &str, indent: &str) {
    hanging(text, indent, indent);
}

/// A paragraph wrapped to the terminal: the first line starts with
/// `first`, the others with `rest`. A `code span` that fits on a line is
/// never broken: a command cut after `learnns challenge 6` reads as a
/// command of its own.
pub fn hanging(text: &str, first: &str, rest: &str) {
    let width = crate::ui::width();
    let room = width.saturating_sub(rest.chars().count().max(first.chars().count()));
    let mut kept = String::with_capacity(text.len());
    for (i, part) in text.split('`').enumerate() {
        if i > 0 {
            kept.push('`');
        }
        // Odd parts are inside backticks.
        if i % 2 == 1 && part.chars().count() + 2 <= room {
            kept.push_str(&part.replace(' ', "\u{a0}"));
        } else {
            kept.push_str(part);
        }
    }
    for line in super::text::wrap(&kept, width, first, rest) {
        outln!("{}", line.replace('\u{a0}', " "));
    }
}
