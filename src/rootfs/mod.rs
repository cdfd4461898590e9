//! The container's root file system. Nothing is downloaded: the root is a
//! tmpfs holding the committed skeleton (`rootfs/`, embedded at build time),
//! with the host's program directories bind-mounted read-only, so `ps`, `ip`
//! and `hostname` inside are the very binaries used outside. `--rootfs DIR`
//! takes a tree of the user's (a busybox or Alpine root) instead.

mod assemble;
mod trust;

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use crate::error::{Error, Problem, Result};
use crate::ns::{Kind, KindSet};

pub use assemble::{assemble, motd};
pub use trust::{acl_lets_others_write, check_trusted};

/// Which tree becomes the container's `/`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Root {
    /// The host's own tree: a mount namespace alone copies the mount table
    /// but changes no file.
    #[default]
    Host,
    /// The embedded skeleton in a fresh tmpfs.
    Skeleton,
    /// A tree the user supplied.
    Dir(UserTree),
}

/// A root tree of the user's, opened once: everything learnns does with it
/// goes through this descriptor, so renaming or swapping parts of the tree
/// afterwards cannot steer learnns anywhere else.
#[derive(Debug, Clone)]
pub struct UserTree {
    pub path: PathBuf,
    fd: Option<Arc<OwnedFd>>,
    /// Who owns its top directory: (uid, gid).
    pub owner: (u32, u32),
}

impl PartialEq for UserTree {
    fn eq(&self, other: &UserTree) -> bool {
        self.path == other.path
    }
}

impl Eq for UserTree {}

impl UserTree {
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.fd.as_ref().map(|fd| fd.as_fd())
    }

    /// A tree that exists only in name, for unit tests of the set-up steps.
    #[cfg(test)]
    pub fn pretend(path: &str) -> UserTree {
        UserTree {
            path: path.into(),
            fd: None,
            owner: (0, 0),
        }
    }
}

/// How the first process moves into its new root.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Switch {
    /// `pivot_root` and detach the old root: no way back.
    #[default]
    Pivot,
    /// `chroot` alone: only for showing why it is not enough.
    Chroot,
}

/// Where the new root is mounted before the switch: the skeleton's tmpfs,
/// or the user's tree. Any existing directory of root's would do: the
/// mount happens in the container's own, private mount namespace, so the
/// host never sees it and nothing is created there.
pub const STAGE: &str = "/mnt";

/// Open a user's `--rootfs` and check that it can be a root, before
/// anything is created. It is opened once, here; nothing later looks it up
/// by name again.
pub fn open_user_root(dir: &Path) -> Result<UserTree> {
    let bad = |why: &str, fix: Option<&str>| {
        let problem = Problem::new(format!("--rootfs {}: {why}", dir.display()));
        Error::Usage(match fix {
            Some(fix) => problem.fix(fix),
            None => problem,
        })
    };
    let meta = std::fs::metadata(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => bad(
            "no such directory",
            Some("give the path of an unpacked root file system (e.g. a busybox or Alpine root)"),
        ),
        _ => bad(&e.to_string(), None),
    })?;
    if !meta.is_dir() {
        return Err(bad(
            "is not a directory",
            Some("unpack the image first (e.g. tar -xf alpine-minirootfs.tar.gz -C DIR)"),
        ));
    }
    let path = dir.canonicalize().map_err(|e| bad(&e.to_string(), None))?;
    if path == Path::new("/") {
        return Err(bad(
            "is the host's own root; a container of it would share every file",
            Some("leave out --rootfs to use learnns's mini root"),
        ));
    }
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = nix::fcntl::open(&path, flags, Mode::empty())
        .map_err(|e| bad(&format!("cannot be opened ({e})"), None))?;
    let stat = nix::sys::stat::fstat(fd.as_fd()).map_err(|e| bad(&e.to_string(), None))?;
    // Inside the tree, as the container will see it: links resolve in it.
    let in_root = nix::fcntl::OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
        .resolve(nix::fcntl::ResolveFlag::RESOLVE_IN_ROOT);
    let has_shell = ["bin/sh", "usr/bin/sh"]
        .iter()
        .any(|sh| nix::fcntl::openat2(fd.as_fd(), *sh, in_root).is_ok());
    if !has_shell {
        return Err(bad(
            "has no /bin/sh, so it cannot run commands",
            Some("use a tree with a shell (busybox or Alpine), or leave out --rootfs"),
        ));
    }
    Ok(UserTree {
        path,
        fd: Some(Arc::new(fd)),
        owner: (stat.st_uid, stat.st_gid),
    })
}

/// The top directories of a user's tree that learnns mounts over in a
/// container of `kinds` (when the tree has them), hiding what is in them.
pub fn mounted_over(kinds: KindSet) -> Vec<&'static str> {
    let mut names = vec!["proc", "dev"];
    if wants_sysfs(kinds) {
        names.push("sys");
    }
    names
}

/// sysfs shows network devices, so the kernel allows a fresh one only to
/// whoever owns the network namespace: with a user namespace, only when
/// there is a network namespace of its own too.
pub fn wants_sysfs(kinds: KindSet) -> bool {
    kinds.contains(Kind::Net) || !kinds.contains(Kind::User)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_user_roots_are_refused_with_a_fix() {
        let err = |p: &str| open_user_root(Path::new(p)).unwrap_err().to_string();
        assert!(err("/no/such/dir").contains("no such directory"));
        assert!(err("/etc/hostname").contains("not a directory"));
        assert!(err("/").contains("host's own root"));
        assert!(err("/proc/self").contains("no /bin/sh") || err("/proc/self").contains("--rootfs"));
    }
}
