//! How learnns talks to the terminal: colour decided once, the width to lay
//! out for, and the pause prompt between lesson steps.

use std::io::{IsTerminal, Write};
use std::os::fd::AsFd;

use crate::error::{Error, Result};
use crate::sys;

/// When to colour output, as `--color` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Decide once for the whole run. `auto` colours only a terminal and honours
/// NO_COLOR (https://no-color.org): set and not empty means no colour.
pub fn init_color(choice: ColorChoice) {
    let on = match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
            !no_color && std::io::stdout().is_terminal()
        }
    };
    colored::control::set_override(on);
}

/// The narrowest and widest layouts learnns makes: wider than any screen,
/// and small enough that no line buffer grows past a few kilobytes,
/// whatever $COLUMNS says.
pub const WIDTHS: std::ops::RangeInclusive<usize> = 20..=1000;

/// The width to lay output out for: the terminal's, else $COLUMNS, else 100.
pub fn width() -> usize {
    let clamp = |w: usize| w.clamp(*WIDTHS.start(), *WIDTHS.end());
    if let Some((terminal_size::Width(w), _)) = terminal_size::terminal_size() {
        // A pseudo-terminal nobody sized reports 0 columns.
        if w > 0 {
            return clamp(w as usize);
        }
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .map_or(100, clamp)
}

/// Can learnns ask the learner something and wait for an answer?
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// What the learner chose at a pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Continue,
    Shell,
    Quit,
}

/// The terminal's height in rows, if it has one.
pub fn height() -> Option<usize> {
    match terminal_size::terminal_size() {
        Some((_, terminal_size::Height(h))) if h > 0 => Some(h as usize),
        _ => None,
    }
}

/// Show a prompt on the current line, without a line break.
pub fn show_prompt(text: &str) {
    out!("\r\x1b[2K{text} ");
    flush_out();
}

/// Clear the prompt's line, leaving the cursor at its start.
pub fn clear_prompt() {
    out!("\r\x1b[2K");
    flush_out();
}

pub fn flush_out() {
    let _ = std::io::stdout().flush();
}

/// One key press at a prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Enter,
    /// Ctrl-D, or the terminal went away.
    Quit,
    Other(u8),
}

/// Wait for one key, without waiting for Enter and without echoing it: a
/// word typed at a pause is answered key by key, never taken whole. Ctrl-C
/// still interrupts (the terminal keeps ISIG).
pub fn read_key() -> Result<Key> {
    use nix::sys::termios::{self, LocalFlags, SetArg, SpecialCharacterIndices};
    let stdin = std::io::stdin();
    let saved = termios::tcgetattr(&stdin).ok();
    if let Some(saved) = &saved {
        let mut raw = saved.clone();
        raw.local_flags
            .remove(LocalFlags::ICANON | LocalFlags::ECHO);
        raw.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
        raw.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
        let _ = termios::tcsetattr(&stdin, SetArg::TCSANOW, &raw);
    }
    let key = read_byte();
    if let Some(saved) = &saved {
        let _ = termios::tcsetattr(&stdin, SetArg::TCSANOW, saved);
    }
    Ok(match key? {
        None | Some(4) => Key::Quit,
        Some(b'\n' | b'\r') => Key::Enter,
        Some(other) => Key::Other(other),
    })
}

/// One byte from stdin; None at EOF. Bare poll(2) and read(2) so that
/// Ctrl-C ends the wait at once (std would retry the read).
fn read_byte() -> Result<Option<u8>> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let stdin = std::io::stdin();
    let mut byte = [0u8; 1];
    loop {
        // Wait in short slices: a signal that lands between our check and a
        // blocking read would otherwise be noticed only after the next key.
        check_interrupt()?;
        let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(100u8)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(Error::sys("wait for the terminal", e)),
        }
        match nix::unistd::read(&stdin, &mut byte) {
            Ok(0) => return Ok(None),
            Ok(_) => return Ok(Some(byte[0])),
            Err(nix::errno::Errno::EINTR) => continue,
            // The terminal went away (its window was closed): like EOF.
            Err(nix::errno::Errno::EIO) => return Ok(None),
            Err(e) => return Err(Error::sys("read from the terminal", e)),
        }
    }
}

/// A line typed at a prompt (the quiz); None at EOF.
pub fn read_line() -> Result<Option<String>> {
    let mut line = Vec::new();
    loop {
        match read_byte()? {
            None if line.is_empty() => return Ok(None),
            None | Some(b'\n') => return Ok(Some(lossy(&line))),
            Some(byte) => line.push(byte),
        }
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Write to stdout. A reader that went away is treated like a signal to
/// stop; other output errors are nothing a lesson could act on.
pub fn write_out(args: std::fmt::Arguments) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_fmt(args) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => sys::stdout_closed(),
        Err(e) => remember_output_error(e),
    }
}

static OUTPUT_ERROR: std::sync::Mutex<Option<std::io::Error>> = std::sync::Mutex::new(None);

fn remember_output_error(e: std::io::Error) {
    let mut first = OUTPUT_ERROR.lock().unwrap_or_else(|p| p.into_inner());
    first.get_or_insert(e);
}

/// Flush standard output and report the first write that failed (a full
/// disk, `>/dev/full`): output that was lost is an error, not success. A
/// reader that went away is not.
pub fn finish_output() -> Result<()> {
    use std::io::Write;
    match std::io::stdout().flush() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => remember_output_error(e),
        _ => {}
    }
    match OUTPUT_ERROR
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
    {
        Some(e) => Err(Error::io("write learnns's output", e)),
        None => Ok(()),
    }
}

/// Stop with [`Error::Interrupted`] if Ctrl-C (or SIGTERM/SIGHUP) arrived.
pub fn check_interrupt() -> Result<()> {
    if sys::interrupted() {
        Err(Error::Interrupted)
    } else {
        Ok(())
    }
}
