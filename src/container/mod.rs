//! A container is an ordinary process started in new namespaces. This module
//! turns a [`Spec`] into such a process, keeps it alive while a lesson looks
//! at it, runs commands inside it the way `nsenter` does, and stops it.

use std::fs::File;
use std::io::{IsTerminal, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, pipe2};

use crate::cgroup::{Cgroup, Layout, Limits};
use crate::cleanup::Token;
use crate::error::{Error, Result};
use crate::network::{self, Subnet, Veth};
use crate::ns::{Identities, Kind, KindSet};
use crate::rootfs::{self, Root, Switch};
use crate::security::{self, Layers};
use crate::sys::{self, Call, Sys};

/// Clean-up was part of this module once; lessons, main and tests still
/// name it here.
pub use crate::cleanup;

/// What to build: which namespaces, and how to fill them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spec {
    pub kinds: KindSet,
    /// Set inside a new UTS namespace; `None` keeps the copy of the host's.
    pub hostname: Option<String>,
    /// The tree that becomes `/` (with a mount namespace).
    pub root: Root,
    /// How the first process gets there.
    pub switch: Switch,
    /// Join the container to the host with a veth pair...
    pub veth: bool,
    /// ...on this subnet, or on a free /30 of a documentation range.
    pub subnet: Option<Subnet>,
    /// Seconds added to the monotonic and boot-time clocks inside.
    pub time_offset: Option<i64>,
    /// Map root inside to these host IDs instead of to the caller. Only
    /// root may map IDs other than its own.
    pub id_map: Option<IdMap>,
    /// Host files to bind into the mini root, read-write: (host, inside).
    pub binds: Vec<(PathBuf, PathBuf)>,
    /// Give the container a cgroup of its own with these limits.
    pub limits: Option<Limits>,
    /// The command's environment; None is [`base_env`].
    pub env: Option<Vec<(String, String)>>,
    /// Security layers the first process puts on before the command runs
    /// (inherited by what it starts; not applied to entered processes).
    pub layers: Layers,
}

/// Root (and the IDs after it) inside a user namespace, as host IDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    pub uid: u32,
    pub gid: u32,
    pub count: u32,
}

/// The hostname a container gets when nobody chose one; also the skeleton's
/// `/etc/hostname`.
pub const DEFAULT_HOSTNAME: &str = "container";

/// The PATH inside a container, as in most images.
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What a command in a container starts with, as with `docker run`: a
/// PATH and HOME of the container's, and the terminal type and language of
/// the caller. Nothing else of the caller's environment (tokens, SUDO_*,
/// the caller's PATH) goes inside unless asked for.
pub fn base_env() -> Vec<(String, String)> {
    let mut env = vec![
        ("PATH".to_string(), PATH.to_string()),
        ("HOME".to_string(), "/root".to_string()),
    ];
    for name in ["TERM", "LANG"] {
        if let Ok(value) = std::env::var(name) {
            env.push((name.to_string(), value));
        }
    }
    env
}

/// Time-namespace offsets the kernel accepts now, in seconds: a clock may
/// not go below 0, nor beyond half of what it can count (about 146 years).
pub fn time_offset_range() -> std::ops::RangeInclusive<i64> {
    use nix::time::{ClockId, clock_gettime};
    const KTIME_SEC_MAX: i64 = i64::MAX / 1_000_000_000;
    let seconds = |clock| clock_gettime(clock).map_or(0, |t| t.tv_sec());
    let monotonic = seconds(ClockId::CLOCK_MONOTONIC);
    let boottime = seconds(ClockId::CLOCK_BOOTTIME).max(monotonic);
    // A second of slack each way: the clocks move on before the write.
    -(monotonic - 1).max(0)..=KTIME_SEC_MAX / 2 - boottime - 1
}

impl Spec {
    /// The environment the command starts with.
    pub fn environment(&self) -> Vec<(String, String)> {
        self.env.clone().unwrap_or_else(base_env)
    }

