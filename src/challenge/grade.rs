//! The checks: each looks at every candidate, keeps the one that got
//! furthest, and says what it still lacks in terms of what the learner
//! typed.

use super::{Candidate, Candidates, Children, Verdict};
use crate::ns::Kind;

/// How far one candidate got.
pub(super) enum Grade {
    Done(String),
    /// How far (higher is further), and what is missing.
    Partly(u8, String),
    Nowhere,
}

/// The best grade among the candidates; `nothing` when none got anywhere.
/// A grade counts only if its process is still there once it is read:
/// every file was read by PID, and a PID reused by another process (another
/// user's) would have been read in its place.
pub(super) fn best(
    all: &Candidates,
    grade: impl Fn(&Candidate) -> Grade,
    nothing: String,
) -> Verdict {
    let mut closest: Option<(u8, i32, String)> = None;
    for c in &all.list {
        let graded = match grade(c) {
            Grade::Nowhere => Grade::Nowhere,
            _ if !c.still_there() => Grade::Partly(0, gone(c)),
            found => found,
        };
        match graded {
            Grade::Done(what) => return Verdict::Pass { pid: c.pid, what },
            Grade::Partly(score, why) => {
                if closest.as_ref().is_none_or(|(s, _, _)| score > *s) {
                    closest = Some((score, c.pid, why));
                }
            }
            Grade::Nowhere => {}
        }
    }
    match closest {
        Some((_, pid, why)) => Verdict::Missing {
            closest: Some(pid),
            reasons: vec![why],
        },
        None => Verdict::Missing {
            closest: None,
            reasons: vec![nothing],
        },
    }
}

/// Challenge 1: a process in a UTS namespace of its own, named `lab`.
pub fn uts(all: &Candidates) -> Verdict {
    let as_root = all.graded.as_root;
    best(
        all,
        |c| {
            if !c.own(Kind::Uts, &all.host) {
                return Grade::Nowhere;
            }
            let own_user = c.own(Kind::User, &all.host);
            match hostname_of(c, as_root, own_user) {
                Ok(name) if name == "lab" => Grade::Done(format!(
                    "{} is in a UTS namespace of its own, and its hostname there is `lab`",
                    c.label()
                )),
                Ok(name) => Grade::Partly(
                    2,
                    format!(
                        "{} is in a UTS namespace of its own, but its hostname is `{name}`, not `lab`: the hostname was not set inside it; run `hostname lab` inside it (e.g. `sudo nsenter -t {} -u hostname lab`; for a namespace of your own user namespace, `nsenter -t {} -U -u --preserve-credentials hostname lab`)",
                        c.label(),
                        c.pid,
                        c.pid
                    ),
                ),
                Err(why) => Grade::Partly(
                    1,
                    format!(
                        "{} is in a UTS namespace of its own, but its hostname cannot be read ({why}); run the check with sudo",
                        c.label()
                    ),
                ),
            }
        },
        format!(
            "{}: start one with `sudo unshare --uts` (as an ordinary user, `unshare --user --map-root-user --uts`) and leave it running",
            all.none("is in a UTS namespace other than the host's")
        ),
    )
}

/// The hostname of a process's UTS namespace, read by entering it the way
/// the course teaches: `nsenter -t PID -u hostname`. Reading
/// /proc/PID/root/proc/sys/kernel/hostname would not do: that file answers
/// for the reader's UTS namespace, not the process's. Without root,
/// joining the UTS namespace needs the privilege its user namespace gives
/// its creator, so that is entered first (keeping our own uid).
pub(super) fn hostname_of(c: &Candidate, as_root: bool, own_user: bool) -> Result<String, String> {
    read_inside(c, as_root, own_user, &["-u", "hostname"])
        .map(|out| super::printable(out.trim_end_matches('\n')))
}

