//! The one place that talks to the kernel about namespaces, mounts and
//! processes. Every `unsafe` block in learnns lives here, each with its reason.
//!
//! Set-up code inside a new container calls the kernel through the [`Sys`]
//! trait, so unit tests can run it against [`Recorder`] without privilege and
//! check exactly which calls a lesson makes, in which order.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::fcntl::{AT_FDCWD, OFlag};
use nix::mount::{MsFlags, mount};
use nix::sched::CloneFlags;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use nix::sys::stat::Mode;
use nix::unistd::Pid;

use crate::error::{Error, Result};
use crate::ns::{Kind, KindSet};

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
    /// Take the IDs of root in the caller's (new) user namespace: the IDs it
    /// was born with may not be mapped there at all.
    fn become_root(&mut self) -> Result<()>;
    /// `unshare(2)` the given kinds for the calling process.
    fn unshare(&mut self, kinds: KindSet) -> Result<()>;
    /// `sethostname(2)`: only the UTS namespace of the caller sees it.
    fn sethostname(&mut self, name: &str) -> Result<()>;
    /// `mount --make-rprivate /`: stop mount events flowing back to the host.
    fn make_mounts_private(&mut self) -> Result<()>;
    /// `mount -t proc proc TARGET`: a `/proc` for the caller's PID namespace.
    fn mount_proc(&mut self, target: &Path) -> Result<()>;
    /// `mount -t sysfs -o ro sysfs TARGET`.
    fn mount_sysfs(&mut self, target: &Path) -> Result<()>;
    /// `mount -t tmpfs -o OPTIONS NAME TARGET`.
    fn mount_tmpfs(&mut self, name: &str, target: &Path, options: &str) -> Result<()>;
    /// `mount --rbind SOURCE TARGET`, then read-only if asked.
    fn bind(&mut self, source: &Path, target: &Path, read_only: bool) -> Result<()>;
    /// `mount --rbind SOURCE TARGET` for a SOURCE that learnns opened on the
    /// host before the container existed ([`Outside`]): a user's root tree,
    /// or a host file the container cannot reach by name.
    fn attach(&mut self, source: &Path, target: &Path) -> Result<()>;
    /// `cd NEW_ROOT; pivot_root . .; umount -l .`: the old root is stacked
    /// on the new one and detached, and no directory is needed for it.
    fn pivot_root(&mut self, new_root: &Path) -> Result<()>;
    /// `chroot NEW_ROOT` and `cd /`: the weaker way, for the lesson's demonstration.
    fn chroot(&mut self, new_root: &Path) -> Result<()>;
    /// Move the caller into the time namespace it created for its children.
    fn enter_time_for_children(&mut self) -> Result<()>;
    /// Shift the monotonic and boot-time clocks of the time namespace the
    /// caller created for its children, before any process is in it.
    fn set_time_offsets(&mut self, seconds: i64) -> Result<()>;
    /// `mkdir -p`.
    fn mkdir(&mut self, path: &Path) -> Result<()>;
    /// Create a file with these bytes.
    fn write_file(&mut self, path: &Path, bytes: &[u8]) -> Result<()>;
    /// `ln -s TARGET LINK`.
    fn symlink(&mut self, target: &Path, link: &Path) -> Result<()>;
    /// What `path` is on the host (before the root is switched).
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
            .ok_or_else(|| Error::Setup(format!("{} has no file name", path.display())))?;
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

impl Sys for Kernel {
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

/// One call recorded by [`Recorder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    BecomeRoot,
    Unshare(KindSet),
    Sethostname(String),
    MakeMountsPrivate,
    MountProc(PathBuf),
    MountSysfs(PathBuf),
    MountTmpfs(String, PathBuf),
    Bind(PathBuf, PathBuf, bool),
    Attach(PathBuf, PathBuf),
    PivotRoot(PathBuf),
    Chroot(PathBuf),
    EnterTimeForChildren,
    SetTimeOffsets(i64),
    Mkdir(PathBuf),
    WriteFile(PathBuf, Vec<u8>),
    Symlink(PathBuf, PathBuf),
}

