//! The signals that stop learnns (Ctrl-C, SIGTERM, SIGHUP, a closed
//! output), remembered so that every wait can end and clean up.

use std::io;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

use crate::error::{Error, Result};

static SIGNALLED: AtomicI32 = AtomicI32::new(0);

extern "C" fn remember_signal(signal: libc::c_int) {
    SIGNALLED.store(signal, Ordering::SeqCst);
}

/// Catch SIGINT, SIGTERM and SIGHUP so that learnns can undo its host-side
/// changes before it exits. No SA_RESTART: a blocked read or wait returns
/// EINTR and the caller sees [`interrupted`].
pub fn catch_interrupts() -> Result<()> {
    let action = SigAction::new(
        SigHandler::Handler(remember_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores into an atomic, which is
        // async-signal-safe; exec resets it to the default in children.
        unsafe { sigaction(signal, &action) }.map_err(|e| Error::sys("sigaction", e))?;
    }
    Ok(())
}

/// Whoever read learnns's output is gone: stop as if told to.
pub fn stdout_closed() {
    SIGNALLED.store(libc::SIGPIPE, Ordering::SeqCst);
}

/// Did learnns stop because its output was closed?
pub fn output_closed() -> bool {
    SIGNALLED.load(Ordering::SeqCst) == libc::SIGPIPE
}

/// Has a terminating signal arrived since the last [`forget_interrupt`]?
pub fn interrupted() -> bool {
    SIGNALLED.load(Ordering::SeqCst) != 0
}

/// Was the last terminating signal a Ctrl-C (SIGINT)?
pub fn interrupted_by_ctrl_c() -> bool {
    SIGNALLED.load(Ordering::SeqCst) == libc::SIGINT
}

/// Forget a Ctrl-C that was meant for an interactive shell learnns ran.
pub fn forget_interrupt() {
    SIGNALLED.store(0, Ordering::SeqCst);
}

/// Take the terminal's foreground back for learnns's process group after an
/// interactive shell inside a container had it. A shell hands it back to
/// the group it came from when it exits, but from inside a PID namespace it
/// cannot name learnns's group, and learnns would be left stopped in the
/// background. SIGTTOU is ignored meanwhile: a background process that
/// sets the foreground is otherwise stopped for it.
pub fn reclaim_terminal() {
    use std::io::IsTerminal;
    let stdin = io::stdin();
    if !stdin.is_terminal() {
        return;
    }
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    // SAFETY: ignoring a signal installs no handler code.
    let before = unsafe { sigaction(Signal::SIGTTOU, &ignore) };
    let _ = nix::unistd::tcsetpgrp(&stdin, nix::unistd::getpgrp());
    if let Ok(before) = before {
        // SAFETY: puts back the action that was there a moment ago.
        let _ = unsafe { sigaction(Signal::SIGTTOU, &before) };
    }
}
