//! What a lesson showed, read from its events (`--format json`), so tests
//! assert on what happened, not on how a table was drawn.

use learnns::events::{Event, Row, Where};

pub struct Shown {
    pub events: Vec<Event>,
    /// The text of every event, one field per line, for `says`.
    text: String,
}

impl Shown {
    pub fn parse(json_lines: &str) -> Shown {
        let events: Vec<Event> = json_lines
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        let text = events
            .iter()
            .map(|e| {
                let value = serde_json::to_value(e).unwrap();
                let mut fields = Vec::new();
                collect(&value, &mut fields);
                fields.join("\n")
            })
            .collect::<Vec<_>>()
            .join("\n");
        Shown { events, text }
    }

    /// Does any event's text contain `needle`? Markdown's backticks are
    /// left out, as the terminal leaves them out.
    pub fn says(&self, needle: &str) -> bool {
        self.text.replace('`', "").contains(needle)
    }

    pub fn all_text(&self) -> &str {
        &self.text
    }

    /// The first observation whose inside command contains `command`:
    /// (outside, inside), as printed.
    pub fn observed(&self, command: &str) -> (String, String) {
        self.observations(command)
            .next()
            .unwrap_or_else(|| panic!("no observation of `{command}` in:\n{}", self.text))
    }

    pub fn observations<'a>(
        &'a self,
        command: &'a str,
    ) -> impl Iterator<Item = (String, String)> + 'a {
        self.events.iter().filter_map(move |e| match e {
            Event::Observation {
                inside_command,
                outside,
                inside,
                ..
            } if inside_command.contains(command) => Some((outside.clone(), inside.clone())),
            _ => None,
        })
    }

    /// Every command shown, in order.
    pub fn commands(&self) -> Vec<(Where, String)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Command { place, line } => Some((*place, line.clone())),
                _ => None,
            })
            .collect()
    }

    /// What the first command containing `command` printed.
    pub fn output_of(&self, command: &str) -> String {
        let at = self
            .events
            .iter()
            .position(|e| matches!(e, Event::Command { line, .. } if line.contains(command)))
            .unwrap_or_else(|| panic!("no command `{command}` in:\n{}", self.text));
        self.events[at + 1..]
            .iter()
            .find_map(|e| match e {
                Event::Output { text } => Some(text.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// Every output, in order.
    pub fn outputs(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Output { text } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn failed_checks(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Check {
                    ok: false,
                    text,
                    but,
                } => Some(format!("{text} (but {but:?})")),
                _ => None,
            })
            .collect()
    }

    pub fn passed(&self, claim: &str) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e, Event::Check { ok: true, text, .. } if text.contains(claim)))
    }

    pub fn skipped(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Skip { reason, .. } => Some(reason.clone()),
                _ => None,
            })
            .collect()
    }

    /// The last namespace-link table: its rows and how many differ.
    pub fn table(&self) -> (Vec<Row>, usize) {
        self.events
            .iter()
            .rev()
            .find_map(|e| match e {
                Event::Table { rows, differ, .. } => Some((rows.clone(), *differ)),
                _ => None,
            })
            .expect("a table of namespace links")
    }

    /// The kinds whose rows differ in the last table, in table order.
    pub fn differing(&self) -> Vec<String> {
        self.table()
            .0
            .into_iter()
            .filter(|r| r.differs)
            .map(|r| r.kind)
            .collect()
    }

    pub fn headings(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Heading { text } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }
}

fn collect(value: &serde_json::Value, into: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => into.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect(v, into)),
        serde_json::Value::Object(map) => map.values().for_each(|v| collect(v, into)),
        _ => {}
    }
}
