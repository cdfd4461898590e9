//! Helpers shared by the integration tests: the real binary, the privilege
//! gate, and the host fingerprint.
#![allow(dead_code)]

pub mod shown;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The learnns binary, with colour off and a fixed width so output is stable.
/// Progress goes to a directory under target/, never to a real home, and
/// never to a sudo user's.
pub fn learnns(args: &[&str]) -> Command {
    learnns_at(Path::new(env!("CARGO_BIN_EXE_learnns")), args)
}

/// [`learnns`] from another copy of the binary.
pub fn learnns_at(program: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(program);
    command
        .args(args)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env("XDG_STATE_HOME", state_dir())
        .env_remove("CLICOLOR_FORCE")
        .env_remove("SUDO_UID")
        .env_remove("SUDO_GID")
        .env_remove("SUDO_USER")
        .stdin(Stdio::null());
    command
}

/// Where this test binary's runs keep their progress.
pub fn state_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("state-{}", std::process::id()))
}

/// Run a prepared learnns command with `input` on its stdin.
pub fn run_with_input(mut command: Command, input: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

pub fn run(args: &[&str]) -> Output {
    learnns(args).output().expect("the learnns binary runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// May this test create namespaces here? As root, yes. Otherwise the test is
/// skipped with a line on the real stderr (libtest does not capture direct
/// writes), unless LEARNNS_REQUIRE_PRIVILEGED=1 makes a skip a failure.
///
/// Call it at the top of the test itself, `if !privileged() { return; }`:
/// the line names the test from the thread libtest runs it on, which libtest
/// names after the test (`module::test_name`).
pub fn privileged() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    let test = current_test();
    let reason = "needs root to create namespaces (run the tests with sudo)";
    if std::env::var("LEARNNS_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
        panic!("{test}: {reason}, and LEARNNS_REQUIRE_PRIVILEGED=1 forbids skipping");
    }
    let _ = writeln!(std::io::stderr(), "skipped: {test}: {reason}");
    false
}

/// The name of the running test, as libtest names its thread; on a thread
/// of the test's own making, which libtest did not name, a placeholder.
pub fn current_test() -> String {
    match std::thread::current().name() {
        Some(name) if name != "main" => name.to_owned(),
        _ => "(a test on an unnamed thread)".to_owned(),
    }
}

/// The live processes (not zombies) whose command line contains `marker`.
pub fn running(marker: &str) -> Vec<i32> {
    procfs::process::all_processes()
        .unwrap()
        .flatten()
        .filter(|p| {
            p.cmdline().is_ok_and(|c| c.join(" ").contains(marker))
                && p.stat().is_ok_and(|s| s.state != 'Z')
        })
        .map(|p| p.pid)
        .collect()
}

/// Fingerprints are only meaningful while nothing else in this test binary
/// runs learnns: tests that take them hold this.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// A scratch directory, removed at the end. Not named learnns-*, which the
/// host fingerprint watches.
pub struct Scratch(pub std::path::PathBuf);

impl Scratch {
    /// In the temporary directory, where other users can reach it (a clone
    /// under /root would not be).
    pub fn new(name: &str) -> Scratch {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("lnstest-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        Scratch(dir)
    }

    /// A shell script `name` in it.
    pub fn script(&self, name: &str, body: &str) {
        use std::os::unix::fs::PermissionsExt;
        let path = self.0.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Everything on the host that a learnns run could change, and must not.
#[derive(Debug, PartialEq, Eq)]
pub struct Fingerprint {
    pub mounts: Vec<String>,
    pub links: BTreeSet<String>,
    pub netns: BTreeSet<String>,
    pub cgroups: BTreeSet<String>,
    pub hostname: String,
    pub ipc: BTreeSet<String>,
    pub processes: BTreeSet<String>,
    pub journals: BTreeSet<String>,
    /// learnns's files in the temporary directory.
    pub temp_files: BTreeSet<String>,
}

fn names(dir: &str) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn walk(dir: &Path, depth: usize, out: &mut BTreeSet<String>) {
    if depth == 0 {
        return;
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                out.insert(entry.path().display().to_string());
                walk(&entry.path(), depth - 1, out);
            }
        }
    }
}

/// Keys and ids of the System V objects (not their counters or times):
/// `msg KEY ID`.
fn ipc_objects() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for table in ["msg", "shm", "sem"] {
        let text = std::fs::read_to_string(format!("/proc/sysvipc/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().take(2).collect();
            out.insert(format!("{table} {}", f.join(" ")));
        }
    }
    out
}

/// One process, as the fingerprint needs it.
struct Proc {
    pid: i32,
    ppid: i32,
    comm: String,
    state: char,
}

fn all_processes() -> Vec<Proc> {
    procfs::process::all_processes()
        .map(|all| {
            all.flatten()
                .filter_map(|p| p.stat().ok())
                .map(|s| Proc {
                    pid: s.pid,
                    ppid: s.ppid,
                    comm: s.comm,
                    state: s.state,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Is `pid` this test process or one of its descendants?
fn ours(pid: i32, parents: &std::collections::HashMap<i32, i32>) -> bool {
    let me = std::process::id() as i32;
    let mut at = pid;
    for _ in 0..64 {
        if at == me {
            return true;
        }
        match parents.get(&at) {
            Some(&parent) if parent > 0 && parent != at => at = parent,
            _ => return false,
        }
    }
    false
}

/// learnns runs on this machine that these tests did not start (a
/// learner's open lesson or `learnns shell`, another workshop user): their
/// PIDs, and what their journals say they hold. The tests look past them,
/// so they pass beside them; a run of the tests' own is never foreign.
struct Foreign {
    runs: BTreeSet<i32>,
    links: BTreeSet<String>,
    cgroups: BTreeSet<String>,
    queue_keys: BTreeSet<i32>,
}

impl Foreign {
    fn now(procs: &[Proc]) -> Foreign {
        use learnns::cleanup::{Undo, held_by_live_runs};
        let parents = procs.iter().map(|p| (p.pid, p.ppid)).collect();
        let runs: BTreeSet<i32> = procs
            .iter()
            .filter(|p| p.comm == "learnns" && !ours(p.pid, &parents))
            .map(|p| p.pid)
            .collect();
        let mut foreign = Foreign {
            runs,
            links: BTreeSet::new(),
            cgroups: BTreeSet::new(),
            queue_keys: BTreeSet::new(),
        };
        for (run, held) in held_by_live_runs() {
            if ours(run.pid, &parents) {
                continue;
            }
            foreign.runs.insert(run.pid);
            for undo in held {
                match undo {
                    Undo::Link { name } => {
                        // The container's end is on the host for a moment
                        // too, before it moves into the container.
                        if let Some(run) = name.strip_suffix('h') {
                            foreign.links.insert(format!("{run}c"));
                        }
                        foreign.links.insert(name);
                    }
                    Undo::Cgroup { path } => {
                        foreign.cgroups.insert(path.display().to_string());
                    }
                    Undo::MsgQueue { key, .. } => {
                        foreign.queue_keys.insert(key);
                    }
                    _ => {}
                }
            }
        }
        foreign
    }

    /// Is `pid` one of the foreign runs or started by one?
    fn owns_process(&self, pid: i32, parents: &std::collections::HashMap<i32, i32>) -> bool {
        let mut at = pid;
        for _ in 0..64 {
            if self.runs.contains(&at) {
                return true;
            }
            match parents.get(&at) {
                Some(&parent) if parent > 0 && parent != at => at = parent,
                _ => return false,
            }
        }
        false
    }
}

/// learnns's processes (learnns, its containers' inits, keepers) and any
/// child this test process has left behind, except those of foreign runs.
fn processes(procs: &[Proc], foreign: &Foreign) -> BTreeSet<String> {
    let me = std::process::id() as i32;
    let parents = procs.iter().map(|p| (p.pid, p.ppid)).collect();
    procs
        .iter()
        .filter(|p| p.comm.starts_with("learnns") || p.ppid == me)
        .filter(|p| !foreign.owns_process(p.pid, &parents))
        .map(|p| format!("{} {} {}", p.pid, p.comm, p.state))
        .collect()
}

impl Fingerprint {
    pub fn take() -> Fingerprint {
        let procs = all_processes();
        let foreign = Foreign::now(&procs);
        let mut cgroups = BTreeSet::new();
        walk(Path::new("/sys/fs/cgroup"), 6, &mut cgroups);
        cgroups.retain(|c| !foreign.cgroups.contains(c));
        let mut links = names("/sys/class/net");
        links.retain(|l| !foreign.links.contains(l));
        let mut ipc = ipc_objects();
        ipc.retain(|o| {
            let key = o
                .strip_prefix("msg ")
                .and_then(|k| k.split_whitespace().next());
            !key.and_then(|k| k.parse().ok())
                .is_some_and(|k: i32| foreign.queue_keys.contains(&k))
        });
        let mut journals = names("/run/learnns");
        let all = journals.len();
        journals.retain(|j| {
            let pid = j.split('-').next().and_then(|p| p.parse::<i32>().ok());
            !pid.is_some_and(|p| foreign.runs.contains(&p))
        });
        // The directory itself is learnns's to remove when it is empty.
        if all == journals.len() && Path::new("/run/learnns").exists() {
            journals.insert("(/run/learnns itself)".into());
        }
        Fingerprint {
            mounts: std::fs::read_to_string("/proc/self/mountinfo")
                .unwrap_or_default()
                .lines()
                .map(str::to_string)
                .collect(),
            links,
            netns: names("/run/netns"),
            cgroups,
            hostname: nix::unistd::gethostname()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_default(),
            ipc,
            processes: processes(&procs, &foreign),
            journals,
            temp_files: names(&std::env::temp_dir().to_string_lossy())
                .into_iter()
                .filter(|n| n.starts_with("learnns"))
                .collect(),
        }
    }
}

/// Assert two fingerprints are equal, naming what changed.
pub fn assert_same(before: &Fingerprint, after: &Fingerprint, what: &str) {
    macro_rules! same {
        ($field:ident) => {
            assert_eq!(
                before.$field,
                after.$field,
                "{what} changed the host's {}",
                stringify!($field)
            );
        };
    }
    same!(mounts);
    same!(links);
    same!(netns);
    same!(cgroups);
    same!(hostname);
    same!(ipc);
    same!(processes);
    same!(journals);
    same!(temp_files);
}

/// Take fingerprints until one equals `before` (the kernel finishes killing
/// processes asynchronously), for at most two seconds; then assert.
pub fn assert_host_unchanged(before: &Fingerprint, what: &str) {
    let start = std::time::Instant::now();
    loop {
        let after = Fingerprint::take();
        if &after == before || start.elapsed() > std::time::Duration::from_secs(2) {
            assert_same(before, &after, what);
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// learnns on a pseudo-terminal, as a learner in a terminal would run it.
pub struct OnTerminal {
    pub child: std::process::Child,
    /// The terminal's device, e.g. /dev/pts/7.
    pub tty: std::path::PathBuf,
    /// None once learnns has ended (closing it ends the terminal).
    master: Option<std::fs::File>,
    output: std::sync::mpsc::Receiver<String>,
    pub seen: String,
}

impl OnTerminal {
    pub fn start(args: &[&str]) -> OnTerminal {
        OnTerminal::spawn(learnns(args))
    }

    /// A prepared learnns command (another binary, umask, environment) on
    /// a pseudo-terminal.
    pub fn spawn(command: Command) -> OnTerminal {
        OnTerminal::spawn_with(command, true)
    }

    /// Like [`OnTerminal::spawn`], but learnns is not this test's child:
    /// started the way a learner's run would be, it belongs to init, and
    /// to the tests it is someone else's run. Find its PID on the screen
    /// or in /proc.
    pub fn spawn_orphan(mut command: Command) -> OnTerminal {
        // SAFETY: fork and _exit are async-signal-safe.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, || match libc::fork() {
                -1 => Err(std::io::Error::last_os_error()),
                0 => Ok(()),
                _ => libc::_exit(0),
            });
        }
        let mut term = OnTerminal::spawn_with(command, false);
        // The go-between exits at once: reap it, or it lingers as a zombie
        // child of the tests.
        let _ = term.child.wait();
        term
    }

    fn spawn_with(mut command: Command, controlling: bool) -> OnTerminal {
        use std::io::Read;
        let pty = nix::pty::openpty(None, None).expect("a pseudo-terminal");
        // openpty's descriptors are inheritable: learnns must not get the
        // master, or it would never see the terminal close.
        for fd in [&pty.master, &pty.slave] {
            nix::fcntl::fcntl(
                fd,
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            )
            .unwrap();
        }
        let tty = std::fs::read_link(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&pty.slave)
        ))
        .unwrap();
        let slave = std::fs::File::from(pty.slave);
        // As in a real terminal, learnns leads a session whose controlling
        // terminal this is: job control (a shell inside taking the
        // foreground, and giving it back) works as it would for a learner.
        // SAFETY: setsid and ioctl are async-signal-safe.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, move || {
                if controlling && (libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0) {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command
            .stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave)
            .spawn()
            .unwrap();
        let master = std::fs::File::from(pty.master);
        let mut reader = master.try_clone().unwrap();
        let (send, output) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0
                    || send
                        .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                        .is_err()
                {
                    break;
                }
            }
        });
        OnTerminal {
            child,
            tty,
            master: Some(master),
            output,
            seen: String::new(),
        }
    }

    /// Wait (at most 20 s) until the screen has shown `text` `count` times.
    pub fn wait_for(&mut self, text: &str, count: usize) {
        self.wait_until(|seen| seen.matches(text).count() >= count);
    }

    /// Wait (at most 20 s) until what the screen shows satisfies `done`.
    pub fn wait_until(&mut self, done: impl Fn(&str) -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !done(&self.seen) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.output.recv_timeout(left) {
                Ok(chunk) => self.seen.push_str(&chunk),
                Err(_) => panic!(
                    "learnns never showed what the test waited for; the screen:\n{}",
                    self.seen
                ),
            }
        }
    }

    /// Press Enter at each pause until the screen shows pause number `n`.
    pub fn walk_to_pause(&mut self, n: usize) {
        for earlier in 1..n {
            self.wait_for(PAUSE, earlier);
            self.type_line("");
        }
        self.wait_for(PAUSE, n);
    }

    /// Send keys as they are, e.g. `b"\x1b[B"` for the down arrow.
    pub fn press(&mut self, keys: &[u8]) {
        use std::io::Write;
        self.master.as_ref().unwrap().write_all(keys).unwrap();
    }

    pub fn type_line(&mut self, line: &str) {
        use std::io::Write;
        self.master
            .as_ref()
            .unwrap()
            .write_all(format!("{line}\n").as_bytes())
            .unwrap();
    }

    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), signal).unwrap();
    }

    /// The learnns process on this terminal (its standard input), e.g. one
    /// started with [`OnTerminal::spawn_orphan`], which is not our child.
    pub fn learnns_pid(&self) -> i32 {
        procfs::process::all_processes()
            .unwrap()
            .flatten()
            .find(|p| {
                p.stat().is_ok_and(|s| s.comm == "learnns")
                    && std::fs::read_link(format!("/proc/{}/fd/0", p.pid))
                        .is_ok_and(|t| t == self.tty)
            })
            .map(|p| p.pid)
            .unwrap_or_else(|| panic!("no learnns on {}", self.tty.display()))
    }

    /// For a run started with [`OnTerminal::spawn_orphan`]: wait until the
    /// screen shows `last` (or the terminal closes), then collect it.
    pub fn finish_orphan(mut self, last: &str) -> (Option<i32>, String) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !self.seen.contains(last) && std::time::Instant::now() < deadline {
            match self
                .output
                .recv_timeout(std::time::Duration::from_millis(100))
            {
                Ok(chunk) => self.seen.push_str(&chunk),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                Err(_) => {}
            }
        }
        self.finish()
    }

    /// Wait for learnns to end and collect the rest of the screen.
    pub fn finish(mut self) -> (Option<i32>, String) {
        let status = self.child.wait().unwrap();
        self.master = None;
        while let Ok(chunk) = self
            .output
            .recv_timeout(std::time::Duration::from_millis(200))
        {
            self.seen.push_str(&chunk);
        }
        (status.code(), std::mem::take(&mut self.seen))
    }
}

