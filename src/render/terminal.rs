//! The terminal: today's look, wrapped to the terminal's width, and, when
//! the learner is there to press keys, a step taller than the screen shown a
//! screenful at a time with its heading repeated on top, so that wherever
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
    /// Rows written since the heading was last on top.
    used: usize,
    /// The learner pressed q at a "more" prompt: show nothing more; the
    /// next pause quits.
    quit: bool,
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
            quit: false,
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

    fn rows(&self) -> Option<usize> {
        if self.waits { ui::height() } else { None }
    }

    fn put(&mut self, line: &str) {
        if self.quit || (line.is_empty() && self.blank) {
            return;
        }
        // Keep the last row for a prompt.
        if let Some(rows) = self.rows()
            && self.used + 1 >= rows
            && rows > 4
        {
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
        let prompt = fit(
            "── Enter: more of this step · q: quit ──",
            "── Enter: more · q: quit ──",
        );
        let mut shown = prompt.clone();
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

    fn continued(&mut self) {
        self.used = 0;
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
            // Whatever was cut short, the learner learns how it ended.
            Event::Done { .. } => self.quit = false,
            Event::Heading { text } => {
                self.heading = text.clone();
                self.used = 0;
            }
            Event::Lesson {
                number,
                name,
                title,
                ..
            } => {
                self.heading = format!("Lesson {number} · {name} · {title}");
                self.used = 0;
            }
            _ => {}
        }
        let lines = super::layout::event(event, ui::width());
        // The blank line above a heading may scroll away; the heading may not.
        let skip_blank = matches!(event, Event::Heading { .. });
        for (i, line) in lines.iter().enumerate() {
            if skip_blank && i == 0 {
                if !self.quit && !self.blank {
                    self.write(line);
                }
                continue;
            }
            self.put(line);
        }
    }

    fn ask(&mut self) -> Result<Choice> {
        if self.quit {
            return Ok(Choice::Quit);
        }
        let prompt = fit(
            "── Enter: next step · s: shell inside the container · q: quit ──",
            "── Enter: next · s: shell · q: quit ──",
        );
        let mut shown = prompt.clone();
        loop {
            ui::show_prompt(&shown.dimmed().to_string());
            let key = ui::read_key();
            let choice = match key {
                Ok(Key::Enter) => Choice::Continue,
                Ok(Key::Quit) | Ok(Key::Other(b'q' | b'Q')) => Choice::Quit,
                Ok(Key::Other(b's' | b'S')) => Choice::Shell,
                Ok(Key::Other(_)) => {
                    shown = fit(
                        "── keys here: Enter for the next step, s for a shell inside, q to quit ──",
                        "── Enter: next · s: shell · q: quit ──",
                    );
                    continue;
                }
                Err(e) => {
                    ui::clear_prompt();
                    return Err(e);
                }
            };
            ui::clear_prompt();
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
