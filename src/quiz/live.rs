//! `learnns quiz --live`: questions about processes learnns puts into
//! namespaces of its choosing right now. What the learner sees is the real
//! output of `readlink`, `/proc/PID/status` and `uid_map`; the right answer
//! is read back from the kernel, not assumed from what was asked for.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::{Asked, Expect};
use crate::container::{Container, Spec};
use crate::error::{Error, Result};
use crate::inspect::meaning;
use crate::ns::{Identities, Kind, KindSet, ORDER, link_text};

pub const DEFAULT_COUNT: u32 = 4;

/// The containers behind the questions, alive while they are asked, so a
/// learner can look at them from another terminal too.
#[derive(Default)]
pub struct Keep {
    containers: Vec<Container>,
    children: Vec<Child>,
}

impl Drop for Keep {
    fn drop(&mut self) {
        // The containers first: their processes die with their PID 1.
        self.containers.clear();
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Template {
    WhichDiffer,
    Loopback,
    Hostname,
    InnerPid,
    RootIs,
}

const TEMPLATES: [Template; 5] = [
    Template::WhichDiffer,
    Template::Loopback,
    Template::Hostname,
    Template::InnerPid,
    Template::RootIs,
];

fn root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Start a container; without root, inside a user namespace of its own.
fn start(kinds: KindSet, keep: &mut Keep) -> Result<&Container> {
    let kinds = if root() {
        kinds
    } else {
        kinds.with(Kind::User)
    };
    let container = Container::start(&Spec::new(kinds)).map_err(|e| match e {
        Error::NoPrivilege { .. } => Error::setup(
            "live questions need namespaces: run as root, or allow unprivileged user namespaces",
            "sudo learnns quiz --live (learnns doctor says what this machine allows)",
        ),
        other => other,
    })?;
    keep.containers.push(container);
    Ok(keep.containers.last().expect("just pushed"))
}

/// The most live questions one quiz asks: each starts containers.
pub const MAX_COUNT: u32 = 20;

/// Live questions, each made (with its containers) only when it is asked,
/// so a learner who stops early, or a Ctrl-C, leaves nothing half-built.
pub struct Live {
    order: Vec<Template>,
    rng: fastrand::Rng,
    keep: Keep,
}

impl Live {
    pub fn new(mut rng: fastrand::Rng) -> Live {
        let mut order = TEMPLATES.to_vec();
        rng.shuffle(&mut order);
        Live {
            order,
            rng,
            keep: Keep::default(),
        }
    }

    /// Question `i` (from 0), about processes started for it now.
    pub fn question(&mut self, i: usize) -> Result<Asked> {
        let template = self.order[i % self.order.len()];
        let asked = make(template, &mut self.rng, &mut self.keep)?;
        Ok(asked.shuffled(&mut self.rng))
    }
}

/// A random set of one to three kinds (never user: rootless adds it).
fn some_kinds(rng: &mut fastrand::Rng) -> KindSet {
    let mut pool: Vec<Kind> = ORDER.into_iter().filter(|k| *k != Kind::User).collect();
    rng.shuffle(&mut pool);
    pool.into_iter().take(rng.usize(1..=3)).collect()
}

/// What `readlink /proc/PID/ns/*` prints: the glob sorts the names.
fn readlinks(pid: i32, ids: &Identities, only: Option<Kind>) -> String {
    let mut kinds: Vec<Kind> = ORDER.to_vec();
    kinds.sort_by_key(|k| k.proc_name());
    kinds
        .iter()
        .filter(|k| only.is_none_or(|o| o == **k))
        .map(|k| link_text(*k, ids.get(*k)))
        .collect::<Vec<_>>()
        .join("\n")
        + &format!("\n(PID {pid})")
}

fn pair(a: i32, b: i32, only: Option<Kind>) -> Result<String> {
    let (ida, idb) = (Identities::of(a)?, Identities::of(b)?);
    let glob = match only {
        Some(kind) => kind.proc_name().to_string(),
        None => "*".to_string(),
    };
    Ok(crate::render::layout::side_by_side(
        (
            &format!("$ readlink /proc/{a}/ns/{glob}"),
            &readlinks(a, &ida, only),
        ),
        (
            &format!("$ readlink /proc/{b}/ns/{glob}"),
            &readlinks(b, &idb, only),
        ),
        crate::ui::width().saturating_sub(2),
    )
    .join("\n")
        + "\n")
}

fn make(template: Template, rng: &mut fastrand::Rng, keep: &mut Keep) -> Result<Asked> {
    let me = std::process::id() as i32;
    let see = |name: &str| {
        let lesson = crate::lessons::find(name).expect("a lesson of the course");
        format!("learnns lesson {} ({name})", lesson.number)
    };
    match template {
        Template::WhichDiffer => {
            let b = start(some_kinds(rng), keep)?.pid.as_raw();
            let differ = Identities::of(me)?.differing(&Identities::of(b)?);
            let words: Vec<String> = differ.iter().map(|k| k.proc_name().to_string()).collect();
            let meanings: Vec<String> = differ
                .iter()
                .map(|k| format!("- {k}: {}", meaning(k, b, me)))
                .collect();
            Ok(Asked {
                shown: Some(pair(me, b, None)?),
                text: format!(
                    "learnns (PID {me}) just started PID {b}. In which namespace kinds is PID {b} not with PID {me}? Type the kinds (e.g. `net uts`), or `none`."
                ),
                choices: Vec::new(),
                expect: Expect::Words(words.clone()),
                explain: format!(
                    "The links differ in {}: a different inode (on the same device) is a different namespace. What that means here:\n\n{}",
                    words.join(" "),
                    meanings.join("\n")
                ),
                see: see("intro"),
            })
        }
        Template::Loopback => {
            let (b, shared, shown) = own_or_not(Kind::Net, rng.bool(), Kind::Uts, keep)?;
            Ok(Asked {
                shown: Some(shown),
                text: format!(
                    "A web server in PID {b} listens on 127.0.0.1:8080. Can PID {me} connect to it at 127.0.0.1:8080?"
                ),
                choices: vec![
                    "Yes: they are in the same network namespace, so 127.0.0.1 is the same loopback".into(),
                    "No: they are in different network namespaces, each with its own loopback".into(),
                ],
                expect: Expect::Choice(if shared { 0 } else { 1 }),
                explain: if shared {
                    "The net links are equal: one network namespace, one `lo`, one set of ports.".into()
                } else {
                    format!("The net links differ: {}.", meaning(Kind::Net, b, me))
                },
                see: see("net"),
            })
        }
        Template::Hostname => {
            // Without root the container's root could not rename a
            // hostname it shares with the host, so the question would lie.
            let own = rng.bool() || !root();
            let (b, shared, shown) = own_or_not(Kind::Uts, own, Kind::Ipc, keep)?;
            Ok(Asked {
                shown: Some(shown),
                text: format!(
                    "Root in PID {b} runs `hostname box`. What happens to the hostname PID {me} sees?"
                ),
                choices: vec![
                    "Nothing: PID {b} has a UTS namespace of its own"
                        .replace("{b}", &b.to_string()),
                    "It becomes box too: they share one UTS namespace".into(),
                ],
                expect: Expect::Choice(if shared { 1 } else { 0 }),
                explain: if shared {
                    "The uts links are equal, so there is one hostname for both: renaming it inside renames the host. learnns never does that; a lesson without --uts skips the rename.".into()
                } else {
                    "The uts links differ: each namespace has its own hostname.".into()
                },
                see: see("uts"),
            })
        }
        Template::InnerPid => {
            let kinds = KindSet::new().with(Kind::Pid);
            let container = start(kinds, keep)?;
            let b = container.pid.as_raw();
            let mut command = container.command(&["sleep".to_string(), "600".into()])?;
            let child = command
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| Error::io("start sleep inside", e))?;
            let waiter = child.id() as i32;
            keep.children.push(child);
            let sleeper = find_child(waiter)?;
            let nspid = nspid_line(sleeper)?;
            let inner = nspid.split_whitespace().last().unwrap_or("?").to_string();
            Ok(Asked {
                shown: Some(format!("$ grep NSpid /proc/{sleeper}/status\n{nspid}")),
                text: format!(
                    "PID {sleeper} is a `sleep` that learnns started inside the PID namespace of PID {b}. Which PID does `ps` inside that namespace show for it?"
                ),
                choices: Vec::new(),
                expect: Expect::Text(vec![inner.clone()]),
                explain: format!(
                    "NSpid lists the process's PID in each PID namespace it is in, from the outermost (the host's) inwards: {sleeper} on the host, {inner} inside. PID 1 inside is PID {b}, the container's init; `kill {sleeper}` from the host and `kill {inner}` inside reach the same process."
                ),
                see: see("pid"),
            })
        }
        Template::RootIs => {
            let mut spec = Spec::new(KindSet::new().with(Kind::User));
            if root() {
                spec.id_map = Some(crate::ids::unused(65536, rng.u32(0..1000))?);
            }
            let container = Container::start(&spec)?;
            let b = container.pid.as_raw();
            keep.containers.push(container);
            let map = std::fs::read_to_string(format!("/proc/{b}/uid_map"))
                .map_err(|e| Error::io(format!("read /proc/{b}/uid_map"), e))?;
            let outside = map
                .lines()
                .find_map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    (f.first() == Some(&"0")).then(|| f.get(1).map(|s| s.to_string()))?
                })
                .unwrap_or_default();
            Ok(Asked {
                shown: Some(format!("$ cat /proc/{b}/uid_map\n{}", map.trim_end())),
                text: format!(
                    "PID {b} is in a user namespace with this map. As which UID does root (UID 0) in that namespace act on the host, for files and signals?"
                ),
                choices: Vec::new(),
                expect: Expect::Text(vec![outside.clone()]),
                explain: format!(
                    "Each line is: first ID inside, first ID outside, how many. UID 0 inside is UID {outside} outside: a file it creates on a shared file system belongs to {outside}, and host files of other users are out of its reach."
                ),
                see: see("user"),
            })
        }
    }
}

