//! Starting a container's first process, and what it and learnns say to
//! each other while it is set up: learnns writes the ID maps and makes the
//! cgroup and the veth from outside, then says go; the child reports that
//! it is ready, or why it failed.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, pipe2};

use super::setup::setup_inside;
use super::spec::{IdMap, Spec};
use crate::cgroup::{Cgroup, Layout};
use crate::cleanup::{self, Token};
use crate::error::{Error, Result};
use crate::network::{self, Veth};
use crate::ns::Kind;
use crate::rootfs::Root;
use crate::security;
use crate::sys;

/// What the container's first process does once it is set up.
pub(super) enum Init<'a> {
    /// Stay alive holding the namespaces, as a minimal init.
    Hold,
    /// Become `argv`, optionally with output sent to a pipe.
    Exec(&'a [String], Option<OwnedFd>),
    /// Run a piece of learnns inside and send what it found to a pipe.
    Probe(Probe, OwnedFd),
}

/// A check that runs inside a freshly set-up container.
pub type Probe = fn() -> Result<String>;

/// The messages the child sends up the sync pipe.
const READY: u8 = b'R';
const FAILED: u8 = b'E';
const NOT_FOUND: u8 = b'N';

// ANCHOR: spawn
/// Clone the first process into new namespaces and bring it up in lockstep:
/// the parent writes the user ID maps (a map of more than the caller's own
/// ID needs privilege in the parent user namespace, which the child lacks),
/// then lets the child set itself up; the child reports back before going on.
pub(super) fn spawn(spec: &Spec, init: Init) -> Result<Started> {
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
pub(super) struct Started {
    pub(super) pid: Pid,
    pub(super) token: Token,
    /// The parent's end of the start pipe; see [`Container`].
    pub(super) lifeline: OwnedFd,
    pub(super) veth: Option<Veth>,
    pub(super) cgroup: Option<Cgroup>,
    /// A command's report pipe, read once it has ended (see [`super::run`]).
    pub(super) report: Option<File>,
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
        let fd = tree.fd().ok_or_else(|| {
            Error::Setup(format!("{} was not opened", tree.path.display()).into())
        })?;
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
pub(super) fn read_report(mut report: File, holds: bool) -> Result<()> {
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
        _ => Err(Error::Setup(message.into())),
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
