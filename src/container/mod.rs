//! A container is an ordinary process started in new namespaces. This module
//! turns a [`Spec`] into such a process, keeps it alive while a lesson looks
//! at it, runs commands inside it the way `nsenter` does, and stops it.

pub mod enter;
mod run;
mod setup;
mod spawn;
mod spec;

use crate::cleanup;
use std::os::fd::OwnedFd;
use std::process::Command;

use nix::unistd::Pid;

use crate::cgroup::Cgroup;
use crate::cleanup::Token;
use crate::error::{Error, Result};
use crate::network::Veth;
use crate::ns::{Identities, Kind, KindSet};
use crate::sys;

pub use enter::{command_in, nsenter_line, shell_words};
use enter::{nsenter_words, targets};
pub use run::{kill_process, run, run_captured, run_probe};
pub use setup::setup_inside;
pub use spawn::Probe;
use spawn::{Init, spawn};
pub use spec::{DEFAULT_HOSTNAME, IdMap, PATH, Spec, base_env, time_offset_range};

/// A running container: its init process holds the namespaces open.
#[derive(Debug)]
pub struct Container {
    pub pid: Pid,
    /// The namespaces it was made with, and when its init started: a
    /// command is only ever entered into this very process's namespaces.
    kinds: KindSet,
    start: u64,
    token: Token,
    /// Our end of the start pipe: while it is open the init stays; when
    /// learnns goes away it reads EOF and exits.
    _lifeline: OwnedFd,
    _veth: Option<Veth>,
    /// Dropped after the init is killed (fields drop after `drop`), so the
    /// directory is empty by then.
    cgroup: Option<Cgroup>,
}

impl Container {
    /// Create the namespaces with a first process that holds them open.
    pub fn start(spec: &Spec) -> Result<Container> {
        let started = spawn(spec, Init::Hold)?;
        Ok(Container {
            pid: started.pid,
            kinds: spec.kinds,
            start: cleanup::process_start(started.pid.as_raw()).unwrap_or(0),
            token: started.token,
            _lifeline: started.lifeline,
            _veth: started.veth,
            cgroup: started.cgroup,
        })
    }

    /// The cgroup learnns made for this container, if it has limits.
    pub fn cgroup(&self) -> Option<&Cgroup> {
        self.cgroup.as_ref()
    }

    /// The namespaces of the container's init, as the host sees them.
    pub fn identities(&self) -> Result<Identities> {
        Identities::of(self.pid.as_raw())
    }

    /// A command that will run inside every namespace where the container
    /// differs from learnns itself, like `nsenter -t PID ...`.
    /// Like `docker exec`, the command also joins the container's cgroup, so
    /// that its limits hold for everything started inside.
    pub fn command(&self, argv: &[String]) -> Result<Command> {
        let mut command = Command::new(&argv[0]);
        command.args(&argv[1..]);
        sys::enter_on_spawn(&mut command, self.join_files()?, self.targets()?);
        Ok(command)
    }

    /// The namespaces to enter, opened. If the init has died (or its PID now
    /// belongs to another process), the command must not run at all: in
    /// the host's namespaces it would change the host.
    fn targets(&self) -> Result<Vec<(Kind, OwnedFd)>> {
        let pid = self.pid;
        let gone = || {
            Error::Setup(format!("the container's init (PID {pid}) is gone; start again").into())
        };
        let same = || cleanup::process_start(pid.as_raw()) == Some(self.start);
        if !same() {
            return Err(gone());
        }
        let opened = targets(pid).map_err(|_| gone())?;
        let entered: KindSet = opened.iter().map(|(kind, _)| *kind).collect();
        // Checked after opening: the descriptors are of the right process.
        if !same() || self.kinds.iter().any(|k| !entered.contains(k)) {
            return Err(gone());
        }
        Ok(opened)
    }

    fn join_files(&self) -> Result<Vec<OwnedFd>> {
        self.cgroup
            .as_ref()
            .map_or(Ok(Vec::new()), Cgroup::join_files)
    }

    /// The `nsenter` line that does what [`Container::command`] does.
    pub fn nsenter_line(&self, argv: &[String]) -> String {
        nsenter_words(self.pid, self.kinds, argv)
    }

    /// Fork a child of learnns into the container's namespaces of `kinds`
    /// to run `body` there. Its user namespace comes too when it has one:
    /// the others belong to it, and only its root may act in them.
    pub fn fork_inside(&self, kinds: KindSet, body: impl FnOnce() -> i32) -> Result<Pid> {
        let kinds = kinds.with(Kind::User);
        let targets = self
            .targets()?
            .into_iter()
            .filter(|(kind, _)| kinds.contains(*kind))
            .collect();
        sys::fork_into(self.join_files()?, targets, body)
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        cleanup::undo(self.token);
    }
}
