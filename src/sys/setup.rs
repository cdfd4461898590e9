//! Applying a container's set-up for real: the [`Sys`] that set-up code
//! talks to, the [`Kernel`] behind it, and the host mounts ([`Outside`])
//! prepared for it before the container exists.

use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::mount::{MsFlags, mount};
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;

use super::mount_api::{clone_tree, move_mount, new_mount, open_tree, set_read_only};
use super::plan::Call;
use super::process::become_root_inside;
use crate::error::{Error, Result};
use crate::ns::KindSet;

/// What a path on the host is, as far as assembling a root needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostEntry {
    Missing,
    Dir,
    File,
    Symlink(PathBuf),
}

/// What the set-up of a container asks of the kernel, from inside it.
pub trait Sys {
    /// Make the change `call` describes.
    fn apply(&mut self, call: Call) -> Result<()>;
    /// What `path` is on the host (before the root is switched): a
    /// question the set-up asks, not a change it makes.
    fn host_entry(&mut self, path: &Path) -> HostEntry;
}

/// Mounts that learnns prepares on the host, by descriptor, before the
/// container exists, for the container's first process to attach: the
/// mount namespace it gets is a copy, where descriptors opened on the
/// host's mounts cannot be mounted, but detached clones of them can.
#[derive(Debug, Default)]
pub struct Outside {
    /// (what the learner sees it as, a detached clone by `open_tree`).
    mounts: Vec<(PathBuf, OwnedFd)>,
    /// Without root on the host, the container may look sources up by name
    /// itself: in its own user namespace it can reach nothing its user
    /// could not.
    by_name: bool,
}

impl Outside {
    /// For a container started without privilege on the host.
    pub fn by_name() -> Outside {
        Outside {
            mounts: Vec::new(),
            by_name: true,
        }
    }

    /// Clone the tree (with its submounts) or file that `fd` is open on.
    pub fn add(&mut self, shown: &Path, fd: BorrowedFd) -> Result<()> {
        let flags = libc::OPEN_TREE_CLONE
            | libc::OPEN_TREE_CLOEXEC
            | libc::AT_RECURSIVE as libc::c_uint
            | libc::AT_EMPTY_PATH as libc::c_uint;
        let mount = open_tree(fd, c"", flags)
            .map_err(|e| Error::sys(format!("open_tree {}", shown.display()), e))?;
        self.mounts.push((shown.to_path_buf(), mount));
        Ok(())
    }
}

// ANCHOR: kernel
/// The real kernel.
#[derive(Debug, Default)]
pub struct Kernel {
    outside: Outside,
    /// Mounts this process made, by the path where they appear. A path
    /// below one is opened from its descriptor, beneath it and without
    /// following symbolic links, never by walking names from `/` again:
    /// a user's tree can change while learnns works in it.
    held: Vec<(PathBuf, OwnedFd)>,
}

impl Kernel {
    pub fn new(outside: Outside) -> Kernel {
        Kernel {
            outside,
            held: Vec::new(),
        }
    }

    /// The innermost held mount that `path` is in, and the rest of the path.
    fn holder(&self, path: &Path) -> Option<(&OwnedFd, PathBuf)> {
        self.held
            .iter()
            .filter_map(|(at, fd)| Some((fd, path.strip_prefix(at).ok()?.to_path_buf())))
            .min_by_key(|(_, rest)| rest.components().count())
    }

    /// Open `path` as an O_PATH descriptor: beneath a held mount when it is
    /// in one, never following a link there; otherwise from the host's `/`,
    /// as the host lays it out (only the host's own system directories,
    /// `/proc` and the stage, get here).
    fn open(&self, path: &Path) -> Result<Opened<'_>> {
        let flags = OFlag::O_PATH | OFlag::O_CLOEXEC;
        let opened = match self.holder(path) {
            Some((fd, rest)) if rest.as_os_str().is_empty() => return Ok(Opened::Held(fd.as_fd())),
            Some((fd, rest)) => nix::fcntl::openat2(fd, &rest, beneath(flags | OFlag::O_NOFOLLOW)),
            None => nix::fcntl::open(path, flags, Mode::empty()),
        };
        opened
            .map(Opened::Own)
            .map_err(|e| Error::sys(format!("open {}", path.display()), e))
    }

    /// The directory `path` is in, opened, and its last name.
    fn parent(&self, path: &Path) -> Result<(Opened<'_>, std::ffi::OsString)> {
        let name = path
            .file_name()
            .ok_or_else(|| Error::Setup(format!("{} has no file name", path.display()).into()))?;
        let dir = self.open(path.parent().unwrap_or(Path::new("/")))?;
        Ok((dir, name.to_os_string()))
    }

    /// Make a new file system and attach it at `target`.
    fn mount_new(
        &mut self,
        fstype: &CStr,
        source: &str,
        options: &str,
        attrs: u64,
        target: &Path,
        shown: String,
    ) -> Result<OwnedFd> {
        let fail = |e| Error::sys(shown.clone(), e);
        let mount = new_mount(fstype, source, options, attrs).map_err(fail)?;
        let at = self.open(target)?;
        move_mount(mount.as_fd(), at.as_fd()).map_err(fail)?;
        Ok(mount)
    }
}

