//! One error type for the whole tool. Every message says what went wrong and
//! how to fix it; `main` prints it once and picks the exit code.

use std::io;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),

    #[error(
        "creating {what} needs privilege ({source}).\n  fix: run as root (`sudo learnns ...`), or add --user to let an unprivileged user create it inside a user namespace"
    )]
    NoPrivilege { what: String, source: nix::Error },

    #[error("{what} failed: {source}")]
    Sys { what: String, source: nix::Error },

    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },

    #[error(
        "process {pid} does not exist (it may have exited).\n  fix: check the PID with `ps -p {pid}`"
    )]
    NoSuchProcess { pid: i32 },

    #[error(
        "cannot read the namespaces of process {pid}: permission denied.\n  fix: run as root, or pick a process you own"
    )]
    ProcPermission { pid: i32 },

    #[error(
        "process {pid} exited while learnns was reading its namespaces.\n  fix: run the command again while the process is running"
    )]
    Vanished { pid: i32 },

    #[error("reading /proc for process {pid}: {message}")]
    Proc { pid: i32, message: String },

    #[error("the container could not be set up: {0}")]
    Setup(String),

    #[error(
        "`{program}` was not found inside the container.\n  fix: check the spelling, or give its full path"
    )]
    CommandNotFound { program: String },

    #[error("{0}")]
    NeedsTerminal(String),

    /// The progress file or the place for it.
    #[error("{0}")]
    Progress(String),

    #[error("interrupted; everything learnns changed on the host has been undone")]
    Interrupted,
}

impl Error {
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
