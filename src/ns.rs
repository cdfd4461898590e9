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

/// Everything learnns knows about one kind: one row of [`KINDS`].
#[derive(Debug)]
pub struct KindInfo {
    pub kind: Kind,
    /// The name of the kind's link in `/proc/[pid]/ns/`, also learnns's flag.
    pub proc_name: &'static str,
    /// The `CLONE_NEW*` flag that creates a namespace of this kind.
    pub clone_flag: libc::c_int,
    /// The flag's name as the kernel headers spell it.
    pub clone_flag_name: &'static str,
    /// The option of `unshare(1)` and `nsenter(1)` for this kind.
    pub util_flag: &'static str,
    /// What the kernel keeps separate for processes in a namespace of this kind.
    pub isolates: &'static str,
    /// What a process in a different namespace of this kind experiences.
    pub when_different: &'static str,
    /// What sharing this kind with the host means.
    pub when_shared: &'static str,
    /// What a difference means for two processes `{a}` and `{b}` in practice,
    /// and how to look from the host (`learnns compare`).
    pub meaning: &'static str,
}

/// Every kind, in creation order. The user namespace comes first so that the
/// namespaces created after it are owned by it: that is what lets an
/// unprivileged user create the others (rootless containers).
pub const KINDS: [KindInfo; 8] = [
    KindInfo {
        kind: Kind::User,
        proc_name: "user",
        clone_flag: libc::CLONE_NEWUSER,
        clone_flag_name: "CLONE_NEWUSER",
        util_flag: "--user",
        isolates: "user and group IDs, capabilities",
        when_different: "its user IDs are mapped: root inside can be an ordinary user outside",
        when_shared: "same users: an ID inside is the same ID on the host (root is root)",
        meaning: "their user IDs are translated differently: the same UID can be root for one and nobody for the other, and capabilities held in one count for nothing in the other's namespaces. Compare /proc/{a}/uid_map with /proc/{b}/uid_map",
    },
    KindInfo {
        kind: Kind::Mnt,
        proc_name: "mnt",
        clone_flag: libc::CLONE_NEWNS,
        clone_flag_name: "CLONE_NEWNS",
        util_flag: "--mount",
        isolates: "the mount table: what is mounted where",
        when_different: "its mounts and unmounts are its own; the host's mount table is untouched",
        when_shared: "same mounts: a mount inside appears on the host",
        meaning: "they see different mount tables, so the same path can hold different files for each. See {a}'s view with `findmnt -N {a}`, or its files under /proc/{a}/root/",
    },
    KindInfo {
        kind: Kind::Pid,
        proc_name: "pid",
        clone_flag: libc::CLONE_NEWPID,
        clone_flag_name: "CLONE_NEWPID",
        util_flag: "--pid",
        isolates: "process ID numbers: who is PID 1",
        when_different: "it numbers processes from 1 and cannot signal processes it cannot see",
        when_shared: "same process numbers: it sees host processes, and may signal them as kill(2) permits",
        meaning: "they number processes differently and one may not see (or signal) the other at all; `grep NSpid /proc/{a}/status` shows {a}'s numbers in each namespace it is in",
    },
    KindInfo {
        kind: Kind::Net,
        proc_name: "net",
        clone_flag: libc::CLONE_NEWNET,
        clone_flag_name: "CLONE_NEWNET",
        util_flag: "--net",
        isolates: "interfaces, routes, firewall rules, sockets",
        when_different: "its own interfaces, routes and sockets: 127.0.0.1 inside is not the host's",
        when_shared: "same network: same interfaces, ports and firewall as the host",
        meaning: "they have different interfaces, routes, firewall rules and sockets: a service one of them runs on 127.0.0.1 cannot be reached by the other, and a port can be free in one and taken in the other. Look with `nsenter -t {a} -n ip addr` and `nsenter -t {a} -n ss -tlnp`",
    },
    KindInfo {
        kind: Kind::Ipc,
        proc_name: "ipc",
        clone_flag: libc::CLONE_NEWIPC,
        clone_flag_name: "CLONE_NEWIPC",
        util_flag: "--ipc",
        isolates: "System V IPC objects and POSIX message queues",
        when_different: "it cannot see the host's System V queues, semaphores and shared memory, nor its POSIX queues",
        when_shared: "same IPC objects as the host",
        meaning: "System V message queues, semaphores and shared memory, and POSIX message queues, made by one are invisible to the other; list {a}'s System V objects with `nsenter -t {a} -i ipcs`. POSIX shared memory and semaphores are files in /dev/shm, so the mount namespace, not this one, decides whether they share those",
    },
    KindInfo {
        kind: Kind::Uts,
        proc_name: "uts",
        clone_flag: libc::CLONE_NEWUTS,
        clone_flag_name: "CLONE_NEWUTS",
        util_flag: "--uts",
        isolates: "the hostname and NIS domain name",
        when_different: "`hostname` can be changed inside without renaming the host",
        when_shared: "same hostname: renaming it renames the host",
        meaning: "each has its own hostname; renaming one does not rename the other (`nsenter -t {a} -u hostname`)",
    },
    KindInfo {
        kind: Kind::Cgroup,
        proc_name: "cgroup",
        clone_flag: libc::CLONE_NEWCGROUP,
        clone_flag_name: "CLONE_NEWCGROUP",
        util_flag: "--cgroup",
        isolates: "the view of the cgroup tree",
        when_different: "/proc/self/cgroup is rooted at its own cgroup, hiding the host's paths",
        when_shared: "same cgroup view as the host",
        meaning: "they see the cgroup tree from different roots, so /proc/self/cgroup reads differently for each; this says nothing about limits: compare /proc/{a}/cgroup and /proc/{b}/cgroup from the host",
    },
    KindInfo {
        kind: Kind::Time,
        proc_name: "time",
        clone_flag: libc::CLONE_NEWTIME,
        clone_flag_name: "CLONE_NEWTIME",
        util_flag: "--time",
        isolates: "the monotonic and boot-time clocks",
        when_different: "its uptime and monotonic clock can be offset; the wall clock is the same",
        when_shared: "same clocks as the host",
        meaning: "their boot-time and monotonic clocks can be offset (uptime, timeouts); the wall clock is the same. `nsenter -t {a} -T cat /proc/uptime`",
    },
];

