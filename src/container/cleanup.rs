//! Every change learnns makes on the host is registered here before it is
//! made and undone when learnns ends: on success, on error, on Ctrl-C. The
//! registry is also written to a journal file, so that if learnns is killed
//! outright (SIGKILL, a crash) the next start finds and undoes what was left.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use crate::sys;

/// One host-side change and how to undo it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undo {
    /// A process learnns started (a container's init). Not journalled: it
    /// dies with learnns by itself (PR_SET_PDEATHSIG), and a recycled PID
    /// must never be killed by a later run.
    Process { pid: i32 },
    /// A System V message queue made on the host (lesson 2). `ctime` is its
    /// creation time, so a recycled id is never removed by mistake.
    MsgQueue { id: i32, ctime: u64 },
    /// A network link on the host (the host end of a veth pair). Deleting
    /// one end of a veth pair deletes the other.
    Link { name: String },
    /// A file learnns made in the temporary directory (lesson 6).
    File { path: PathBuf },
    /// A cgroup directory (lesson 7); whatever is still in it is killed.
    Cgroup { path: PathBuf },
}

/// Every host-side name learnns gives starts with this, then the run's PID.
pub const PREFIX: &str = "learnns";

impl Undo {
    /// The journal line; None for what needs no journal.
    fn to_line(&self) -> Option<String> {
        Some(match self {
            Undo::Process { .. } => return None,
            Undo::MsgQueue { id, ctime } => format!("msgqueue {id} {ctime}"),
            Undo::Link { name } => format!("link {name}"),
            Undo::File { path } => format!("file {}", path.display()),
            Undo::Cgroup { path } => format!("cgroup {}", path.display()),
        })
    }

    fn from_line(line: &str) -> Option<Undo> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let ours = |name: &str| name.starts_with(PREFIX) && name.len() <= 15 && !name.contains('/');
        match words.as_slice() {
            ["msgqueue", id, ctime] => Some(Undo::MsgQueue {
                id: id.parse().ok()?,
                ctime: ctime.parse().ok()?,
            }),
            ["link", name] if ours(name) => Some(Undo::Link {
                name: name.to_string(),
            }),
            ["file", path] if is_our_temp_file(Path::new(path)) => Some(Undo::File {
                path: PathBuf::from(path),
            }),
            ["cgroup", path] if crate::cgroup::is_ours(Path::new(path)) => Some(Undo::Cgroup {
                path: PathBuf::from(path),
            }),
            _ => None,
        }
    }

    /// Undo the change if it is still there. `ours` is true in the run that
    /// made it: our own child and our own queue cannot have been recycled by
    /// someone else. A later run recovering a journal checks first. Returns a
    /// description when something was actually undone.
    fn undo(&self, ours: bool) -> Option<String> {
        match self {
            Undo::Process { pid } => {
                if !ours {
                    return None;
                }
                kill(Pid::from_raw(*pid), Signal::SIGKILL).ok()?;
                if ours {
                    let _ = waitpid(Pid::from_raw(*pid), None);
                }
                Some(format!("stopped container process {pid}"))
            }
            Undo::MsgQueue { id, ctime } => {
                if !ours && msg_queue_ctime(*id) != Some(*ctime) {
                    return None;
                }
                sys::msg_queue_remove(*id).ok()?;
                Some(format!("removed message queue {id} (`ipcrm -q {id}`)"))
            }
            Undo::File { path } => {
                fs::remove_file(path).ok()?;
                Some(format!("removed {}", path.display()))
            }
            Undo::Cgroup { path } => {
                crate::cgroup::remove(path).ok()?.then_some(())?;
                Some(format!("removed cgroup {} (`rmdir`)", path.display()))
            }
            Undo::Link { name } => {
                if !std::path::Path::new("/sys/class/net").join(name).exists() {
                    return None;
                }
                quiet_ip(&["link", "delete", name])?;
                Some(format!(
                    "removed network link {name} (`ip link delete {name}`)"
                ))
            }
        }
    }
}

/// Only files named `learnns-...` directly in the temporary directory.
fn is_our_temp_file(path: &Path) -> bool {
    path.parent() == Some(std::env::temp_dir().as_path())
        && path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("learnns-"))
}

/// Run `ip` for clean-up, without output; None if it failed.
fn quiet_ip(args: &[&str]) -> Option<()> {
    let status = std::process::Command::new("ip")
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    status.success().then_some(())
}

/// The start time of a process, or None if it does not exist.
pub fn process_start(pid: i32) -> Option<u64> {
    procfs::process::Process::new(pid)
        .and_then(|p| p.stat())
        .ok()
        .map(|s| s.starttime)
}

/// The change time of a System V message queue, or None if there is none
/// with this id. The kernel lists them in /proc/sysvipc/msg (as `ipcs -q`).
pub fn msg_queue_ctime(id: i32) -> Option<u64> {
    let table = fs::read_to_string("/proc/sysvipc/msg").ok()?;
    let header: Vec<&str> = table.lines().next()?.split_whitespace().collect();
    let id_col = header.iter().position(|h| *h == "msqid")?;
    let ctime_col = header.iter().position(|h| *h == "ctime")?;
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(id_col)?.parse::<i32>().ok()? == id {
            fields.get(ctime_col)?.parse().ok()
        } else {
            None
        }
    })
}

