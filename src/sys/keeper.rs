//! Entering a container like `nsenter`, with a keeper process between
//! learnns and the command that sees to it that nothing started inside
//! outlives learnns; and the same sweep for what `learnns run` leaves.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::fcntl::OFlag;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::stat::Mode;

use super::process::{become_root_inside, exit_code, exit_now, join_cgroups};
use crate::ns::Kind;

// ANCHOR: enter
/// Make `command` start inside the namespaces behind `targets`, like
/// `nsenter`, after moving into the cgroups whose `cgroup.procs` files are
/// `cgroups`. The files are opened by the caller; the joining happens in the
/// child between fork and exec. Then the child forks once more: the
/// grandchild runs the command (inside the PID namespace too, which only
/// children of a joining process enter), and the child stays as its keeper,
/// which sees to it that nothing started this way outlives learnns.
pub fn enter_on_spawn(command: &mut Command, cgroups: Vec<OwnedFd>, targets: Vec<(Kind, OwnedFd)>) {
    let learnns = std::process::id() as libc::pid_t;
    let hook = move || -> io::Result<()> {
        // The keeper's own list of children, opened while /proc is still
        // the host's: after entering a mount namespace it may not be.
        let children = open_children_list();
        join_cgroups(&cgroups)?;
        for (kind, fd) in &targets {
            // SAFETY: setns only reads the descriptor, which `targets` keeps open.
            if unsafe { libc::setns(fd.as_raw_fd(), kind.clone_flag()) } != 0 {
                return Err(io::Error::last_os_error());
            }
            if *kind == Kind::User {
                become_root_inside()?;
            }
        }
        match keep(learnns, children) {
            Some(()) => Ok(()),
            None => Err(io::Error::other("learnns is gone")),
        }
    };
    // SAFETY: learnns is single-threaded, so the forked child holds no lock
    // another thread owned and may run ordinary code; it only makes system
    // calls here and allocates nothing but what `keep` documents.
    unsafe {
        command.pre_exec(hook);
    }
}
// ANCHOR_END: enter

/// `/proc/thread-self/children` of the calling process, opened, when the
/// kernel offers it.
fn open_children_list() -> Option<OwnedFd> {
    nix::fcntl::open(
        "/proc/thread-self/children",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()
}

/// Between fork and exec: fork the process that will exec (this returns
/// Some(()) in it) and turn the calling process into its keeper, which never
/// returns. The keeper adopts whatever the command leaves behind (it is a
/// child subreaper) and, when the command ends or learnns dies, kills every
/// process left under it, then exits with the command's status. None if
/// learnns is already gone.
fn keep(learnns: libc::pid_t, children: Option<OwnedFd>) -> Option<()> {
    let mut waited = SigSet::empty();
    waited.add(Signal::SIGCHLD);
    waited.add(Signal::SIGHUP);
    // Named for what it is, in `ps` (and for the tests).
    let _ = nix::sys::prctl::set_name(c"learnns-keeper");
    // SAFETY: prctl with integer arguments.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        // learnns's death arrives as SIGHUP, taken below like SIGCHLD.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGHUP, 0, 0, 0);
    }
    let before = waited
        .thread_swap_mask(nix::sys::signal::SigmaskHow::SIG_BLOCK)
        .ok()?;
    // SAFETY: getppid has no preconditions.
    if unsafe { libc::getppid() } != learnns {
        exit_now(1); // learnns died before the death signal was set.
    }
    // SAFETY: single-threaded child between fork and exec; see enter_on_spawn.
    let command = match unsafe { libc::fork() } {
        -1 => return None,
        0 => {
            let _ = before.thread_set_mask();
            // Also the command dies with learnns, at once.
            // SAFETY: prctl with integer arguments.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
            return Some(());
        }
        pid => pid,
    };
    // The keeper only waits now. It must not keep std's exec-report pipe
    // (or anything else) open, or spawn() would block until the command ends.
    let keep_fd = children.as_ref().map_or(-1, |fd| fd.as_raw_fd());
    close_all_but(keep_fd);
    let mut status = 1;
    // Until the command ends (SIGCHLD) or learnns is gone (SIGHUP).
    while let Ok(Signal::SIGCHLD) = waited.wait() {
        if let Some(code) = reap_until(command) {
            status = code;
            break;
        }
    }
    kill_everything_left(command, children.as_ref());
    exit_now(status)
}

/// Reap exited children; the command's exit status once it has ended.
fn reap_until(command: libc::pid_t) -> Option<i32> {
    let mut result = None;
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid place for waitpid to write to.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return result;
        }
        if pid == command {
            result = Some(exit_code(status));
        }
    }
}

/// Kill the command (if it still runs) and every process that has come to
/// the keeper, round after round (orphans of the killed arrive as new
/// children), until none is left.
fn kill_everything_left(command: libc::pid_t, children: Option<&OwnedFd>) {
    // SAFETY: kill with a PID of our own child.
    unsafe { libc::kill(command, libc::SIGKILL) };
    let Some(children) = children else {
        // Without the list (a kernel without CONFIG_PROC_CHILDREN) only the
        // command itself can be named; waiting for anything else could
        // wait forever.
        let mut status = 0;
        // SAFETY: `status` is a valid place for waitpid to write to.
        unsafe { libc::waitpid(command, &mut status, 0) };
        return;
    };
    kill_children(children);
}

/// Make learnns the reaper of its orphaned descendants, for [`kill_adopted`].
pub fn become_subreaper() {
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
}

/// Kill every child learnns has left (all of them orphans it adopted, once
/// its own children are reaped), and whatever comes to it from them.
pub fn kill_adopted() {
    if let Some(children) = open_children_list() {
        kill_children(&children);
    }
}

/// Kill every process in the children list open at `children`, round after
/// round, reaping them, until none is left.
fn kill_children(children: &OwnedFd) {
    loop {
        let mut buf = [0u8; 4096];
        // SAFETY: reads into a buffer of the length given.
        let listed =
            unsafe { libc::pread(children.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        // Each child is "PID " and the kernel hands out whole entries; still,
        // only what a space ends is a PID.
        let read = &buf[..listed.max(0) as usize];
        let whole = &read[..read.iter().rposition(|b| *b == b' ').unwrap_or(0)];
        let mut any = false;
        for word in whole.split(|b| *b == b' ') {
            if let Some(pid) = std::str::from_utf8(word)
                .ok()
                .and_then(|w| w.trim().parse::<i32>().ok())
            {
                any = true;
                // SAFETY: a child of ours (not yet reaped, so its PID is
                // still its own), listed by the kernel just now.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        if !any {
            return;
        }
        // Reap one (waiting for it), then whoever else has ended; their
        // orphans come to us for the next round.
        let mut status = 0;
        // SAFETY: `status` is a valid place for waitpid to write to.
        if unsafe { libc::waitpid(-1, &mut status, 0) } < 0 {
            return; // no children left (ECHILD)
        }
        // SAFETY: as above.
        while unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) } > 0 {}
    }
}

/// Close every descriptor from 3 on except `keep`.
fn close_all_but(keep: RawFd) {
    // SAFETY: close_range only closes descriptors; the keeper uses none of
    // them again but `keep`.
    unsafe {
        if keep >= 3 {
            libc::syscall(libc::SYS_close_range, 3u32, (keep - 1) as u32, 0u32);
            libc::syscall(libc::SYS_close_range, (keep + 1) as u32, u32::MAX, 0u32);
        } else {
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
        }
    }
}
