//! The processes a check grades, read from procfs: every live process of
//! the graded user except learnns and its ancestors (the learner's shell),
//! or the one process named with `--pid`.

use std::collections::BTreeSet;

use procfs::process::Process;

use crate::error::{Error, Result};
use crate::ns::{Identities, Identity, KINDS, Kind};

/// Whose processes are graded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Graded {
    pub uid: u32,
    /// learnns runs as root (then it may enter anyone's namespaces).
    pub as_root: bool,
}

impl Graded {
    /// The invoking user: under sudo (root with SUDO_UID) the user who
    /// typed sudo, otherwise whoever runs learnns.
    pub fn invoker() -> Graded {
        let euid = nix::unistd::geteuid();
        let sudo = std::env::var("SUDO_UID")
            .ok()
            .and_then(|v| v.parse::<u32>().ok());
        let uid = match sudo {
            Some(uid) if euid.is_root() => uid,
            _ => nix::unistd::getuid().as_raw(),
        };
        Graded {
            uid,
            as_root: euid.is_root(),
        }
    }
}

/// One process, as the checks need it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub pid: i32,
    /// When it started (clock ticks after boot): with the PID, which
    /// process this is, even after the PID is reused.
    pub started: u64,
    pub comm: String,
    pub ids: Identities,
    /// The PID namespace its children will be in (`pid_for_children`).
    pub pid_for_children: Children,
    /// Its PID in each PID namespace it is in, outermost first (`NSpid`).
    pub nspid: Vec<i32>,
    /// Its effective uid as learnns sees it.
    pub euid: u32,
    /// Its uid map: (inside, outside, count) lines.
    pub uid_map: Vec<(u32, u32, u32)>,
}

/// What `/proc/PID/ns/pid_for_children` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Children {
    /// Its children will be in this PID namespace.
    In(Identity),
    /// A PID namespace was made for its children, and none is in it yet.
    Empty,
    /// It could not be read.
    Unknown,
}

/// The processes to grade and what they are compared with.
#[derive(Debug, Clone)]
pub struct Candidates {
    /// PID 1's namespaces: the host's.
    pub host: Identities,
    pub graded: Graded,
    pub list: Vec<Candidate>,
    /// The one process named with `--pid`.
    pub named: Option<i32>,
}

impl Candidates {
    /// Gather them: `only` grades that one process, otherwise every
    /// process of the graded user.
    pub fn gather(graded: Graded, only: Option<i32>) -> Result<Candidates> {
        // PID 1's namespaces are the host's; where PID 1 cannot be read
        // (hidepid, a container without CAP_SYS_PTRACE), learnns's own
        // stand in: it runs in the learner's shell's namespaces.
        let host = Identities::of(1).or_else(|_| Identities::of_self())?;
        let list = match only {
            Some(pid) => {
                let process = Process::new(pid).map_err(|e| Error::from_proc(pid, e))?;
                owned(&process, graded)?;
                vec![read_pinned(&process)?]
            }
            None => {
                let skip = ancestors();
                procfs::process::all_processes()
                    .map_err(|e| Error::from_proc(0, e))?
                    .flatten()
                    .filter(|p| !skip.contains(&p.pid))
                    .filter(|p| p.uid().is_ok_and(|uid| uid == graded.uid) || by_sudo(p, graded))
                    .filter(|p| !in_a_lesson(p.pid))
                    // Unreadable, gone in between, or a kernel thread: not a
                    // candidate.
                    .filter_map(|p| read_pinned(&p).ok())
                    .collect()
            }
        };
        Ok(Candidates {
            host,
            graded,
            list,
            named: only,
        })
    }
}

impl Candidates {
    /// A sentence saying that no graded process `is`/`has` what follows:
    /// "no process of yours is in ...", or with `--pid`, "process 42
    /// (sleep) is not in ...".
    pub fn none(&self, what: &str) -> String {
        let Some(c) = self.named.and_then(|_| self.list.first()) else {
            return format!("no process of yours {what}");
        };
        let negated = if let Some(rest) = what.strip_prefix("is ") {
            format!("is not {rest}")
        } else if let Some(rest) = what.strip_prefix("has ") {
            format!("does not have {rest}")
        } else {
            format!("is not one that {what}")
        };
        format!("{} {negated}", c.label())
    }
}

