//! Challenge 4: a process whose root is a file system of its own, reached
//! with `pivot_root` in a mount namespace of its own, with private
//! propagation. Graded from `/proc/PID/mountinfo`, the process's view of
//! its mounts, and from the namespace's own view, read by entering it.

use super::grade::{Grade, best};
use super::{Candidate, Candidates, Verdict};
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

/// What one process's mounts look like, from the three views the check
/// compares.
#[derive(Debug, Clone)]
pub struct Views {
    /// `/` as the process sees it (its /proc/PID/mountinfo); none when its
    /// root directory is not a mount point (chroot into a plain directory).
    pub process: Option<MountLine>,
    /// `/` of its mount namespace: what `nsenter -m` lands in.
    pub namespace: Option<MountLine>,
    /// `/` of the host (PID 1, or learnns).
    pub host: Option<MountLine>,
}

/// What is wrong, in the learner's terms; empty when it passes.
///
/// How pivot_root is told from chroot: `chroot` changes only the process's
/// root directory; the mount namespace's root mount stays what it was.
/// `/proc/PID/mountinfo` is shown relative to the process's root, so
/// after a chroot its `/` line is another mount (a bind mount at the chroot
/// directory) or missing (a plain directory is not a mount point), while
/// entering the namespace (`nsenter -m`, which starts at the namespace's
/// root mount) still shows the host's file system at `/`. After
/// `pivot_root`, the namespace's root mount *is* the new root: both views
/// show the same mount (same mount ID) at `/`, and it is not the host's.
pub fn problems(own_mnt: bool, v: &Views) -> Vec<String> {
    let mut out = Vec::new();
    if !own_mnt {
        out.push(
            "it is in the same mount namespace as the host, so whatever it mounts or pivots changes the host's mounts: start it with `unshare --mount`".into(),
        );
    }
    let pivoted = match (&v.process, &v.namespace) {
        (Some(p), Some(n)) => p.id == n.id,
        _ => false,
    };
    if !pivoted {
        out.push(
            "chroot instead of pivot_root: its root directory is not its mount namespace's root mount, which is still the host's file system, and a process that escapes the chroot (or `nsenter -m`) lands in the host's /; use `pivot_root . old` then `umount -l old`".into(),
        );
    } else if let (Some(n), Some(h)) = (&v.namespace, &v.host)
        && n.same_place(h)
    {
        {
            out.push(format!(
                "its / is still the host's root ({} {} on {}): a new mount namespace starts with a copy of the host's mounts; mount a new file system (a tmpfs) and pivot_root into it",
                n.fstype, n.source, n.device
            ));
        }
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

/// The namespace's own `/`, read the way the course teaches: `nsenter -t
/// PID -m` starts at the namespace's root mount, whatever the process's
/// root directory.
fn namespace_root(c: &Candidate, as_root: bool, own_user: bool) -> Result<Vec<MountLine>, String> {
    let mut command = std::process::Command::new("nsenter");
    command.arg("-t").arg(c.pid.to_string());
    if !as_root && own_user {
        command.args(["-U", "--preserve-credentials"]);
    }
    command.args(["-m", "cat", "/proc/self/mountinfo"]);
    let out = command
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("nsenter: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(err.lines().next().unwrap_or("nsenter failed").to_string());
    }
    Ok(parse(&String::from_utf8_lossy(&out.stdout)))
}

/// Grade challenge 4.
pub fn mnt(all: &Candidates) -> Verdict {
    let host_lines =
        read_mountinfo("/proc/1/mountinfo").or_else(|| read_mountinfo("/proc/self/mountinfo"));
    let host = host_lines.as_deref().and_then(root_of).cloned();
    let as_root = all.graded.as_root;
    best(
        all,
        |c| {
            let Some(lines) = read_mountinfo(&format!("/proc/{}/mountinfo", c.pid)) else {
                return Grade::Nowhere;
            };
            let process = root_of(&lines).cloned();
            let own_mnt = c.own(Kind::Mnt, &all.host);
            let namespace = if own_mnt {
                match namespace_root(c, as_root, c.own(Kind::User, &all.host)) {
                    Ok(lines) => root_of(&lines).cloned(),
                    Err(why) => {
                        return Grade::Partly(
                            1,
                            format!(
                                "{} is in a mount namespace of its own, but it cannot be entered ({why}); run the check with sudo",
                                c.label()
                            ),
                        );
                    }
                }
            } else {
                host.clone()
            };
            let views = Views {
                process,
                namespace,
                host: host.clone(),
            };
            let found = problems(own_mnt, &views);
            if found.is_empty() {
                let root = views.namespace.as_ref().expect("pivoted");
                return Grade::Done(format!(
                    "{} has a mount namespace of its own whose root mount is a new file system ({} {}), reached with pivot_root, with private propagation",
                    c.label(),
                    root.fstype,
                    root.source
                ));
            }
            // Same namespace and the host's root: nothing done at all.
            let chrooted = views.process != views.host;
            if !own_mnt && !chrooted {
                return Grade::Nowhere;
            }
            Grade::Partly(
                4u8.saturating_sub(found.len() as u8),
                format!("{}: {}", c.label(), found.join("; and ")),
            )
        },
        "no process of yours has a root of its own: every one is in the same mount namespace as the host, with the host's /; start one with `sudo unshare --mount --propagation private` and pivot_root into a new file system, and leave it running".into(),
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
            namespace: Some(line(900, "0:77", &[])),
            host: host.clone(),
        };
        assert!(problems(true, &pivoted).is_empty());
        let shared = Views {
            process: Some(line(900, "0:77", &["shared:5"])),
            ..pivoted.clone()
        };
        assert!(problems(true, &shared)[0].contains("`mount --make-rprivate /`"));
        // chroot into a bind mount: another mount at the process's `/`,
        // the host's file system at the namespace's.
        let chroot = Views {
            process: Some(line(901, "254:0", &[])),
            namespace: Some(line(800, "254:0", &[])),
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
            namespace: Some(line(800, "254:0", &[])),
            host,
        };
        assert!(problems(true, &copy)[0].contains("still the host's root"));
        assert!(problems(false, &copy)[0].contains("same mount namespace as the host"));
    }
}