impl Call {
    /// Does this call change what the container sees (a mount, a root
    /// switch, a name), rather than fill in files?
    pub fn is_mount_or_switch(&self) -> bool {
        !matches!(
            self,
            Call::Mkdir(_) | Call::WriteFile(..) | Call::Symlink(..)
        )
    }

    /// The same step as commands a learner could type in a shell.
    pub fn commands(&self) -> Vec<String> {
        let d = |p: &PathBuf| p.display().to_string();
        match self {
            Call::BecomeRoot => vec!["setpriv --reuid 0 --regid 0 --clear-groups".into()],
            Call::Unshare(kinds) => vec![format!("unshare {}", kinds.util_flags())],
            Call::Sethostname(name) => vec![format!("hostname {name}")],
            Call::MakeMountsPrivate => vec!["mount --make-rprivate /".into()],
            Call::MountProc(t) => vec![format!("mount -t proc proc {}", d(t))],
            Call::MountSysfs(t) => vec![format!("mount -t sysfs -o ro sysfs {}", d(t))],
            Call::MountTmpfs(name, t) => vec![format!("mount -t tmpfs {name} {}", d(t))],
            Call::Bind(s, t, false) => vec![format!("mount --rbind {} {}", d(s), d(t))],
            Call::Bind(s, t, true) => vec![
                format!("mount --rbind {} {}", d(s), d(t)),
                format!("mount -o remount,bind,ro {}", d(t)),
            ],
            Call::Attach(s, t) => vec![format!("mount --rbind {} {}", d(s), d(t))],
            Call::PivotRoot(r) => vec![
                format!("cd {}", d(r)),
                "pivot_root . .".into(),
                "umount -l .".into(),
                "cd /".into(),
            ],
            Call::Chroot(r) => vec![format!("chroot {}", d(r)), "cd /".into()],
            Call::EnterTimeForChildren => {
                vec!["nsenter --time=/proc/self/ns/time_for_children".into()]
            }
            Call::SetTimeOffsets(s) => vec![format!(
                "printf 'monotonic {s} 0\\nboottime {s} 0\\n' > /proc/self/timens_offsets"
            )],
            Call::Mkdir(p) => vec![format!("mkdir -p {}", d(p))],
            Call::WriteFile(p, _) => vec![format!("cat > {}", d(p))],
            Call::Symlink(t, l) => vec![format!("ln -s {} {}", d(t), d(l))],
        }
    }
}

/// A stand-in kernel that only writes down what it was asked. It answers
/// questions about the host truthfully ([`Recorder::on_this_host`]), so a
/// lesson can show the exact steps its container will take, or from a fixed
/// pretend host with merged /usr ([`Recorder::default`]), for unit tests.
#[derive(Debug, Default)]
pub struct Recorder {
    pub calls: Vec<Call>,
    real_host: bool,
}

impl Recorder {
    pub fn on_this_host() -> Recorder {
        Recorder {
            calls: Vec::new(),
            real_host: true,
        }
    }

    /// Only the mounts and root switches, in order: what changes the view.
    #[cfg(test)]
    pub fn mounts(&self) -> Vec<Call> {
        self.calls
            .iter()
            .filter(|c| c.is_mount_or_switch())
            .cloned()
            .collect()
    }
}