    pub fn new(kinds: KindSet) -> Spec {
        Spec {
            kinds,
            ..Spec::default()
        }
    }

    /// Use this root (only takes effect with a mount namespace).
    pub fn root(mut self, root: Root) -> Spec {
        self.root = root;
        self
    }

    pub fn hostname(mut self, name: impl Into<String>) -> Spec {
        self.hostname = Some(name.into());
        self
    }

    /// The `unshare` command that builds the same namespaces, for the learner.
    pub fn unshare_line(&self, argv: &[String]) -> String {
        let mut words = vec!["unshare".to_string()];
        if !self.kinds.is_empty() {
            words.push(self.kinds.util_flags());
        }
        if self.kinds.contains(Kind::User) {
            words.push("--map-root-user".into());
        }
        if let (true, Some(s)) = (self.kinds.contains(Kind::Time), self.time_offset) {
            words.push(format!("--monotonic {s} --boottime {s}"));
        }
        if self.kinds.contains(Kind::Pid) {
            words.push("--fork".into());
            if self.kinds.contains(Kind::Mnt) {
                words.push("--mount-proc".into());
            }
        }
        words.push(shell_words(argv));
        words.join(" ")
    }
}

// ANCHOR: setup
/// What the container's first process does to its new namespaces before
/// anything else runs there. It runs inside the child, so it can only change
/// the container, never the host.
pub fn setup_inside(sys: &mut dyn Sys, spec: &Spec) -> Result<()> {
    if spec.kinds.contains(Kind::User) {
        sys.apply(Call::BecomeRoot)?;
    }
    if spec.kinds.contains(Kind::Cgroup) {
        // The new namespace is rooted at the cgroup we are in right now,
        // which is why the parent moved us into ours before saying "go".
        sys.apply(Call::Unshare(KindSet::new().with(Kind::Cgroup)))?;
    }
    if let (true, Some(name)) = (spec.kinds.contains(Kind::Uts), &spec.hostname) {
        sys.apply(Call::Sethostname(name.clone()))?;
    }
    if spec.kinds.contains(Kind::Mnt) {
        // Mounts start out shared with the host's; make them private first,
        // or every mount below would appear on the host too.
        sys.apply(Call::MakeMountsPrivate)?;
        let fresh_proc = spec.kinds.contains(Kind::Pid);
        if spec.root == Root::Host {
            if fresh_proc {
                // The inherited /proc shows the host's PID namespace.
                sys.apply(Call::MountProc("/proc".into()))?;
            }
        } else {
            let hostname = spec.hostname.as_deref().unwrap_or(DEFAULT_HOSTNAME);
            let sysfs = rootfs::wants_sysfs(spec.kinds);
            rootfs::assemble(
                sys,
                &spec.root,
                hostname,
                fresh_proc,
                sysfs,
                spec.switch,
                &spec.binds,
            )?;
        }
    }
    if spec.kinds.contains(Kind::Time) {
        // clone() cannot create a time namespace: unshare makes one for our
        // future children. Its clocks can be shifted only while it is still
        // empty, so the offsets go in now, then we step in ourselves.
        sys.apply(Call::Unshare(KindSet::new().with(Kind::Time)))?;
        if let Some(seconds) = spec.time_offset {
            sys.apply(Call::SetTimeOffsets(seconds))?;
        }
        sys.apply(Call::EnterTimeForChildren)?;
    }
    Ok(())
}
// ANCHOR_END: setup

/// What the container's first process does once it is set up.
enum Init<'a> {
    /// Stay alive holding the namespaces, as a minimal init.
    Hold,
    /// Become `argv`, optionally with output sent to a pipe.
    Exec(&'a [String], Option<OwnedFd>),
    /// Run a piece of learnns inside and send what it found to a pipe.
    Probe(Probe, OwnedFd),
}

/// A check that runs inside a freshly set-up container.
pub type Probe = fn() -> Result<String>;

