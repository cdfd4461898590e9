//! Challenge 7: a process in a cgroup `lab` of its own with a pids limit,
//! in a cgroup namespace of its own whose root is that cgroup, so it sees
//! `/` as its cgroup. Works on cgroup v1 (the pids hierarchy) and v2 (the
//! unified tree) alike.

use std::path::{Path, PathBuf};

use super::grade::{Grade, best};
use super::{Candidate, Candidates, Verdict};
use crate::cgroup::{Layout, ROOT};
use crate::error::{Error, Result};
use crate::ns::Kind;

/// The cgroup the task names.
pub const NAME: &str = "lab";

/// The hierarchy that has the pids controller: its directory, and whether
/// it is v1 (a `N:pids:PATH` line in /proc/PID/cgroup) or v2 (`0::PATH`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidsTree {
    pub dir: PathBuf,
    pub v1: bool,
}

impl PidsTree {
    /// This machine's, from [`Layout::detect`]; where that refuses (on v2
    /// the memory controller not enabled, say), wherever pids is.
    pub fn detect() -> Option<PidsTree> {
        match Layout::detect() {
            Ok(Layout::V1 { pids, .. }) => Some(PidsTree {
                dir: pids,
                v1: true,
            }),
            Ok(Layout::V2 { root }) => Some(PidsTree {
                dir: root,
                v1: false,
            }),
            Err(_) => PidsTree::detect_at(Path::new(ROOT)),
        }
    }

    pub fn detect_at(root: &Path) -> Option<PidsTree> {
        if root.join("pids/cgroup.procs").exists() {
            return Some(PidsTree {
                dir: root.join("pids"),
                v1: true,
            });
        }
        [root.to_path_buf(), root.join("unified")]
            .into_iter()
            .find(|t| {
                std::fs::read_to_string(t.join("cgroup.controllers"))
                    .is_ok_and(|c| c.split_whitespace().any(|x| x == "pids"))
            })
            .map(|dir| PidsTree { dir, v1: false })
    }

    /// The task's cgroup: `/sys/fs/cgroup/pids/lab` or `/sys/fs/cgroup/lab`.
    pub fn lab(&self) -> PathBuf {
        self.dir.join(NAME)
    }

    /// The path of the pids cgroup in a /proc/PID/cgroup text.
    pub fn path_in(&self, text: &str) -> Option<String> {
        text.lines().find_map(|line| {
            let mut f = line.splitn(3, ':');
            let (_, controllers, path) = (f.next()?, f.next()?, f.next()?);
            let hit = if self.v1 {
                controllers.split(',').any(|c| c == "pids")
            } else {
                controllers.is_empty()
            };
            hit.then(|| path.to_string())
        })
    }
}

/// What one process has, for the verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Its pids cgroup as the host reads it.
    pub outside: String,
    /// `pids.max` of that cgroup.
    pub limit: Option<String>,
    pub own_cgroupns: bool,
    /// Its cgroup as it sees it itself (inside its cgroup namespace).
    pub inside: Option<String>,
}

/// What is wrong, in the learner's terms; empty when it passes.
pub fn problems(s: &Seen) -> Vec<String> {
    let mut out = Vec::new();
    let wanted = format!("/{NAME}");
    if s.outside != wanted {
        out.push(format!(
            "not in the cgroup `{NAME}`: it is in `{}`; write its PID to `{NAME}`'s cgroup.procs (before `unshare --cgroup`, so the namespace's root is `{NAME}`)",
            s.outside
        ));
        return out;
    }
    match s.limit.as_deref() {
        Some("max") => out.push(format!(
            "no pids limit (pids.max is max): write a number to `{NAME}`'s pids.max"
        )),
        None => out.push(format!("`{NAME}`'s pids.max cannot be read")),
        Some(_) => {}
    }
    if !s.own_cgroupns {
        out.push(format!(
            "no cgroup namespace of its own, so it sees the full path `{}`: start it (once in `{NAME}`) with `unshare --cgroup`",
            s.outside
        ));
    } else {
        match s.inside.as_deref() {
            Some("/") => {}
            Some(p) => out.push(format!(
                "moved into `{NAME}` after `unshare --cgroup`: its cgroup namespace's root is the cgroup it was in when it unshared, so it sees `{p}`, not `/`; move it first, then `unshare --cgroup`"
            )),
            None => out.push("what it sees as its cgroup cannot be read; run the check with sudo".into()),
        }
    }
    out
}

/// Its cgroup as it sees it, read the way the course teaches: enter its
/// cgroup namespace (`nsenter -t PID -C`) and read its /proc/PID/cgroup,
/// which shows paths relative to the reader's cgroup namespace root.
fn inside(c: &Candidate, tree: &PidsTree, as_root: bool, own_user: bool) -> Option<String> {
    let file = format!("/proc/{}/cgroup", c.pid);
    let text = super::grade::read_inside(c, as_root, own_user, &["-C", "cat", &file]).ok()?;
    tree.path_in(&text)
}

