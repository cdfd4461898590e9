//! What the lessons do to show a namespace at work: a fork bomb on a
//! leash, the chroot escape, a System V message queue.

use super::process::exit_now;
use crate::error::{Error, Result};

// ANCHOR: bomb
/// A fork bomb on a leash: try to start `count` processes that each sleep
/// for `life` and exit. A real fork bomb forks forever, each child forking
/// again; this one is bounded in number and in time. Returns how many
/// forks succeeded; the others were refused (EAGAIN when `pids.max` is hit).
pub fn fork_sleepers(count: u32, life: std::time::Duration) -> u32 {
    let mut started = 0;
    for _ in 0..count {
        // SAFETY: called in a single-threaded child of learnns; the new
        // process only sleeps and leaves with _exit.
        match unsafe { nix::unistd::fork() } {
            Ok(nix::unistd::ForkResult::Child) => {
                std::thread::sleep(life);
                exit_now(0)
            }
            Ok(nix::unistd::ForkResult::Parent { .. }) => started += 1,
            Err(_) => {}
        }
    }
    started
}
// ANCHOR_END: bomb

// ANCHOR: escape
/// The classic way out of a chroot, tried from inside a container: chroot
/// into a subdirectory while keeping the current directory outside it, walk
/// up with `..` past the old root, and chroot to where the walk ended. After
/// a chroot this reaches the real root of the mount namespace; after
/// `pivot_root` with the old root detached, there is nothing above `/`.
/// Returns the names in the `/` it reached.
pub fn chroot_escape() -> Result<Vec<String>> {
    fn fail(what: &'static str) -> impl Fn(nix::Error) -> Error {
        move |e| Error::sys(what, e)
    }
    nix::unistd::chdir("/").map_err(fail("cd /"))?;
    nix::unistd::chroot("/tmp").map_err(fail("chroot /tmp"))?;
    // The current directory is now outside the root, so ".." is not stopped.
    for _ in 0..64 {
        nix::unistd::chdir("..").map_err(fail("cd .."))?;
    }
    nix::unistd::chroot(".").map_err(fail("chroot ."))?;
    let mut names: Vec<String> = std::fs::read_dir("/")
        .map_err(|e| Error::io("ls /", e))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}
// ANCHOR_END: escape

