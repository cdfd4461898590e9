//! Another local user attacks root's `learnns challenge`: a process of
//! theirs, named by `--pid` (a PID the learner mistyped, or one reused
//! after the learner's process exited), with a hostname and a command name
//! full of terminal escape sequences; processes that are gone before or
//! while they are graded. Each process started here is killed by PID.

mod common;

use std::ffi::CString;
use std::process::Output;

use common::{ATTACKER, LEARNER, learnns, privileged, stderr, stdout};

/// Sets the window title and clears the screen, on most terminals.
const HOSTILE: &str = "\x1b]2;OWNED\x07\x1b[2J";

/// A process that sits in a UTS namespace of its own whose hostname is
/// `hostname`, with `comm` as its command name; as `uid` (in a user
/// namespace of its own, as an unprivileged user makes one) when given,
/// otherwise as root. Killed and reaped on drop.
struct Planted(libc::pid_t);

impl Planted {
    fn start(uid: Option<u32>, hostname: &str, comm: &str) -> Planted {
        let host = CString::new(hostname).unwrap();
        let name = CString::new(comm).unwrap();
        let (ready_read, ready_write) = nix::unistd::pipe().unwrap();
        use std::os::fd::AsRawFd;
        let (r, w) = (ready_read.as_raw_fd(), ready_write.as_raw_fd());
        // SAFETY: the child only makes system calls on strings made
        // beforehand, then waits for a signal.
        let pid = unsafe {
            match libc::fork() {
                -1 => panic!("fork failed"),
                0 => {
                    libc::close(r);
                    let mut ok = true;
                    if let Some(uid) = uid {
                        ok = libc::setgroups(0, std::ptr::null()) == 0
                            && libc::setresgid(uid, uid, uid) == 0
                            && libc::setresuid(uid, uid, uid) == 0;
                    }
                    let flags = if uid.is_some() {
                        libc::CLONE_NEWUSER | libc::CLONE_NEWUTS
                    } else {
                        libc::CLONE_NEWUTS
                    };
                    ok = ok
                        && libc::unshare(flags) == 0
                        && libc::sethostname(host.as_ptr(), host.as_bytes().len()) == 0
                        && libc::prctl(libc::PR_SET_NAME, name.as_ptr(), 0, 0, 0) == 0;
                    let byte = [u8::from(ok)];
                    libc::write(w, byte.as_ptr().cast(), 1);
                    libc::close(w);
                    loop {
                        libc::pause();
                    }
                }
                pid => pid,
            }
        };
        drop(ready_write);
        let mut byte = [0u8];
        let n = nix::unistd::read(&ready_read, &mut byte).unwrap();
        let planted = Planted(pid);
        assert_eq!((n, byte[0]), (1, 1), "the planted process could not set up");
        planted
    }
}

impl Drop for Planted {
    fn drop(&mut self) {
        // SAFETY: kill and reap our own child.
        unsafe {
            libc::kill(self.0, libc::SIGKILL);
            libc::waitpid(self.0, std::ptr::null_mut(), 0);
        }
    }
}

/// A directory of its own for the progress of these runs, removed at the end.
struct State(std::path::PathBuf);

