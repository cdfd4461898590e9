//! The eight namespace kinds, in one ordered table, and how to read a process's
//! namespace identities.

use std::collections::BTreeMap;
use std::fmt;

use procfs::process::Process;

use crate::error::{Error, Result};

// ANCHOR: kinds
/// One kind of namespace: one thing the kernel can show a process differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    User,
    Mnt,
    Pid,
    Net,
    Ipc,
    Uts,
    Cgroup,
    Time,
}

/// Every kind in creation order. The user namespace comes first so that the
/// namespaces created after it are owned by it: that is what lets an
/// unprivileged user create the others (rootless containers).
pub const ORDER: [Kind; 8] = [
    Kind::User,
    Kind::Mnt,
    Kind::Pid,
    Kind::Net,
    Kind::Ipc,
    Kind::Uts,
    Kind::Cgroup,
    Kind::Time,
];

impl Kind {
    /// The name of this kind's link in `/proc/[pid]/ns/`, also the flag name.
    pub fn proc_name(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Mnt => "mnt",
            Kind::Pid => "pid",
            Kind::Net => "net",
            Kind::Ipc => "ipc",
            Kind::Uts => "uts",
            Kind::Cgroup => "cgroup",
            Kind::Time => "time",
        }
    }

    /// The `CLONE_NEW*` flag that creates a namespace of this kind.
    pub fn clone_flag(self) -> libc::c_int {
        match self {
            Kind::User => libc::CLONE_NEWUSER,
            Kind::Mnt => libc::CLONE_NEWNS,
            Kind::Pid => libc::CLONE_NEWPID,
            Kind::Net => libc::CLONE_NEWNET,
            Kind::Ipc => libc::CLONE_NEWIPC,
            Kind::Uts => libc::CLONE_NEWUTS,
            Kind::Cgroup => libc::CLONE_NEWCGROUP,
            Kind::Time => libc::CLONE_NEWTIME,
        }
    }

    /// The flag's name as the kernel headers spell it.
    pub fn clone_flag_name(self) -> &'static str {
        match self {
            Kind::User => "CLONE_NEWUSER",
            Kind::Mnt => "CLONE_NEWNS",
            Kind::Pid => "CLONE_NEWPID",
            Kind::Net => "CLONE_NEWNET",
            Kind::Ipc => "CLONE_NEWIPC",
            Kind::Uts => "CLONE_NEWUTS",
            Kind::Cgroup => "CLONE_NEWCGROUP",
            Kind::Time => "CLONE_NEWTIME",
        }
    }

    /// The option of `unshare(1)` and `nsenter(1)` for this kind.
    pub fn util_flag(self) -> &'static str {
        match self {
            Kind::User => "--user",
            Kind::Mnt => "--mount",
            Kind::Pid => "--pid",
            Kind::Net => "--net",
            Kind::Ipc => "--ipc",
            Kind::Uts => "--uts",
            Kind::Cgroup => "--cgroup",
            Kind::Time => "--time",
        }
    }

    /// What the kernel keeps separate for processes in a namespace of this kind.
    pub fn isolates(self) -> &'static str {
        match self {
            Kind::User => "user and group IDs, capabilities",
            Kind::Mnt => "the mount table: what is mounted where",
            Kind::Pid => "process ID numbers: who is PID 1",
            Kind::Net => "interfaces, routes, firewall rules, sockets",
            Kind::Ipc => "System V IPC objects and POSIX message queues",
            Kind::Uts => "the hostname and NIS domain name",
            Kind::Cgroup => "the view of the cgroup tree",
            Kind::Time => "the monotonic and boot-time clocks",
        }
    }

    /// What a process in a different namespace of this kind experiences.
    pub fn when_different(self) -> &'static str {
        match self {
            Kind::User => "its user IDs are mapped: root inside can be an ordinary user outside",
            Kind::Mnt => "its mounts and unmounts are its own; the host's mount table is untouched",
            Kind::Pid => "it numbers processes from 1 and cannot signal processes it cannot see",
            Kind::Net => {
                "its own interfaces, routes and sockets: 127.0.0.1 inside is not the host's"
            }
            Kind::Ipc => {
                "it cannot see or touch the host's message queues, semaphores or shared memory"
            }
            Kind::Uts => "`hostname` can be changed inside without renaming the host",
            Kind::Cgroup => {
                "/proc/self/cgroup is rooted at its own cgroup, hiding the host's paths"
            }
            Kind::Time => {
                "its uptime and monotonic clock can be offset; the wall clock is the same"
            }
        }
    }

    /// What sharing this kind with the host means.
    pub fn when_shared(self) -> &'static str {
        match self {
            Kind::User => "same users: root inside is root on the host",
            Kind::Mnt => "same mounts: a mount inside appears on the host",
            Kind::Pid => "same process numbers: it sees and can signal host processes",
            Kind::Net => "same network: same interfaces, ports and firewall as the host",
            Kind::Ipc => "same IPC objects as the host",
            Kind::Uts => "same hostname: renaming it renames the host",
            Kind::Cgroup => "same cgroup view as the host",
            Kind::Time => "same clocks as the host",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        ORDER
            .into_iter()
            .find(|k| k.proc_name() == name || (name == "mount" && *k == Kind::Mnt))
    }
}
// ANCHOR_END: kinds

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.proc_name())
    }
}

