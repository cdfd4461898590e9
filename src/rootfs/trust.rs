//! Whether root may run a user's tree at all: as root, its programs act
//! with root's power over files, so nobody else may be able to change any
//! of them.

use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::{FileStat, Mode};

use super::{UserTree, mounted_over};
use crate::error::{Error, Result};
use crate::ns::KindSet;

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
        Error::usage(
            format!(
                "--rootfs {dir}: {} {why}; the tree's programs would run with the power of this machine's root over files, so whoever can change them could act as root",
                path.display()
            ),
            fix,
        )
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
