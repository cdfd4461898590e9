//! Renderers: how events look. The terminal's (colour, pauses, a screenful
//! at a time), plain text (the book's transcripts, pipes), and JSON Lines
//! (graders, dashboards, other front ends).

pub mod layout;
pub mod paragraph;
mod plain;
pub mod problem;
mod tables;
mod terminal;
pub mod text;

pub use plain::{Json, Plain};
pub use terminal::Terminal;

/// How `learnns lesson` shows a lesson.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people: colour when the terminal has it, pauses between steps.
    Terminal,
    /// The same text without colour or pauses.
    Plain,
    /// One JSON object per event (JSON Lines); never waits.
    Json,
}

impl Format {
    pub fn renderer(self, waits: bool) -> Box<dyn crate::events::Render> {
        match self {
            Format::Terminal => Box::new(Terminal::new(waits, false)),
            Format::Plain => Box::new(Plain::new(crate::ui::width())),
            Format::Json => Box::new(Json),
        }
    }
}