/// A set of kinds, always iterated in creation order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindSet(u8);

impl KindSet {
    pub const ALL: KindSet = KindSet(0xff);

    pub fn new() -> Self {
        KindSet(0)
    }

    fn bit(kind: Kind) -> u8 {
        1 << ORDER.iter().position(|k| *k == kind).unwrap_or(0)
    }

    pub fn with(mut self, kind: Kind) -> Self {
        self.insert(kind);
        self
    }

    pub fn without(mut self, kind: Kind) -> Self {
        self.0 &= !Self::bit(kind);
        self
    }

    pub fn insert(&mut self, kind: Kind) {
        self.0 |= Self::bit(kind);
    }

    pub fn contains(self, kind: Kind) -> bool {
        self.0 & Self::bit(kind) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Kind> {
        ORDER.into_iter().filter(move |k| self.contains(*k))
    }

    /// The `CLONE_NEW*` bits of every kind in the set.
    pub fn clone_flags(self) -> libc::c_int {
        self.iter().fold(0, |acc, k| acc | k.clone_flag())
    }

    /// Kinds as a learner would type them to `unshare`: `--uts --pid`.
    pub fn util_flags(self) -> String {
        self.iter()
            .map(Kind::util_flag)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl FromIterator<Kind> for KindSet {
    fn from_iter<I: IntoIterator<Item = Kind>>(iter: I) -> Self {
        iter.into_iter().fold(KindSet::new(), KindSet::with)
    }
}

impl fmt::Display for KindSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        let names: Vec<_> = self.iter().map(Kind::proc_name).collect();
        f.write_str(&names.join(" "))
    }
}

// ANCHOR: identity
/// Which namespace a process is in, for one kind. The inode alone is not an
/// identity: the kernel promises uniqueness only for device + inode together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub device: u64,
    pub inode: u64,
}

/// The namespaces of one process, kind by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identities(pub BTreeMap<Kind, Identity>);

impl Identities {
    /// Read `/proc/<pid>/ns/*` of a process, as `readlink` and `stat -L` would.
    pub fn of(pid: i32) -> Result<Identities> {
        let process = Process::new(pid).map_err(|e| Error::from_proc(pid, e))?;
        // procfs reports a link it may not read as an internal error; ask
        // the kernel directly first, for a message that says what is wrong.
        // A process that has exited but was not yet reaped keeps its user
        // link (it belongs to its credentials) and loses the others.
        let dir = format!("/proc/{pid}/ns");
        let listed = std::fs::read_dir(&dir).map_err(|e| link_error(pid, &dir, e))?;
        for entry in listed.flatten() {
            let path = entry.path();
            if let Err(e) = std::fs::read_link(&path) {
                return Err(link_error(pid, &path.display().to_string(), e));
            }
        }
        let start = process
            .stat()
            .map_err(|e| Error::from_proc(pid, e))?
            .starttime;
        // Gone between the two reads: it existed, so say that it exited.
        let vanished = |e| match Error::from_proc(pid, e) {
            Error::NoSuchProcess { pid } => Error::Vanished { pid },
            other => other,
        };
        let found = process.namespaces().map_err(vanished)?;
        // A process that exited (and whose PID may be someone else's now)
        // while we read would give a mixture: check it is the same one.
        let still = process.stat().map_err(vanished)?;
        if still.starttime != start || matches!(still.state, 'Z' | 'X') {
            return Err(Error::Vanished { pid });
        }
        let mut map = BTreeMap::new();
        for (name, ns) in found.0 {
            if let Some(kind) = name.to_str().and_then(Kind::from_name) {
                let identity = Identity {
                    device: ns.device_id,
                    inode: ns.identifier,
                };
                map.insert(kind, identity);
            }
        }
        Ok(Identities(map))
    }
}
// ANCHOR_END: identity

