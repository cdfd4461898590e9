//! The one place that talks to the kernel about namespaces, mounts and
//! processes. Every `unsafe` block in learnns lives here, each with its reason.
//!
//! Set-up code inside a new container calls the kernel through the [`Sys`]
//! trait, so unit tests can run it against [`Recorder`] without privilege and
//! check exactly which calls a lesson makes, in which order.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::mount::{MsFlags, mount};
use nix::sched::CloneFlags;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use nix::unistd::Pid;

use crate::error::{Error, Result};
use crate::ns::{Kind, KindSet};

/// What the set-up of a container asks of the kernel, from inside it.
pub trait Sys {
    /// `unshare(2)` the given kinds for the calling process.
    fn unshare(&mut self, kinds: KindSet) -> Result<()>;
    /// `sethostname(2)`: only the UTS namespace of the caller sees it.
    fn sethostname(&mut self, name: &str) -> Result<()>;
    /// `mount --make-rprivate /`: stop mount events flowing back to the host.
    fn make_mounts_private(&mut self) -> Result<()>;
    /// `mount -t proc proc /proc`: a `/proc` that shows the caller's PID namespace.
    fn mount_proc(&mut self) -> Result<()>;
    /// Move the caller into the time namespace it created for its children.
    fn enter_time_for_children(&mut self) -> Result<()>;
}

// ANCHOR: kernel
/// The real kernel.
pub struct Kernel;

impl Sys for Kernel {
    fn unshare(&mut self, kinds: KindSet) -> Result<()> {
        let flags = CloneFlags::from_bits_retain(kinds.clone_flags());
        nix::sched::unshare(flags).map_err(|e| Error::sys(format!("unshare({kinds})"), e))
    }

    fn sethostname(&mut self, name: &str) -> Result<()> {
        nix::unistd::sethostname(name).map_err(|e| Error::sys("sethostname", e))
    }

    fn make_mounts_private(&mut self) -> Result<()> {
        let flags = MsFlags::MS_REC | MsFlags::MS_PRIVATE;
        mount(None::<&str>, "/", None::<&str>, flags, None::<&str>)
            .map_err(|e| Error::sys("mount --make-rprivate /", e))
    }

    fn mount_proc(&mut self) -> Result<()> {
        let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        mount(Some("proc"), "/proc", Some("proc"), flags, None::<&str>)
            .map_err(|e| Error::sys("mount -t proc proc /proc", e))
    }

    fn enter_time_for_children(&mut self) -> Result<()> {
        let fd = std::fs::File::open("/proc/self/ns/time_for_children")
            .map_err(|e| Error::io("open /proc/self/ns/time_for_children", e))?;
        let flags = CloneFlags::from_bits_retain(libc::CLONE_NEWTIME);
        nix::sched::setns(fd, flags).map_err(|e| Error::sys("setns(time)", e))
    }
}
// ANCHOR_END: kernel

/// One call recorded by [`Recorder`].
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Unshare(KindSet),
    Sethostname(String),
    MakeMountsPrivate,
    MountProc,
    EnterTimeForChildren,
}

/// A fake kernel that only writes down what it was asked.
#[cfg(test)]
#[derive(Debug, Default)]
pub struct Recorder {
    pub calls: Vec<Call>,
}

#[cfg(test)]
impl Sys for Recorder {
    fn unshare(&mut self, kinds: KindSet) -> Result<()> {
        self.calls.push(Call::Unshare(kinds));
        Ok(())
    }
    fn sethostname(&mut self, name: &str) -> Result<()> {
        self.calls.push(Call::Sethostname(name.to_string()));
        Ok(())
    }
    fn make_mounts_private(&mut self) -> Result<()> {
        self.calls.push(Call::MakeMountsPrivate);
        Ok(())
    }
    fn mount_proc(&mut self) -> Result<()> {
        self.calls.push(Call::MountProc);
        Ok(())
    }
    fn enter_time_for_children(&mut self) -> Result<()> {
        self.calls.push(Call::EnterTimeForChildren);
        Ok(())
    }
}

// ANCHOR: clone
/// Start `child` as a new process inside fresh namespaces of `kinds`, like
/// `clone(2)` with `CLONE_NEW*` flags. Time namespaces cannot be created by
/// `clone(2)`; the child makes those itself with `unshare`.
pub fn clone_into(kinds: KindSet, child: impl FnMut() -> isize) -> Result<Pid> {
    let flags = CloneFlags::from_bits_retain(kinds.clone_flags() & !libc::CLONE_NEWTIME);
    let mut stack = vec![0u8; 1 << 20];
    // SAFETY: learnns is single-threaded, so the child's copy of the address
    // space holds no lock another thread owned. Without CLONE_VM the child
    // gets its own copy of `stack`, which is large enough for the set-up code
    // it runs before it execs or settles into its wait loop.
    let result =
        unsafe { nix::sched::clone(Box::new(child), &mut stack, flags, Some(libc::SIGCHLD)) };
    result.map_err(|e| {
        if e == nix::Error::EPERM {
            Error::NoPrivilege {
                what: format!("namespaces ({kinds})"),
                source: e,
            }
        } else {
            Error::sys(format!("clone({kinds})"), e)
        }
    })
}
// ANCHOR_END: clone