impl Sys for Recorder {
    fn become_root(&mut self) -> Result<()> {
        self.calls.push(Call::BecomeRoot);
        Ok(())
    }
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
    fn mount_proc(&mut self, target: &Path) -> Result<()> {
        self.calls.push(Call::MountProc(target.into()));
        Ok(())
    }
    fn mount_sysfs(&mut self, target: &Path) -> Result<()> {
        self.calls.push(Call::MountSysfs(target.into()));
        Ok(())
    }
    fn mount_tmpfs(&mut self, name: &str, target: &Path, _options: &str) -> Result<()> {
        self.calls
            .push(Call::MountTmpfs(name.into(), target.into()));
        Ok(())
    }
    fn bind(&mut self, source: &Path, target: &Path, read_only: bool) -> Result<()> {
        self.calls
            .push(Call::Bind(source.into(), target.into(), read_only));
        Ok(())
    }
    fn attach(&mut self, source: &Path, target: &Path) -> Result<()> {
        self.calls.push(Call::Attach(source.into(), target.into()));
        Ok(())
    }
    fn pivot_root(&mut self, new_root: &Path) -> Result<()> {
        self.calls.push(Call::PivotRoot(new_root.into()));
        Ok(())
    }
    fn chroot(&mut self, new_root: &Path) -> Result<()> {
        self.calls.push(Call::Chroot(new_root.into()));
        Ok(())
    }
    fn enter_time_for_children(&mut self) -> Result<()> {
        self.calls.push(Call::EnterTimeForChildren);
        Ok(())
    }
    fn set_time_offsets(&mut self, seconds: i64) -> Result<()> {
        self.calls.push(Call::SetTimeOffsets(seconds));
        Ok(())
    }
    fn mkdir(&mut self, path: &Path) -> Result<()> {
        self.calls.push(Call::Mkdir(path.into()));
        Ok(())
    }
    fn write_file(&mut self, path: &Path, bytes: &[u8]) -> Result<()> {
        self.calls
            .push(Call::WriteFile(path.into(), bytes.to_vec()));
        Ok(())
    }
    fn symlink(&mut self, target: &Path, link: &Path) -> Result<()> {
        self.calls.push(Call::Symlink(target.into(), link.into()));
        Ok(())
    }
    fn host_entry(&mut self, path: &Path) -> HostEntry {
        if self.real_host {
            return Kernel::default().host_entry(path);
        }
        match path.to_str().unwrap_or("") {
            "/usr" | "/etc/alternatives" => HostEntry::Dir,
            "/etc/ld.so.cache" | "/dev/null" | "/dev/zero" | "/dev/urandom" => HostEntry::File,
            "/bin" => HostEntry::Symlink("usr/bin".into()),
            "/lib" => HostEntry::Symlink("usr/lib".into()),
            // A pretend user root, staged at /mnt, has every mount point.
            p if p.starts_with("/mnt/") => HostEntry::Dir,
            _ => HostEntry::Missing,
        }
    }
}

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

/// Move the calling process into the cgroups whose `cgroup.procs` files
/// are open in `files`: writing 0 means "the writer". Done before entering
/// any namespace, while the host's credentials still apply.
fn join_cgroups(files: &[OwnedFd]) -> io::Result<()> {
    for fd in files {
        // SAFETY: writes one byte from a static buffer to a descriptor the
        // caller keeps open.
        if unsafe { libc::write(fd.as_raw_fd(), b"0".as_ptr().cast(), 1) } != 1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

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

/// `open_tree(2)`: a descriptor for `path` (relative to `dir`), with
/// OPEN_TREE_CLONE a detached copy of the mount that can be attached
/// elsewhere with [`move_mount`].
fn open_tree(dir: BorrowedFd, path: &CStr, flags: libc::c_uint) -> nix::Result<OwnedFd> {
    // SAFETY: `path` is a valid C string for the duration of the call, and
    // `dir` a descriptor the caller keeps open; the kernel returns a new
    // descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, dir.as_raw_fd(), path.as_ptr(), flags) };
    owned(fd)
}

/// A detached copy of the mount tree at `path` (and what is mounted
/// below it), looked up in the caller's mount namespace.
fn clone_tree(path: &Path) -> nix::Result<OwnedFd> {
    let path = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| nix::Error::EINVAL)?;
    let flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC | libc::AT_RECURSIVE as u32;
    open_tree(AT_FDCWD, &path, flags)
}

/// `move_mount(2)` from descriptor to descriptor: attach `mount` on the
/// directory or file `target` is open on, with no path walked at all.
fn move_mount(mount: BorrowedFd, target: BorrowedFd) -> nix::Result<()> {
    let flags = libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH;
    // SAFETY: both descriptors stay open for the call; the paths are empty
    // static C strings.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            mount.as_raw_fd(),
            c"".as_ptr(),
            target.as_raw_fd(),
            c"".as_ptr(),
            flags,
        )
    };
    nix::Error::result(rc).map(drop)
}

