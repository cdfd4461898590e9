//! What a lesson shows, as typed events. Lessons and everything that
//! narrates under them (container set-up, network, cgroup, security layers)
//! describe what happened by emitting events to one sink; a renderer
//! (terminal, plain text, JSON Lines) decides how it looks. The JSON form of
//! [`Event`] is a contract for graders and other front ends: every object
//! has `"event"`, and fields are only ever added.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::ns::{Identities, Kind, ORDER, link_text};
use crate::ui::Choice;

/// Where a command runs: on the host, or inside the container's namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Where {
    Host,
    Inside,
}

/// One row of the namespace-link comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    pub kind: String,
    pub outside: String,
    pub inside: String,
    pub differs: bool,
    /// What the difference (or the sameness) means for the inside process.
    pub meaning: String,
}

/// One row of a grid: a label and one cell per column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GridRow {
    pub label: String,
    pub cells: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A lesson begins. `kinds` are the container's namespace kinds;
    /// `chosen` is true when kind flags replaced the lesson's own.
    Lesson {
        number: u8,
        name: String,
        title: String,
        kinds: String,
        default_kinds: String,
        chosen: bool,
    },
    /// A step of the lesson begins.
    Heading { text: String },
    /// A section of the lesson's prose, as Markdown.
    Prose { text: String },
    /// Something learnns says about what it is doing.
    Note { text: String },
    /// A command, exactly as the learner could type it.
    Command {
        #[serde(rename = "where")]
        place: Where,
        line: String,
    },
    /// What the last command printed.
    Output { text: String },
    /// Two answers next to each other: by default the same command outside
    /// and inside; `labels` names the two sides when they are something else.
    Observation {
        command: String,
        inside_command: String,
        outside: String,
        inside: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        labels: Option<(String, String)>,
    },
    /// Did what the lesson promised really happen?
    Check {
        ok: bool,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        but: Option<String>,
    },
    /// A step left out, and why.
    Skip { text: String, reason: String },
    /// The eight namespace links of learnns and of the container.
    Table {
        command: String,
        rows: Vec<Row>,
        differ: usize,
    },
    /// A small table of outcomes (lesson 9's layers).
    Grid {
        columns: Vec<String>,
        rows: Vec<GridRow>,
    },
    /// The end of a step: a terminal waits here for the learner.
    Pause,
    /// The lesson ended: `ok` when every check held; `stopped` when the
    /// learner quit before the end; `next` is the lesson after it.
    Done {
        ok: bool,
        stopped: bool,
        number: u8,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<Next>,
    },
}

/// The lesson that follows, for a renderer to point to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Next {
    pub number: u8,
    pub name: String,
    pub title: String,
}

impl Event {
    pub fn table(command: String, outside: &Identities, inside: &Identities) -> Event {
        let differing = outside.differing(inside);
        let rows: Vec<Row> = ORDER
            .into_iter()
            .map(|kind: Kind| {
                let differs = differing.contains(kind);
                Row {
                    kind: kind.proc_name().to_string(),
                    outside: link_text(kind, outside.get(kind)),
                    inside: link_text(kind, inside.get(kind)),
                    differs,
                    meaning: if differs {
                        kind.when_different()
                    } else {
                        kind.when_shared()
                    }
                    .to_string(),
                }
            })
            .collect();
        let differ = rows.iter().filter(|r| r.differs).count();
        Event::Table {
            command,
            rows,
            differ,
        }
    }
}

/// Shows events. Lessons never know which one is listening.
pub trait Render: Send {
    fn show(&mut self, event: &Event);

    /// Wait at a pause for the learner's choice (`shell`: whether there is
    /// a container to open a shell in). Renderers that never wait go on.
    fn ask(&mut self, _shell: bool) -> Result<Choice> {
        Ok(Choice::Continue)
    }

    /// The learner is back from a shell: whatever it printed has pushed the
    /// step off the screen.
    fn resumed(&mut self) {}

    /// Will [`Render::ask`] wait for the learner?
    fn waits(&self) -> bool {
        false
    }
}

/// Where events go; until `main` chooses a renderer, nowhere.
static SINK: Mutex<Option<Box<dyn Render>>> = Mutex::new(None);

fn with_sink<T>(f: impl FnOnce(&mut dyn Render) -> T) -> Option<T> {
    let mut sink = SINK.lock().unwrap_or_else(|p| p.into_inner());
    sink.as_mut().map(|sink| f(sink.as_mut()))
}

/// Choose the renderer, once, before the first event.
pub fn set_renderer(renderer: Box<dyn Render>) {
    *SINK.lock().unwrap_or_else(|p| p.into_inner()) = Some(renderer);
}

pub fn emit(event: Event) {
    with_sink(|sink| sink.show(&event));
}

pub fn ask(shell: bool) -> Result<Choice> {
    with_sink(|sink| sink.ask(shell)).unwrap_or(Ok(Choice::Continue))
}

pub fn resumed() {
    with_sink(|sink| sink.resumed());
}

pub fn waits() -> bool {
    with_sink(|sink| sink.waits()).unwrap_or(false)
}

/// Shorthands for the events narration code emits most.
pub fn command(place: Where, line: impl Into<String>) {
    emit(Event::Command {
        place,
        line: line.into(),
    });
}

pub fn note(text: impl Into<String>) {
    emit(Event::Note { text: text.into() });
}

pub fn output(text: impl Into<String>) {
    emit(Event::Output { text: text.into() });
}

/// Keeps every event, for tests.
#[derive(Default, Clone)]
pub struct Recording(pub std::sync::Arc<Mutex<Vec<Event>>>);

impl Render for Recording {
    fn show(&mut self, event: &Event) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(event.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_names_every_event_and_the_where_field() {
        let line = serde_json::to_string(&Event::Command {
            place: Where::Inside,
            line: "hostname".into(),
        })
        .unwrap();
        assert_eq!(
            line,
            r#"{"event":"command","where":"inside","line":"hostname"}"#
        );
        let pause = serde_json::to_string(&Event::Pause).unwrap();
        assert_eq!(pause, r#"{"event":"pause"}"#);
        let back: Event = serde_json::from_str(&line).unwrap();
        assert!(matches!(
            back,
            Event::Command {
                place: Where::Inside,
                ..
            }
        ));
    }
}
