//! Every change learnns makes on the host is registered here before it is
//! made and undone when learnns ends: on success, on error, on Ctrl-C. The
//! registry is also written to a journal, so that if learnns is killed
//! outright (SIGKILL, a crash) the next start finds and undoes what was left.
//!
//! The journal is append-only and written before each object exists: an
//! intent line first (synced to disk), then the object, then a line with
//! what identifies it, then a line when it is gone. A run killed at any
//! instant leaves either nothing or a line that leads the next start to
//! it; a recorded object that does not exist is simply done.
//!
//! A journal belongs to one run, named by its PID and start time, so a
//! later process with the same PID is never taken for it. Replaying one
//! undoes only objects that carry the marks of that very run: a queue with
//! the key it chose (and its id and creation time), a cgroup whose name
//! holds the run, a link whose alias names the run.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use nix::fcntl::{OFlag, openat};
use nix::sys::signal::{Signal, kill};
use nix::sys::stat::{Mode, fstat};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use super::rundir;
use crate::error::{Error, Result};
use crate::sys;

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
    fn owns_queue_key(&self, salt: u64, key: i32) -> bool {
        (0..QUEUE_ATTEMPTS).any(|n| self.queue_key(salt, n) == key)
    }

    /// The name of a file of this run in the private directory.
    pub fn file_name(&self, label: &str) -> String {
        format!("{}-{}-{label}", self.pid, self.start)
    }

    fn owns_file_name(&self, name: &str) -> bool {
        name.strip_prefix(&self.file_name("")).is_some_and(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
    }

    fn journal_name(&self) -> String {
        format!("{}-{}.journal", self.pid, self.start)
    }

    fn from_journal_name(name: &str) -> Option<RunId> {
        let (pid, start) = name.strip_suffix(".journal")?.split_once('-')?;
        Some(RunId {
            pid: pid.parse().ok().filter(|p| *p > 0)?,
            start: start.parse().ok()?,
        })
    }
}

/// One host-side change and how to undo it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undo {
    /// A process learnns started (a container's init). Not journalled: it
    /// dies with learnns by itself (PR_SET_PDEATHSIG), and a later run must
    /// never kill by PID.
    Process { pid: i32 },
    /// A System V message queue made on the host (lesson 2) with a key
    /// learnns chose; once made, also its id and creation time.
    MsgQueue { key: i32, made: Option<(i32, u64)> },
    /// A network link on the host (the host end of a veth pair), its alias
    /// set to the run's tag. Deleting one end of a veth pair deletes both.
    Link { name: String },
    /// A cgroup directory (lesson 7) named for the run; whatever is still
    /// in it is killed.
    Cgroup { path: PathBuf },
    /// A file in learnns's private directory, named for the run (lesson 6's
    /// file of the host's root).
    File { name: String },
}

impl Undo {
    /// The journal text; None for what needs no journal.
    fn to_text(&self) -> Option<String> {
        Some(match self {
            Undo::Process { .. } => return None,
            Undo::MsgQueue { key, made: None } => format!("msgqueue {key}"),
            Undo::MsgQueue {
                key,
                made: Some((id, ctime)),
            } => format!("msgqueue {key} {id} {ctime}"),
            Undo::Link { name } => format!("link {name}"),
            Undo::Cgroup { path } => format!("cgroup {}", path.display()),
            Undo::File { name } => format!("file {name}"),
        })
    }

    /// Read a record of run `run`, whose journal gave `salt`. Anything but
    /// learnns's own kinds of object, named the way `run` names them, is
    /// refused.
    fn from_text(words: &[&str], run: &RunId, salt: Option<u64>) -> Option<Undo> {
        let ours = |key: &str| {
            let key = key.parse().ok()?;
            run.owns_queue_key(salt?, key).then_some(key)
        };
        match words {
            ["msgqueue", key] => Some(Undo::MsgQueue {
                key: ours(key)?,
                made: None,
            }),
            ["msgqueue", key, id, ctime] => Some(Undo::MsgQueue {
                key: ours(key)?,
                made: Some((id.parse().ok()?, ctime.parse().ok()?)),
            }),
            ["link", name] if *name == crate::network::veth_names_of(run).0 => Some(Undo::Link {
                name: name.to_string(),
            }),
            ["file", name] if run.owns_file_name(name) => Some(Undo::File {
                name: name.to_string(),
            }),
            ["cgroup", path] if crate::cgroup::is_ours(Path::new(path), run) => {
                Some(Undo::Cgroup {
                    path: PathBuf::from(path),
                })
            }
            _ => None,
        }
    }