/// A new, detached mount of a file system of type `fstype` (`fsopen`,
/// `fsconfig`, `fsmount`), with `options` as `key=value,...`.
fn new_mount(fstype: &CStr, source: &str, options: &str, attrs: u64) -> nix::Result<OwnedFd> {
    // SAFETY: fsopen reads the static type name and returns a new
    // descriptor or -1.
    let context =
        owned(unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), libc::FSOPEN_CLOEXEC) })?;
    let set = |key: &str, value: &str| -> nix::Result<()> {
        let key = CString::new(key).map_err(|_| nix::Error::EINVAL)?;
        let value = CString::new(value).map_err(|_| nix::Error::EINVAL)?;
        // SAFETY: key and value are valid C strings that outlive the call.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                context.as_raw_fd(),
                libc::FSCONFIG_SET_STRING,
                key.as_ptr(),
                value.as_ptr(),
                0,
            )
        };
        nix::Error::result(rc).map(drop)
    };
    set("source", source)?;
    for option in options.split(',').filter(|o| !o.is_empty()) {
        let (key, value) = option.split_once('=').unwrap_or((option, ""));
        set(key, value)?;
    }
    // SAFETY: a command with no pointers.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            context.as_raw_fd(),
            libc::FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    nix::Error::result(rc)?;
    // SAFETY: fsmount takes the context descriptor and plain flags.
    owned(unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            context.as_raw_fd(),
            libc::FSMOUNT_CLOEXEC,
            attrs,
        )
    })
}

/// Make a detached mount and everything under it read-only
/// (`mount_setattr(2)`); flags it already has, locked or not, are kept.
fn set_read_only(mount: BorrowedFd) -> nix::Result<()> {
    let attr = libc::mount_attr {
        attr_set: libc::MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: `attr` is a valid mount_attr of the size passed, read by the
    // kernel during the call only.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            mount.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_RECURSIVE,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    nix::Error::result(rc).map(drop)
}

/// Turn a system call's descriptor result into an owned descriptor.
fn owned(fd: libc::c_long) -> nix::Result<OwnedFd> {
    let fd = nix::Error::result(fd)?;
    // SAFETY: the kernel just returned this descriptor to us; nobody else
    // owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

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

/// The POSIX access ACL (`system.posix_acl_access`) of `name` in the
/// directory open at `dir` (of that directory itself when `name` is None),
/// as the kernel stores it; None without one.
pub fn access_acl(dir: BorrowedFd, name: Option<&CStr>) -> Option<Vec<u8>> {
    // Through the directory's descriptor: nothing is looked up from a path
    // another user could change, and `name` itself is not followed.
    let (path, follow) = match name {
        Some(name) => (
            format!(
                "/proc/self/fd/{}/{}",
                dir.as_raw_fd(),
                name.to_string_lossy()
            ),
            false,
        ),
        None => (format!("/proc/self/fd/{}", dir.as_raw_fd()), true),
    };
    let path = CString::new(path).ok()?;
    let mut buf = vec![0u8; 4096];
    let attr = c"system.posix_acl_access".as_ptr();
    // SAFETY: both strings are valid C strings and `buf` is writable for
    // the length given.
    let len = unsafe {
        if follow {
            libc::getxattr(path.as_ptr(), attr, buf.as_mut_ptr().cast(), buf.len())
        } else {
            libc::lgetxattr(path.as_ptr(), attr, buf.as_mut_ptr().cast(), buf.len())
        }
    };
    (len > 0).then(|| {
        buf.truncate(len as usize);
        buf
    })
}

/// Wait for every child of the calling process to end.
pub fn reap_children() {
    while nix::sys::wait::wait().is_ok() {}
}

/// After joining a user namespace, become its root, as `nsenter --user`
/// does: our old IDs may not be mapped there at all.
fn become_root_inside() -> io::Result<()> {
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
fn exit_code(status: libc::c_int) -> i32 {
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
/// namespace, as `ipcmk -Q` does (it picks a random key too). EEXIST means
/// the key is taken.
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
