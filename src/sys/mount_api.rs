//! The new mount API (`open_tree`, `move_mount`, `fsopen`/`fsmount`,
//! `mount_setattr`), which nix does not wrap: mounts as descriptors, so
//! nothing is attached by walking a path another user could change.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::fcntl::AT_FDCWD;

/// `open_tree(2)`: a descriptor for `path` (relative to `dir`), with
/// OPEN_TREE_CLONE a detached copy of the mount that can be attached
/// elsewhere with [`move_mount`].
pub(super) fn open_tree(dir: BorrowedFd, path: &CStr, flags: libc::c_uint) -> nix::Result<OwnedFd> {
    // SAFETY: `path` is a valid C string for the duration of the call, and
    // `dir` a descriptor the caller keeps open; the kernel returns a new
    // descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, dir.as_raw_fd(), path.as_ptr(), flags) };
    owned(fd)
}

/// A detached copy of the mount tree at `path` (and what is mounted
/// below it), looked up in the caller's mount namespace.
pub(super) fn clone_tree(path: &Path) -> nix::Result<OwnedFd> {
    let path = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| nix::Error::EINVAL)?;
    let flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC | libc::AT_RECURSIVE as u32;
    open_tree(AT_FDCWD, &path, flags)
}

/// `move_mount(2)` from descriptor to descriptor: attach `mount` on the
/// directory or file `target` is open on, with no path walked at all.
pub(super) fn move_mount(mount: BorrowedFd, target: BorrowedFd) -> nix::Result<()> {
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
pub(super) fn new_mount(
    fstype: &CStr,
    source: &str,
    options: &str,
    attrs: u64,
) -> nix::Result<OwnedFd> {
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
pub(super) fn set_read_only(mount: BorrowedFd) -> nix::Result<()> {
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
pub(super) fn owned(fd: libc::c_long) -> nix::Result<OwnedFd> {
    let fd = nix::Error::result(fd)?;
    // SAFETY: the kernel just returned this descriptor to us; nobody else
    // owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}