/// Grade challenge 7.
pub fn cgroup(all: &Candidates) -> Verdict {
    let Some(tree) = PidsTree::detect() else {
        return Verdict::Missing {
            closest: None,
            reasons: vec![format!(
                "no cgroup hierarchy under {ROOT} has the pids controller, so there is nothing to grade on this machine"
            )],
        };
    };
    let as_root = all.graded.as_root;
    best(
        all,
        |c| {
            let Some(outside) = std::fs::read_to_string(format!("/proc/{}/cgroup", c.pid))
                .ok()
                .and_then(|t| tree.path_in(&t))
            else {
                return Grade::Nowhere;
            };
            if outside != format!("/{NAME}") && !c.own(Kind::Cgroup, &all.host) {
                return Grade::Nowhere;
            }
            let own_cgroupns = c.own(Kind::Cgroup, &all.host);
            let seen = Seen {
                limit: std::fs::read_to_string(
                    tree.dir
                        .join(outside.trim_start_matches('/'))
                        .join("pids.max"),
                )
                .ok()
                .map(|l| l.trim().to_string()),
                inside: own_cgroupns
                    .then(|| inside(c, &tree, as_root, c.own(Kind::User, &all.host)))
                    .flatten(),
                outside,
                own_cgroupns,
            };
            let found = problems(&seen);
            if found.is_empty() {
                return Grade::Done(format!(
                    "{} is in the cgroup `{NAME}` ({}) with pids.max {}, and in its own cgroup namespace it sees `/`",
                    c.label(),
                    tree.lab().display(),
                    seen.limit.unwrap_or_default()
                ));
            }
            Grade::Partly(
                4u8.saturating_sub(found.len() as u8),
                format!("{}: {}", c.label(), found.join("; and ")),
            )
        },
        format!(
            "{}: make the cgroup with `mkdir {}`, write the process's PID to its cgroup.procs, then start the cgroup namespace from inside it",
            all.none(&format!(
                "is in the cgroup `{NAME}` or in a cgroup namespace of its own"
            )),
            tree.lab().display()
        ),
    )
}

/// `learnns challenge 7 --clean`: remove the cgroup `lab` if no process is
/// in it; never kill.
pub fn clean() -> Result<i32> {
    let Some(tree) = PidsTree::detect() else {
        outln!("No cgroup hierarchy with the pids controller: nothing to remove.");
        return Ok(0);
    };
    let lab = tree.lab();
    if !lab.is_dir() {
        outln!("No cgroup `{NAME}` ({}): nothing to remove.", lab.display());
        return Ok(0);
    }
    if !nix::unistd::geteuid().is_root() {
        return Err(Error::usage(
            format!("removing {} needs root", lab.display()),
            "sudo learnns challenge 7 --clean",
        ));
    }
    let procs = std::fs::read_to_string(lab.join("cgroup.procs")).unwrap_or_default();
    let pids: Vec<&str> = procs.split_whitespace().collect();
    if !pids.is_empty() {
        crate::render::paragraph::paragraph(
            &format!(
                "Left alone: {} still holds process(es) {}; learnns never kills them. Stop them yourself (`kill PID`), then run this again.",
                lab.display(),
                pids.join(" ")
            ),
            "",
        );
        return Ok(1);
    }
    outln!("$ rmdir {}", lab.display());
    match std::fs::remove_dir(&lab) {
        Ok(()) => Ok(0),
        Err(e) => {
            crate::render::paragraph::hanging(
                &format!("failed: {e} (a cgroup made inside it must be removed first)"),
                "  ",
                "    ",
            );
            Ok(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(outside: &str, limit: &str, own: bool, inside: Option<&str>) -> Seen {
        Seen {
            outside: outside.into(),
            limit: Some(limit.into()),
            own_cgroupns: own,
            inside: inside.map(String::from),
        }
    }

    #[test]
    fn the_pids_line_is_found_on_v1_and_v2() {
        let text = "9:name=systemd:/\n8:pids:/lab\n0::/user.slice\n";
        let v1 = PidsTree {
            dir: "/x/pids".into(),
            v1: true,
        };
        let v2 = PidsTree {
            dir: "/x".into(),
            v1: false,
        };
        assert_eq!(v1.path_in(text).as_deref(), Some("/lab"));
        assert_eq!(v2.path_in(text).as_deref(), Some("/user.slice"));
        assert_eq!(v2.path_in("0::/\n").as_deref(), Some("/"));
    }

    #[test]
    fn the_tree_is_found_in_fixtures() {
        let dir = std::env::temp_dir().join(format!("learnns-ch7-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("unified")).unwrap();
        std::fs::write(dir.join("unified/cgroup.controllers"), "hugetlb pids\n").unwrap();
        let t = PidsTree::detect_at(&dir).unwrap();
        assert_eq!((t.dir.clone(), t.v1), (dir.join("unified"), false));
        std::fs::create_dir_all(dir.join("pids")).unwrap();
        std::fs::write(dir.join("pids/cgroup.procs"), "").unwrap();
        assert!(PidsTree::detect_at(&dir).unwrap().v1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_named_mistakes() {
        assert!(problems(&seen("/lab", "20", true, Some("/"))).is_empty());
        assert!(problems(&seen("/", "max", true, Some("/")))[0].contains("not in the cgroup"));
        assert!(problems(&seen("/lab", "max", true, Some("/")))[0].contains("pids.max is max"));
        assert!(problems(&seen("/lab", "20", false, None))[0].contains("sees the full path"));
        assert!(
            problems(&seen("/lab", "20", true, Some("/../lab")))[0]
                .contains("after `unshare --cgroup`")
        );
    }
}
