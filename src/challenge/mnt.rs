//! Challenge 4: a process whose root is a file system of its own, reached
//! with `pivot_root` in a mount namespace of its own, with private
//! propagation. Graded from `/proc/PID/mountinfo`, the process's view of
//! its mounts, and `/proc/PID/root`, where its root directory is.

use super::grade::{Grade, best};
use super::{Candidates, Verdict};
use crate::ns::Kind;

/// One line of a mountinfo file, the fields the check needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountLine {
    pub id: u64,
    /// `major:minor` of the file system.
    pub device: String,
    /// The directory of that file system mounted here (`/` unless a bind).
    pub root: String,
    pub mount_point: String,
    /// The optional fields: `shared:N`, `master:N`, `unbindable`.
    pub tags: Vec<String>,
    pub fstype: String,
    pub source: String,
}

/// Parse mountinfo: `ID PARENT MAJ:MIN ROOT POINT OPTS [TAGS...] - TYPE SOURCE SUPER`.
pub fn parse(text: &str) -> Vec<MountLine> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let f: Vec<&str> = left.split_whitespace().collect();
            let r: Vec<&str> = right.split_whitespace().collect();
            if f.len() < 6 || r.len() < 2 {
                return None;
            }
            Some(MountLine {
                id: f[0].parse().ok()?,
                device: f[2].into(),
                root: f[3].into(),
                mount_point: f[4].into(),
                tags: f[6..].iter().map(|t| t.to_string()).collect(),
                fstype: r[0].into(),
                source: r[1].into(),
            })
        })
        .collect()
}

/// The mount at `/` in a mountinfo: the last one, as later mounts hide
/// earlier ones at the same place.
pub fn root_of(lines: &[MountLine]) -> Option<&MountLine> {
    lines.iter().rev().find(|m| m.mount_point == "/")
}

impl MountLine {
    /// The same file system, and the same directory of it, as `other`:
    /// a copy made by `unshare --mount` has a new mount ID but is this.
    pub fn same_place(&self, other: &MountLine) -> bool {
        self.device == other.device && self.root == other.root
    }

    fn shared(&self) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.starts_with("shared:"))
            .map(String::as_str)
    }
}

/// What one process's mounts look like.
#[derive(Debug, Clone)]
pub struct Views {
    /// `/` as the process sees it (its /proc/PID/mountinfo); none when its
    /// root directory is not a mount point (chroot into a plain directory).
    pub process: Option<MountLine>,
    /// Where its root directory is, as `readlink /proc/PID/root` says:
    /// `/` when it is its mount namespace's root, a path below after chroot.
    pub root_link: String,
    /// `/` of the host (PID 1, or learnns).
    pub host: Option<MountLine>,
}

/// What is wrong, in the learner's terms; empty when it passes.
///
/// How pivot_root is told from chroot: `chroot` changes only the process's
/// root directory; its mount namespace's root mount stays the host's file
/// system. The kernel shows where that directory is in `/proc/PID/root`:
/// read from the host, the link is the directory's path from the root of
/// the process's mount namespace, so after `chroot /tmp/x` it reads
/// `/tmp/x` (even when /tmp/x is a bind mount of the host's `/`, which
/// `stat` could not tell from `/`: same device, same inode), and after
/// `pivot_root` it reads `/`, as the new root *is* the namespace's root
/// mount. Then the mount at `/` in its mountinfo is that root mount, and it
/// must not be the host's file system (`unshare --mount` alone gives a
/// copy of the host's root: a new mount ID, the same device and directory).
pub fn problems(own_mnt: bool, v: &Views) -> Vec<String> {
    let mut out = Vec::new();
    if !own_mnt {
        out.push(
            "it is in the same mount namespace as the host, so whatever it mounts or pivots changes the host's mounts: start it with `unshare --mount`".into(),
        );
    }
    let pivoted = v.root_link == "/" && v.process.is_some();
    if !pivoted {
        out.push(format!(
            "chroot instead of pivot_root: its root directory is `{}` in its mount namespace, whose root mount is still the host's file system (a process that escapes the chroot, or `nsenter -m`, lands there); use `pivot_root . old` then `umount -l /old`",
            v.root_link
        ));
    } else if let (Some(p), Some(h)) = (&v.process, &v.host)
        && p.same_place(h)
    {
        out.push(format!(
            "its / is still the host's root ({} {} on {}): a new mount namespace starts with a copy of the host's mounts; mount a new file system (a tmpfs) and pivot_root into it",
            p.fstype, p.source, p.device
        ));
    }
    if let Some(tag) = v.process.as_ref().and_then(MountLine::shared) {
        out.push(format!(
            "shared propagation (a mount made inside would leak to the host): its / is `{tag}`, so mounts under it propagate to its peers; `mount --make-rprivate /` first (or `unshare --propagation private`)"
        ));
    }
    out
}