/// What a command prints inside a process's namespaces (`nsenter -t PID
/// ARGS`): without root, a namespace of the user's own user namespace is
/// entered through it, keeping the user's own IDs. The error is nsenter's
/// first line.
///
/// nsenter names the process by PID: if it exited and another process
/// (another user's) took its PID, nsenter would enter that one's
/// namespaces. So the candidate must still be there once nsenter has opened
/// them, or what it read is not the candidate's.
pub(super) fn read_inside(
    c: &Candidate,
    as_root: bool,
    own_user: bool,
    args: &[&str],
) -> Result<String, String> {
    let mut command = std::process::Command::new("nsenter");
    command.arg("-t").arg(c.pid.to_string());
    if !as_root && own_user {
        command.args(["-U", "--preserve-credentials"]);
    }
    command.args(args);
    let out = command
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("nsenter: {e}"))?;
    if !c.still_there() {
        return Err(gone(c));
    }
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(super::printable(
            err.lines().next().unwrap_or("nsenter failed"),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The first child of a process, as `/proc/PID/task/PID/children` lists it.
fn first_child(pid: i32) -> Option<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// What to say when a process exited while it was graded.
pub(super) fn gone(c: &Candidate) -> String {
    format!(
        "process {} exited while it was graded; check again while it runs",
        c.pid
    )
}

/// Challenge 3: PID 1 of a PID namespace of its own, with a /proc of
/// that namespace in a mount namespace of its own.
pub fn pid(all: &Candidates) -> Verdict {
    best(
        all,
        |c| {
            let own_pid = c.own(Kind::Pid, &all.host);
            let first = c.nspid.last() == Some(&1);
            if !own_pid {
                return match c.pid_for_children {
                    Children::Empty => Grade::Partly(
                        1,
                        format!(
                            "{} made a new PID namespace but is not in it: `unshare --pid` without `--fork` leaves the caller outside, and only its children would be PID 1 there; add `--fork`",
                            c.label()
                        ),
                    ),
                    // With `--fork`, unshare stays outside and waits for
                    // its child, which is PID 1 there: the one to grade.
                    Children::In(id) if Some(id) != c.ids.get(Kind::Pid) => Grade::Partly(
                        1,
                        match first_child(c.pid) {
                            Some(child) => format!(
                                "{} made a new PID namespace for its children and stays outside it; its child, process {child}, is in it: grade that one (`--pid {child}`)",
                                c.label()
                            ),
                            None => format!(
                                "{} made a new PID namespace for its children and stays outside it, and no child of it is left in it",
                                c.label()
                            ),
                        },
                    ),
                    _ => Grade::Nowhere,
                };
            }
            if !first {
                return Grade::Partly(
                    2,
                    format!(
                        "{} is in a PID namespace of its own but is not its PID 1 (its PIDs: {:?}); leave running the first process of the namespace, the one `unshare --pid --fork` starts",
                        c.label(),
                        c.nspid
                    ),
                );
            }
            if fresh_proc(c) {
                return Grade::Done(format!(
                    "{} is PID 1 of its own PID namespace, and the /proc it sees is that namespace's",
                    c.label()
                ));
            }
            let mount = if c.own(Kind::Mnt, &all.host) {
                "it has a mount namespace of its own, but no /proc was mounted in it"
            } else {
                "it shares the host's mount namespace, so it sees the host's /proc"
            };
            Grade::Partly(
                3,
                format!(
                    "{} is PID 1 of its own PID namespace, but there is no fresh /proc: {mount}, and `ps` beside it lists every process on the host; add `--mount-proc`",
                    c.label()
                ),
            )
        },
        format!(
            "{}: start one with `sudo unshare --pid --fork` (as an ordinary user, `unshare --user --map-root-user --pid --fork`) and leave it running",
            all.none("is in a PID namespace other than the host's")
        ),
    )
}

/// Does the process see a /proc of its own PID namespace? A procfs shows
/// the PID namespace of whoever mounted it, so in the /proc this process
/// sees (through /proc/PID/root, which resolves in its mount namespace),
/// process 1 is in that procfs's namespace. If that is the candidate's own
/// PID namespace, its /proc is fresh; if it is the host's /proc, process 1
/// there is the host's init, in the host's PID namespace.
fn fresh_proc(c: &Candidate) -> bool {
    let seen = super::candidates::identity(&format!("/proc/{}/root/proc/1/ns/pid", c.pid));
    seen.is_some() && seen == c.ids.get(Kind::Pid)
}

/// Challenge 6: root inside a user namespace of its own, the graded user
/// outside.
pub fn user(all: &Candidates) -> Verdict {
    let uid = all.graded.uid;
    best(
        all,
        |c| {
            if !c.own(Kind::User, &all.host) {
                return Grade::Nowhere;
            }
            // The status Uid line shows uids as learnns's namespace sees
            // them (the outside uid): the map says what it is inside.
            let root_inside = c.uid_map.iter().find(|(inside, _, _)| *inside == 0);
            match root_inside {
                _ if c.uid_map.is_empty() => Grade::Partly(
                    1,
                    format!(
                        "{} is in a user namespace of its own, but it has no uid map, so inside it is `nobody` (65534): `unshare --user` without `-r` (`--map-root-user`) makes no map",
                        c.label()
                    ),
                ),
                // Root mapping root proves nothing: the task is to become
                // root inside without being root outside.
                Some((_, 0, _)) if uid == 0 => Grade::Partly(
                    2,
                    format!(
                        "{} is root inside its own user namespace, but it is root (uid 0) outside too: the task is to do this as an ordinary user; run `unshare --user --map-root-user` as yourself (not root, no sudo), and check as that user",
                        c.label()
                    ),
                ),
                Some((_, outside, _)) if *outside == uid && c.euid == uid => Grade::Done(format!(
                    "{} is root inside its own user namespace and uid {uid} outside (uid_map `0 {uid} 1`)",
                    c.label()
                )),
                Some((_, outside, _)) if *outside != uid => Grade::Partly(
                    2,
                    format!(
                        "{} is root inside its own user namespace, but root there is uid {outside} outside, not yours ({uid}): start it as yourself, without sudo",
                        c.label()
                    ),
                ),
                Some(_) => Grade::Partly(
                    3,
                    format!(
                        "{} has uid 0 mapped to you, but does not run as uid 0 inside; start it with `--map-root-user` so the program runs as root",
                        c.label()
                    ),
                ),
                None => {
                    let inside = c
                        .uid_map
                        .iter()
                        .find(|(_, outside, _)| *outside == uid)
                        .map(|(inside, _, _)| inside.to_string())
                        .unwrap_or_else(|| "someone else".into());
                    Grade::Partly(
                        2,
                        format!(
                            "{} is in a user namespace of its own and mapped, but not root inside: you are uid {inside} there (the map {}; `--map-current-user` keeps your uid); use `--map-root-user` (`-r`) to be root inside",
                            c.label(),
                            map_text(&c.uid_map)
                        ),
                    )
                }
            }
        },
        format!(
            "{}: start one with `unshare --user --map-root-user` as yourself (uid {uid}) and leave it running",
            all.none("is in a user namespace other than the host's")
        ),
    )
}

fn map_text(map: &[(u32, u32, u32)]) -> String {
    let lines: Vec<String> = map
        .iter()
        .map(|(a, b, n)| format!("`{a} {b} {n}`"))
        .collect();
    lines.join(", ")
}

#[cfg(test)]
mod tests {
    use super::super::Graded;
    use super::*;
    use crate::ns::{Identities, Identity};

    fn ids(base: u64) -> Identities {
        Identities(
            crate::ns::ORDER
                .iter()
                .map(|k| {
                    (
                        *k,
                        Identity {
                            device: 4,
                            inode: base + *k as u64,
                        },
                    )
                })
                .collect(),
        )
    }

    fn with(kinds: &[Kind], map: Vec<(u32, u32, u32)>, nspid: Vec<i32>) -> Candidate {
        let mut own = ids(100);
        for k in kinds {
            own.0.insert(
                *k,
                Identity {
                    device: 4,
                    inode: 500 + *k as u64,
                },
            );
        }
        // This test process, so that it is still there once graded.
        let pid = std::process::id() as i32;
        Candidate {
            pid,
            started: procfs::process::Process::new(pid)
                .unwrap()
                .stat()
                .unwrap()
                .starttime,
            comm: "sleep".into(),
            pid_for_children: Children::In(own.get(Kind::Pid).unwrap()),
            ids: own,
            nspid,
            euid: 1000,
            uid_map: map,
        }
    }

    fn graded(list: Vec<Candidate>) -> Candidates {
        Candidates {
            host: ids(100),
            graded: Graded {
                uid: 1000,
                as_root: false,
            },
            list,
            named: None,
        }
    }

    #[test]
    fn a_named_process_is_named_in_the_verdict() {
        let mut all = graded(vec![with(&[], vec![], vec![9])]);
        assert!(reason(uts(&all)).starts_with("no process of yours is in a UTS namespace"));
        all.named = Some(all.list[0].pid);
        let said = reason(uts(&all));
        let expected = format!(
            "process {} (sleep) is not in a UTS namespace",
            all.list[0].pid
        );
        assert!(said.starts_with(&expected), "{said}");
        assert!(
            reason(super::super::mnt::mnt(&all))
                .contains("(sleep) does not have a root of its own")
        );
    }

    fn reason(v: Verdict) -> String {
        match v {
            Verdict::Missing { reasons, .. } => reasons.join(" "),
            pass => panic!("passed: {pass:?}"),
        }
    }

    #[test]
    fn user_names_the_missing_map_and_the_wrong_one() {
        let host_map = vec![(0, 0, u32::MAX)];
        assert!(
            reason(user(&graded(vec![with(&[], host_map.clone(), vec![9])])))
                .contains("no process of yours")
        );
        let none = with(&[Kind::User], vec![], vec![9]);
        assert!(reason(user(&graded(vec![none]))).contains("no uid map"));
        let same = with(&[Kind::User], vec![(1000, 1000, 1)], vec![9]);
        assert!(reason(user(&graded(vec![same]))).contains("not root inside"));
        let right = with(&[Kind::User], vec![(0, 1000, 1)], vec![9]);
        assert!(user(&graded(vec![right])).passed());
    }

    #[test]
    fn a_pid_taken_by_another_process_is_not_read_as_the_candidates() {
        // This test process stands for one that took the PID of a
        // candidate that exited: same PID, a different start time.
        let mut reused = with(&[Kind::Uts], vec![], vec![9]);
        reused.pid = std::process::id() as i32;
        reused.started = u64::MAX;
        let said = hostname_of(&reused, true, false).unwrap_err();
        assert!(said.contains("exited while it was graded"), "{said}");
        let here = Candidates::gather(Graded::invoker(), Some(reused.pid)).unwrap();
        assert!(here.list[0].still_there());
    }

    #[test]
    fn a_grade_counts_only_if_its_process_is_still_there() {
        let mut reused = with(&[Kind::Uts], vec![], vec![9]);
        reused.pid = std::process::id() as i32;
        reused.started = u64::MAX;
        let all = graded(vec![reused]);
        let verdict = best(&all, |c| Grade::Done(c.label()), "none".into());
        assert!(reason(verdict).contains("exited while it was graded"));
        let verdict = best(&all, |_| Grade::Nowhere, "none".into());
        assert_eq!(reason(verdict), "none");
    }

    #[test]
    fn pid_names_a_missing_fork() {
        let mut caller = with(&[], vec![], vec![77]);
        caller.pid_for_children = Children::Empty;
        assert!(reason(pid(&graded(vec![caller]))).contains("without `--fork`"));
        let child = with(&[Kind::Pid], vec![], vec![78, 2]);
        assert!(reason(pid(&graded(vec![child]))).contains("not its PID 1"));
    }
}
