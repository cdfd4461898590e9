//! File attributes the kernel keeps beside a file's mode, read by descriptor.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, BorrowedFd};

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