/// A process named with `--pid` must be the graded user's, or root's (one
/// they started with sudo): never another user's, whose namespaces root
/// would enter and whose work would be recorded as theirs (a mistyped PID,
/// or theirs reused after it exited). Every uid of it counts: a set-user-ID
/// program another user started is root's only in its effective uid.
fn owned(process: &Process, graded: Graded) -> Result<()> {
    let pid = process.pid;
    let status = process.status().map_err(|e| Error::from_proc(pid, e))?;
    let ours = |uid: u32| uid == graded.uid || uid == 0;
    let uids = [status.ruid, status.euid, status.suid, status.fuid];
    match uids.into_iter().find(|uid| !ours(*uid)) {
        None => Ok(()),
        Some(uid) => Err(Error::usage(
            format!(
                "process {pid} runs as uid {uid}, neither yours (uid {}) nor root's: learnns grades only your processes and those you started with sudo",
                graded.uid
            ),
            format!(
                "check the PID with `ps -o pid,user,args -p {pid}`, or leave out --pid to grade all of yours"
            ),
        )),
    }
}

/// Under sudo, a root process the graded user started with sudo: the tasks
/// begin with `sudo unshare ...`, and what that starts is root's. Up
/// through root's processes, the first that is not root's is whoever typed
/// sudo (`sudo su -` clears the environment, but not that). Where the chain
/// ends in root's before it (the user's shell exited, and it was reparented
/// to PID 1), the `SUDO_UID` that sudo leaves in the environment, and
/// `unshare` and what it runs inherit, says whose it is. Only root can
/// start a process that is root by every uid, so neither can be planted by
/// another ordinary user; and root's process below another user's is
/// theirs, whatever its environment says (they may write it: a shell
/// inside a container they started with sudo).
fn by_sudo(process: &Process, graded: Graded) -> bool {
    if !graded.as_root || graded.uid == 0 {
        return false;
    }
    // Root's by every uid: a set-user-ID program another user runs is
    // root's only in its effective uid, and its environment is theirs to
    // choose (SUDO_UID included).
    let root = |s: &procfs::process::Status| [s.ruid, s.euid, s.suid].iter().all(|u| *u == 0);
    if !process.status().is_ok_and(|s| root(&s)) {
        return false;
    }
    if let Some(whose) = first_not_root_above(process.pid) {
        return whose == graded.uid;
    }
    let mark = format!("SUDO_UID={}", graded.uid);
    let environ = std::fs::read(format!("/proc/{}/environ", process.pid)).unwrap_or_default();
    environ.split(|b| *b == 0).any(|var| var == mark.as_bytes())
}

/// A process and every one above it, up to (not including) PID 1, each
/// with its stat; the walk ends early at a process gone meanwhile.
fn lineage(pid: i32) -> impl Iterator<Item = (Process, procfs::process::Stat)> {
    let mut seen = BTreeSet::new();
    let mut at = pid;
    std::iter::from_fn(move || {
        if at <= 1 || !seen.insert(at) {
            return None;
        }
        let process = Process::new(at).ok()?;
        let stat = process.stat().ok()?;
        at = stat.ppid;
        Some((process, stat))
    })
}

/// The real uid of the first process at or above `pid` that is not root's,
/// up through root's processes only; `None` where the chain reaches PID 1
/// (or a process gone meanwhile) first. Above another user's process (a
/// session the user opened for them, `su - them`) it is their work.
fn first_not_root_above(pid: i32) -> Option<u32> {
    for (process, _) in lineage(pid) {
        let ruid = process.status().ok()?.ruid;
        if ruid != 0 {
            return Some(ruid);
        }
    }
    None
}

/// learnns's command names, from its command line definition.
static COMMANDS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
    <crate::cli::Cli as clap::CommandFactory>::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect()
});

/// Is the process (or one above it) a learnns showing a lesson, a live
/// quiz or a lesson's shell? Their containers are learnns's work, not the
/// learner's: a lesson open in another terminal must not be graded (its
/// container's hostname is `container`, and renaming it is no solution).
/// `learnns run` is not among them: the tasks offer it as a way to build.
fn in_a_lesson(pid: i32) -> bool {
    lineage(pid).any(|(process, stat)| {
        if stat.comm != "learnns" {
            return false;
        }
        // The first word that is one of learnns's commands (an option's
        // value, as in `--color always`, is not).
        let args = process.cmdline().unwrap_or_default();
        let verb = args
            .iter()
            .skip(1)
            .take_while(|a| *a != "--")
            .find(|a| COMMANDS.contains(a));
        verb.is_some_and(|v| ["lesson", "quiz", "shell"].contains(&v.as_str()))
    })
}