    /// Undo the change if it is still there and still the one `run` made.
    /// `ours` is true in the run that made it: our own child cannot have
    /// been recycled by someone else. Returns a description when something
    /// was undone, an error when it is there and could not be undone.
    fn undo(&self, run: &RunId, ours: bool) -> Result<Option<String>> {
        match self {
            Undo::Process { pid } => {
                if !ours {
                    return Ok(None);
                }
                if kill(Pid::from_raw(*pid), Signal::SIGKILL).is_err() {
                    return Ok(None);
                }
                let _ = waitpid(Pid::from_raw(*pid), None);
                Ok(Some(format!("stopped container process {pid}")))
            }
            Undo::MsgQueue { key, made } => {
                let Some(queue) = crate::sysvipc::msg_queues()
                    .into_iter()
                    .find(|q| q.key == *key && matches_made(q, *made))
                else {
                    return Ok(None);
                };
                sys::msg_queue_remove(queue.id)?;
                Ok(Some(format!(
                    "removed message queue {} (`ipcrm -q {}`)",
                    queue.id, queue.id
                )))
            }
            Undo::Cgroup { path } => Ok(crate::cgroup::remove(path)?
                .then(|| format!("removed cgroup {} (`rmdir`)", path.display()))),
            Undo::File { name } => {
                let Some(dir) = rundir::RunDir::open_existing()? else {
                    return Ok(None);
                };
                match nix::unistd::unlinkat(
                    &dir.fd,
                    name.as_str(),
                    nix::unistd::UnlinkatFlags::NoRemoveDir,
                ) {
                    Ok(()) => Ok(Some(format!("removed {}", dir.path.join(name).display()))),
                    Err(nix::Error::ENOENT) => Ok(None),
                    Err(e) => Err(Error::sys(
                        format!("rm {}", dir.path.join(name).display()),
                        e,
                    )),
                }
            }
            Undo::Link { name } => {
                if !crate::network::link_is_ours(name, run) {
                    return Ok(None);
                }
                crate::network::delete_link(name)?;
                Ok(Some(format!(
                    "removed network link {name} (`ip link delete {name}`)"
                )))
            }
        }
    }
}

/// Is `queue` (with the record's key, one only its run makes) the one the
/// record describes? Once made, by id and creation time too; before that
/// (a run killed between msgget and its record), by its creator, which
/// must be whoever runs learnns now, as it was then.
fn matches_made(queue: &crate::sysvipc::MsgQueueInfo, made: Option<(i32, u64)>) -> bool {
    match made {
        Some((id, ctime)) => queue.id == id && queue.ctime == ctime,
        None => queue.creator_uid == nix::unistd::geteuid().as_raw(),
    }
}

/// The start time of a process, or None if it does not exist.
pub fn process_start(pid: i32) -> Option<u64> {
    procfs::process::Process::new(pid)
        .and_then(|p| p.stat())
        .ok()
        .map(|s| s.starttime)
}

/// The change time of a System V message queue, or None if there is none
/// with this id.
pub fn msg_queue_ctime(id: i32) -> Option<u64> {
    crate::sysvipc::msg_queues()
        .into_iter()
        .find(|q| q.id == id)
        .map(|q| q.ctime)
}

struct Registry {
    entries: Vec<(usize, Undo)>,
    next: usize,
    /// This run's journal, once something needed one.
    journal: Option<fs::File>,
    /// What was undone, for the message after an interruption.
    undone: Vec<String>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    entries: Vec::new(),
    next: 0,
    journal: None,
    undone: Vec::new(),
});