impl State {
    fn new(name: &str) -> State {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("ch-attack-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        State(dir)
    }

    fn progress(&self) -> String {
        std::fs::read_to_string(self.0.join("learnns/progress.toml")).unwrap_or_default()
    }
}

impl Drop for State {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn check_as_root(n: &str, pid: i32, sudo_uid: Option<u32>, state: &State) -> Output {
    let mut command = learnns(&["challenge", n, "--check", "--pid", &pid.to_string()]);
    command.env("XDG_STATE_HOME", &state.0);
    if let Some(uid) = sudo_uid {
        command
            .env("SUDO_UID", uid.to_string())
            .env("SUDO_GID", uid.to_string());
    }
    command.output().unwrap()
}

fn all_of(out: &Output) -> String {
    format!("{}{}", stdout(out), stderr(out))
}

#[test]
fn another_users_process_is_not_graded_for_root_nor_for_the_learner() {
    if !privileged() {
        return;
    }
    // The attacker's namespace has everything challenge 1 asks for.
    let theirs = Planted::start(Some(ATTACKER), "lab", "sleep");
    for sudo_uid in [None, Some(LEARNER)] {
        let state = State::new("theirs");
        let out = check_as_root("1", theirs.0, sudo_uid, &state);
        let said = all_of(&out);
        assert_ne!(out.status.code(), Some(0), "graded as passed: {said}");
        assert!(!said.contains("done"), "{said}");
        assert!(
            said.contains(&format!("uid {ATTACKER}")),
            "the refusal names whose process it is: {said}"
        );
        assert!(
            !state.progress().contains("uts"),
            "a pass was recorded: {}",
            state.progress()
        );
    }
}

#[test]
fn hostile_names_reach_the_terminal_only_escaped() {
    if !privileged() {
        return;
    }
    // Root's own process (as if the learner ran `sudo unshare --uts`), its
    // hostname and name chosen by whoever set them.
    let planted = Planted::start(None, &format!("{HOSTILE}red"), HOSTILE);
    let state = State::new("hostile");
    for n in ["1", "10"] {
        let out = check_as_root(n, planted.0, None, &state);
        let said = all_of(&out);
        assert!(
            !said.contains('\x1b') && !said.contains('\x07'),
            "a control character reached the terminal: {said:?}"
        );
        assert!(said.contains("OWNED"), "the name is still shown: {said}");
    }
}

#[test]
fn a_process_that_is_gone_gets_a_clear_message() {
    if !privileged() {
        return;
    }
    // A zombie: exited, not reaped yet.
    // SAFETY: the child exits at once.
    let zombie = unsafe {
        match libc::fork() {
            -1 => panic!("fork failed"),
            0 => libc::_exit(0),
            pid => pid,
        }
    };
    std::thread::sleep(std::time::Duration::from_millis(200));
    let state = State::new("gone");
    for n in ["1", "4", "7", "10"] {
        let out = check_as_root(n, zombie, None, &state);
        let said = all_of(&out);
        assert!(!said.contains("panicked"), "{said}");
        assert_eq!(out.status.code(), Some(1), "{said}");
        assert!(said.contains("exited"), "{said}");
    }
    // SAFETY: reap our own child.
    unsafe { libc::waitpid(zombie, std::ptr::null_mut(), 0) };
    // Gone altogether, and gone while being watched.
    let out = check_as_root("1", zombie, None, &state);
    assert!(all_of(&out).contains("does not exist"), "{}", all_of(&out));
    let planted = Planted::start(None, "nope", "sleep");
    let pid = planted.0;
    let mut watch = learnns(&["challenge", "1", "--watch", "--pid", &pid.to_string()]);
    watch
        .env("XDG_STATE_HOME", &state.0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = watch.spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    drop(planted);
    let started = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    let said = all_of(&out);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "--watch went on after the process was gone"
    );
    assert!(!said.contains("panicked"), "{said}");
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("exited") || said.contains("does not exist"),
        "{said}"
    );
}

/// Run `learnns challenge 1 --hint` with its progress in `state`; its
/// output, or `None` when it still runs after 10 seconds (then it is
/// killed by PID).
fn hint_within_seconds(state: &State) -> Option<Output> {
    let mut child = learnns(&["challenge", "1", "--hint"])
        .env("XDG_STATE_HOME", &state.0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(10) {
        if child.try_wait().unwrap().is_some() {
            return Some(child.wait_with_output().unwrap());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Whatever is at `.lock` beside the progress file (a FIFO, which an open
/// for writing waits on until someone reads it; a directory; a lock some
/// other process holds and never lets go), learnns finishes, saying why
/// the progress was not saved.
#[test]
fn a_lock_that_cannot_be_taken_never_hangs_learnns() {
    let state = State::new("lock");
    let dir = state.0.join("learnns");
    std::fs::create_dir_all(&dir).unwrap();
    let lock = dir.join(".lock");

    nix::unistd::mkfifo(&lock, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let out = hint_within_seconds(&state).expect("learnns hung on a FIFO at .lock");
    assert!(all_of(&out).contains(".lock"), "{}", all_of(&out));
    std::fs::remove_file(&lock).unwrap();

    std::fs::create_dir(&lock).unwrap();
    let out = hint_within_seconds(&state).expect("learnns hung on a directory at .lock");
    assert!(all_of(&out).contains(".lock"), "{}", all_of(&out));
    std::fs::remove_dir(&lock).unwrap();

    let file = std::fs::File::create(&lock).unwrap();
    let held = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive).unwrap();
    let out = hint_within_seconds(&state).expect("learnns waited forever for the lock");
    assert!(all_of(&out).contains(".lock"), "{}", all_of(&out));
    drop(held);
    let out = hint_within_seconds(&state).expect("learnns hung with the lock free");
    assert!(out.status.success(), "{}", all_of(&out));
}