/// A running container: its init process holds the namespaces open.
#[derive(Debug)]
pub struct Container {
    pub pid: Pid,
    /// The namespaces it was made with, and when its init started: a
    /// command is only ever entered into this very process's namespaces.
    kinds: KindSet,
    start: u64,
    token: Token,
    /// Our end of the start pipe: while it is open the init stays; when
    /// learnns goes away it reads EOF and exits.
    _lifeline: OwnedFd,
    _veth: Option<Veth>,
    /// Dropped after the init is killed (fields drop after `drop`), so the
    /// directory is empty by then.
    cgroup: Option<Cgroup>,
}

/// The messages the child sends up the sync pipe.
const READY: u8 = b'R';
const FAILED: u8 = b'E';
const NOT_FOUND: u8 = b'N';

impl Container {
    // ANCHOR: start
    /// Create the namespaces with a first process that holds them open.
    pub fn start(spec: &Spec) -> Result<Container> {
        let started = spawn(spec, Init::Hold)?;
        Ok(Container {
            pid: started.pid,
            kinds: spec.kinds,
            start: cleanup::process_start(started.pid.as_raw()).unwrap_or(0),
            token: started.token,
            _lifeline: started.lifeline,
            _veth: started.veth,
            cgroup: started.cgroup,
        })
    }
    // ANCHOR_END: start

    /// The cgroup learnns made for this container, if it has limits.
    pub fn cgroup(&self) -> Option<&Cgroup> {
        self.cgroup.as_ref()
    }

    /// The namespaces of the container's init, as the host sees them.
    pub fn identities(&self) -> Result<Identities> {
        Identities::of(self.pid.as_raw())
    }

    /// A command that will run inside every namespace where the container
    /// differs from learnns itself, like `nsenter -t PID ...`.
    /// Like `docker exec`, the command also joins the container's cgroup, so
    /// that its limits hold for everything started inside.
    pub fn command(&self, argv: &[String]) -> Result<Command> {
        let mut command = Command::new(&argv[0]);
        command.args(&argv[1..]);
        sys::enter_on_spawn(&mut command, self.join_files()?, self.targets()?);
        Ok(command)
    }

    // ANCHOR: targets
    /// The namespaces to enter, opened. If the init has died (or its PID now
    /// belongs to another process), the command must not run at all: in
    /// the host's namespaces it would change the host.
    fn targets(&self) -> Result<Vec<(Kind, OwnedFd)>> {
        let pid = self.pid;
        let gone = || {
            Error::Setup(format!(
                "the container's init (PID {pid}) is gone; start again"
            ))
        };
        let same = || cleanup::process_start(pid.as_raw()) == Some(self.start);
        if !same() {
            return Err(gone());
        }
        let opened = targets(pid).map_err(|_| gone())?;
        let entered: KindSet = opened.iter().map(|(kind, _)| *kind).collect();
        // Checked after opening: the descriptors are of the right process.
        if !same() || self.kinds.iter().any(|k| !entered.contains(k)) {
            return Err(gone());
        }
        Ok(opened)
    }
    // ANCHOR_END: targets

    fn join_files(&self) -> Result<Vec<OwnedFd>> {
        self.cgroup
            .as_ref()
            .map_or(Ok(Vec::new()), Cgroup::join_files)
    }

    /// The `nsenter` line that does what [`Container::command`] does.
    pub fn nsenter_line(&self, argv: &[String]) -> String {
        nsenter_words(self.pid, self.kinds, argv)
    }

    /// Fork a child of learnns into the container's namespaces of `kinds`
    /// to run `body` there. Its user namespace comes too when it has one:
    /// the others belong to it, and only its root may act in them.
    pub fn fork_inside(&self, kinds: KindSet, body: impl FnOnce() -> i32) -> Result<Pid> {
        let kinds = kinds.with(Kind::User);
        let targets = self
            .targets()?
            .into_iter()
            .filter(|(kind, _)| kinds.contains(*kind))
            .collect();
        sys::fork_into(self.join_files()?, targets, body)
    }
}