impl Identities {
    pub fn of_self() -> Result<Identities> {
        Identities::of(std::process::id() as i32)
    }

    pub fn get(&self, kind: Kind) -> Option<Identity> {
        self.0.get(&kind).copied()
    }

    /// The kinds in which two processes are in different namespaces.
    pub fn differing(&self, other: &Identities) -> KindSet {
        ORDER
            .into_iter()
            .filter(|k| self.get(*k) != other.get(*k))
            .collect()
    }
}

/// An error reading `/proc/PID/ns`, in the learner's terms.
fn link_error(pid: i32, path: &str, e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => Error::ProcPermission { pid },
        std::io::ErrorKind::NotFound => Error::Vanished { pid },
        _ => Error::io(format!("readlink {path}"), e),
    }
}

/// How `readlink /proc/PID/ns/KIND` prints a namespace: `uts:[4026531838]`.
pub fn link_text(kind: Kind, identity: Option<Identity>) -> String {
    match identity {
        Some(id) => format!("{}:[{}]", kind.proc_name(), id.inode),
        None => "(not supported)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_is_created_first_and_every_kind_appears_once() {
        assert_eq!(ORDER[0], Kind::User);
        let set: KindSet = ORDER.into_iter().collect();
        assert_eq!(set, KindSet::ALL);
        assert_eq!(set.iter().count(), 8);
    }

    #[test]
    fn names_round_trip_and_flags_are_distinct() {
        let mut flags = 0;
        for kind in ORDER {
            assert_eq!(Kind::from_name(kind.proc_name()), Some(kind));
            assert_eq!(flags & kind.clone_flag(), 0, "{kind} flag overlaps");
            flags |= kind.clone_flag();
        }
        assert_eq!(Kind::from_name("mount"), Some(Kind::Mnt));
        assert_eq!(Kind::from_name("nope"), None);
    }

    #[test]
    fn kind_set_iterates_in_creation_order() {
        let set = KindSet::new()
            .with(Kind::Uts)
            .with(Kind::User)
            .with(Kind::Pid);
        assert_eq!(set.to_string(), "user pid uts");
        assert_eq!(set.util_flags(), "--user --pid --uts");
        assert_eq!(
            set.clone_flags(),
            libc::CLONE_NEWUSER | libc::CLONE_NEWPID | libc::CLONE_NEWUTS
        );
    }

    #[test]
    fn identity_needs_device_and_inode() {
        let a = Identity {
            device: 4,
            inode: 4026531838,
        };
        let b = Identity {
            device: 5,
            inode: 4026531838,
        };
        let mut left = BTreeMap::new();
        left.insert(Kind::Uts, a);
        let mut right = BTreeMap::new();
        right.insert(Kind::Uts, b);
        let diff = Identities(left).differing(&Identities(right));
        assert!(diff.contains(Kind::Uts));
        assert!(!diff.contains(Kind::Net));
    }

    #[test]
    fn this_process_has_every_supported_kind() {
        let ids = Identities::of_self().expect("own namespaces are readable");
        assert!(ids.get(Kind::Uts).is_some());
        assert_eq!(
            link_text(Kind::Uts, ids.get(Kind::Uts)).split(':').next(),
            Some("uts")
        );
    }
}
