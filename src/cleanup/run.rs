//! A run of learnns, and the names it gives what it makes on the host:
//! each name says which run made it, so a replay touches nothing else.

use std::sync::OnceLock;

/// Every host-side name learnns gives starts with this.
pub const PREFIX: &str = "learnns";

/// How many keys a run tries for a queue before giving up (another program
/// may hold one).
pub const QUEUE_ATTEMPTS: u32 = 16;

/// This run's secret salt for its queue keys: random, and written first
/// into its journal.
pub fn salt() -> u64 {
    static SALT: OnceLock<u64> = OnceLock::new();
    *SALT.get_or_init(|| {
        // From the kernel's random generator: fastrand's seed is derived from
        // the clock, which another user could search.
        let mut bytes = [0u8; 8];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
            .map(|()| u64::from_ne_bytes(bytes))
            .unwrap_or_else(|_| fastrand::u64(..))
    })
}

/// One run of learnns: its PID and when it started (clock ticks after boot,
/// as in /proc/PID/stat). The pair names exactly one process ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RunId {
    pub pid: i32,
    pub start: u64,
}

impl RunId {
    /// This run, as /proc shows it: PID and start time from one reading of
    /// /proc/self/stat. (getpid would be wrong in a PID namespace that
    /// still has the host's /proc, e.g. learnns run from `learnns shell
    /// --upto 3`: PID 3 there is some host process.)
    pub fn current() -> RunId {
        static ME: OnceLock<RunId> = OnceLock::new();
        *ME.get_or_init(|| {
            match procfs::process::Process::myself().and_then(|p| p.stat()) {
                Ok(stat) => RunId {
                    pid: stat.pid,
                    start: stat.starttime,
                },
                // No /proc at all: nothing else could check this run either.
                Err(_) => RunId {
                    pid: std::process::id() as i32,
                    start: 0,
                },
            }
        })
    }

    /// Is this run still going? A process with its PID that started at
    /// another time is somebody else, whatever it is called.
    pub fn alive(&self) -> bool {
        process_start(self.pid) == Some(self.start)
    }

    /// What learnns writes on objects it cannot name freely (a link's
    /// alias), so a replay recognises them.
    pub fn tag(&self) -> String {
        format!("{PREFIX}-run-{}-{}", self.pid, self.start)
    }

    /// The key of the `attempt`th message queue this run makes: derived
    /// from the run and its secret salt (in its journal, which only its
    /// user can read), so a journal can only ever name its own run's
    /// queues, and nobody can take the keys first.
    pub fn queue_key(&self, salt: u64, attempt: u32) -> i32 {
        // FNV-1a: stable across builds, unlike std's hasher.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let text = format!("learnns queue {} {} {salt} {attempt}", self.pid, self.start);
        for byte in text.bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        // Positive and never 0 (IPC_PRIVATE).
        ((hash >> 33) as i32).max(1)
    }

    /// Is `key` one this run would have made with `salt`?
    pub(super) fn owns_queue_key(&self, salt: u64, key: i32) -> bool {
        (0..QUEUE_ATTEMPTS).any(|n| self.queue_key(salt, n) == key)
    }

    /// The name of this run's `n`th cgroup (`learnns-PID-START-N`): no
    /// other run, not even a later one with the same PID, can have it.
    pub fn cgroup_name(&self, n: u32) -> String {
        format!("{PREFIX}-{}-{}-{n}", self.pid, self.start)
    }

    pub(super) fn owns_cgroup_name(&self, name: &str) -> bool {
        name.strip_prefix(&format!("{PREFIX}-{}-{}-", self.pid, self.start))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    }

    /// The names of the two ends of this run's veth pair: prefix, PID, and
    /// h (host) or c (container); at most 15 characters, the kernel's limit.
    pub fn veth_names(&self) -> (String, String) {
        (
            format!("{PREFIX}{}h", self.pid),
            format!("{PREFIX}{}c", self.pid),
        )
    }

    /// The name of a file of this run in the private directory.
    pub fn file_name(&self, label: &str) -> String {
        format!("{}-{}-{label}", self.pid, self.start)
    }

    pub(super) fn owns_file_name(&self, name: &str) -> bool {
        name.strip_prefix(&self.file_name("")).is_some_and(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
    }

    pub(super) fn journal_name(&self) -> String {
        format!("{}-{}.journal", self.pid, self.start)
    }

    pub(super) fn from_journal_name(name: &str) -> Option<RunId> {
        let (pid, start) = name.strip_suffix(".journal")?.split_once('-')?;
        Some(RunId {
            pid: pid.parse().ok().filter(|p| *p > 0)?,
            start: start.parse().ok()?,
        })
    }
}

/// The start time of a process, or None if it does not exist.
pub fn process_start(pid: i32) -> Option<u64> {
    procfs::process::Process::new(pid)
        .and_then(|p| p.stat())
        .ok()
        .map(|s| s.starttime)
}