// ANCHOR: enter
/// Make `command` start inside the namespaces behind `targets`, like
/// `nsenter`. The files are opened by the caller; the joining happens in the
/// child between fork and exec. Joining a PID namespace only affects the
/// children of the caller, so after `setns` the child forks once more: the
/// grandchild runs the command inside, the child waits and passes its status on.
pub fn enter_on_spawn(command: &mut Command, targets: Vec<(Kind, OwnedFd)>) {
    let forks_for_pid = targets.iter().any(|(kind, _)| *kind == Kind::Pid);
    let hook = move || -> io::Result<()> {
        for (kind, fd) in &targets {
            // SAFETY: setns only reads the descriptor, which `targets` keeps open.
            if unsafe { libc::setns(fd.as_raw_fd(), kind.clone_flag()) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        if forks_for_pid {
            // SAFETY: we run between fork and exec in a single-threaded child,
            // where fork is async-signal-safe.
            match unsafe { libc::fork() } {
                -1 => return Err(io::Error::last_os_error()),
                0 => return Ok(()),
                grandchild => {
                    // This process only waits now. It must not keep std's
                    // exec-report pipe open, or spawn() would block until the
                    // command ends.
                    // SAFETY: close_range only closes descriptors; nothing in
                    // this process uses any above stderr again.
                    unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
                    exit_now(wait_raw(grandchild))
                }
            }
        }
        Ok(())
    };
    // SAFETY: the hook only makes async-signal-safe system calls (setns,
    // fork, close_range, waitpid, _exit) and allocates nothing.
    unsafe {
        command.pre_exec(hook);
    }
}
// ANCHOR_END: enter

/// Wait for a child with bare system calls (safe between fork and exec) and
/// turn its end into an exit code the way a shell does.
fn wait_raw(pid: libc::pid_t) -> i32 {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid place for waitpid to write to.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        if r == -1 && io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return 1;
        }
    }
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    }
}

/// End the current process at once, without running destructors or flushing
/// buffers it shares with its parent.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit has no preconditions; skipping Rust destructors is what a
    // forked child must do so it does not run its parent's clean-up twice.
    unsafe { libc::_exit(code) }
}

/// Replace the current process with `argv`, searching PATH. Returns only on
/// failure.
pub fn exec(argv: &[String]) -> nix::Error {
    let cargs: Vec<CString> = match argv
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<std::result::Result<_, _>>()
    {
        Ok(v) => v,
        Err(_) => return nix::Error::EINVAL,
    };
    match cargs.first() {
        Some(program) => match nix::unistd::execvp(program, &cargs) {
            Err(e) => e,
            Ok(never) => match never {},
        },
        None => nix::Error::EINVAL,
    }
}

// ANCHOR: ipc
/// Create a System V message queue in the caller's IPC namespace, as
/// `ipcmk -Q` does. Returns its id.
pub fn msg_queue_create() -> Result<i32> {
    // SAFETY: msgget takes plain integers and touches no memory of ours.
    let id = unsafe { libc::msgget(libc::IPC_PRIVATE, libc::IPC_CREAT | 0o600) };
    if id < 0 {
        return Err(Error::sys("msgget", nix::Error::last()));
    }
    Ok(id)
}

/// Remove a message queue, as `ipcrm -q ID` does.
pub fn msg_queue_remove(id: i32) -> Result<()> {
    // SAFETY: IPC_RMID ignores the buffer argument, so null is allowed.
    let r = unsafe { libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
    if r < 0 {
        return Err(Error::sys(format!("ipcrm -q {id}"), nix::Error::last()));
    }
    Ok(())
}
// ANCHOR_END: ipc

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

/// Has a terminating signal arrived since the last [`forget_interrupt`]?
pub fn interrupted() -> bool {
    SIGNALLED.load(Ordering::SeqCst) != 0
}

/// Forget a Ctrl-C that was meant for an interactive shell learnns ran.
pub fn forget_interrupt() {
    SIGNALLED.store(0, Ordering::SeqCst);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorder_keeps_calls_in_order() {
        let mut fake = Recorder::default();
        fake.sethostname("box").unwrap();
        fake.make_mounts_private().unwrap();
        assert_eq!(
            fake.calls,
            vec![Call::Sethostname("box".into()), Call::MakeMountsPrivate]
        );
    }
}
