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

mod journal;
mod run;
mod rundir;
mod undo;

use std::fs;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::Mutex;

use nix::fcntl::{OFlag, openat};
use nix::sys::stat::Mode;

use crate::error::{Error, Result};

pub use journal::{held_by_live_runs, recover};
pub use run::{PREFIX, QUEUE_ATTEMPTS, RunId, process_start, salt};
pub use undo::{CGROUP_ROOT, Undo, msg_queue_ctime};

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
        Err(e) => crate::render::problem::warn(format!("could not undo a change on the host: {e}")),
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
        journal::remove();
    }
}

/// Append one line to this run's journal and sync it, making the journal
/// (mode 0600, never through a link) on first use.
fn append(line: &str) -> Result<()> {
    let mut reg = registry();
    if reg.journal.is_none() {
        reg.journal = Some(journal::create()?);
    }
    let file = reg.journal.as_mut().expect("opened above");
    file.write_all(format!("{line}\n").as_bytes())
        .and_then(|()| file.sync_data())
        .map_err(|e| Error::io("write learnns's journal", e))
}

#[cfg(test)]
mod tests {
    use super::journal::pending;
    use super::undo::cgroup_is_ours;
    use super::*;
    use std::path::Path;

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

    #[test]
    fn only_cgroups_of_the_run_are_ever_removed() {
        let run = RunId {
            pid: 12,
            start: 345,
        };
        let ours = |p: &str| cgroup_is_ours(Path::new(p), &run);
        assert!(ours("/sys/fs/cgroup/learnns-12-345-1"));
        assert!(ours("/sys/fs/cgroup/pids/learnns-12-345-1"));
        assert!(ours("/sys/fs/cgroup/unified/learnns-12-345-2"));
        // Another run, even with the same PID, or a name learnns never gives.
        assert!(!ours("/sys/fs/cgroup/learnns-12-346-1"));
        assert!(!ours("/sys/fs/cgroup/learnns-13-345-1"));
        assert!(!ours("/sys/fs/cgroup/learnns-12-1"));
        assert!(!ours("/sys/fs/cgroup/learnns-12-345-"));
        assert!(!ours("/sys/fs/cgroup/learnns-12-345-1x"));
        assert!(!ours("/sys/fs/cgroup/system.slice"));
        assert!(!ours("/sys/fs/cgroup/learnns-12-345-1/../system.slice"));
        assert!(!ours("/tmp/learnns-12-345-1"));
        assert!(!ours("sys/fs/cgroup/learnns-12-345-1"));
        assert!(!ours("/sys/fs/cgroup/a/b/learnns-12-345-1"));
    }
}
