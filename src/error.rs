//! One error type for the whole tool. Every message says what went wrong and
//! how to fix it; `main` prints it once and picks the exit code.

use std::io;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, and what the learner can do about it: the one shape
/// of every message learnns gives. `main` prints `what` after `learnns:`
/// and `fix` on a line of its own, both wrapped to the terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub what: String,
    pub fix: Option<String>,
}

impl Problem {
    pub fn new(what: impl Into<String>) -> Problem {
        Problem {
            what: what.into(),
            fix: None,
        }
    }

    pub fn fix(mut self, fix: impl Into<String>) -> Problem {
        self.fix = Some(fix.into());
        self
    }
}

impl From<String> for Problem {
    fn from(what: String) -> Problem {
        Problem::new(what)
    }
}

impl From<&str> for Problem {
    fn from(what: &str) -> Problem {
        Problem::new(what)
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.what)?;
        match &self.fix {
            Some(fix) => write!(f, "\n  fix: {fix}"),
            None => Ok(()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line asks for something that cannot be (exit 2).
    #[error("{0}")]
    Usage(Problem),

    #[error("{}", self.problem())]
    NoPrivilege { what: String, source: nix::Error },

    #[error("{what} failed: {source}")]
    Sys { what: String, source: nix::Error },

    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },

    #[error("{}", self.problem())]
    NoSuchProcess { pid: i32 },

    #[error("{}", self.problem())]
    ProcPermission { pid: i32 },

    #[error("{}", self.problem())]
    Vanished { pid: i32 },

    #[error("reading /proc for process {pid}: {message}")]
    Proc { pid: i32, message: String },

    #[error("{}", self.problem())]
    Setup(Problem),

    #[error("{}", self.problem())]
    CommandNotFound { program: String },

    #[error("{0}")]
    NeedsTerminal(Problem),

    /// The progress file or the place for it.
    #[error("{0}")]
    Progress(Problem),

    /// Anything else that failed, with what to do about it.
    #[error("{0}")]
    Failed(Problem),

    #[error("interrupted")]
    Interrupted,
}

impl Error {
    /// What went wrong and its fix, for the one error printer.
    pub fn problem(&self) -> Problem {
        match self {
            Error::Usage(p) | Error::NeedsTerminal(p) | Error::Progress(p) | Error::Failed(p) => {
                p.clone()
            }
            Error::Setup(p) => Problem {
                what: format!("the container could not be set up: {}", p.what),
                fix: p.fix.clone(),
            },
            Error::NoPrivilege { what, source } => Problem::new(format!(
                "creating {what} needs privilege ({source})"
            ))
            .fix("run as root (`sudo learnns ...`), or add --user to let an unprivileged user create it inside a user namespace"),
            Error::NoSuchProcess { pid } => {
                Problem::new(format!("process {pid} does not exist (it may have exited)"))
                    .fix(format!("check the PID with `ps -p {pid}`"))
            }
            Error::ProcPermission { pid } => Problem::new(format!(
                "cannot read the namespaces of process {pid}: permission denied"
            ))
            .fix(if nix::unistd::geteuid().is_root() {
                // Even root is refused where /proc hides it (hidepid) or the
                // process is outside what this root may trace (a sandbox).
                "pick another process: even root may not read this one here (a /proc mounted with hidepid, or learnns in a sandbox or container of its own)"
            } else {
                "run as root (`sudo learnns ...`), or pick a process you own"
            }),
            Error::Vanished { pid } => Problem::new(format!(
                "process {pid} exited while learnns was reading its namespaces"
            ))
            .fix("run the command again while the process is running"),
            Error::CommandNotFound { program } => {
                Problem::new(format!("`{program}` was not found inside the container"))
                    .fix("check the spelling, or give its full path")
            }
            other => Problem::new(other.to_string()),
        }
    }

    pub fn usage(what: impl Into<String>, fix: impl Into<String>) -> Error {
        Error::Usage(Problem::new(what).fix(fix))
    }

    pub fn setup(what: impl Into<String>, fix: impl Into<String>) -> Error {
        Error::Setup(Problem::new(what).fix(fix))
    }

    pub fn io(what: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            what: what.into(),
            source,
        }
    }

    pub fn sys(what: impl Into<String>, source: nix::Error) -> Error {
        Error::Sys {
            what: what.into(),
            source,
        }
    }

    pub fn from_proc(pid: i32, err: procfs::ProcError) -> Error {
        match err {
            procfs::ProcError::NotFound(_) => Error::NoSuchProcess { pid },
            procfs::ProcError::PermissionDenied(_) => Error::ProcPermission { pid },
            other => Error::Proc {
                pid,
                message: other.to_string(),
            },
        }
    }

    /// The process exit code for this error: 2 for usage, 130 for Ctrl-C,
    /// 127 for a command that does not exist, 1 for everything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            Error::Interrupted => 130,
            Error::CommandNotFound { .. } => 127,
            _ => 1,
        }
    }
}
