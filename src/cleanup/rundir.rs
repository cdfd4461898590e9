//! learnns's private directory: where journals live and where runs take
//! turns. Another local user must not be able to predict a name learnns
//! writes in a directory they can write, nor plant a link there, so the
//! directory is owned by whoever runs learnns, mode 0700, opened without
//! following symbolic links, and checked by descriptor before it is used.
//!
//! Root's is `/run/learnns` (only root can write `/run`). An ordinary user's
//! is `$XDG_RUNTIME_DIR/learnns` when that is a private directory of theirs
//! (as systemd makes `/run/user/UID`), and otherwise under their state
//! directory (`~/.local/state/learnns/run`): never a shared `/tmp`.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nix::fcntl::{Flock, FlockArg, OFlag, open};
use nix::sys::stat::{Mode, fstat};

use crate::error::{Error, Result};

/// Root's directory.
pub const ROOT_DIR: &str = "/run/learnns";

/// The directory, opened.
#[derive(Debug)]
pub struct RunDir {
    pub path: PathBuf,
    pub fd: OwnedFd,
}

/// Where this user's directory is, whether or not it exists yet.
pub fn path() -> Result<PathBuf> {
    // Unit tests make cgroups in fixture trees: their records stay in the
    // build directory, not in the host's /run.
    if cfg!(test) {
        return Ok(Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("target/unit-run-{}", std::process::id())));
    }
    let uid = nix::unistd::geteuid();
    if uid.is_root() {
        return Ok(PathBuf::from(ROOT_DIR));
    }
    if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from)
        && runtime.is_absolute()
        && private_to(&runtime, uid.as_raw())
    {
        return Ok(runtime.join("learnns"));
    }
    let state = user_state_dir().ok_or_else(|| {
        Error::setup("there is no private place for learnns's journal: XDG_RUNTIME_DIR is not a private directory of yours and HOME is not set", "set HOME (or XDG_RUNTIME_DIR to a directory only you can write)")
    })?;
    Ok(state.join("run"))
}

/// learnns's state directory of an ordinary user, by the XDG base
/// directory rules (progress is kept there too). Decided here rather than
/// asked of `progress`, which itself calls on clean-up: no import circle.
fn user_state_dir() -> Option<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    let base = match var("XDG_STATE_HOME").map(PathBuf::from) {
        Some(xdg) if xdg.is_absolute() => xdg,
        _ => PathBuf::from(var("HOME")?).join(".local/state"),
    };
    Some(base.join("learnns"))
}

/// Is `dir` a real directory (not a link) owned by `uid` that nobody else
/// may write or enter?
fn private_to(dir: &Path, uid: u32) -> bool {
    std::fs::symlink_metadata(dir)
        .is_ok_and(|m| m.is_dir() && m.uid() == uid && m.mode() & 0o077 == 0)
}

impl RunDir {
    /// Open the directory if it exists. Refuses one that is not private.
    pub fn open_existing() -> Result<Option<RunDir>> {
        let path = path()?;
        match open_dir(&path) {
            Ok(fd) => Ok(Some(RunDir::checked(path, fd)?)),
            Err(nix::Error::ENOENT) => Ok(None),
            Err(e) => Err(not_private(&path, &e.to_string())),
        }
    }

    /// Open the directory, making it (mode 0700) first if need be.
    pub fn open_or_create() -> Result<RunDir> {
        let path = path()?;
        if !nix::unistd::geteuid().is_root()
            && let Some(parent) = path.parent()
        {
            // The user's own state directory: made with their identity.
            std::fs::create_dir_all(parent).map_err(|e| {
                Error::setup(format!("learnns keeps the journal of what it changes on the host in {} and cannot make it ({e})", path.display()), "set HOME (or XDG_STATE_HOME, or XDG_RUNTIME_DIR) to a directory of yours")
            })?;
        }
        match nix::unistd::mkdir(&path, Mode::S_IRWXU) {
            Ok(()) | Err(nix::Error::EEXIST) => {}
            Err(e) => return Err(Error::sys(format!("mkdir {}", path.display()), e)),
        }
        let fd = open_dir(&path).map_err(|e| not_private(&path, &e.to_string()))?;
        RunDir::checked(path, fd)
    }