/// The kinds in which process `pid` differs from learnns.
fn differing(pid: Pid) -> Result<KindSet> {
    Ok(Identities::of_self()?.differing(&Identities::of(pid.as_raw())?))
}

/// Open `/proc/PID/ns/*` for every kind where `pid` differs from us.
fn targets(pid: Pid) -> Result<Vec<(Kind, OwnedFd)>> {
    let mut targets = Vec::new();
    for kind in differing(pid)?.iter() {
        let path = format!("/proc/{pid}/ns/{}", kind.proc_name());
        let file = File::open(&path).map_err(|e| match e.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ESRCH) => Error::Setup(format!(
                "the container's init (PID {pid}) is gone; start again"
            )),
            _ => Error::io(format!("open {path}"), e),
        })?;
        targets.push((kind, OwnedFd::from(file)));
    }
    Ok(targets)
}

/// A command that will run inside the namespaces of process `pid`.
pub fn command_in(pid: Pid, argv: &[String]) -> Result<Command> {
    let targets = targets(pid)?;
    let mut command = Command::new(&argv[0]);
    command.args(&argv[1..]);
    sys::enter_on_spawn(&mut command, Vec::new(), targets);
    Ok(command)
}

/// The `nsenter` line that does what [`command_in`] does.
pub fn nsenter_line(pid: Pid, argv: &[String]) -> String {
    nsenter_words(pid, differing(pid).unwrap_or_default(), argv)
}

fn nsenter_words(pid: Pid, kinds: KindSet, argv: &[String]) -> String {
    let mut words = vec![format!("nsenter -t {pid}")];
    if !kinds.is_empty() {
        words.push(kinds.util_flags());
    }
    words.push("--".into());
    words.push(shell_words(argv));
    words.join(" ")
}

impl Drop for Container {
    fn drop(&mut self) {
        cleanup::undo(self.token);
    }
}

/// Run `argv` as the first process of a new container (like `unshare
/// --fork`) and return its exit status, or 128+signal.
pub fn run(spec: &Spec, argv: &[String]) -> Result<i32> {
    // Whatever the command leaves running when it ends (a daemon, a
    // process that double-forked out of a container without a PID
    // namespace) comes to learnns, which stops it: nothing outlives the run.
    sys::become_subreaper();
    let result = spawn(spec, Init::Exec(argv, None)).and_then(finish);
    sys::kill_adopted();
    result
}

/// Wait for a command's container to end, then read its report: set-up
/// and exec failures are only known once it has exited. One wait, so the
/// parent sleeps once instead of waking at exec and again at exit.
fn finish(mut started: Started) -> Result<i32> {
    let status = wait_for(started.pid, started.token)?;
    if let Some(report) = started.report.take() {
        read_report(report, false)?;
    }
    Ok(status)
    // `started` drops here: the cgroup goes, with anything left in it.
}

/// Run `probe` as the first process of a new container; return its report.
pub fn run_probe(spec: &Spec, probe: Probe) -> Result<String> {
    let (read_end, write_end) =
        pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::sys("pipe", e))?;
    let started = spawn(spec, Init::Probe(probe, write_end))?;
    let mut text = String::new();
    let read = File::from(read_end).read_to_string(&mut text);
    let status = wait_for(started.pid, started.token)?;
    read.map_err(|e| Error::io("read the container's report", e))?;
    if status != 0 {
        return Err(Error::Setup(text));
    }
    Ok(text)
}

/// Like [`run`], capturing what the command writes to stdout and stderr.
pub fn run_captured(spec: &Spec, argv: &[String]) -> Result<(i32, String)> {
    let (read_end, write_end) =
        pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::sys("pipe", e))?;
    let started = spawn(spec, Init::Exec(argv, Some(write_end)))?;
    let mut text = String::new();
    let read = File::from(read_end).read_to_string(&mut text);
    let status = finish(started)?;
    read.map_err(|e| Error::io("read the container's output", e))?;
    Ok((status, text))
}

