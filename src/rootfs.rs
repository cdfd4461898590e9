//! The container's root file system. Nothing is downloaded: the root is a
//! tmpfs holding the committed skeleton (`rootfs/`, embedded at build time),
//! with the host's program directories bind-mounted read-only, so `ps`, `ip`
//! and `hostname` inside are the very binaries used outside. `--rootfs DIR`
//! takes a tree of the user's (a busybox or Alpine root) instead.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::fcntl::OFlag;
use nix::sys::stat::{FileStat, Mode};

use crate::error::{Error, Result};
use crate::ns::{Kind, KindSet};
use crate::sys::{Call, HostEntry, Sys};

/// One entry of the embedded skeleton.
pub enum Entry {
    Dir(&'static str),
    File(&'static str, &'static [u8]),
}

include!(concat!(env!("OUT_DIR"), "/skeleton.rs"));

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

/// Host directories that hold programs and what they need to run.
const PROGRAMS: [&str; 11] = [
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
];

/// Device nodes a program can expect; bound from the host's /dev.
const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// Open a user's `--rootfs` and check that it can be a root, before
/// anything is created. It is opened once, here; nothing later looks it up
/// by name again.
pub fn open_user_root(dir: &Path) -> Result<UserTree> {
    let bad = |why: String| Error::Usage(format!("--rootfs {}: {why}", dir.display()));
    let meta = std::fs::metadata(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => bad("no such directory.\n  fix: give the path of an unpacked root file system (e.g. a busybox or Alpine root)".into()),
        _ => bad(format!("{e}")),
    })?;
    if !meta.is_dir() {
        return Err(bad("is not a directory.\n  fix: unpack the image first (e.g. tar -xf alpine-minirootfs.tar.gz -C DIR)".into()));
    }
    let path = dir.canonicalize().map_err(|e| bad(e.to_string()))?;
    if path == Path::new("/") {
        return Err(bad("is the host's own root; a container of it would share every file.\n  fix: leave out --rootfs to use learnns's mini root".into()));
    }
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = nix::fcntl::open(&path, flags, Mode::empty())
        .map_err(|e| bad(format!("cannot be opened ({e})")))?;
    let stat = nix::sys::stat::fstat(fd.as_fd()).map_err(|e| bad(e.to_string()))?;
    // Inside the tree, as the container will see it: links resolve in it.
    let in_root = nix::fcntl::OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
        .resolve(nix::fcntl::ResolveFlag::RESOLVE_IN_ROOT);
    let has_shell = ["bin/sh", "usr/bin/sh"]
        .iter()
        .any(|sh| nix::fcntl::openat2(fd.as_fd(), *sh, in_root).is_ok());
    if !has_shell {
        return Err(bad("has no /bin/sh, so it cannot run commands.\n  fix: use a tree with a shell (busybox or Alpine), or leave out --rootfs".into()));
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

/// As root, refuse a tree that anyone but `trusted` (root, and the user
/// who ran sudo) owns or can change, anywhere in it, by ownership, mode or
/// ACL: its programs run with root's power over files, so whoever can
/// change one could act as root. The whole tree is walked by descriptor,
/// without following links; what learnns mounts over is not looked into.
pub fn check_trusted(tree: &UserTree, trusted: &[u32], kinds: KindSet) -> Result<()> {
    let Some(fd) = tree.fd() else {
        return Ok(());
    };
    let dir = tree.path.display();
    let refuse = |path: &Path, why: String| {
        let yourself = "run it without sudo, as yourself, with --user (root inside is then you)";
        let fix = if why.starts_with("belongs to") {
            // Taking another user's files over would not make their
            // programs any more trustworthy.
            match tree.owner.0 {
                0 => yourself.to_string(),
                uid => format!(
                    "add --user (root inside is then {} on the host), or {yourself}",
                    crate::inspect::user_name(uid)
                ),
            }
        } else {
            format!(
                "let only root change it (sudo chmod -R go-w {dir}; setfacl -R -b {dir} for ACLs), after looking at what others may have changed, or {yourself}"
            )
        };
        Error::Usage(format!(
            "--rootfs {dir}: {} {why}; the tree's programs would run with the power of this machine's root over files, so whoever can change them could act as root.\n  fix: {fix}",
            path.display(),
        ))
    };
    let top = nix::sys::stat::fstat(fd).map_err(|e| Error::sys("stat", e))?;
    let top_acl = crate::sys::access_acl(fd, None);
    let acl = top_acl
        .as_deref()
        .and_then(|acl| acl_lets_others_write(acl, trusted));
    if let Some(why) = untrusted(&top, trusted).or(acl) {
        return Err(refuse(&tree.path, why));
    }
    let mut seen = 0;
    let skip = mounted_over(kinds);
    walk_trusted(fd, &tree.path, true, trusted, &skip, &mut seen)
        .map_err(|(path, why)| refuse(&path, why))
}

/// The most entries a tree may have for learnns to check it.
const MAX_ENTRIES: usize = 2_000_000;

/// Check every entry below the directory open at `dir`; the first that is
/// not to be trusted, with the reason.
fn walk_trusted(
    dir: BorrowedFd,
    path: &Path,
    top: bool,
    trusted: &[u32],
    skip: &[&str],
    seen: &mut usize,
) -> std::result::Result<(), (PathBuf, String)> {
    let unreadable = |e: nix::Error| (path.to_path_buf(), format!("cannot be read ({e})"));
    let listing = nix::dir::Dir::openat(
        dir,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(unreadable)?;
    let mut subdirs = Vec::new();
    for entry in listing.into_iter() {
        let entry = entry.map_err(unreadable)?;
        let name = entry.file_name().to_owned();
        if name.as_bytes() == b"." || name.as_bytes() == b".." {
            continue;
        }
        *seen += 1;
        if *seen > MAX_ENTRIES {
            return Err((
                path.to_path_buf(),
                format!("has more than {MAX_ENTRIES} entries to check"),
            ));
        }
        let here = path.join(std::ffi::OsStr::from_bytes(name.as_bytes()));
        let stat = nix::sys::stat::fstatat(
            dir,
            name.as_c_str(),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| (here.clone(), format!("cannot be read ({e})")))?;
        if let Some(why) = untrusted(&stat, trusted) {
            return Err((here, why));
        }
        let kind = stat.st_mode & libc::S_IFMT;
        if kind != libc::S_IFLNK
            && let Some(acl) = crate::sys::access_acl(dir, Some(name.as_c_str()))
            && let Some(why) = acl_lets_others_write(&acl, trusted)
        {
            return Err((here, why));
        }
        let mounted_over = top && skip.iter().any(|s| s.as_bytes() == name.as_bytes());
        if stat.st_mode & libc::S_IFMT == libc::S_IFDIR && !mounted_over {
            subdirs.push((name, here));
        }
    }
    for (name, here) in subdirs {
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let sub = nix::fcntl::openat(dir, name.as_c_str(), flags, Mode::empty())
            .map_err(|e| (here.clone(), format!("cannot be read ({e})")))?;
        walk_trusted(sub.as_fd(), &here, false, trusted, skip, seen)?;
    }
    Ok(())
}

/// Does an access ACL (the kernel's xattr form: a version word, then
/// entries of tag, permissions, id) let a user other than `trusted`, or a
/// group other than root's, write? The mask is ignored: it can be widened
/// later by whoever owns the file, which is not the question.
pub fn acl_lets_others_write(acl: &[u8], trusted: &[u32]) -> Option<String> {
    const USER: u16 = 0x02;
    const GROUP: u16 = 0x08;
    const WRITE: u16 = 0x02;
    for entry in acl.get(4..)?.chunks_exact(8) {
        let tag = u16::from_le_bytes([entry[0], entry[1]]);
        let perm = u16::from_le_bytes([entry[2], entry[3]]);
        let id = u32::from_le_bytes([entry[4], entry[5], entry[6], entry[7]]);
        if perm & WRITE == 0 {
            continue;
        }
        if tag == USER && !trusted.contains(&id) {
            return Some(format!(
                "can be changed by {} (an ACL entry)",
                crate::inspect::user_name(id)
            ));
        }
        if tag == GROUP && id != 0 {
            return Some(format!("can be changed by group {id} (an ACL entry)"));
        }
    }
    None
}

/// Why a file of a tree is not to be trusted, if it is not. Links are
/// judged by the directory they are in. A group may write only if it is
/// root's: a user's primary group is often shared.
fn untrusted(stat: &FileStat, trusted: &[u32]) -> Option<String> {
    let kind = stat.st_mode & libc::S_IFMT;
    if kind == libc::S_IFLNK {
        return None;
    }
    let mode = stat.st_mode & 0o7777;
    let sticky_dir = kind == libc::S_IFDIR && mode & 0o1000 != 0;
    if !trusted.contains(&stat.st_uid) {
        return Some(format!(
            "belongs to {}",
            crate::inspect::user_name(stat.st_uid)
        ));
    }
    if mode & 0o002 != 0 && !sticky_dir {
        return Some(format!("can be changed by every user (mode {mode:o})"));
    }
    if mode & 0o020 != 0 && stat.st_gid != 0 && !sticky_dir {
        return Some(format!(
            "can be changed by group {} (mode {mode:o})",
            stat.st_gid
        ));
    }
    None
}

// ANCHOR: assemble
/// Build the new root and switch into it. Runs inside the container, after
/// its mounts were made private, so none of this reaches the host.
pub fn assemble(
    sys: &mut dyn Sys,
    root: &Root,
    hostname: &str,
    fresh_proc: bool,
    sysfs: bool,
    switch: Switch,
    binds: &[(PathBuf, PathBuf)],
) -> Result<()> {
    let new_root = match root {
        Root::Host => return Ok(()),
        Root::Skeleton => {
            let stage = PathBuf::from(STAGE);
            sys.apply(Call::MountTmpfs {
                name: "learnns-root".into(),
                target: stage.clone(),
                options: "mode=0755".into(),
            })?;
            write_skeleton(sys, &stage, hostname)?;
            bind_programs(sys, &stage)?;
            for (host, inside) in binds {
                let target = stage.join(inside.strip_prefix("/").unwrap_or(inside));
                sys.apply(empty_file(&target))?;
                sys.apply(Call::Attach {
                    source: host.clone(),
                    target,
                })?;
            }
            stage
        }
        Root::Dir(tree) => {
            // pivot_root needs the new root to be a mount point: the tree,
            // as opened on the host, is mounted at the stage.
            let stage = PathBuf::from(STAGE);
            sys.apply(Call::Attach {
                source: tree.path.clone(),
                target: stage.clone(),
            })?;
            stage
        }
    };
    let inside = |p: &str| new_root.join(p);
    // The skeleton has every mount point; a user's tree may lack some.
    let mut has =
        |p: &str| matches!(root, Root::Skeleton) || sys.host_entry(&inside(p)) == HostEntry::Dir;
    let (proc_dir, sys_dir, dev_dir) = (has("proc"), has("sys"), has("dev"));
    if proc_dir && fresh_proc {
        sys.apply(Call::MountProc(inside("proc")))?;
    } else if proc_dir {
        sys.apply(Call::Bind {
            source: "/proc".into(),
            target: inside("proc"),
            read_only: false,
        })?;
    }
    if sys_dir && sysfs {
        sys.apply(Call::MountSysfs(inside("sys")))?;
    }
    if dev_dir {
        sys.apply(Call::MountTmpfs {
            name: "learnns-dev".into(),
            target: inside("dev"),
            options: "mode=0755".into(),
        })?;
        for name in DEVICES {
            let host = Path::new("/dev").join(name);
            if sys.host_entry(&host) != HostEntry::Missing {
                let target = inside("dev").join(name);
                sys.apply(empty_file(&target))?;
                sys.apply(Call::Bind {
                    source: host,
                    target,
                    read_only: false,
                })?;
            }
        }
        sys.apply(Call::Symlink {
            target: "/proc/self/fd".into(),
            link: inside("dev/fd"),
        })?;
    }
    sys.apply(match switch {
        Switch::Pivot => Call::PivotRoot(new_root),
        Switch::Chroot => Call::Chroot(new_root),
    })
}
// ANCHOR_END: assemble

fn write_skeleton(sys: &mut dyn Sys, stage: &Path, hostname: &str) -> Result<()> {
    for entry in SKELETON {
        match entry {
            Entry::Dir(path) => sys.apply(Call::Mkdir(stage.join(path)))?,
            Entry::File("etc/hostname", _) => sys.apply(Call::WriteFile {
                path: stage.join("etc/hostname"),
                bytes: format!("{hostname}\n").into_bytes(),
            })?,
            Entry::File(path, bytes) => sys.apply(Call::WriteFile {
                path: stage.join(path),
                bytes: bytes.to_vec(),
            })?,
        }
    }
    Ok(())
}

/// Recreate the host's program directories: symlinks as symlinks (merged
/// /usr), directories and files as read-only bind mounts.
fn bind_programs(sys: &mut dyn Sys, stage: &Path) -> Result<()> {
    for host in PROGRAMS {
        let target = stage.join(host.trim_start_matches('/'));
        match sys.host_entry(Path::new(host)) {
            HostEntry::Missing => {}
            HostEntry::Symlink(to) => sys.apply(Call::Symlink {
                target: to,
                link: target,
            })?,
            HostEntry::Dir => {
                sys.apply(Call::Mkdir(target.clone()))?;
                sys.apply(read_only_bind(host, target))?;
            }
            HostEntry::File => {
                sys.apply(empty_file(&target))?;
                sys.apply(read_only_bind(host, target))?;
            }
        }
    }
    Ok(())
}

/// An empty file to mount a file on.
fn empty_file(path: &Path) -> Call {
    Call::WriteFile {
        path: path.to_path_buf(),
        bytes: Vec::new(),
    }
}

fn read_only_bind(host: &str, target: PathBuf) -> Call {
    Call::Bind {
        source: host.into(),
        target,
        read_only: true,
    }
}

/// The text of the skeleton's `/etc/motd`.
pub fn motd() -> &'static str {
    SKELETON
        .iter()
        .find_map(|e| match e {
            Entry::File("etc/motd", bytes) => std::str::from_utf8(bytes).ok(),
            _ => None,
        })
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::{Call, Recorder};

    #[test]
    fn skeleton_has_the_files_and_mount_points() {
        let files: Vec<&str> = SKELETON
            .iter()
            .filter_map(|e| match e {
                Entry::File(p, _) => Some(*p),
                Entry::Dir(_) => None,
            })
            .collect();
        for f in [
            "etc/hostname",
            "etc/passwd",
            "etc/group",
            "etc/hosts",
            "etc/motd",
        ] {
            assert!(files.contains(&f), "{f}");
        }
        let dirs: Vec<&str> = SKELETON
            .iter()
            .filter_map(|e| match e {
                Entry::Dir(p) => Some(*p),
                Entry::File(..) => None,
            })
            .collect();
        for d in ["proc", "sys", "dev", "tmp", "usr"] {
            assert!(dirs.contains(&d), "{d}");
        }
        assert!(motd().contains("inside a learnns container"));
    }

    #[test]
    fn skeleton_root_binds_programs_read_only_and_pivots_last() {
        let mut fake = Recorder::default();
        let binds = [(
            PathBuf::from("/run/learnns/1-2-host-file"),
            PathBuf::from("/host-file"),
        )];
        assemble(
            &mut fake,
            &Root::Skeleton,
            "box",
            true,
            false,
            Switch::Pivot,
            &binds,
        )
        .unwrap();
        assert!(fake.calls.contains(&Call::Attach {
            source: "/run/learnns/1-2-host-file".into(),
            target: PathBuf::from(STAGE).join("host-file"),
        }));
        let stage = PathBuf::from(STAGE);
        let mounts = fake.mounts();
        assert_eq!(
            mounts[0],
            Call::MountTmpfs {
                name: "learnns-root".into(),
                target: stage.clone(),
                options: "mode=0755".into(),
            }
        );
        assert!(mounts.contains(&Call::Bind {
            source: "/usr".into(),
            target: stage.join("usr"),
            read_only: true,
        }));
        assert!(mounts.contains(&Call::MountProc(stage.join("proc"))));
        assert!(mounts.contains(&Call::Attach {
            source: "/run/learnns/1-2-host-file".into(),
            target: stage.join("host-file"),
        }));
        assert_eq!(mounts.last(), Some(&Call::PivotRoot(stage.clone())));
        // merged /usr: /bin is a symlink, not a mount
        assert!(fake.calls.contains(&Call::Symlink {
            target: "usr/bin".into(),
            link: stage.join("bin"),
        }));
        assert!(fake.calls.contains(&Call::WriteFile {
            path: stage.join("etc/hostname"),
            bytes: b"box\n".to_vec(),
        }));
        // every host directory is bound read-only
        assert!(
            mounts
                .iter()
                .all(|c| !matches!(c, Call::Bind { source, read_only: false, .. } if source.starts_with("/usr")))
        );
    }

    #[test]
    fn without_a_pid_namespace_the_hosts_proc_is_bound() {
        let mut fake = Recorder::default();
        let dir = PathBuf::from(STAGE);
        assemble(
            &mut fake,
            &Root::Dir(UserTree::pretend("/srv/alpine")),
            "box",
            false,
            true,
            Switch::Chroot,
            &[],
        )
        .unwrap();
        let mounts = fake.mounts();
        assert_eq!(
            mounts[0],
            Call::Attach {
                source: "/srv/alpine".into(),
                target: dir.clone(),
            }
        );
        assert!(mounts.contains(&Call::Bind {
            source: "/proc".into(),
            target: dir.join("proc"),
            read_only: false,
        }));
        assert!(mounts.contains(&Call::MountSysfs(dir.join("sys"))));
        assert_eq!(mounts.last(), Some(&Call::Chroot(dir)));
    }

    #[test]
    fn the_host_root_needs_no_assembly() {
        let mut fake = Recorder::default();
        assemble(
            &mut fake,
            &Root::Host,
            "box",
            true,
            true,
            Switch::Pivot,
            &[],
        )
        .unwrap();
        assert!(fake.calls.is_empty());
    }

    #[test]
    fn acls_that_let_others_write_are_found() {
        // version 2; user::rwx, user:61999:rw-, group::r-x, mask::rwx, other::r-x
        let entry = |tag: u16, perm: u16, id: u32| {
            let mut e = tag.to_le_bytes().to_vec();
            e.extend(perm.to_le_bytes());
            e.extend(id.to_le_bytes());
            e
        };
        let acl = |entries: &[Vec<u8>]| {
            let mut a = 2u32.to_le_bytes().to_vec();
            for e in entries {
                a.extend(e);
            }
            a
        };
        let base = [
            entry(0x01, 7, u32::MAX),
            entry(0x04, 5, u32::MAX),
            entry(0x20, 5, u32::MAX),
        ];
        assert_eq!(acl_lets_others_write(&acl(&base), &[0]), None);
        let mut named = base.to_vec();
        named.push(entry(0x02, 6, 61999));
        named.push(entry(0x10, 7, u32::MAX));
        assert!(
            acl_lets_others_write(&acl(&named), &[0])
                .unwrap()
                .contains("61999")
        );
        assert_eq!(acl_lets_others_write(&acl(&named), &[0, 61999]), None);
        let read_only = [entry(0x02, 4, 61999), entry(0x08, 5, 100)];
        assert_eq!(acl_lets_others_write(&acl(&read_only), &[0]), None);
        let group = [entry(0x08, 2, 100)];
        assert!(
            acl_lets_others_write(&acl(&group), &[0])
                .unwrap()
                .contains("group 100")
        );
        assert_eq!(
            acl_lets_others_write(&acl(&[entry(0x08, 7, 0)]), &[0]),
            None
        );
        assert_eq!(acl_lets_others_write(&[1, 2], &[0]), None);
    }

    #[test]
    fn bad_user_roots_are_refused_with_a_fix() {
        let err = |p: &str| open_user_root(Path::new(p)).unwrap_err().to_string();
        assert!(err("/no/such/dir").contains("no such directory"));
        assert!(err("/etc/hostname").contains("not a directory"));
        assert!(err("/").contains("host's own root"));
        assert!(err("/proc/self").contains("no /bin/sh") || err("/proc/self").contains("--rootfs"));
    }
}