/// A path opened by [`Kernel::open`]: a held mount's own descriptor, or a
/// new one.
enum Opened<'a> {
    Held(BorrowedFd<'a>),
    Own(OwnedFd),
}

impl AsFd for Opened<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Opened::Held(fd) => *fd,
            Opened::Own(fd) => fd.as_fd(),
        }
    }
}

/// How paths inside a held mount are opened: never above it, never
/// through a symbolic link.
fn beneath(flags: OFlag) -> nix::fcntl::OpenHow {
    use nix::fcntl::ResolveFlag;
    nix::fcntl::OpenHow::new()
        .flags(flags)
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS)
}

/// Each call, as the kernel does it.
impl Kernel {
    fn become_root(&mut self) -> Result<()> {
        become_root_inside().map_err(|e| Error::io("setresuid(0) in the user namespace", e))
    }

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

    fn mount_proc(&mut self, target: &Path) -> Result<()> {
        let attrs = libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV | libc::MOUNT_ATTR_NOEXEC;
        let shown = format!("mount -t proc proc {}", target.display());
        self.mount_new(c"proc", "proc", "", attrs, target, shown)
            .map(drop)
    }

    fn mount_sysfs(&mut self, target: &Path) -> Result<()> {
        let attrs = libc::MOUNT_ATTR_NOSUID
            | libc::MOUNT_ATTR_NODEV
            | libc::MOUNT_ATTR_NOEXEC
            | libc::MOUNT_ATTR_RDONLY;
        let shown = format!("mount -t sysfs sysfs {}", target.display());
        self.mount_new(c"sysfs", "sysfs", "", attrs, target, shown)
            .map(drop)
    }

    fn mount_tmpfs(&mut self, name: &str, target: &Path, options: &str) -> Result<()> {
        let attrs = libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV;
        let shown = format!("mount -t tmpfs -o {options} {name} {}", target.display());
        let mount = self.mount_new(c"tmpfs", name, options, attrs, target, shown)?;
        // Everything learnns puts in it is reached through this descriptor.
        self.held.push((target.to_path_buf(), mount));
        Ok(())
    }

    fn bind(&mut self, source: &Path, target: &Path, read_only: bool) -> Result<()> {
        let shown = || format!("mount --rbind {} {}", source.display(), target.display());
        let mount = clone_tree(source).map_err(|e| Error::sys(shown(), e))?;
        if read_only {
            set_read_only(mount.as_fd()).map_err(|e| {
                Error::sys(format!("mount -o remount,bind,ro {}", target.display()), e)
            })?;
        }
        let at = self.open(target)?;
        move_mount(mount.as_fd(), at.as_fd()).map_err(|e| Error::sys(shown(), e))
    }

    fn attach(&mut self, source: &Path, target: &Path) -> Result<()> {
        let shown = format!("mount --rbind {} {}", source.display(), target.display());
        let prepared = self.outside.mounts.iter().position(|(s, _)| s == source);
        let mount = match prepared {
            Some(index) => self.outside.mounts.remove(index).1,
            None if self.outside.by_name => {
                clone_tree(source).map_err(|e| Error::sys(shown.clone(), e))?
            }
            None => {
                return Err(Error::sys(
                    format!("{shown} (not opened on the host)"),
                    nix::Error::EBADF,
                ));
            }
        };
        let at = self.open(target)?;
        move_mount(mount.as_fd(), at.as_fd()).map_err(|e| Error::sys(shown, e))?;
        self.held.push((target.to_path_buf(), mount));
        Ok(())
    }

    fn pivot_root(&mut self, new_root: &Path) -> Result<()> {
        let root = self.open(new_root)?;
        nix::unistd::fchdir(root.as_fd())
            .map_err(|e| Error::sys(format!("cd {}", new_root.display()), e))?;
        // The old root goes on top of the new one, at the same place...
        nix::unistd::pivot_root(".", ".").map_err(|e| Error::sys("pivot_root . .", e))?;
        // ...and is detached from there: no path leads back to the host.
        nix::mount::umount2(".", nix::mount::MntFlags::MNT_DETACH)
            .map_err(|e| Error::sys("umount -l .", e))?;
        nix::unistd::chdir("/").map_err(|e| Error::sys("cd /", e))
    }