fn wait_for(pid: Pid, token: Token) -> Result<i32> {
    // On a terminal, Ctrl-C reaches the command too, and it is the command's
    // to act on (a shell inside clears its line), as with `unshare --fork`.
    // SIGTERM, SIGHUP, or Ctrl-C without a terminal stop the container.
    let ctrl_c_is_for_the_command = std::io::stdin().is_terminal();
    loop {
        if sys::interrupted_by_ctrl_c() && ctrl_c_is_for_the_command {
            sys::forget_interrupt();
        }
        if sys::interrupted() {
            cleanup::undo(token);
            return Err(Error::Interrupted);
        }
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => {
                cleanup::release(token);
                return Ok(code);
            }
            Ok(WaitStatus::Signaled(_, signal, _)) => {
                cleanup::release(token);
                return Ok(128 + signal as i32);
            }
            Ok(_) => continue,
            Err(Errno::EINTR) if sys::interrupted() => {
                cleanup::undo(token);
                return Err(Error::Interrupted);
            }
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Error::sys("waitpid", e)),
        }
    }
}

// ANCHOR: spawn
/// Clone the first process into new namespaces and bring it up in lockstep:
/// the parent writes what only the host side can (user ID maps), then lets
/// the child set itself up; the child reports back before going on.
fn spawn(spec: &Spec, init: Init) -> Result<Started> {
    let cloexec = nix::fcntl::OFlag::O_CLOEXEC;
    let (go_read, go_write) = pipe2(cloexec).map_err(|e| Error::sys("pipe", e))?;
    let (report_read, report_write) = pipe2(cloexec).map_err(|e| Error::sys("pipe", e))?;
    let go_write_raw = go_write.as_raw_fd();
    // A holding init keeps the report pipe open; the others end it.
    let holds = matches!(init, Init::Hold | Init::Probe(..));
    // Only these need the parent to act between clone and set-up; without
    // them the child goes on at once, in parallel with the parent.
    let waits = waits_for_parent(spec);
    let mut outside = Some(prepare_outside(spec)?);

    let mut init = Some(init);
    let child = sys::clone_into(spec.kinds, || {
        // Only the parent may hold the write end, so that its death reads as EOF.
        let _ = nix::unistd::close(go_write_raw);
        let outside = outside.take().unwrap_or_default();
        let outcome = child_main(spec, outside, init.take(), &go_read, waits, &report_write);
        let (tag, message, code) = match outcome {
            Err(Error::CommandNotFound { program }) => (NOT_FOUND, program, 127),
            Err(e) => (FAILED, e.to_string(), 1),
            Ok(never) => match never {},
        };
        send(&report_write, &[tag]);
        send(&report_write, message.as_bytes());
        sys::exit_now(code)
    })?;
    drop(report_write);
    drop(go_read);
    let token = cleanup::register_process(child.as_raw());

    let result = (|| {
        if spec.kinds.contains(Kind::User) {
            write_id_maps(child, spec.id_map)?;
        }
        let cgroup = match spec.limits {
            Some(limits) => Some(Cgroup::create(&Layout::detect()?, limits, child)?),
            None => None,
        };
        // The host side of the network is ready before the command starts.
        let veth = match spec.veth {
            true => Some(network::connect(child, spec.subnet)?),
            false => None,
        };
        if waits {
            nix::unistd::write(&go_write, &[READY])
                .map_err(|e| Error::sys("start the container", e))?;
        }
        let report = File::from(report_read);
        if holds {
            read_report(report, true)?;
            Ok((veth, cgroup, None))
        } else {
            Ok((veth, cgroup, Some(report)))
        }
    })();
    match result {
        Ok((veth, cgroup, report)) => Ok(Started {
            pid: child,
            token,
            lifeline: go_write,
            veth,
            cgroup,
            report,
        }),
        Err(e) => {
            cleanup::undo(token);
            Err(e)
        }
    }
}