impl Drop for OnTerminal {
    /// A test that failed half-way leaves no learnns running into the next.
    fn drop(&mut self) {
        if self.child.try_wait().is_ok_and(|s| s.is_none()) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Run `work` in a child process with the identity of `uid` (and the group
/// of the same number), as another local user would: no account is
/// needed. `work` must only make system calls (this test process has
/// threads, so the child may not allocate). Returns its exit code.
pub fn as_user(uid: u32, work: impl FnOnce() -> i32) -> i32 {
    let pid = spawn_as(uid, work);
    let mut status = 0;
    // SAFETY: waits for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    }
}

/// [`as_user`] without waiting: the child's PID, for the caller to stop
/// (kill and waitpid) when done.
pub fn spawn_as(uid: u32, work: impl FnOnce() -> i32) -> libc::pid_t {
    // SAFETY: the child only makes system calls before _exit.
    unsafe {
        match libc::fork() {
            -1 => panic!("fork failed"),
            0 => {
                let ok = libc::setgroups(0, std::ptr::null()) == 0
                    && libc::setresgid(uid, uid, uid) == 0
                    && libc::setresuid(uid, uid, uid) == 0;
                libc::_exit(if ok { work() } else { 126 })
            }
            pid => pid,
        }
    }
}

/// A shell command run as `uid` (another local user, with no
/// supplementary groups: std drops root's when it changes the uid).
pub fn sh_as(uid: u32, script: &str) -> i32 {
    use std::os::unix::process::CommandExt;
    Command::new("sh")
        .args(["-c", script])
        .uid(uid)
        .gid(uid)
        .stdin(Stdio::null())
        .status()
        .unwrap()
        .code()
        .unwrap_or(1)
}

/// The other local user the attack tests play: an unprivileged uid with no
/// account, made up for the test.
pub const ATTACKER: u32 = 61_234;

/// An ordinary learner (for rootless runs).
pub const LEARNER: u32 = 65_534;

/// The pause prompt every lesson shows between steps on a terminal.
pub const PAUSE: &str = "Enter: next step";

/// The numbers of the lessons, as `learnns lessons` lists them.
pub fn lesson_numbers() -> Vec<u8> {
    stdout(&run(&["lessons"]))
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

/// The cgroup directories learnns run `pid` made that still exist.
pub fn cgroups_of(pid: u32) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for tree in ["", "pids", "memory", "unified"] {
        let dir = std::path::Path::new("/sys/fs/cgroup").join(tree);
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(&format!("learnns-{pid}-"))
            {
                found.push(entry.path());
            }
        }
    }
    found
}