struct Registry {
    entries: Vec<(usize, Undo)>,
    next: usize,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    entries: Vec::new(),
    next: 0,
});

/// A handle to one registered change, to mark it undone by its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token(usize);

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Register a change that has just been made, and write it to the journal.
pub fn register(undo: Undo) -> Token {
    let mut reg = registry();
    let token = reg.next;
    reg.next += 1;
    reg.entries.push((token, undo));
    write_journal(&reg.entries);
    Token(token)
}

/// The owner undid the change itself (e.g. it reaped its process).
pub fn release(token: Token) {
    let mut reg = registry();
    reg.entries.retain(|(t, _)| *t != token.0);
    write_journal(&reg.entries);
}

/// Undo one registered change now.
pub fn undo(token: Token) {
    let found = {
        let mut reg = registry();
        let pos = reg.entries.iter().position(|(t, _)| *t == token.0);
        pos.map(|i| reg.entries.remove(i).1)
    };
    if let Some(undo) = found {
        undo.undo(true);
    }
    write_journal(&registry().entries);
}

/// Undo every change still registered, newest first.
pub fn undo_all() {
    let entries = std::mem::take(&mut registry().entries);
    for (_, undo) in entries.iter().rev() {
        undo.undo(true);
    }
    write_journal(&[]);
}

/// Where journals live: root's under /run, a user's under XDG_RUNTIME_DIR.
pub fn journal_dir() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/run/learnns");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("learnns"),
        _ => std::env::temp_dir().join(format!("learnns-{}", nix::unistd::getuid())),
    }
}

fn journal_path(pid: u32) -> PathBuf {
    journal_dir().join(format!("{pid}.journal"))
}

/// Is there a journal file of this run on disk?
static JOURNALLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn write_journal(entries: &[(usize, Undo)]) {
    use std::sync::atomic::Ordering;
    let path = journal_path(std::process::id());
    let lines: Vec<String> = entries.iter().filter_map(|(_, u)| u.to_line()).collect();
    if lines.is_empty() {
        // Most runs make nothing worth a journal: touch no file then.
        if !JOURNALLED.swap(false, Ordering::SeqCst) {
            return;
        }
        let _ = fs::remove_file(&path);
        // Leave no empty directory behind either (fails, harmlessly, while
        // another run's journal is in it).
        if let Some(dir) = path.parent() {
            let _ = fs::remove_dir(dir);
        }
        return;
    }
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    if let Some(dir) = path.parent() {
        let _ = fs::create_dir_all(dir);
    }
    // Write then rename, so a kill mid-write never leaves half a journal.
    let tmp = path.with_extension("tmp");
    if fs::write(&tmp, text).is_ok() && fs::rename(&tmp, &path).is_ok() {
        JOURNALLED.store(true, Ordering::SeqCst);
    }
}

/// Is `pid` a learnns process that is still running?
fn learnns_alive(pid: i32) -> bool {
    procfs::process::Process::new(pid)
        .and_then(|p| p.stat())
        .map(|s| s.comm.starts_with("learnns"))
        .unwrap_or(false)
}

/// Undo what earlier learnns runs that were killed left behind. Returns one
/// line per change undone, for the learner to see.
pub fn recover() -> Vec<String> {
    let mut done = Vec::new();
    let Ok(dir) = fs::read_dir(journal_dir()) else {
        return done;
    };
    for entry in dir.flatten() {
        let path = entry.path();
        let Some(pid) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".journal"))
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if pid as u32 == std::process::id() || learnns_alive(pid) {
            continue;
        }
        let text = fs::read_to_string(&path).unwrap_or_default();
        for undo in text.lines().filter_map(Undo::from_line).rev() {
            if let Some(what) = undo.undo(false) {
                done.push(format!("{what}, left by learnns run {pid}"));
            }
        }
        let _ = fs::remove_file(&path);
    }
    let _ = fs::remove_dir(journal_dir());
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_lines_round_trip() {
        for undo in [
            Undo::MsgQueue { id: 3, ctime: 99 },
            Undo::Link {
                name: "learnns123h".into(),
            },
            Undo::File {
                path: std::env::temp_dir().join("learnns-1-host-file"),
            },
            Undo::Cgroup {
                path: "/sys/fs/cgroup/pids/learnns-1-1".into(),
            },
        ] {
            assert_eq!(Undo::from_line(&undo.to_line().unwrap()), Some(undo));
        }
        assert_eq!(Undo::Process { pid: 42 }.to_line(), None);
        assert_eq!(Undo::from_line("process x 1"), None);
        assert_eq!(Undo::from_line("veth 1 2"), None);
        // A journal can only ever make learnns delete learnns's own names.
        assert_eq!(Undo::from_line("link eth0"), None);
        assert_eq!(Undo::from_line("link learnns/../x"), None);
        assert_eq!(Undo::from_line("file /etc/passwd"), None);
        assert_eq!(Undo::from_line("file /tmp/../etc/learnns-x"), None);
        assert_eq!(Undo::from_line("cgroup /sys/fs/cgroup/system.slice"), None);
        assert_eq!(Undo::from_line(""), None);
    }

    #[test]
    fn a_process_is_only_ever_stopped_by_the_run_that_started_it() {
        // A later run never kills by PID: it may belong to someone else now.
        assert_eq!(Undo::Process { pid: 1 }.undo(false), None);
        assert_eq!(Undo::Process { pid: i32::MAX }.undo(true), None);
    }
}