/// A first process that is up and running.
struct Started {
    pid: Pid,
    token: Token,
    /// The parent's end of the start pipe; see [`Container`].
    lifeline: OwnedFd,
    veth: Option<Veth>,
    cgroup: Option<Cgroup>,
    /// A command's report pipe, read once it has ended (see [`finish`]).
    report: Option<File>,
}
// ANCHOR_END: spawn

/// Open on the host what the container will mount but must not reach by
/// name: as root, a user's root tree (the descriptor opened when it was
/// checked) and host files to bind. Without root there is nothing to
/// protect beyond the user's own files, and the container looks them up
/// itself, in its own user namespace.
fn prepare_outside(spec: &Spec) -> Result<sys::Outside> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(sys::Outside::by_name());
    }
    let mut outside = sys::Outside::default();
    if !spec.kinds.contains(Kind::Mnt) {
        return Ok(outside);
    }
    if let Root::Dir(tree) = &spec.root {
        let fd = tree
            .fd()
            .ok_or_else(|| Error::Setup(format!("{} was not opened", tree.path.display())))?;
        outside.add(&tree.path, fd)?;
    }
    for (host, _) in &spec.binds {
        let flags = nix::fcntl::OFlag::O_PATH
            | nix::fcntl::OFlag::O_NOFOLLOW
            | nix::fcntl::OFlag::O_CLOEXEC;
        let fd = nix::fcntl::open(host, flags, nix::sys::stat::Mode::empty())
            .map_err(|e| Error::sys(format!("open {}", host.display()), e))?;
        outside.add(host, fd.as_fd())?;
    }
    Ok(outside)
}

/// Must the child wait for the parent before setting up? Only while the
/// parent writes ID maps, makes a cgroup or the host end of a veth.
fn waits_for_parent(spec: &Spec) -> bool {
    spec.kinds.contains(Kind::User) || spec.limits.is_some() || spec.veth
}

/// Read the child's report: a holding init sends READY once set up; a
/// command sends nothing, and EOF (exec closed the pipe) means it runs.
fn read_report(mut report: File, holds: bool) -> Result<()> {
    let mut first = [0u8; 1];
    if holds {
        read_full(&mut report, &mut first)?;
        if first[0] == READY {
            return Ok(());
        }
    } else if read_full(&mut report, &mut first).is_err() {
        return Ok(());
    }
    let mut rest = Vec::new();
    let _ = report.read_to_end(&mut rest);
    let message = String::from_utf8_lossy(&rest).into_owned();
    match first[0] {
        NOT_FOUND => Err(Error::CommandNotFound { program: message }),
        _ => Err(Error::Setup(message)),
    }
}

fn read_full(file: &mut File, buf: &mut [u8]) -> Result<()> {
    loop {
        match file.read(buf) {
            Ok(0) => return Err(Error::Setup("the container's first process died".into())),
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                if sys::interrupted() {
                    return Err(Error::Interrupted);
                }
            }
            Err(e) => return Err(Error::io("read from the container", e)),
        }
    }
}

// ANCHOR: idmap
/// Write the new user namespace's ID maps. By default root inside is the
/// user who ran learnns (`unshare --map-root-user`); with `map`, root
/// inside is other host IDs, so that nothing inside is anybody on the host
/// (lesson 6), or is the owner of a user's root tree. Each map is written
/// once; learnns writes them from outside, with its host privileges.
fn write_id_maps(child: Pid, map: Option<IdMap>) -> Result<()> {
    let base = format!("/proc/{child}");
    let write = |file: &str, text: String| {
        std::fs::write(format!("{base}/{file}"), text)
            .map_err(|e| Error::io(format!("write {base}/{file}"), e))
    };
    let uid = nix::unistd::geteuid();
    let gid = nix::unistd::getegid();
    if !uid.is_root() {
        // An unprivileged writer must give up setgroups before mapping groups.
        write("setgroups", "deny".into())?;
    }
    let (uids, gids) = match map {
        Some(IdMap { uid, gid, count }) => {
            (format!("0 {uid} {count}\n"), format!("0 {gid} {count}\n"))
        }
        None => (format!("0 {uid} 1\n"), format!("0 {gid} 1\n")),
    };
    write("uid_map", uids)?;
    write("gid_map", gids)
}
// ANCHOR_END: idmap