/// A handle to one registered change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token(usize);

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Register a change about to be made. Its intent is in the journal (and
/// on disk) when this returns, so make the object only after it returned
/// Ok, and while holding [`locked`] for objects others could mistake.
pub fn register(undo: Undo) -> Result<Token> {
    let token = {
        let mut reg = registry();
        let token = reg.next;
        reg.next += 1;
        token
    };
    if let Some(text) = undo.to_text() {
        append(&format!("+ {token} {text}"))?;
        // The worst instant before the object exists (named only in the
        // builds that have failpoints).
        if cfg!(debug_assertions) {
            crate::failpoint::hit(&format!(
                "recorded-{}",
                text.split(' ').next().unwrap_or("")
            ));
        }
    }
    registry().entries.push((token, undo));
    Ok(Token(token))
}

/// Register a process learnns started; it needs no journal.
pub fn register_process(pid: i32) -> Token {
    let mut reg = registry();
    let token = reg.next;
    reg.next += 1;
    reg.entries.push((token, Undo::Process { pid }));
    Token(token)
}

/// The change was made: record what identifies it.
pub fn made(token: Token, undo: Undo) -> Result<()> {
    if let Some(text) = undo.to_text() {
        append(&format!("= {} {text}", token.0))?;
    }
    if let Some(entry) = registry().entries.iter_mut().find(|(t, _)| *t == token.0) {
        entry.1 = undo;
    }
    Ok(())
}

/// The owner undid the change itself (e.g. it reaped its process).
pub fn release(token: Token) {
    if take(token).is_some_and(|u| u.to_text().is_some()) {
        finish(token);
    }
}

/// Undo one registered change now.
pub fn undo(token: Token) {
    let Some(change) = take(token) else {
        return;
    };
    match change.undo(&RunId::current(), true) {
        Ok(Some(what)) => registry().undone.push(what),
        Ok(None) => {}
        Err(e) => crate::errln!("learnns: could not undo a change on the host: {e}"),
    }
    if change.to_text().is_some() {
        finish(token);
    }
}

/// Undo every change still registered, newest first.
pub fn undo_all() {
    let tokens: Vec<Token> = registry()
        .entries
        .iter()
        .rev()
        .map(|(t, _)| Token(*t))
        .collect();
    for token in tokens {
        undo(token);
    }
}

/// Run `work` while no other learnns run recovers journals or makes host
/// objects that are told apart by name (links, and the subnets on them).
pub fn locked<T>(work: impl FnOnce() -> Result<T>) -> Result<T> {
    rundir::locked(|_, _| work())
}

/// What this run has undone so far, once each.
pub fn take_undone() -> Vec<String> {
    std::mem::take(&mut registry().undone)
}

/// Make a file of learnns's own in its private directory (mode 0700, so no
/// other user can plant a link at its name), recorded before it exists.
/// Returns its path, for a bind mount.
pub fn private_file(label: &str, contents: &[u8], mode: u32) -> Result<(PathBuf, Token)> {
    let name = RunId::current().file_name(label);
    let token = register(Undo::File { name: name.clone() })?;
    let made = rundir::locked(|dir, fd| {
        let file = openat(
            fd,
            name.as_str(),
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(mode),
        )
        .map_err(|e| Error::sys(format!("create {}/{name}", dir.display()), e))?;
        crate::failpoint::hit("file-created");
        let mut file = fs::File::from(file);
        // The mode asked for, whatever the umask took away.
        nix::sys::stat::fchmod(file.as_fd(), Mode::from_bits_truncate(mode))
            .map_err(|e| Error::sys(format!("chmod {}/{name}", dir.display()), e))?;
        file.write_all(contents)
            .map_err(|e| Error::io(format!("write {}/{name}", dir.display()), e))?;
        Ok(dir.join(&name))
    });
    match made {
        Ok(path) => Ok((path, token)),
        Err(e) => {
            undo(token);
            Err(e)
        }
    }
}

/// Take a change out of the registry (it is the caller's to finish).
fn take(token: Token) -> Option<Undo> {
    let mut reg = registry();
    let pos = reg.entries.iter().position(|(t, _)| *t == token.0)?;
    Some(reg.entries.remove(pos).1)
}

/// Record that an object is gone; remove the journal when nothing is left.
fn finish(token: Token) {
    let _ = append(&format!("- {}", token.0));
    let mut reg = registry();
    let journalled = reg.entries.iter().any(|(_, u)| u.to_text().is_some());
    if !journalled && reg.journal.take().is_some() {
        let _ = rundir::locked(|dir, fd| {
            let _ = nix::unistd::unlinkat(
                fd,
                RunId::current().journal_name().as_str(),
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            );
            rundir::remove_if_empty(dir);
            Ok(())
        });
    }
}

/// Append one line to this run's journal and sync it, making the journal
/// (mode 0600, never through a link) on first use.
fn append(line: &str) -> Result<()> {
    let mut reg = registry();
    if reg.journal.is_none() {
        let file = rundir::locked(|dir, fd| {
            let name = RunId::current().journal_name();
            let file = openat(
                fd,
                name.as_str(),
                OFlag::O_WRONLY
                    | OFlag::O_APPEND
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::S_IRUSR | Mode::S_IWUSR,
            )
            .map_err(|e| Error::sys(format!("create {}/{name}", dir.display()), e))?;
            crate::failpoint::hit("journal-created");
            let mut file = fs::File::from(file);
            // First of all, the salt its queue keys are made with.
            file.write_all(format!("salt {:x}\n", salt()).as_bytes())
                .map_err(|e| Error::io("write learnns's journal", e))?;
            Ok(file)
        })?;
        reg.journal = Some(file);
    }
    let file = reg.journal.as_mut().expect("opened above");
    file.write_all(format!("{line}\n").as_bytes())
        .and_then(|()| file.sync_data())
        .map_err(|e| Error::io("write learnns's journal", e))
}

/// The pending records of one journal: the latest line of every change
/// that was not finished, oldest first.
fn pending(text: &str, run: &RunId) -> Vec<Undo> {
    let mut state: BTreeMap<usize, Option<Undo>> = BTreeMap::new();
    let mut salt = None;
    // A line cut short by a kill has no newline: it never happened.
    let complete = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => "",
    };
    for line in complete.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let ["salt", value] = words.as_slice() {
            salt = salt.or(u64::from_str_radix(value, 16).ok());
            continue;
        }
        let Some(n) = words.get(1).and_then(|n| n.parse::<usize>().ok()) else {
            continue;
        };
        match words.first() {
            Some(&"+") | Some(&"=") => {
                if let Some(undo) = Undo::from_text(&words[2..], run, salt) {
                    state.insert(n, Some(undo));
                }
            }
            Some(&"-") => {
                state.insert(n, None);
            }
            _ => {}
        }
    }
    state.into_values().flatten().collect()
}

