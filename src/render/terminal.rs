//! The terminal: today's look, wrapped to the terminal's width, and, when
//! the learner is there to press keys, never more than a screenful between
//! two waits: what would scroll away unread is shown a screenful at a time,
//! each screen under the heading of the step it belongs to, so that wherever
//! learnns waits, the step it is waiting in is on screen.

use colored::Colorize;

use crate::error::Result;
use crate::events::{Event, Render};
use crate::ui::{self, Choice, Key};

pub struct Terminal {
    waits: bool,
    to_stderr: bool,
    /// The step being shown: the lesson's banner until the first heading.
    heading: String,
    /// Rows written since the learner last pressed a key.
    used: usize,
    /// The learner went on from a pause: if the next thing shown is not a
    /// new step, it goes under the old step's heading again.
    resume: bool,
    /// The learner pressed q at a "more" prompt: show nothing more until
    /// the lesson's end; the next pause quits.
    quit: bool,
    /// The lesson is over: nothing more to page through.
    ended: bool,
    /// The last line written was blank: blank lines between events are
    /// not doubled.
    blank: bool,
}

impl Terminal {
    /// `waits`: the learner is at a terminal and wants pauses.
    /// `to_stderr`: under `run`, stdout belongs to the command inside.
    pub fn new(waits: bool, to_stderr: bool) -> Terminal {
        Terminal {
            waits,
            to_stderr,
            heading: String::new(),
            used: 0,
            resume: false,
            quit: false,
            ended: false,
            blank: true,
        }
    }

    fn write(&mut self, text: &str) {
        self.blank = text.is_empty();
        if self.to_stderr {
            crate::errln!("{text}");
        } else {
            crate::outln!("{text}");
        }
    }

    /// The rows a screenful holds between two prompts, when paging.
    fn room(&self) -> Option<usize> {
        if !self.waits || self.ended {
            return None;
        }
        // One row stays free for the prompt.
        ui::height().filter(|rows| *rows > 6).map(|rows| rows - 1)
    }

    fn put(&mut self, line: &str) {
        if self.quit || (line.is_empty() && self.blank) {
            return;
        }
        if let Some(room) = self.room()
            && self.used >= room
        {
            // A blank line is not worth a key press.
            if line.is_empty() {
                return;
            }
            self.more();
            if self.quit {
                return;
            }
        }
        self.write(line);
        self.used += 1;
    }

    /// The screen is full: wait for a key, then go on under the heading.
    fn more(&mut self) {
        let mut shown = fit(
            "── Enter: more of this step · q: quit ──",
            "── Enter: more · q: quit ──",
        );
        loop {
            ui::show_prompt(&shown.dimmed().to_string());
            match ui::read_key() {
                Ok(Key::Enter) | Ok(Key::Other(b' ')) => break,
                Ok(Key::Quit) | Ok(Key::Other(b'q' | b'Q')) | Err(_) => {
                    ui::clear_prompt();
                    self.quit = true;
                    return;
                }
                Ok(Key::Other(_)) => {
                    shown = fit(
                        "── press Enter for more of this step, or q to quit ──",
                        "── Enter: more · q: quit ──",
                    )
                }
            }
        }
        ui::clear_prompt();
        self.continued();
    }

    /// The step's heading again, at the top of a new screenful.
    fn continued(&mut self) {
        self.used = 0;
        self.resume = false;
        if self.heading.is_empty() {
            return;
        }
        let text = format!("▶ {} (continued)", self.heading);
        for line in super::layout::wrap(&text, ui::width(), "", "  ") {
            self.write(&line.bold().cyan().to_string());
            self.used += 1;
        }
    }
}

/// How many lines go with the first one: itself and the lines after it
/// that are indented deeper (its continuation, or a note under a row).
fn kept_with(lines: &[String]) -> usize {
    let Some(first) = lines.first().filter(|l| !l.is_empty()) else {
        return 1;
    };
    let depth = indent(first);
    1 + lines[1..]
        .iter()
        .take_while(|l| !l.is_empty() && indent(l) > depth)
        .count()
}