/// The body of the container's first process. Never returns on success.
fn child_main(
    spec: &Spec,
    outside: sys::Outside,
    init: Option<Init>,
    go: &OwnedFd,
    waits: bool,
    report: &OwnedFd,
) -> Result<std::convert::Infallible> {
    // If learnns dies, so does the container: nothing is left running.
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(|e| Error::sys("prctl", e))?;
    if waits {
        let mut byte = [0u8; 1];
        if nix::unistd::read(go.as_fd(), &mut byte) != Ok(1) {
            sys::exit_now(1); // learnns went away before we started.
        }
    } else {
        // learnns may have died before PDEATHSIG was set: then its end of
        // the pipe is closed already.
        let mut fds = [PollFd::new(go.as_fd(), PollFlags::POLLIN)];
        if poll(&mut fds, PollTimeout::ZERO).is_ok_and(|n| n > 0) {
            sys::exit_now(1);
        }
    }
    setup_inside(&mut sys::Kernel::new(outside), spec)?;
    // `learnns run`'s command, which may come from a tree nobody vetted,
    // must not reach the caller's terminal: on one, it may use it but not
    // push input into it; otherwise it leaves the caller's session, so
    // not even /dev/tty leads there.
    if matches!(init, Some(Init::Exec(_, None))) {
        if on_a_terminal() {
            sys::install_seccomp(&security::terminal_filter()?)?;
        } else {
            let _ = nix::unistd::setsid();
        }
    }
    security::apply(&spec.layers)?;
    match init {
        Some(Init::Hold) | None => {
            let _ = nix::sys::prctl::set_name(c"learnns-init");
            // Its own session, and no share in learnns's terminal or pipes:
            // Ctrl-C is for learnns, and whoever reads learnns's output sees
            // EOF when learnns ends, not when the init does.
            let _ = nix::unistd::setsid();
            if let Ok(null) = File::options().read(true).write(true).open("/dev/null") {
                let _ = nix::unistd::dup2_stdin(&null);
                let _ = nix::unistd::dup2_stdout(&null);
                let _ = nix::unistd::dup2_stderr(&null);
            }
            send(report, &[READY]);
            hold(go)
        }
        Some(Init::Probe(probe, output)) => {
            send(report, &[READY]);
            let (text, code) = match probe() {
                Ok(text) => (text, 0),
                Err(e) => (e.to_string(), 1),
            };
            let _ = nix::unistd::write(&output, text.as_bytes());
            sys::exit_now(code)
        }
        Some(Init::Exec(argv, output)) => {
            if let Some(fd) = output {
                nix::unistd::dup2_stdout(&fd).map_err(|e| Error::sys("dup2", e))?;
                nix::unistd::dup2_stderr(&fd).map_err(|e| Error::sys("dup2", e))?;
            }
            let err = sys::exec(argv, &spec.environment());
            if err == Errno::ENOENT {
                return Err(Error::CommandNotFound {
                    program: argv[0].clone(),
                });
            }
            Err(Error::sys(format!("exec {}", argv[0]), err))
        }
    }
}

/// Does this process have a terminal on its standard input or output?
fn on_a_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal()
        || std::io::stdout().is_terminal()
        || std::io::stderr().is_terminal()
}

/// Write to the sync pipe from the child; a failure means the parent is gone,
/// which PR_SET_PDEATHSIG handles.
fn send(fd: &OwnedFd, bytes: &[u8]) {
    let _ = nix::unistd::write(fd, bytes);
}

