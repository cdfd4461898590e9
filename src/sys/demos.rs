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