/// Start a process with a namespace of `kind` of its own, or (not `own`)
/// with one of `other` instead; return its PID, whether it shares `kind`
/// with learnns after all (read back from the kernel), and both links.
fn own_or_not(kind: Kind, own: bool, other: Kind, keep: &mut Keep) -> Result<(i32, bool, String)> {
    let me = std::process::id() as i32;
    let b = start(KindSet::new().with(if own { kind } else { other }), keep)?
        .pid
        .as_raw();
    let shared = Identities::of(me)?.get(kind) == Identities::of(b)?.get(kind);
    Ok((b, shared, pair(me, b, Some(kind))?))
}

/// The child of `parent`, once it exists (the entered command forks once
/// more to be inside the PID namespace).
fn find_child(parent: i32) -> Result<i32> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let found = procfs::process::all_processes()
            .map_err(|e| Error::from_proc(parent, e))?
            .flatten()
            .find(|p| {
                p.stat()
                    .is_ok_and(|s| s.ppid == parent && s.comm == "sleep")
            });
        if let Some(process) = found {
            return Ok(process.pid);
        }
        if Instant::now() > deadline {
            return Err(Error::Setup("the sleep inside did not start".into()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn nspid_line(pid: i32) -> Result<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| Error::io(format!("read /proc/{pid}/status"), e))?;
    status
        .lines()
        .find(|l| l.starts_with("NSpid:"))
        .map(str::to_string)
        .ok_or_else(|| Error::Setup("this kernel shows no NSpid line".into()))
}
