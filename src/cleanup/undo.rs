//! Each kind of change learnns makes on the host: how it is written in a
//! journal, how a replay recognises it as a run's own, and how it is undone.
//! A new kind of host object gets a variant here, with all three.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use super::run::RunId;
use super::rundir;
use crate::error::{Error, Result};
use crate::sys;

/// Where cgroup file systems are mounted on every distribution, and so the
/// only place a cgroup is ever removed from.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

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
    pub(super) fn to_text(&self) -> Option<String> {
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
    pub(super) fn from_text(words: &[&str], run: &RunId, salt: Option<u64>) -> Option<Undo> {
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
            ["link", name] if *name == run.veth_names().0 => Some(Undo::Link {
                name: name.to_string(),
            }),
            ["file", name] if run.owns_file_name(name) => Some(Undo::File {
                name: name.to_string(),
            }),
            ["cgroup", path] if cgroup_is_ours(Path::new(path), run) => Some(Undo::Cgroup {
                path: PathBuf::from(path),
            }),
            _ => None,
        }
    }

    /// Undo the change if it is still there and still the one `run` made.
    /// `ours` is true in the run that made it: our own child cannot have
    /// been recycled by someone else. Returns a description when something
    /// was undone, an error when it is there and could not be undone.
    pub(super) fn undo(&self, run: &RunId, ours: bool) -> Result<Option<String>> {
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
            Undo::Cgroup { path } => Ok(remove_cgroup(path)?
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
                if !link_is_ours(name, run) {
                    return Ok(None);
                }
                delete_link(name)?;
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

/// The change time of a System V message queue, or None if there is none
/// with this id.
pub fn msg_queue_ctime(id: i32) -> Option<u64> {
    crate::sysvipc::msg_queues()
        .into_iter()
        .find(|q| q.id == id)
        .map(|q| q.ctime)
}

/// Is this a cgroup directory learnns run `run` would have made? Only
/// these are ever removed, also when a journal says otherwise: a directory
/// at the top of a hierarchy under /sys/fs/cgroup, named for that very run.
pub(super) fn cgroup_is_ours(path: &Path, run: &RunId) -> bool {
    let name_ok = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| run.owns_cgroup_name(n));
    let depth = path.components().count();
    name_ok
        && path.is_absolute()
        && path.starts_with(CGROUP_ROOT)
        && (5..=6).contains(&depth)
        && !path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
}

/// Kill every process left in cgroup `dir`, wait for them to go, remove it.
/// Returns false when it was not there.
fn remove_cgroup(dir: &Path) -> Result<bool> {
    if !dir.is_dir() {
        return Ok(false);
    }
    // cgroup v2 kills everything inside at once, with nothing to race
    // (never created: on v1 there is no such file).
    if let Ok(mut kill) = std::fs::File::options()
        .write(true)
        .open(dir.join("cgroup.kill"))
    {
        let _ = std::io::Write::write_all(&mut kill, b"1");
    }
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.lines().filter_map(|l| l.trim().parse().ok()) {
            // A PID read here may be another process's by the time it is
            // signalled: the kill goes to the very process found in it.
            sys::kill_if_in_cgroup(pid, name);
        }
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(true),
            // Busy while killed processes are still on their way out.
            Err(e) if Instant::now() < deadline && e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(Error::io(format!("rmdir {}", dir.display()), e)),
        }
    }
}

/// Is the link `name` on the host one that run `run` made? learnns writes
/// the run's tag into a link's alias right after making it; an empty alias
/// is a run killed in between (making and tagging happen under the run
/// lock, which a replay holds too, so no live run is ever in that gap).
fn link_is_ours(name: &str, run: &RunId) -> bool {
    let alias = Path::new("/sys/class/net").join(name).join("ifalias");
    match std::fs::read_to_string(alias) {
        Ok(text) => text.trim().is_empty() || text.trim() == run.tag(),
        Err(_) => false,
    }
}

/// Delete a link on the host, quietly (clean-up, not a lesson step).
fn delete_link(name: &str) -> Result<()> {
    let out = Command::new("ip")
        .args(["link", "delete", name])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io(format!("run `ip link delete {name}`"), e))?;
    if !out.status.success() && Path::new("/sys/class/net").join(name).exists() {
        return Err(Error::Setup(
            format!(
                "`ip link delete {name}` failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )
            .into(),
        ));
    }
    Ok(())
}