/// Journals bigger than this are not learnns's.
const MAX_JOURNAL: u64 = 1 << 20;

/// Read a journal by descriptor: a regular file of ours, not a link.
fn read_journal(dir: &OwnedFd, name: &str) -> Option<String> {
    let fd: OwnedFd = openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let stat = fstat(fd.as_fd()).ok()?;
    let regular = stat.st_mode & libc::S_IFMT == libc::S_IFREG;
    if !regular
        || stat.st_uid != nix::unistd::geteuid().as_raw()
        || stat.st_size as u64 > MAX_JOURNAL
    {
        return None;
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut fs::File::from(fd), &mut text).ok()?;
    Some(text)
}

/// Every journal in the directory, with its run.
fn journals(dir: &Path) -> Vec<(RunId, String)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            Some((RunId::from_journal_name(&name)?, name))
        })
        .collect()
}

/// The changes that runs still going have recorded and not undone: what
/// other learnns runs on this machine hold right now (the tests'
/// fingerprint looks past them).
pub fn held_by_live_runs() -> Vec<(RunId, Vec<Undo>)> {
    let Ok(Some(dir)) = rundir::RunDir::open_existing() else {
        return Vec::new();
    };
    journals(&dir.path)
        .into_iter()
        .filter(|(run, _)| run.alive())
        .filter_map(|(run, name)| Some((run, pending(&read_journal(&dir.fd, &name)?, &run))))
        .collect()
}