/// The container's init: reap orphans that end up with us, until learnns
/// stops us (SIGKILL) or goes away.
fn hold(go: &OwnedFd) -> ! {
    loop {
        let mut fds = [PollFd::new(go.as_fd(), PollFlags::POLLIN)];
        let timeout =
            PollTimeout::try_from(Duration::from_millis(500)).unwrap_or(PollTimeout::NONE);
        if poll(&mut fds, timeout).is_ok_and(|n| n > 0) {
            sys::exit_now(0); // learnns closed its end: it is gone.
        }
        while let Ok(status) = waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            if status == WaitStatus::StillAlive {
                break;
            }
        }
    }
}

/// Quote words the way a learner would type them into a shell.
pub fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|w| {
            let plain = !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
            if plain {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Send SIGKILL to a process, ignoring one that is already gone.
pub fn kill_process(pid: Pid) {
    let _ = kill(pid, Signal::SIGKILL);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::{Call, Recorder};

    fn calls(spec: &Spec) -> Vec<Call> {
        let mut fake = Recorder::default();
        setup_inside(&mut fake, spec).unwrap();
        fake.calls
    }

    #[test]
    fn uts_sets_the_hostname_only_when_asked() {
        let uts = KindSet::new().with(Kind::Uts);
        assert_eq!(calls(&Spec::new(uts)), vec![]);
        assert_eq!(
            calls(&Spec::new(uts).hostname("box")),
            vec![Call::Sethostname("box".into())]
        );
        // A hostname without a UTS namespace would rename the host: never.
        assert_eq!(calls(&Spec::new(KindSet::new()).hostname("box")), vec![]);
    }

    #[test]
    fn mounts_are_made_private_before_proc_is_mounted() {
        let kinds = KindSet::new().with(Kind::Mnt).with(Kind::Pid);
        assert_eq!(
            calls(&Spec::new(kinds)),
            vec![Call::MakeMountsPrivate, Call::MountProc("/proc".into())]
        );
        // Without a PID namespace the host's /proc is still right.
        assert_eq!(
            calls(&Spec::new(KindSet::new().with(Kind::Mnt))),
            vec![Call::MakeMountsPrivate]
        );
        // Without a mount namespace, mounting /proc would change the host.
        assert_eq!(calls(&Spec::new(KindSet::new().with(Kind::Pid))), vec![]);
    }

    #[test]
    fn cgroup_namespace_is_made_inside_after_root_and_before_mounts() {
        let kinds = KindSet::new()
            .with(Kind::User)
            .with(Kind::Cgroup)
            .with(Kind::Mnt);
        let calls = calls(&Spec::new(kinds));
        assert_eq!(
            &calls[..3],
            &[
                Call::BecomeRoot,
                Call::Unshare(KindSet::new().with(Kind::Cgroup)),
                Call::MakeMountsPrivate
            ]
        );
    }

    #[test]
    fn time_namespace_is_made_then_entered() {
        let kinds = KindSet::new().with(Kind::Time);
        assert_eq!(
            calls(&Spec::new(kinds)),
            vec![Call::Unshare(kinds), Call::EnterTimeForChildren]
        );
    }

    #[test]
    fn time_offsets_are_written_before_anyone_enters() {
        let kinds = KindSet::new().with(Kind::Time);
        let mut spec = Spec::new(kinds);
        spec.time_offset = Some(86400);
        assert_eq!(
            calls(&spec),
            vec![
                Call::Unshare(kinds),
                Call::SetTimeOffsets(86400),
                Call::EnterTimeForChildren
            ]
        );
    }

    #[test]
    fn unshare_line_matches_what_a_learner_would_type() {
        let spec = Spec::new(KindSet::ALL);
        let argv = vec!["sh".to_string(), "-c".into(), "echo $$".into()];
        assert_eq!(
            spec.unshare_line(&argv),
            "unshare --user --mount --pid --net --ipc --uts --cgroup --time \
             --map-root-user --fork --mount-proc sh -c 'echo $$'"
        );
    }

    #[test]
    fn shell_words_quotes_only_when_needed() {
        let argv: Vec<String> = ["ls", "-l", "/proc/self/ns", "it's", ""]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(shell_words(&argv), r"ls -l /proc/self/ns 'it'\''s' ''");
    }
}
