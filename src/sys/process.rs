//! Processes: starting one in new namespaces, forking one into a
//! container's, exec, exit, wait, and what a process may call (seccomp).

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::mount_api::owned;
use super::signals::interrupted;
use crate::error::{Error, Result};
use crate::ns::{Kind, KindSet};

// ANCHOR: clone
/// Start `child` as a new process inside fresh namespaces of `kinds`, like
/// `clone(2)` with `CLONE_NEW*` flags. Two kinds the child makes itself with
/// `unshare`: time (`clone(2)` cannot create one) and cgroup (its root must
/// be the container's own cgroup, which the parent moves the child into
/// after the clone).
pub fn clone_into(kinds: KindSet, child: impl FnMut() -> isize) -> Result<Pid> {
    let later = libc::CLONE_NEWTIME | libc::CLONE_NEWCGROUP;
    let flags = CloneFlags::from_bits_retain(kinds.clone_flags() & !later);
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

/// Fork a child that joins the cgroups and the namespaces behind `targets`
/// and runs `body`, exiting with what it returns. For work learnns does
/// inside with its own code (a socket, a probe) rather than by running a
/// program.
pub fn fork_into(
    cgroups: Vec<OwnedFd>,
    targets: Vec<(Kind, OwnedFd)>,
    body: impl FnOnce() -> i32,
) -> Result<Pid> {
    let learnns = std::process::id() as libc::pid_t;
    // SAFETY: learnns is single-threaded, so the child holds no lock another
    // thread owned; it leaves with exit_now, never returning into our caller.
    match unsafe { nix::unistd::fork() }.map_err(|e| Error::sys("fork", e))? {
        nix::unistd::ForkResult::Parent { child } => Ok(child),
        nix::unistd::ForkResult::Child => {
            // Dies with learnns, whatever it is doing inside.
            if nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).is_err()
                || nix::unistd::getppid().as_raw() != learnns
            {
                exit_now(125);
            }
            if join_cgroups(&cgroups).is_err() {
                exit_now(125);
            }
            for (kind, fd) in &targets {
                let flags = CloneFlags::from_bits_retain(kind.clone_flag());
                if nix::sched::setns(fd, flags).is_err() {
                    exit_now(125);
                }
                if *kind == Kind::User && become_root_inside().is_err() {
                    exit_now(125);
                }
            }
            exit_now(body())
        }
    }
}

/// Move the calling process into the cgroups whose `cgroup.procs` files
/// are open in `files`: writing 0 means "the writer". Done before entering
/// any namespace, while the host's credentials still apply.
pub(super) fn join_cgroups(files: &[OwnedFd]) -> io::Result<()> {
    for fd in files {
        // SAFETY: writes one byte from a static buffer to a descriptor the
        // caller keeps open.
        if unsafe { libc::write(fd.as_raw_fd(), b"0".as_ptr().cast(), 1) } != 1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Wait for a child learnns forked, and say whether it exited with 0. A
/// Ctrl-C (or SIGTERM, SIGHUP) meanwhile kills and reaps the child, and
/// reports the interruption.
pub fn wait_child(pid: Pid) -> Result<bool> {
    use nix::sys::wait::{WaitStatus, waitpid};
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code == 0),
            Ok(WaitStatus::Signaled(..)) => return Ok(false),
            Ok(_) => {}
            Err(nix::Error::EINTR) if interrupted() => {
                let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
                let _ = waitpid(pid, None);
                return Err(Error::Interrupted);
            }
            Err(nix::Error::EINTR) => {}
            Err(e) => return Err(Error::sys("waitpid", e)),
        }
    }
}

/// Wait for every child of the calling process to end.
pub fn reap_children() {
    while nix::sys::wait::wait().is_ok() {}
}

