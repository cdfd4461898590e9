//! Plain text and JSON Lines: renderers that never wait.

use crate::events::{Event, Render};

/// The terminal's layout without colour or pauses, at a fixed width.
pub struct Plain {
    width: usize,
    blank: bool,
}

impl Plain {
    pub fn new(width: usize) -> Plain {
        Plain { width, blank: true }
    }

    /// The lines of one event, blank lines between events not doubled.
    pub fn lines(&mut self, event: &Event) -> Vec<String> {
        let mut out = Vec::new();
        for line in super::layout::event(event, self.width) {
            let blank = line.is_empty();
            if !(blank && self.blank) {
                out.push(line);
            }
            self.blank = blank;
        }
        out
    }
}

impl Render for Plain {
    fn show(&mut self, event: &Event) {
        for line in self.lines(event) {
            crate::outln!("{line}");
        }
    }
}

/// One JSON object per line, flushed as it happens so that a reader sees
/// each step when it is done.
pub struct Json;

impl Render for Json {
    fn show(&mut self, event: &Event) {
        match serde_json::to_string(event) {
            Ok(line) => crate::outln!("{line}"),
            Err(e) => crate::errln!("learnns: could not write an event as JSON: {e}"),
        }
        crate::ui::flush_out();
    }
}