/// learnns and every process above it: the learner's shell is in the
/// host's namespaces whatever they typed in another terminal.
fn ancestors() -> BTreeSet<i32> {
    lineage(std::process::id() as i32)
        .map(|(process, _)| process.pid)
        .collect()
}

/// `PF_KTHREAD` in `/proc/PID/stat`'s flags: a kernel thread. Some have
/// namespaces of their own (kdevtmpfs mounts devtmpfs in a mount namespace
/// it made), which must not pass a check nobody did.
const PF_KTHREAD: u32 = 0x0020_0000;

/// [`read`] the process whose uids were judged through `process` (which
/// holds its /proc directory open, so it answers for that process only):
/// if it exited and another one, anyone's, took its PID meanwhile, what
/// was read at the PID is that one's, and is not taken.
fn read_pinned(process: &Process) -> Result<Candidate> {
    let pid = process.pid;
    let candidate = read(pid)?;
    match process.stat() {
        Ok(stat) if stat.starttime == candidate.started => Ok(candidate),
        _ => Err(Error::Vanished { pid }),
    }
}

/// Read one process; a zombie has no namespaces left to grade, and a
/// kernel thread is nobody's work.
fn read(pid: i32) -> Result<Candidate> {
    let process = Process::new(pid).map_err(|e| Error::from_proc(pid, e))?;
    let status = process.status().map_err(|e| Error::from_proc(pid, e))?;
    if status.state.starts_with('Z') {
        return Err(Error::Vanished { pid });
    }
    let stat = process.stat().map_err(|e| Error::from_proc(pid, e))?;
    if stat.flags & PF_KTHREAD != 0 {
        return Err(Error::usage(
            format!(
                "process {pid} ({}) is a kernel thread, not a process anyone started",
                status.name
            ),
            "pick the PID of the process you started (`ps -o pid,user,args -u $USER`)",
        ));
    }
    let started = stat.starttime;
    // Each link on its own rather than `Identities::of`, which fails on the
    // very state a check must diagnose: after `unshare --pid` without
    // `--fork`, `pid_for_children` names a namespace nobody is in yet, and
    // the kernel refuses to open it (ENOENT) while the process lives on.
    let mut ids = Identities(Default::default());
    for info in &KINDS {
        let link = format!("/proc/{pid}/ns/{}", info.proc_name);
        match std::fs::metadata(&link) {
            Ok(m) => {
                ids.0.insert(info.kind, of_metadata(&m));
            }
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Err(Error::ProcPermission { pid });
            }
            // Not in this kernel, or gone: the checks see it as shared.
            Err(_) => {}
        }
    }
    if ids.0.is_empty() {
        return Err(Error::Vanished { pid });
    }
    let children = std::fs::metadata(format!("/proc/{pid}/ns/pid_for_children"));
    let pid_for_children = match children {
        Ok(m) => Children::In(of_metadata(&m)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && alive(pid) => Children::Empty,
        Err(_) => Children::Unknown,
    };
    let uid_map = std::fs::read_to_string(format!("/proc/{pid}/uid_map"))
        .map(|text| parse_map(&text))
        .unwrap_or_default();
    Ok(Candidate {
        pid,
        started,
        comm: status.name,
        ids,
        pid_for_children,
        nspid: status.nspid.unwrap_or_default(),
        euid: status.euid,
        uid_map,
    })
}

/// The namespace a `/proc/.../ns/...` link names, as `stat -L` sees it.
pub fn identity(path: &str) -> Option<Identity> {
    std::fs::metadata(path).ok().map(|m| of_metadata(&m))
}

fn of_metadata(m: &std::fs::Metadata) -> Identity {
    use std::os::unix::fs::MetadataExt;
    Identity {
        device: m.dev(),
        inode: m.ino(),
    }
}

/// Still there, and not a zombie.
fn alive(pid: i32) -> bool {
    Process::new(pid)
        .and_then(|p| p.stat())
        .is_ok_and(|s| !matches!(s.state, 'Z' | 'X'))
}