    fn chroot(&mut self, new_root: &Path) -> Result<()> {
        let root = self.open(new_root)?;
        nix::unistd::fchdir(root.as_fd())
            .map_err(|e| Error::sys(format!("cd {}", new_root.display()), e))?;
        nix::unistd::chroot(".")
            .map_err(|e| Error::sys(format!("chroot {}", new_root.display()), e))?;
        nix::unistd::chdir("/").map_err(|e| Error::sys("cd /", e))
    }

    fn enter_time_for_children(&mut self) -> Result<()> {
        let fd = std::fs::File::open("/proc/self/ns/time_for_children")
            .map_err(|e| Error::io("open /proc/self/ns/time_for_children", e))?;
        let flags = CloneFlags::from_bits_retain(libc::CLONE_NEWTIME);
        nix::sched::setns(fd, flags).map_err(|e| Error::sys("setns(time)", e))
    }

    fn set_time_offsets(&mut self, seconds: i64) -> Result<()> {
        let text = format!("monotonic {seconds} 0\nboottime {seconds} 0\n");
        std::fs::write("/proc/self/timens_offsets", text)
            .map_err(|e| Error::io("write /proc/self/timens_offsets", e))
    }

    fn mkdir(&mut self, path: &Path) -> Result<()> {
        let (dir, name) = self.parent(path)?;
        match nix::sys::stat::mkdirat(
            dir.as_fd(),
            name.as_os_str(),
            Mode::from_bits_truncate(0o755),
        ) {
            Ok(()) | Err(nix::Error::EEXIST) => Ok(()),
            Err(e) => Err(Error::sys(format!("mkdir {}", path.display()), e)),
        }
    }

    fn write_file(&mut self, path: &Path, bytes: &[u8]) -> Result<()> {
        let (dir, name) = self.parent(path)?;
        // A new file, never an existing one, never through a link.
        let flags =
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let fd = nix::fcntl::openat(
            dir.as_fd(),
            name.as_os_str(),
            flags,
            Mode::from_bits_truncate(0o644),
        )
        .map_err(|e| Error::sys(format!("write {}", path.display()), e))?;
        std::io::Write::write_all(&mut std::fs::File::from(fd), bytes)
            .map_err(|e| Error::io(format!("write {}", path.display()), e))
    }

    fn symlink(&mut self, target: &Path, link: &Path) -> Result<()> {
        let (dir, name) = self.parent(link)?;
        nix::unistd::symlinkat(target, dir.as_fd(), name.as_os_str())
            .map_err(|e| Error::sys(format!("ln -s {} {}", target.display(), link.display()), e))
    }
}

impl Sys for Kernel {
    fn apply(&mut self, call: Call) -> Result<()> {
        match &call {
            Call::BecomeRoot { .. } => self.become_root(),
            Call::Unshare(kinds) => self.unshare(*kinds),
            Call::Sethostname(name) => self.sethostname(name),
            Call::MakeMountsPrivate => self.make_mounts_private(),
            Call::MountProc(target) => self.mount_proc(target),
            Call::MountSysfs(target) => self.mount_sysfs(target),
            Call::MountTmpfs {
                name,
                target,
                options,
            } => self.mount_tmpfs(name, target, options),
            Call::Bind {
                source,
                target,
                read_only,
            } => self.bind(source, target, *read_only),
            Call::Attach { source, target } => self.attach(source, target),
            Call::PivotRoot(new_root) => self.pivot_root(new_root),
            Call::Chroot(new_root) => self.chroot(new_root),
            Call::EnterTimeForChildren => self.enter_time_for_children(),
            Call::SetTimeOffsets(seconds) => self.set_time_offsets(*seconds),
            Call::Mkdir(path) => self.mkdir(path),
            Call::WriteFile { path, bytes } => self.write_file(path, bytes),
            Call::Symlink { target, link } => self.symlink(target, link),
        }
    }

    fn host_entry(&mut self, path: &Path) -> HostEntry {
        if self.holder(path).is_some() {
            // Inside a tree: a plain directory or file counts, a link never.
            let Ok(fd) = self.open(path) else {
                return HostEntry::Missing;
            };
            return match nix::sys::stat::fstat(fd.as_fd()) {
                Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => HostEntry::Dir,
                Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFREG => HostEntry::File,
                _ => HostEntry::Missing,
            };
        }
        match std::fs::symlink_metadata(path) {
            Err(_) => HostEntry::Missing,
            Ok(m) if m.file_type().is_symlink() => match std::fs::read_link(path) {
                Ok(target) => HostEntry::Symlink(target),
                Err(_) => HostEntry::Missing,
            },
            Ok(m) if m.is_dir() => HostEntry::Dir,
            Ok(_) => HostEntry::File,
        }
    }
}
// ANCHOR_END: kernel