/// Undo what earlier learnns runs that were killed left behind. Returns one
/// line per change undone, for the learner to see.
pub fn recover() -> Result<Vec<String>> {
    let Some(dir) = rundir::RunDir::open_existing()? else {
        return Ok(Vec::new());
    };
    let me = RunId::current();
    let dead = |list: &[(RunId, String)]| list.iter().any(|(run, _)| *run != me && !run.alive());
    // Most starts find nothing to do, and take no lock.
    if !dead(&journals(&dir.path)) {
        return Ok(Vec::new());
    }
    drop(dir);
    rundir::locked(|path, fd| {
        let mut done = Vec::new();
        for (run, name) in journals(path) {
            if run == me || run.alive() {
                continue;
            }
            let text = read_journal(fd, &name).unwrap_or_default();
            let mut left = Vec::new();
            for change in pending(&text, &run).iter().rev() {
                match change.undo(&run, false) {
                    Ok(Some(what)) => done.push(format!("{what}, left by learnns run {}", run.pid)),
                    Ok(None) => {}
                    Err(e) => left.push(e.to_string()),
                }
            }
            if left.is_empty() {
                let _ = nix::unistd::unlinkat(
                    fd,
                    name.as_str(),
                    nix::unistd::UnlinkatFlags::NoRemoveDir,
                );
            } else {
                // Kept, so a later start tries again.
                for why in left {
                    done.push(format!(
                        "could not undo a change left by learnns run {}: {why}",
                        run.pid
                    ));
                }
            }
        }
        rundir::remove_if_empty(path);
        Ok(done)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: RunId = RunId {
        pid: 4242,
        start: 777,
    };

    const SALT: u64 = 0x5eed;

    fn round_trip(undo: Undo) -> Vec<Undo> {
        pending(
            &format!("salt {SALT:x}\n+ 0 {}\n", undo.to_text().unwrap()),
            &RUN,
        )
    }

    #[test]
    fn journal_records_round_trip() {
        for undo in [
            Undo::MsgQueue {
                key: RUN.queue_key(SALT, 0),
                made: None,
            },
            Undo::MsgQueue {
                key: RUN.queue_key(SALT, 3),
                made: Some((3, 99)),
            },
            Undo::Link {
                name: "learnns4242h".into(),
            },
            Undo::Cgroup {
                path: "/sys/fs/cgroup/pids/learnns-4242-777-1".into(),
            },
            Undo::File {
                name: "4242-777-host-file".into(),
            },
        ] {
            assert_eq!(round_trip(undo.clone()), vec![undo]);
        }
        assert_eq!(Undo::Process { pid: 42 }.to_text(), None);
    }

    #[test]
    fn a_journal_only_names_objects_of_its_own_run() {
        for foreign in [
            "link eth0",
            "link learnns4243h",
            "link learnns4242h/../x",
            "cgroup /sys/fs/cgroup/system.slice",
            "cgroup /sys/fs/cgroup/pids/learnns-4243-777-1",
            "cgroup /sys/fs/cgroup/pids/learnns-4242-778-1",
            "cgroup /sys/fs/cgroup/pids/learnns-4242-777-1/../../x",
            "msgqueue 0",
            "msgqueue 5",
            "msgqueue 5 3 99",
            "process 1",
            "file /etc/passwd",
            "file ../4242-777-host-file",
            "file 4242-777-",
            "file 4242-777-x/../../etc",
            "file 4243-777-host-file",
            "file 4242-777-x.journal",
            "",
        ] {
            let journal = format!("salt {SALT:x}\n+ 0 {foreign}\n");
            assert_eq!(pending(&journal, &RUN), vec![], "{foreign}");
        }
    }

    #[test]
    fn intent_then_made_then_done() {
        let key = RUN.queue_key(SALT, 0);
        let text = format!(
            "salt {SALT:x}\n+ 0 msgqueue {key}\n= 0 msgqueue {key} 3 99\n+ 1 link learnns4242h\n- 1\n"
        );
        assert_eq!(
            pending(&text, &RUN),
            vec![Undo::MsgQueue {
                key,
                made: Some((3, 99))
            }]
        );
        // A last line cut short by a kill was never acted on.
        let cut = format!("salt {SALT:x}\n+ 0 msgqueue {key}\n- 0");
        assert_eq!(pending(&cut, &RUN).len(), 1);
        assert_eq!(pending("+ 0 msgq", &RUN), vec![]);
    }

    #[test]
    fn queue_keys_belong_to_their_run_and_salt() {
        let keys: Vec<i32> = (0..QUEUE_ATTEMPTS)
            .map(|n| RUN.queue_key(SALT, n))
            .collect();
        assert!(keys.iter().all(|k| *k > 0));
        let other = RunId { start: 778, ..RUN };
        assert!(keys.iter().all(|k| !other.owns_queue_key(SALT, *k)));
        assert!(keys.iter().all(|k| !RUN.owns_queue_key(SALT + 1, *k)));
        assert!(keys.iter().all(|k| RUN.owns_queue_key(SALT, *k)));
        // Without the salt line, no queue record is believed.
        let key = keys[0];
        assert_eq!(pending(&format!("+ 0 msgqueue {key}\n"), &RUN), vec![]);
    }

    #[test]
    fn runs_are_named_by_pid_and_start_time() {
        assert_eq!(RunId::from_journal_name("4242-777.journal"), Some(RUN));
        assert_eq!(RunId::from_journal_name(&RUN.journal_name()), Some(RUN));
        for bad in ["4242.journal", "x-1.journal", "0-5.journal", "4242-777.tmp"] {
            assert_eq!(RunId::from_journal_name(bad), None, "{bad}");
        }
        assert!(RunId::current().alive());
        // The same PID with another start time is another process.
        let other = RunId {
            start: RunId::current().start + 1,
            ..RunId::current()
        };
        assert!(!other.alive());
    }

    #[test]
    fn a_process_is_only_ever_stopped_by_the_run_that_started_it() {
        // A later run never kills by PID: it may belong to someone else now.
        assert_eq!(Undo::Process { pid: 1 }.undo(&RUN, false).unwrap(), None);
        assert_eq!(
            Undo::Process { pid: i32::MAX }.undo(&RUN, true).unwrap(),
            None
        );
    }
}