    fn checked(path: PathBuf, fd: OwnedFd) -> Result<RunDir> {
        let stat =
            fstat(fd.as_fd()).map_err(|e| Error::sys(format!("stat {}", path.display()), e))?;
        let me = nix::unistd::geteuid().as_raw();
        if stat.st_uid != me {
            let owner = crate::inspect::user_name(stat.st_uid);
            return Err(not_private(&path, &format!("it belongs to {owner}")));
        }
        if stat.st_mode & 0o077 != 0 {
            return Err(not_private(
                &path,
                &format!(
                    "its mode is {:o}, so others may use it",
                    stat.st_mode & 0o7777
                ),
            ));
        }
        Ok(RunDir { path, fd })
    }
}

fn open_dir(path: &Path) -> nix::Result<OwnedFd> {
    open(
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

fn not_private(path: &Path, why: &str) -> Error {
    Error::setup(
        format!(
            "{} is not a private directory of yours ({why}), so learnns will not keep its journal there",
            path.display()
        ),
        format!(
            "remove it (`rm -r {}`); learnns makes it afresh",
            path.display()
        ),
    )
}

/// The directory while this process holds its lock; runs take turns at
/// recovering journals and at creating host objects, so that one run never
/// undoes what another is making, and two runs never pick one subnet.
struct Held {
    path: PathBuf,
    lock: Flock<OwnedFd>,
    depth: usize,
}

static HELD: Mutex<Option<Held>> = Mutex::new(None);

fn held() -> std::sync::MutexGuard<'static, Option<Held>> {
    HELD.lock().unwrap_or_else(|p| p.into_inner())
}

/// Run `work` holding the lock on the directory (made if need be), with the
/// directory's path and descriptor. A process that holds it already just
/// runs `work`: learnns is one thread, and a second `flock` on another
/// descriptor would wait for itself.
pub fn locked<T>(work: impl FnOnce(&Path, &OwnedFd) -> Result<T>) -> Result<T> {
    let entered = match held().as_mut() {
        Some(h) => {
            h.depth += 1;
            Ok(())
        }
        None => Err(()),
    };
    if entered.is_err() {
        let (path, lock) = acquire()?;
        *held() = Some(Held {
            path,
            lock,
            depth: 1,
        });
    }
    // `work` may take the lock again: it gets copies, not the guard.
    let (path, fd) = {
        let guard = held();
        let h = guard.as_ref().expect("held above");
        (h.path.clone(), h.lock.try_clone())
    };
    let result = fd
        .map_err(|e| Error::io("dup", e))
        .and_then(|fd| work(&path, &fd));
    let mut guard = held();
    if let Some(h) = guard.as_mut() {
        h.depth -= 1;
        if h.depth == 0 {
            // Still holding the lock: a directory this run made and left
            // empty goes (a run waiting for it notices and starts again).
            remove_if_empty(&h.path);
            *guard = None; // unlocks
        }
    }
    result
}

/// Wait for the lock. The directory may be removed by the run that held it
/// (when its last journal went); then the lock taken is on a directory
/// nobody else will find, so start again.
fn acquire() -> Result<(PathBuf, Flock<OwnedFd>)> {
    loop {
        let dir = RunDir::open_or_create()?;
        let mut fd = dir.fd;
        let lock = loop {
            match Flock::lock(fd, FlockArg::LockExclusive) {
                Ok(lock) => break lock,
                Err((_, nix::Error::EINTR)) if crate::sys::interrupted() => {
                    return Err(Error::Interrupted);
                }
                Err((back, nix::Error::EINTR)) => fd = back,
                Err((_, e)) => return Err(Error::sys(format!("lock {}", dir.path.display()), e)),
            }
        };
        if still_there(&dir.path, &lock) {
            return Ok((dir.path, lock));
        }
    }
}

/// Is `fd` still the directory at `path` (not removed, not replaced)?
fn still_there(path: &Path, fd: &OwnedFd) -> bool {
    let Ok(now) = std::fs::symlink_metadata(path) else {
        return false;
    };
    fstat(fd.as_fd()).is_ok_and(|s| s.st_ino == now.ino() && s.st_dev == now.dev())
}

/// Remove the directory if it is empty; call it holding the lock.
pub fn remove_if_empty(path: &Path) {
    let _ = std::fs::remove_dir(path);
}