/// Every kind in creation order: the first column of [`KINDS`].
pub const ORDER: [Kind; 8] = {
    let mut order = [Kind::User; KINDS.len()];
    let mut i = 0;
    while i < KINDS.len() {
        // Row i describes the i-th variant, so `info` can index the table.
        assert!(KINDS[i].kind as usize == i, "KINDS is not in Kind's order");
        order[i] = KINDS[i].kind;
        i += 1;
    }
    order
};

impl Kind {
    /// This kind's row of the table.
    pub fn info(self) -> &'static KindInfo {
        &KINDS[self as usize]
    }
}
// ANCHOR_END: kinds

impl Kind {
    /// The name of this kind's link in `/proc/[pid]/ns/`, also the flag name.
    pub fn proc_name(self) -> &'static str {
        self.info().proc_name
    }

    /// The `CLONE_NEW*` flag that creates a namespace of this kind.
    pub fn clone_flag(self) -> libc::c_int {
        self.info().clone_flag
    }

    /// The flag's name as the kernel headers spell it.
    pub fn clone_flag_name(self) -> &'static str {
        self.info().clone_flag_name
    }

    /// The option of `unshare(1)` and `nsenter(1)` for this kind.
    pub fn util_flag(self) -> &'static str {
        self.info().util_flag
    }

    /// What the kernel keeps separate for processes in a namespace of this kind.
    pub fn isolates(self) -> &'static str {
        self.info().isolates
    }

    /// What a process in a different namespace of this kind experiences.
    pub fn when_different(self) -> &'static str {
        self.info().when_different
    }

    /// What sharing this kind with the host means.
    pub fn when_shared(self) -> &'static str {
        self.info().when_shared
    }

    /// What a difference means for two processes, with `{a}` and `{b}` where
    /// their PIDs go (see `inspect::meaning`).
    pub fn meaning(self) -> &'static str {
        self.info().meaning
    }

    /// The kind a link or an option is named after: `mnt`, or `mount` as
    /// `unshare --mount` spells it.
    pub fn from_name(name: &str) -> Option<Kind> {
        KINDS
            .iter()
            .find(|i| i.proc_name == name || i.util_flag.strip_prefix("--") == Some(name))
            .map(|i| i.kind)
    }
}

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
    fn every_kind_reads_its_own_row() {
        for (row, kind) in KINDS.iter().zip(ORDER) {
            assert_eq!(row.kind, kind);
            assert_eq!(kind.info().proc_name, row.proc_name);
            assert!(row.meaning.contains("{a}"), "{kind}: {}", row.meaning);
        }
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