/// `/proc/PID/uid_map`: lines of three numbers.
pub fn parse_map(text: &str) -> Vec<(u32, u32, u32)> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<u32> = line
                .split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect();
            match f[..] {
                [inside, outside, count] => Some((inside, outside, count)),
                _ => None,
            }
        })
        .collect()
}

impl Candidate {
    /// Is it in a namespace of `kind` other than the host's?
    pub fn own(&self, kind: Kind, host: &Identities) -> bool {
        self.ids.get(kind).is_some() && self.ids.get(kind) != host.get(kind)
    }

    /// Is the process at its PID still this one (alive, started when it
    /// did), not one that took the PID after it exited?
    pub fn still_there(&self) -> bool {
        Process::new(self.pid)
            .and_then(|p| p.stat())
            .is_ok_and(|s| s.starttime == self.started && !matches!(s.state, 'Z' | 'X'))
    }

    /// `PID 1234 (sleep)`.
    pub fn label(&self) -> String {
        format!("process {} ({})", self.pid, super::printable(&self.comm))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Who this test runs for as by_sudo sees it: the user who ran `sudo
    /// cargo test`, or where only root's processes are above it, a made-up
    /// one (then the SUDO_UID in the environment decides).
    fn sudo_user() -> u32 {
        first_not_root_above(std::process::id() as i32).unwrap_or(65534)
    }

    /// A root process carrying SUDO_UID is the user's; a set-user-ID
    /// program another user started with the same SUDO_UID is not.
    #[test]
    fn only_what_root_started_with_sudo_counts_as_the_users() {
        use std::os::unix::fs::PermissionsExt;
        use std::os::unix::process::CommandExt;
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let graded = Graded {
            uid: sudo_user(),
            as_root: true,
        };
        let dir = std::env::temp_dir().join(format!("lnstest-setuid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let setuid = dir.join("sleep");
        std::fs::copy("/bin/sleep", &setuid).unwrap();
        std::fs::set_permissions(&setuid, std::fs::Permissions::from_mode(0o4755)).unwrap();
        let start = |program: &std::path::Path, uid: Option<u32>| {
            let mut command = std::process::Command::new(program);
            command.arg("30").env("SUDO_UID", sudo_user().to_string());
            if let Some(uid) = uid {
                command.uid(uid).gid(uid);
            }
            // Just written: a child another test thread forked may still
            // hold it open for a moment (ETXTBSY).
            for _ in 0..50 {
                match command.spawn() {
                    Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                    started => return started.unwrap(),
                }
            }
            panic!("{} stayed busy", program.display());
        };
        let mut by_sudo_child = start(std::path::Path::new("/bin/sleep"), None);
        let mut planted = start(&setuid, Some(61234));
        std::thread::sleep(std::time::Duration::from_millis(200));
        let seen = |pid: u32| by_sudo(&Process::new(pid as i32).unwrap(), graded);
        let (sudo_seen, planted_seen) = (seen(by_sudo_child.id()), seen(planted.id()));
        for child in [&mut by_sudo_child, &mut planted] {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&dir);
        assert!(sudo_seen, "a root process with the user's SUDO_UID");
        assert!(!planted_seen, "uid 61234's set-user-ID process");
    }

    /// A root process started with sudo is judged the user's; it exits, and
    /// another user's process takes its PID before it is read: what is
    /// read at that PID is not taken as the one judged.
    #[test]
    fn a_pid_taken_over_after_judging_is_not_read() {
        use std::os::unix::process::CommandExt;
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let graded = Graded {
            uid: sudo_user(),
            as_root: true,
        };
        let sleep = |uid: Option<u32>| {
            let mut command = std::process::Command::new("/bin/sleep");
            command.arg("30").env("SUDO_UID", sudo_user().to_string());
            if let Some(uid) = uid {
                command.uid(uid).gid(uid);
            }
            command.spawn().unwrap()
        };
        for _ in 0..20 {
            let mut judged = sleep(None);
            let pid = judged.id() as i32;
            // Its environment is in place a moment after spawn returns.
            std::thread::sleep(std::time::Duration::from_millis(100));
            let process = Process::new(pid).unwrap();
            assert!(by_sudo(&process, graded));
            let _ = judged.kill();
            let _ = judged.wait();
            // The next PID handed out is the one that was judged's.
            std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string()).unwrap();
            let mut theirs = sleep(Some(61234));
            // Taken over, and readable at that PID.
            let took = theirs.id() as i32 == pid && read(pid).is_ok();
            let read = took.then(|| read_pinned(&process));
            let _ = theirs.kill();
            let _ = theirs.wait();
            if let Some(read) = read {
                assert!(
                    read.is_err(),
                    "uid 61234's process was read as the judged one"
                );
                return;
            }
        }
        panic!("no PID was taken over in 20 tries");
    }

    /// Root processes below the user's own count as started with sudo; one
    /// below another user's process does not, even where that one runs in
    /// a session the user opened (`su - them`), nor with the user's
    /// SUDO_UID in its environment.
    #[test]
    #[allow(unsafe_code)]
    fn only_an_unbroken_root_chain_up_to_the_user_counts() {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let graded = Graded {
            uid: 65534,
            as_root: true,
        };
        let sleep = std::ffi::CString::new("/bin/sleep").unwrap();
        let arg = std::ffi::CString::new("30").unwrap();
        let argv = [sleep.as_ptr(), arg.as_ptr(), std::ptr::null()];
        // Both carry the user's SUDO_UID, as whoever started them chose.
        let mark = std::ffi::CString::new("SUDO_UID=65534").unwrap();
        let envp = [mark.as_ptr(), std::ptr::null()];
        // SAFETY: after fork, only setresuid, fork, execve, waitpid, _exit.
        let (top, theirs) = unsafe {
            // Real uid `ruid`, still root by the others; then `work`.
            let as_ruid = |ruid: u32, work: &dyn Fn()| match libc::fork() {
                0 => {
                    if libc::setresuid(ruid, 0, 0) == 0 {
                        work();
                    }
                    libc::_exit(0)
                }
                pid => pid,
            };
            let root_sleep = || {
                as_ruid(0, &|| {
                    libc::execve(sleep.as_ptr(), argv.as_ptr(), envp.as_ptr());
                });
            };
            let (from, to) = nix::unistd::pipe().unwrap();
            use std::os::fd::AsRawFd;
            let w = to.as_raw_fd();
            let top = as_ruid(65534, &|| {
                let theirs = as_ruid(61234, &|| {
                    root_sleep();
                    while libc::wait(std::ptr::null_mut()) > 0 {}
                });
                root_sleep();
                libc::write(w, (&theirs as *const i32).cast(), 4);
                while libc::wait(std::ptr::null_mut()) > 0 {}
            });
            drop(to);
            let mut pid = [0u8; 4];
            nix::unistd::read(&from, &mut pid).unwrap();
            (top, i32::from_ne_bytes(pid))
        };
        std::thread::sleep(std::time::Duration::from_millis(300));
        let child = |pid: i32| {
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|p| p.parse::<i32>().ok())
                .find(|p| *p != theirs)
                .unwrap_or(0)
        };
        let (mine, below_theirs) = (child(top), child(theirs));
        let seen = |pid: i32| Process::new(pid).is_ok_and(|p| by_sudo(&p, graded));
        let (mine_seen, theirs_seen) = (seen(mine), seen(below_theirs));
        // SAFETY: kill the sleeps; each parent then exits.
        unsafe {
            for pid in [mine, below_theirs] {
                if pid > 0 {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
            libc::waitpid(top, std::ptr::null_mut(), 0);
        }
        assert!(mine_seen, "a root process below the user's");
        assert!(!theirs_seen, "a root process below uid 61234's");
    }

    #[test]
    fn uid_maps_are_read_line_by_line() {
        assert_eq!(
            parse_map("         0       1000          1\n"),
            vec![(0, 1000, 1)]
        );
        assert_eq!(parse_map(""), vec![]);
        assert_eq!(
            parse_map("0 0 4294967295\ngarbage\n"),
            vec![(0, 0, u32::MAX)]
        );
    }

    #[test]
    fn learnns_and_its_parent_are_never_graded() {
        let skip = ancestors();
        assert!(skip.contains(&(std::process::id() as i32)));
        assert!(skip.len() >= 2, "{skip:?}");
        assert!(!skip.contains(&1));
    }
}