/// The leading spaces of a line, colour codes not counted.
fn indent(line: &str) -> usize {
    let mut spaces = 0;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            ' ' => spaces += 1,
            _ => break,
        }
    }
    spaces
}

/// The long form of a prompt if it fits the terminal, else the short one.
fn fit(long: &str, short: &str) -> String {
    if long.chars().count() < ui::width() {
        long.to_string()
    } else {
        short.to_string()
    }
}

impl Render for Terminal {
    fn show(&mut self, event: &Event) {
        match event {
            // However it was cut short, the learner learns how it ended.
            Event::Done { .. } => {
                self.quit = false;
                self.ended = true;
                self.resume = false;
            }
            Event::Heading { text } => {
                self.heading = text.clone();
                self.resume = false;
            }
            Event::Lesson {
                number,
                name,
                title,
                ..
            } => {
                self.heading = format!("Lesson {number} · {name} · {title}");
            }
            Event::Pause => {}
            _ if self.resume && !self.quit => self.continued(),
            _ => {}
        }
        let lines = super::layout::event(event, ui::width());
        // Keep what belongs together (a paragraph, a table, a heading and
        // what follows it) on one screen when it fits on one.
        let rows = lines.iter().filter(|l| !l.is_empty()).count();
        if let Some(room) = self.room()
            && !self.quit
            && self.used > 0
            && self.used + rows > room
            && rows + 2 <= room
        {
            self.more();
        }
        for (i, line) in lines.iter().enumerate() {
            // Too long for one screen: break it, but not between a line
            // and the lines indented under it (a table row and its note, a
            // command and its continuation).
            let group = kept_with(&lines[i..]);
            if let Some(room) = self.room()
                && !self.quit
                && self.used > 0
                && group > 1
                && self.used + group > room
                && group + 2 <= room
            {
                self.more();
            }
            self.put(line);
        }
    }

    fn ask(&mut self, shell: bool) -> Result<Choice> {
        if self.quit {
            return Ok(Choice::Quit);
        }
        let (long, short) = if shell {
            (
                "── Enter: next step · s: shell inside the container · q: quit ──",
                "── Enter: next · s: shell · q: quit ──",
            )
        } else {
            (
                "── Enter: next step · q: quit ──",
                "── Enter: next · q: quit ──",
            )
        };
        let mut shown = fit(long, short);
        loop {
            ui::show_prompt(&shown.dimmed().to_string());
            let choice = match ui::read_key() {
                Ok(Key::Enter) => Choice::Continue,
                Ok(Key::Quit) | Ok(Key::Other(b'q' | b'Q')) => Choice::Quit,
                Ok(Key::Other(b's' | b'S')) if shell => Choice::Shell,
                Ok(Key::Other(_)) => {
                    shown = if shell {
                        fit(
                            "── keys here: Enter for the next step, s for a shell inside, q to quit ──",
                            short,
                        )
                    } else {
                        fit("── keys here: Enter for the next step, q to quit ──", short)
                    };
                    continue;
                }
                Err(e) => {
                    ui::clear_prompt();
                    return Err(e);
                }
            };
            ui::clear_prompt();
            if choice == Choice::Continue {
                self.used = 0;
                self.resume = true;
            }
            return Ok(choice);
        }
    }

    fn resumed(&mut self) {
        self.write("");
        self.continued();
    }

    fn waits(&self) -> bool {
        self.waits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_keeps_its_indented_notes() {
        let lines: Vec<String> = [
            "  uts     uts:[1]  uts:[2]",
            "          \u{1b}[33m≠ new: hostname\u{1b}[0m",
            "            can be changed",
            "  cgroup  cgroup:[3]  cgroup:[3]",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(kept_with(&lines), 3);
        assert_eq!(kept_with(&lines[3..]), 1);
        assert_eq!(indent("\u{1b}[1m    x"), 4);
        assert_eq!(kept_with(&[String::new()]), 1);
    }
}