// ANCHOR: ipc
/// Create a System V message queue with `key` in the caller's IPC
/// namespace. `ipcmk -Q` makes the same call with a random key and
/// `IPC_CREAT` alone; with `IPC_EXCL` too, EEXIST means the key is taken
/// and nobody else's queue is ever reused.
pub fn msg_queue_create(key: i32) -> nix::Result<i32> {
    // SAFETY: msgget takes plain integers and touches no memory of ours.
    let id = unsafe { libc::msgget(key, libc::IPC_CREAT | libc::IPC_EXCL | 0o600) };
    if id < 0 {
        return Err(nix::Error::last());
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

// ANCHOR: clone_raw
/// Start a child with the raw clone(2) system call and `flags` (some
/// CLONE_NEW* flags), as any program can without asking unshare(1) or
/// unshare(2); the child exits at once, and its namespaces with it. Ok when
/// the kernel made them, the errno otherwise.
pub fn clone_raw(flags: libc::c_int) -> nix::Result<()> {
    // The flags are the first argument on every architecture learnns
    // builds filters for; a null stack means the child runs on a copy of
    // ours, as after fork.
    let flags = (flags | libc::SIGCHLD) as libc::c_ulong;
    // SAFETY: without CLONE_VM the child gets a copy of the address space
    // and only calls _exit, which is safe after a fork even in a
    // multi-threaded process; the pointer arguments are null, so the kernel
    // writes no thread IDs anywhere.
    let pid = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
    match pid {
        -1 => Err(nix::Error::last()),
        0 => exit_now(0),
        pid => {
            let pid = nix::unistd::Pid::from_raw(pid as libc::pid_t);
            loop {
                match nix::sys::wait::waitpid(pid, None) {
                    Err(nix::Error::EINTR) => continue,
                    _ => return Ok(()),
                }
            }
        }
    }
}
// ANCHOR_END: clone_raw

#[cfg(test)]
mod tests {
    use super::*;

    /// Each check's failure is its own exit code, for the parent to name.
    fn under_the_filter(programs: &[seccompiler::BpfProgram]) -> i32 {
        if nix::sys::prctl::set_no_new_privs().is_err() {
            return 10;
        }
        for program in programs {
            if crate::sys::install_seccomp(program).is_err() {
                return 11;
            }
        }
        if clone_raw(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) != Err(nix::Error::EPERM) {
            return 1;
        }
        if clone_raw(libc::CLONE_NEWUSER) != Err(nix::Error::EPERM) {
            return 2;
        }
        // clone3 with a version-2 argument structure (88 bytes) asking for a
        // user namespace; should it ever run, the child leaves at once.
        let mut args = [0u64; 11];
        args[0] = libc::CLONE_NEWUSER as u64;
        args[4] = libc::SIGCHLD as u64;
        // SAFETY: `args` is a valid clone_args of the size passed, and the
        // child of a successful call only calls _exit.
        let r = unsafe { libc::syscall(libc::SYS_clone3, args.as_mut_ptr(), 88usize) };
        if r == 0 {
            exit_now(0);
        }
        if r != -1 || nix::Error::last() != nix::Error::ENOSYS {
            return 3;
        }
        for flag in [libc::CLONE_NEWNET, libc::CLONE_NEWUSER, libc::CLONE_NEWTIME] {
            if nix::sched::unshare(nix::sched::CloneFlags::from_bits_retain(flag))
                != Err(nix::Error::EPERM)
            {
                return 4;
            }
        }
        let Ok(net) = std::fs::File::open("/proc/self/ns/net") else {
            return 12;
        };
        if nix::sched::setns(net, nix::sched::CloneFlags::empty()) != Err(nix::Error::EPERM) {
            return 5;
        }
        // What every program does: fork, by raw clone and by glibc, and a
        // thread, which glibc starts with clone3 and, on ENOSYS, with clone.
        if clone_raw(0).is_err() {
            return 6;
        }
        // SAFETY: the child only calls _exit.
        match unsafe { libc::fork() } {
            -1 => return 7,
            0 => exit_now(0),
            pid => {
                let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
            }
        }
        let thread = std::thread::Builder::new().spawn(|| 42);
        if !thread.is_ok_and(|t| t.join().is_ok_and(|v| v == 42)) {
            return 8;
        }
        0
    }

    #[test]
    fn the_seccomp_filter_refuses_namespaces_but_not_forks_or_threads() {
        let programs = crate::security::filters().unwrap();
        // SAFETY: the test harness has other threads; the child installs the
        // filter on itself only, uses system calls and glibc's fork and
        // thread start (which glibc makes safe in a fork child), and leaves
        // with _exit, never returning into the harness.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork");
        if pid == 0 {
            exit_now(under_the_filter(&programs));
        }
        let status = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None).unwrap();
        let what = [
            "passed",
            "clone(CLONE_NEWUSER|CLONE_NEWNET) was not refused with EPERM",
            "clone(CLONE_NEWUSER) was not refused with EPERM",
            "clone3 did not fail with ENOSYS",
            "unshare with a namespace flag was not refused with EPERM",
            "setns was not refused with EPERM",
            "a plain clone (fork) failed",
            "fork failed",
            "a thread did not start",
        ];
        match status {
            nix::sys::wait::WaitStatus::Exited(_, 0) => {}
            nix::sys::wait::WaitStatus::Exited(_, code) => {
                panic!(
                    "{}",
                    what.get(code as usize)
                        .copied()
                        .unwrap_or("the filter could not be installed")
                )
            }
            other => panic!("the child ended with {other:?}"),
        }
    }
}
