//! Observations: run a command and keep what it printed, for a lesson to
//! show and to check.

use std::process::{Command, Stdio};

/// What one command printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    pub status: Option<i32>,
    pub text: String,
}

/// Run a prepared command, collecting stdout then stderr. A command that is
/// missing or fails is reported in its output, not as an error: the lesson
/// goes on and the learner sees what happened.
pub fn capture(mut command: Command) -> Capture {
    let program = command.get_program().to_string_lossy().into_owned();
    command.stdin(Stdio::null());
    match command.output() {
        Ok(out) => {
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            Capture {
                status: out.status.code(),
                text,
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Capture {
            status: None,
            text: format!("learnns: `{program}` is not installed here\n"),
        },
        Err(e) => Capture {
            status: None,
            text: format!("learnns: could not run `{program}`: {e}\n"),
        },
    }
}

/// A command to run on the host, as learnns itself sees it.
pub fn host_command(argv: &[String]) -> Command {
    let mut command = Command::new(&argv[0]);
    command.args(&argv[1..]);
    command
}