fn read_mountinfo(path: &str) -> Option<Vec<MountLine>> {
    std::fs::read_to_string(path).ok().map(|t| parse(&t))
}

/// Grade challenge 4.
pub fn mnt(all: &Candidates) -> Verdict {
    let host_lines =
        read_mountinfo("/proc/1/mountinfo").or_else(|| read_mountinfo("/proc/self/mountinfo"));
    let host = host_lines.as_deref().and_then(root_of).cloned();
    best(
        all,
        |c| {
            let Some(lines) = read_mountinfo(&format!("/proc/{}/mountinfo", c.pid)) else {
                return Grade::Nowhere;
            };
            let process = root_of(&lines).cloned();
            let own_mnt = c.own(Kind::Mnt, &all.host);
            let root_link = std::fs::read_link(format!("/proc/{}/root", c.pid))
                .map(|l| super::printable(&l.to_string_lossy()))
                .unwrap_or_else(|_| "unknown".into());
            let views = Views {
                process,
                root_link,
                host: host.clone(),
            };
            let found = problems(own_mnt, &views);
            if found.is_empty() {
                let root = views.process.as_ref().expect("pivoted");
                return Grade::Done(format!(
                    "{} has a mount namespace of its own whose root mount is a new file system ({} {}), reached with pivot_root, with private propagation",
                    c.label(),
                    root.fstype,
                    root.source
                ));
            }
            // Same namespace and the host's root: nothing done at all.
            if !own_mnt && views.root_link == "/" {
                return Grade::Nowhere;
            }
            Grade::Partly(
                4u8.saturating_sub(found.len() as u8),
                format!("{}: {}", c.label(), found.join("; and ")),
            )
        },
        format!("{}: start one with `sudo unshare --mount --propagation private` and pivot_root into a new file system, and leave it running", all.none("has a root of its own (still in the same mount namespace as the host, with the host's /)")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "22 27 0:21 / /proc rw,relatime - proc proc rw\n\
        27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n";

    fn line(id: u64, device: &str, tags: &[&str]) -> MountLine {
        MountLine {
            id,
            device: device.into(),
            root: "/".into(),
            mount_point: "/".into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            fstype: "tmpfs".into(),
            source: "lab".into(),
        }
    }

    #[test]
    fn mountinfo_lines_are_read_with_their_tags() {
        let lines = parse(HOST);
        let root = root_of(&lines).unwrap();
        assert_eq!((root.id, root.device.as_str()), (27, "254:0"));
        assert_eq!(root.tags, vec!["shared:1"]);
        assert_eq!(
            (root.fstype.as_str(), root.source.as_str()),
            ("ext4", "/dev/vda")
        );
        assert!(parse("garbage\n").is_empty());
    }

    #[test]
    fn the_named_mistakes() {
        let host = root_of(&parse(HOST)).cloned();
        let pivoted = Views {
            process: Some(line(900, "0:77", &[])),
            root_link: "/".into(),
            host: host.clone(),
        };
        assert!(problems(true, &pivoted).is_empty());
        let shared = Views {
            process: Some(line(900, "0:77", &["shared:5"])),
            ..pivoted.clone()
        };
        assert!(problems(true, &shared)[0].contains("`mount --make-rprivate /`"));
        // chroot into a bind mount of /: the same file system at its `/`.
        let chroot = Views {
            process: Some(line(901, "254:0", &[])),
            root_link: "/tmp/x".into(),
            host: host.clone(),
        };
        assert!(problems(true, &chroot)[0].contains("chroot instead of pivot_root"));
        // chroot into a plain directory: no `/` line at all.
        let plain = Views {
            process: None,
            ..chroot
        };
        assert!(problems(true, &plain)[0].contains("chroot instead of pivot_root"));
        // unshare --mount alone: a copy of the host's root.
        let copy = Views {
            process: Some(line(800, "254:0", &[])),
            root_link: "/".into(),
            host,
        };
        assert!(problems(true, &copy)[0].contains("still the host's root"));
        assert!(problems(false, &copy)[0].contains("same mount namespace as the host"));
    }
}