/// SIGKILL process `pid` if, and only if, it is in a cgroup named `name`
/// (a cgroup learnns made). The process is pinned with a pidfd first, its
/// cgroup read, and the signal sent through the pidfd once it is known to
/// have been alive all along: a recycled PID is never hit.
pub fn kill_if_in_cgroup(pid: i32, name: &str) {
    // SAFETY: pidfd_open takes a PID and flags; it returns a new descriptor
    // or -1.
    let Ok(pidfd) = owned(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) }) else {
        return;
    };
    let inside = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .is_ok_and(|text| text.lines().any(|l| l.ends_with(&format!("/{name}"))));
    let signal = |sig: libc::c_int| {
        // SAFETY: the descriptor is open; a null siginfo is allowed.
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                pidfd.as_raw_fd(),
                sig,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        }
    };
    // Still alive now, so /proc/PID above was this very process.
    if inside && signal(0) == 0 {
        signal(libc::SIGKILL);
    }
}

/// After joining a user namespace, become its root, as `nsenter --user`
/// does: our old IDs may not be mapped there at all.
pub(super) fn become_root_inside() -> io::Result<()> {
    // SAFETY: plain system calls on integers; a null list with size 0 is
    // valid for setgroups. It fails where setgroups is denied (rootless),
    // which is fine: there are no groups to drop then.
    unsafe {
        libc::setgroups(0, std::ptr::null());
        if libc::setresgid(0, 0, 0) != 0 || libc::setresuid(0, 0, 0) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Turn a wait status into an exit code the way a shell does.
pub(super) fn exit_code(status: libc::c_int) -> i32 {
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

/// Replace the current process with `argv` and exactly the environment
/// `env`, searching the PATH of `env` (not learnns's own) as a shell would.
/// Returns only on failure.
pub fn exec(argv: &[String], env: &[(String, String)]) -> nix::Error {
    let cstrings = |words: Vec<String>| -> Option<Vec<CString>> {
        words.into_iter().map(|w| CString::new(w).ok()).collect()
    };
    let (Some(args), Some(vars)) = (
        cstrings(argv.to_vec()),
        cstrings(env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
    ) else {
        return nix::Error::EINVAL;
    };
    let Some(program) = argv.first() else {
        return nix::Error::EINVAL;
    };
    let candidates: Vec<String> = if program.contains('/') {
        vec![program.clone()]
    } else {
        let path = env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map_or("/usr/bin:/bin", |(_, v)| v.as_str());
        path.split(':')
            .filter(|dir| !dir.is_empty())
            .map(|dir| format!("{dir}/{program}"))
            .collect()
    };
    let mut error = nix::Error::ENOENT;
    for candidate in candidates {
        let Ok(candidate) = CString::new(candidate) else {
            continue;
        };
        match nix::unistd::execve(&candidate, &args, &vars) {
            Err(nix::Error::ENOENT) | Err(nix::Error::ENOTDIR) => {}
            // Keep looking, but say "permission denied" if nothing else runs.
            Err(nix::Error::EACCES) => error = nix::Error::EACCES,
            Err(e) => return e,
            Ok(never) => match never {},
        }
    }
    error
}

/// Install a seccomp filter on the calling process (and so on everything it
/// starts from now on). Unlike most helpers this does not also set
/// no_new_privs: that is a layer of its own, which the lesson shows
/// separately. The kernel then requires CAP_SYS_ADMIN.
pub fn install_seccomp(program: &[seccompiler::sock_filter]) -> Result<()> {
    let len = u16::try_from(program.len())
        .map_err(|_| Error::Setup("the seccomp filter is too long".into()))?;
    let fprog = libc::sock_fprog {
        len,
        // The kernel only reads the program.
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: seccompiler's sock_filter is #[repr(C)] with the same fields
    // as the kernel's (and libc's) struct sock_filter; `fprog` points at
    // `program`, which outlives the call, and the kernel copies it in.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &fprog as *const libc::sock_fprog,
        )
    };
    if rc != 0 {
        return Err(Error::io(
            "seccomp(SECCOMP_SET_MODE_FILTER)",
            io::Error::last_os_error(),
        ));
    }
    Ok(())
}
