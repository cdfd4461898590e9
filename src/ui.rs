//! How learnns talks to the terminal: colour decided once, the width to lay
//! out for, and the pause prompt between lesson steps.

use std::io::{IsTerminal, Write};
use std::os::fd::AsFd;

use colored::Colorize;

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

/// Turn a typed line into a choice; None for something unexpected.
pub fn parse_choice(line: &str) -> Option<Choice> {
    match line.trim().to_ascii_lowercase().as_str() {
        "" | "c" | "n" | "next" => Some(Choice::Continue),
        "s" | "sh" | "shell" => Some(Choice::Shell),
        "q" | "quit" | "exit" => Some(Choice::Quit),
        _ => None,
    }
}

/// Ask at a pause. Reads stdin with bare poll(2) and read(2) so that Ctrl-C
/// ends the wait at once (std would retry the read); EOF (Ctrl-D) means quit.
pub fn ask_pause() -> Result<Choice> {
    loop {
        out!(
            "{} ",
            "── Enter: next step · s: shell inside the container · q: quit ──".dimmed()
        );
        let _ = std::io::stdout().flush();
        let line = read_line()?;
        let Some(line) = line else {
            outln!();
            return Ok(Choice::Quit);
        };
        match parse_choice(&line) {
            Some(choice) => return Ok(choice),
            None => outln!("Type Enter to go on, s for a shell, or q to quit."),
        }
    }
}

pub fn read_line() -> Result<Option<String>> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let stdin = std::io::stdin();
    let mut line = Vec::new();
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
            Ok(0) => {
                return Ok(if line.is_empty() {
                    None
                } else {
                    Some(lossy(&line))
                });
            }
            Ok(_) if byte[0] == b'\n' => return Ok(Some(lossy(&line))),
            Ok(_) => line.push(byte[0]),
            Err(nix::errno::Errno::EINTR) => continue,
            // The terminal went away (its window was closed): like EOF.
            Err(nix::errno::Errno::EIO) => return Ok(None),
            Err(e) => return Err(Error::sys("read from the terminal", e)),
        }
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Stop with [`Error::Interrupted`] if Ctrl-C (or SIGTERM/SIGHUP) arrived.
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

pub fn check_interrupt() -> Result<()> {
    if sys::interrupted() {
        Err(Error::Interrupted)
    } else {
        Ok(())
    }
}

/// A heading for a lesson step.
pub fn heading(text: &str) {
    outln!("\n{}", format!("▶ {text}").bold().cyan());
}

static NARRATE_TO_STDERR: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Send the commands learnns shows to stderr: under `run`, stdout belongs to
/// the command in the container.
pub fn narrate_to_stderr() {
    NARRATE_TO_STDERR.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Show a command exactly as the learner could type it.
pub fn command_line(prompt: &str, line: &str) {
    let text = format!("  {} {}", prompt.dimmed(), line.yellow());
    if NARRATE_TO_STDERR.load(std::sync::atomic::Ordering::Relaxed) {
        crate::errln!("{text}");
    } else {
        outln!("{text}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_choices() {
        assert_eq!(parse_choice(""), Some(Choice::Continue));
        assert_eq!(parse_choice(" S \n"), Some(Choice::Shell));
        assert_eq!(parse_choice("q"), Some(Choice::Quit));
        assert_eq!(parse_choice("what"), None);
    }
}
