//! One-off containers: `learnns run`, and the lessons' runs whose output
//! or report they show.

use std::fs::File;
use std::io::{IsTerminal, Read};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{Pid, pipe2};

use super::spawn::{Init, Probe, Started, read_report, spawn};
use super::spec::Spec;
use crate::cleanup::{self, Token};
use crate::error::{Error, Result};
use crate::sys;

/// Run `argv` as the first process of a new container (like `unshare
/// --fork`) and return its exit status, or 128+signal.
pub fn run(spec: &Spec, argv: &[String]) -> Result<i32> {
    // Whatever the command leaves running when it ends (a daemon, a
    // process that double-forked out of a container without a PID
    // namespace) comes to learnns, which stops it: nothing outlives the run.
    sys::become_subreaper();
    let result = spawn(spec, Init::Exec(argv, None)).and_then(finish);
    sys::kill_adopted();
    result
}

/// Wait for a command's container to end, then read its report: set-up
/// and exec failures are only known once it has exited. One wait, so the
/// parent sleeps once instead of waking at exec and again at exit.
fn finish(mut started: Started) -> Result<i32> {
    let status = wait_for(started.pid, started.token)?;
    if let Some(report) = started.report.take() {
        read_report(report, false)?;
    }
    Ok(status)
    // `started` drops here: the cgroup goes, with anything left in it.
}

/// Run `probe` as the first process of a new container; return its report.
pub fn run_probe(spec: &Spec, probe: Probe) -> Result<String> {
    let (read_end, write_end) =
        pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::sys("pipe", e))?;
    let started = spawn(spec, Init::Probe(probe, write_end))?;
    let mut text = String::new();
    let read = File::from(read_end).read_to_string(&mut text);
    let status = wait_for(started.pid, started.token)?;
    read.map_err(|e| Error::io("read the container's report", e))?;
    if status != 0 {
        return Err(Error::Setup(text.into()));
    }
    Ok(text)
}

/// Like [`run`], capturing what the command writes to stdout and stderr.
pub fn run_captured(spec: &Spec, argv: &[String]) -> Result<(i32, String)> {
    let (read_end, write_end) =
        pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::sys("pipe", e))?;
    let started = spawn(spec, Init::Exec(argv, Some(write_end)))?;
    let mut text = String::new();
    let read = File::from(read_end).read_to_string(&mut text);
    let status = finish(started)?;
    read.map_err(|e| Error::io("read the container's output", e))?;
    Ok((status, text))
}

fn wait_for(pid: Pid, token: Token) -> Result<i32> {
    // On a terminal, Ctrl-C reaches the command too, and it is the command's
    // to act on (a shell inside clears its line), as with `unshare --fork`.
    // SIGTERM, SIGHUP, or Ctrl-C without a terminal stop the container.
    let ctrl_c_is_for_the_command = std::io::stdin().is_terminal();
    loop {
        if sys::interrupted_by_ctrl_c() && ctrl_c_is_for_the_command {
            sys::forget_interrupt();
        }
        if sys::interrupted() {
            cleanup::undo(token);
            return Err(Error::Interrupted);
        }
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => {
                cleanup::release(token);
                return Ok(code);
            }
            Ok(WaitStatus::Signaled(_, signal, _)) => {
                cleanup::release(token);
                return Ok(128 + signal as i32);
            }
            Ok(_) => continue,
            Err(Errno::EINTR) if sys::interrupted() => {
                cleanup::undo(token);
                return Err(Error::Interrupted);
            }
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Error::sys("waitpid", e)),
        }
    }
}

/// Send SIGKILL to a process, ignoring one that is already gone.
pub fn kill_process(pid: Pid) {
    let _ = kill(pid, Signal::SIGKILL);
}
