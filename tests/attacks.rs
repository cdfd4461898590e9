//! Another local user attacks root's learnns: plants links where it might
//! write, makes its directories first, names other people's objects in a
//! journal, reuses a dead run's PID, renames the binary, swaps parts of a
//! `--rootfs` tree while learnns sets it up. Each test checks that the
//! victim is untouched and the host as it was.

mod common;

use std::ffi::CString;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{
    ATTACKER, Fingerprint, LEARNER, OnTerminal, Scratch, as_user, assert_host_unchanged, learnns,
    privileged, run, serial, sh_as, stderr, stdout,
};
use learnns::cleanup::RunId;
use nix::sys::signal::Signal;

/// A file of root's that no attack may change: its content, mode and owner.
struct Victim {
    path: PathBuf,
}

impl Victim {
    fn new(dir: &Path) -> Victim {
        let path = dir.join("victim");
        std::fs::write(&path, "root's own, do not touch\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        Victim { path }
    }

    fn assert_untouched(&self) {
        let meta = std::fs::symlink_metadata(&self.path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&self.path).unwrap(),
            "root's own, do not touch\n",
            "the victim's content changed"
        );
        assert_eq!(meta.mode() & 0o7777, 0o600, "the victim's mode changed");
        assert_eq!(
            (meta.uid(), meta.gid()),
            (0, 0),
            "the victim's owner changed"
        );
    }
}

/// What the attacker puts in /tmp before learnns runs: links (target,
/// name) and directories anyone may write.
#[derive(Default)]
struct Plant {
    links: Vec<(CString, CString)>,
    dirs: Vec<CString>,
}

fn c(text: impl Into<String>) -> CString {
    CString::new(text.into()).unwrap()
}

/// Run `command` in a mount namespace of its own whose /tmp is a fresh
/// world-writable tmpfs, as /tmp is on most machines (though not on every
/// test machine), after the attacker planted `plant` there; as `run_as`
/// when given. Everything else (links, cgroups, queues, /run) is the host's.
fn in_attacked_tmp(mut command: Command, plant: Plant, run_as: Option<u32>) -> Output {
    // SAFETY: the hook makes system calls only, on strings made beforehand.
    unsafe {
        command.pre_exec(move || {
            let check = |ok: bool| {
                if ok {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            };
            check(libc::unshare(libc::CLONE_NEWNS) == 0)?;
            let none = std::ptr::null();
            check(
                libc::mount(
                    none,
                    c"/".as_ptr(),
                    none,
                    libc::MS_REC | libc::MS_PRIVATE,
                    none.cast(),
                ) == 0,
            )?;
            let tmpfs = c"lnstest-tmp".as_ptr();
            let data = c"mode=1777".as_ptr();
            check(libc::mount(tmpfs, c"/tmp".as_ptr(), c"tmpfs".as_ptr(), 0, data.cast()) == 0)?;
            match libc::fork() {
                0 => {
                    let me = ATTACKER;
                    if libc::setgroups(0, none.cast()) != 0
                        || libc::setresgid(me, me, me) != 0
                        || libc::setresuid(me, me, me) != 0
                    {
                        libc::_exit(1);
                    }
                    for (target, link) in &plant.links {
                        libc::symlink(target.as_ptr(), link.as_ptr());
                    }
                    for dir in &plant.dirs {
                        libc::mkdir(dir.as_ptr(), 0o777);
                        libc::chmod(dir.as_ptr(), 0o777);
                    }
                    libc::_exit(0)
                }
                -1 => check(false)?,
                pid => {
                    libc::waitpid(pid, std::ptr::null_mut(), 0);
                }
            }
            if let Some(uid) = run_as {
                check(
                    libc::setgroups(0, none.cast()) == 0
                        && libc::setresgid(uid, uid, uid) == 0
                        && libc::setresuid(uid, uid, uid) == 0,
                )?;
            }
            Ok(())
        });
    }
    command.output().unwrap()
}

/// A place outside /tmp that every user can reach (a clone under /root is
/// not) and that a namespace with a /tmp of its own still sees (a clone
/// under /tmp is hidden there): a copy of the binary, the learner's home.
struct Reachable(PathBuf);

impl Reachable {
    fn new() -> Reachable {
        let dir = Path::new("/var/tmp").join(format!("lnstest-reach-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::copy(env!("CARGO_BIN_EXE_learnns"), dir.join("learnns")).unwrap();
        let home = dir.join("home");
        std::fs::create_dir(&home).unwrap();
        nix::unistd::chown(&home, Some(LEARNER.into()), Some(LEARNER.into())).unwrap();
        Reachable(dir)
    }

    fn home(&self) -> PathBuf {
        self.0.join("home")
    }

    /// The learner runs `learnns ARGS`, then lists what is in `dirs` (after
    /// a line `==`); the exit status is learnns's.
    fn learner_command(&self, args: &str, dirs: &[&str]) -> Command {
        let list = match dirs {
            [] => String::new(),
            dirs => format!("find {} -mindepth 1 2>&1;", dirs.join(" ")),
        };
        let script = format!(
            "{bin} {args}; status=$?; echo ==; {list} exit $status",
            bin = self.0.join("learnns").display(),
        );
        let mut command = Command::new("sh");
        command
            .args(["-c", &script])
            .env("NO_COLOR", "1")
            .env("COLUMNS", "100")
            .env("HOME", self.home())
            .env_remove("XDG_STATE_HOME")
            .env_remove("XDG_RUNTIME_DIR")
            .current_dir("/")
            .stdin(Stdio::null());
        command
    }
}

impl Drop for Reachable {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What the learner's `find` listed after `==`.
fn listed(out: &Output) -> String {
    let text = stdout(out);
    text.split("==\n").nth(1).unwrap_or("").trim().to_string()
}

#[test]
fn links_planted_at_every_predictable_name_reach_nothing() {
    if !privileged() {
        return;
    }
    let _guard = serial();
    // Everything the namespace must see lives outside /tmp (a clone, and so
    // the binary, may well be under /tmp).
    let reach = Reachable::new();
    let victim = Victim::new(&reach.0);
    // Every name under /tmp that an earlier learnns wrote as root, for the
    // next few hundred PIDs, and the rootless journal directories.
    let next: u32 = std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let plant = || {
        let v = victim.path.display().to_string();
        let mut plant = Plant::default();
        for p in next + 1..next + 400 {
            for name in [
                format!("learnns-{p}-host-file"),
                format!("learnns-{p}.journal"),
            ] {
                plant.links.push((c(v.clone()), c(format!("/tmp/{name}"))));
            }
        }
        for uid in [0, LEARNER] {
            plant
                .links
                .push((c(v.clone()), c(format!("/tmp/learnns-{uid}"))));
        }
        plant
    };
    let before = Fingerprint::take();
    for lesson in ["2", "5", "6", "7"] {
        let mut command =
            common::learnns_at(&reach.0.join("learnns"), &["lesson", lesson, "--no-pause"]);
        command.env("XDG_STATE_HOME", reach.0.join("state"));
        let out = in_attacked_tmp(command, plant(), None);
        assert!(out.status.success(), "lesson {lesson}: {}", stderr(&out));
        assert!(!stdout(&out).contains('✗'), "{}", stdout(&out));
    }
    // A rootless learner too (no XDG_RUNTIME_DIR: the journal goes home).
    let out = in_attacked_tmp(
        reach.learner_command("lesson 2 --no-pause", &[]),
        plant(),
        Some(LEARNER),
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(!stdout(&out).contains('✗'), "{}", stdout(&out));
    victim.assert_untouched();
    assert_host_unchanged(&before, "lessons 2, 5, 6, 7 beside planted links");
}

#[test]
fn another_users_directories_are_never_the_learners_journal() {
    if !privileged() {
        return;
    }
    let _guard = serial();
    // The attacker makes the directories a learner's run might use first,
    // open to everyone: the old /tmp name, and an XDG_RUNTIME_DIR of theirs.
    let old = format!("/tmp/learnns-{LEARNER}");
    let plant = Plant {
        links: Vec::new(),
        dirs: vec![
            c(old.clone()),
            c("/tmp/attacker-runtime"),
            c("/tmp/attacker-runtime/learnns"),
        ],
    };
    let reach = Reachable::new();
    let before = Fingerprint::take();
    let mut command = reach.learner_command(
        "lesson 2 --no-pause",
        &[&old, "/tmp/attacker-runtime/learnns"],
    );
    command.env("XDG_RUNTIME_DIR", "/tmp/attacker-runtime");
    let out = in_attacked_tmp(command, plant, Some(LEARNER));
    assert!(
        out.status.success() && !stdout(&out).contains('✗'),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("Lesson 2 done."), "{}", stdout(&out));
    assert_eq!(
        listed(&out),
        "",
        "the learner's run wrote into the attacker's directories"
    );
    assert!(
        !reach.home().join(".local/state/learnns/run").exists(),
        "the learner's own journal directory is gone afterwards"
    );
    assert_host_unchanged(
        &before,
        "a rootless lesson 2 beside an attacker's directories",
    );
}

#[test]
fn journals_stay_private_under_umask_000() {
    if !privileged() {
        return;
    }
    use std::os::unix::process::CommandExt;
    let _guard = serial();
    let before = Fingerprint::take();
    let mut command = learnns(&["lesson", "2"]);
    // SAFETY: umask is async-signal-safe and touches no memory.
    unsafe {
        command.pre_exec(|| {
            libc::umask(0);
            Ok(())
        });
    }
    let mut term = OnTerminal::spawn(command);
    // Pause 2 comes after the host queue was made and journalled.
    term.walk_to_pause(2);
    let dir = std::fs::symlink_metadata("/run/learnns").unwrap();
    assert!(dir.is_dir() && dir.uid() == 0);
    assert_eq!(
        dir.mode() & 0o777,
        0o700,
        "the journal directory is private"
    );
    let pid = term.child.id();
    let journal = std::fs::read_dir("/run/learnns")
        .unwrap()
        .flatten()
        .find(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{pid}-"))
        })
        .expect("the run's journal");
    let meta = journal.metadata().unwrap();
    assert_eq!(meta.mode() & 0o777, 0o600, "the journal is private");
    // Another user cannot even open it to append a record.
    let path = std::ffi::CString::new(journal.path().to_string_lossy().as_bytes()).unwrap();
    let opened = as_user(ATTACKER, || {
        // SAFETY: open on a valid C string.
        i32::from(unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_APPEND) } >= 0)
    });
    assert_eq!(opened, 0, "another user opened the journal");
    term.type_line("q");
    let (code, screen) = term.finish();
    assert_eq!(code, Some(0), "{screen}");
    assert_host_unchanged(&before, "lesson 2 under umask 000");
}

/// A System V message queue with this key, made as `uid`; its id.
fn queue_as(uid: u32, key: i32) -> i32 {
    let made = as_user(uid, || {
        // SAFETY: msgget takes integers.
        i32::from(unsafe { libc::msgget(key, libc::IPC_CREAT | libc::IPC_EXCL | 0o600) } >= 0)
    });
    assert_eq!(made, 1, "queue with key {key} made as {uid}");
    learnns::sysvipc::msg_queues()
        .iter()
        .find(|q| q.key == key)
        .unwrap()
        .id
}

fn queue_exists(key: i32) -> bool {
    learnns::sysvipc::msg_queues().iter().any(|q| q.key == key)
}

/// The run id of a learnns process.
fn run_of(pid: u32) -> RunId {
    let start = procfs::process::Process::new(pid as i32)
        .unwrap()
        .stat()
        .unwrap()
        .starttime;
    RunId {
        pid: pid as i32,
        start,
    }
}

/// The first line of a run's journal that starts with `word`, and its
/// record's words after the number.
fn journal_record(run: &RunId, kind: &str) -> Vec<String> {
    let text =
        std::fs::read_to_string(format!("/run/learnns/{}-{}.journal", run.pid, run.start)).unwrap();
    text.lines()
        .map(|l| {
            l.split_whitespace()
                .skip(2)
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .find(|w| w.first().map(String::as_str) == Some(kind))
        .unwrap_or_else(|| panic!("no {kind} in {text}"))
}

#[test]
fn a_stale_journal_naming_others_objects_undoes_none_of_them() {
    if !privileged() {
        return;
    }
    let _guard = serial();
    let before = Fingerprint::take();
    // Three live runs holding a link, a cgroup and a queue.
    let mut net = OnTerminal::start(&["lesson", "5"]);
    net.walk_to_pause(4);
    let mut cg = OnTerminal::start(&["lesson", "7"]);
    cg.walk_to_pause(2);
    let mut ipc = OnTerminal::start(&["lesson", "2"]);
    ipc.walk_to_pause(2);
    let (net_run, cg_run, ipc_run) = (
        run_of(net.child.id()),
        run_of(cg.child.id()),
        run_of(ipc.child.id()),
    );
    let link = format!("learnns{}h", net_run.pid);
    let cgroup = journal_record(&cg_run, "cgroup")[1].clone();
    let queue_key: i32 = journal_record(&ipc_run, "msgqueue")[1].parse().unwrap();
    assert!(Path::new("/sys/class/net").join(&link).exists());
    assert!(Path::new(&cgroup).is_dir());
    assert!(queue_exists(queue_key));
    // A journal left by a dead run with the link run's PID (a reused PID),
    // naming everything it can think of, and a queue of the attacker's
    // made with the very key the dead run would have used.
    let stale = RunId {
        pid: net_run.pid,
        start: net_run.start.saturating_sub(1),
    };
    // (Its salt as if it had leaked: another user cannot read a journal.)
    let salt = 0x5eed;
    let attacker_key = stale.queue_key(salt, 0);
    let attacker_queue = queue_as(ATTACKER, attacker_key);
    let cgroup_of_stale = cgroup.replace(
        &format!("learnns-{}-{}-", cg_run.pid, cg_run.start),
        &format!("learnns-{}-{}-", stale.pid, stale.start),
    );
    let records = [
        format!("link {link}"),
        format!("cgroup {cgroup}"),
        format!("cgroup {cgroup_of_stale}"),
        "cgroup /sys/fs/cgroup/pids".into(),
        format!("msgqueue {queue_key}"),
        format!("msgqueue {attacker_key}"),
        format!("msgqueue {attacker_key} {attacker_queue} 1"),
        "link eth0".into(),
        "link lo".into(),
        "file ../../etc/passwd".into(),
        format!("file {}-{}-host-file", ipc_run.pid, ipc_run.start),
        "process 1".into(),
    ];
    let text: String = std::iter::once(format!("salt {salt:x}\n"))
        .chain(
            records
                .iter()
                .enumerate()
                .map(|(n, r)| format!("+ {n} {r}\n")),
        )
        .collect();
    let stale_path = format!("/run/learnns/{}-{}.journal", stale.pid, stale.start);
    std::fs::write(&stale_path, text).unwrap();
    std::fs::set_permissions(&stale_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    // The next start replays it.
    let out = run(&["lessons"]);
    assert!(out.status.success());
    assert!(
        !stderr(&out).contains("removed"),
        "it undid something: {}",
        stderr(&out)
    );
    assert!(
        !Path::new(&stale_path).exists(),
        "the stale journal is done"
    );
    assert!(Path::new("/sys/class/net").join(&link).exists(), "{link}");
    assert!(Path::new(&cgroup).is_dir(), "{cgroup}");
    assert!(queue_exists(queue_key), "the live run's queue");
    assert!(queue_exists(attacker_key), "the attacker's queue");
    assert!(Path::new("/sys/class/net/lo").exists());
    for mut term in [net, cg, ipc] {
        term.type_line("q");
        let (code, screen) = term.finish();
        assert_eq!(code, Some(0), "{screen}");
    }
    learnns::sys::msg_queue_remove(attacker_queue).unwrap();
    assert_host_unchanged(&before, "a stale journal naming live runs' objects");
}

/// Start `args` on a terminal with process id `pid`, by setting the PID
/// the kernel handed out last; None if another process took it first.
fn start_with_pid(pid: u32, args: &[&str]) -> Option<OnTerminal> {
    for _ in 0..200 {
        std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string()).unwrap();
        let term = OnTerminal::start(args);
        if term.child.id() == pid {
            return Some(term);
        }
        // Not cleaned up here: a start would replay the dead run's journal
        // before the run under test could; the attempt was killed at once,
        // and whatever it left is replayed by that run too.
        term.signal(Signal::SIGKILL);
        let _ = term.finish();
    }
    None
}

#[test]
fn a_new_run_with_a_dead_runs_pid_cleans_up_after_it() {
    if !privileged() {
        return;
    }
    let _guard = serial();
    let before = Fingerprint::take();
    let mut dead = OnTerminal::start(&["lesson", "2"]);
    dead.walk_to_pause(2);
    let dead_run = run_of(dead.child.id());
    let key: i32 = journal_record(&dead_run, "msgqueue")[1].parse().unwrap();
    dead.signal(Signal::SIGKILL);
    let _ = dead.finish();
    assert!(queue_exists(key), "a killed run cannot clean up");
    // A start time counts 10 ms ticks: a PID comes round again that fast
    // only with ns_last_pid (the kernel hands PIDs out in turn), so let the
    // clock move as it would have.
    std::thread::sleep(std::time::Duration::from_millis(30));
    // A new run gets the dead run's PID, and makes a cgroup under it.
    let Some(mut reborn) = start_with_pid(dead_run.pid as u32, &["lesson", "7"]) else {
        panic!("PID {} could not be had again", dead_run.pid);
    };
    reborn.walk_to_pause(2);
    assert!(
        reborn
            .seen
            .contains(&format!("left by learnns run {}", dead_run.pid)),
        "the new run says what it removed:\n{}",
        reborn.seen
    );
    assert!(!queue_exists(key), "the dead run's queue is gone");
    assert!(
        !common::cgroups_of(dead_run.pid as u32).is_empty(),
        "the new run made its cgroup:\n{}",
        reborn.seen
    );
    reborn.type_line("q");
    let (code, screen) = reborn.finish();
    assert_eq!(code, Some(0), "{screen}");
    assert_host_unchanged(&before, "a reused PID");
}

#[test]
fn a_renamed_binary_is_still_a_live_run() {
    if !privileged() {
        return;
    }
    let _guard = serial();
    let scratch = Scratch::new("renamed");
    let renamed = scratch.0.join("workshop-tool");
    std::fs::copy(env!("CARGO_BIN_EXE_learnns"), &renamed).unwrap();
    let before = Fingerprint::take();
    let copy = common::learnns_at(&renamed, &["lesson", "7"]);
    let mut term = OnTerminal::spawn(copy);
    term.walk_to_pause(2);
    let pid = term.child.id();
    let cgroups = common::cgroups_of(pid);
    assert!(!cgroups.is_empty(), "{}", term.seen);
    let out = run(&["lessons"]);
    assert!(out.status.success());
    assert!(
        cgroups.iter().all(|c| c.is_dir()),
        "another start removed a live run's cgroups: {}",
        stderr(&out)
    );
    term.type_line("q");
    let (code, screen) = term.finish();
    assert_eq!(code, Some(0), "{screen}");
    assert_host_unchanged(&before, "a renamed learnns");
}

/// A root tree of the attacker's: a /bin/sh (learnns only checks that it
/// is there), dev, proc and sys, and a link to `victim_dir` to swap in.
fn attacker_tree(scratch: &Path, victim_dir: &Path) -> PathBuf {
    let tree = scratch.join("tree");
    let script = format!(
        "mkdir -p {t}/bin {t}/dev {t}/proc {t}/sys && touch {t}/bin/sh && ln -s {v} {t}/dev.swap",
        t = tree.display(),
        v = victim_dir.display()
    );
    std::fs::create_dir(&tree).unwrap();
    nix::unistd::chown(&tree, Some(ATTACKER.into()), Some(ATTACKER.into())).unwrap();
    assert_eq!(sh_as(ATTACKER, &script), 0);
    tree
}

#[test]
fn a_rootfs_tree_swapped_during_set_up_never_reaches_the_host() {
    if !privileged() {
        return;
    }
    let _guard = serial();
    let scratch = Scratch::new("rootfs");
    // A host directory of root's with a file learnns must never truncate
    // and no device node learnns must ever make.
    let victim_dir = scratch.0.join("host-dir");
    std::fs::create_dir(&victim_dir).unwrap();
    let victim = Victim::new(&victim_dir);
    let tree = attacker_tree(&scratch.0, &victim_dir);
    let dir = tree.display().to_string();
    let before = Fingerprint::take();
    // As root, the attacker's tree is refused, naming the owner and the fixes.
    let out = run(&["run", "--mnt", "--pid", "--rootfs", &dir, "--", "/bin/sh"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("uid {ATTACKER}"))
            && stderr(&out).contains("add --user")
            && !stderr(&out).contains("chown"),
        "{}",
        stderr(&out)
    );
    // The attacker swaps dev with a link to the host directory, over and
    // over, while learnns sets the tree up: as its sudo caller, whom
    // learnns trusts with their own tree, and with --user.
    let (dev, swap) = (
        std::ffi::CString::new(format!("{dir}/dev")).unwrap(),
        std::ffi::CString::new(format!("{dir}/dev.swap")).unwrap(),
    );
    // As the attacker, until it is stopped below.
    let swapper = common::spawn_as(ATTACKER, || {
        loop {
            // SAFETY: renameat2 on two valid C strings.
            unsafe {
                libc::syscall(
                    libc::SYS_renameat2,
                    libc::AT_FDCWD,
                    dev.as_ptr(),
                    libc::AT_FDCWD,
                    swap.as_ptr(),
                    libc::RENAME_EXCHANGE,
                )
            };
        }
    });
    let attacker = ATTACKER.to_string();
    for i in 0..40 {
        let user = if i % 2 == 0 { "--pid" } else { "--user" };
        let out = learnns(&["run", "--mnt", user, "--rootfs", &dir, "--", "/bin/sh"])
            .env("SUDO_UID", &attacker)
            .env("SUDO_GID", &attacker)
            .output()
            .unwrap();
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
        victim.assert_untouched();
        let names: Vec<String> = std::fs::read_dir(&victim_dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            ["victim"],
            "learnns made something in a host directory"
        );
    }
    // SAFETY: kills and reaps our own child.
    unsafe {
        libc::kill(swapper, libc::SIGKILL);
        libc::waitpid(swapper, std::ptr::null_mut(), 0);
    }
    assert!(
        !tree.join(".oldroot").exists(),
        "nothing was left in the user's tree"
    );
    assert_host_unchanged(&before, "a --rootfs tree swapped during set-up");
}

#[test]
fn a_tree_with_anything_another_user_can_change_is_refused_as_root() {
    if !privileged() {
        return;
    }
    let _guard = serial();
    let scratch = Scratch::new("trust");
    let tree = scratch.0.join("tree");
    for dir in ["bin", "usr/local/bin", "proc", "dev", "sys", "tmp"] {
        std::fs::create_dir_all(tree.join(dir)).unwrap();
    }
    std::fs::write(tree.join("bin/sh"), "").unwrap();
    std::fs::set_permissions(tree.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let dir = tree.display().to_string();
    let refused = |args: &[&str], sudo: Option<u32>, what: &str| {
        let mut command = learnns(args);
        if let Some(uid) = sudo {
            command
                .env("SUDO_UID", uid.to_string())
                .env("SUDO_GID", "100");
        }
        let out = command.output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{what}: {}", stderr(&out));
        assert!(stderr(&out).contains("without sudo"), "{}", stderr(&out));
        assert!(!stderr(&out).contains("chown"), "{}", stderr(&out));
        stderr(&out)
    };
    let plain = ["run", "--mnt", "--pid", "--rootfs", &dir, "--", "/bin/sh"];
    let user = ["run", "--mnt", "--user", "--rootfs", &dir, "--", "/bin/sh"];
    // Root's own tree, a sticky world-writable /tmp in it: trusted.
    let out = learnns(&plain).output().unwrap();
    assert_ne!(out.status.code(), Some(2), "{}", stderr(&out));
    // A directory deep inside that another user owns: refused, with or
    // without --user (root inside would still be the host's root).
    let deep = tree.join("usr/local/bin");
    nix::unistd::chown(&deep, Some(ATTACKER.into()), None).unwrap();
    let said = refused(&plain, None, "an attacker's directory deep inside");
    assert!(
        said.contains("usr/local/bin") && said.contains(&format!("uid {ATTACKER}")),
        "{said}"
    );
    refused(&user, None, "the same with --user");
    nix::unistd::chown(&deep, Some(0.into()), None).unwrap();
    // Group-writable for the sudo caller's group (often shared): refused.
    nix::unistd::chown(&deep, None, Some(100.into())).unwrap();
    std::fs::set_permissions(&deep, std::fs::Permissions::from_mode(0o775)).unwrap();
    refused(&plain, Some(1000), "group-writable for the caller's group");
    std::fs::set_permissions(&deep, std::fs::Permissions::from_mode(0o755)).unwrap();
    // A file that every user may write.
    std::fs::write(tree.join("usr/local/bin/id"), "").unwrap();
    std::fs::set_permissions(
        tree.join("usr/local/bin/id"),
        std::fs::Permissions::from_mode(0o777),
    )
    .unwrap();
    refused(&plain, None, "a world-writable program");
}

#[test]
fn a_command_run_on_a_terminal_cannot_type_into_it() {
    if !privileged() {
        return;
    }
    let _guard = serial();
    // TIOCSTI pushes a character into the terminal's input: after the
    // container ended, the caller's shell would read and run it. perl is
    // part of every Debian (perl-base) and does the ioctl without a compiler.
    let push =
        "my $c = 'x'; ioctl(STDIN, 0x5412, $c) ? print \"typed\\n\" : print \"refused: $!\\n\"";
    for kinds in [&["--uts"][..], &["--user", "--mnt", "--pid"][..]] {
        let mut args = vec!["run"];
        args.extend_from_slice(kinds);
        args.extend_from_slice(&["--", "perl", "-e", push]);
        let term = OnTerminal::start(&args);
        let (code, screen) = term.finish();
        assert_eq!(code, Some(0), "{screen}");
        assert!(
            screen.contains("refused: Operation not permitted"),
            "{kinds:?}: {screen}"
        );
    }
    // Without a terminal there is nothing to type into, and no filter.
    let out = run(&[
        "run",
        "--uts",
        "--",
        "grep",
        "Seccomp:",
        "/proc/self/status",
    ]);
    assert_eq!(
        stdout(&out).split_whitespace().nth(1),
        Some("0"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_command_not_on_the_terminal_cannot_reach_it_at_all() {
    if !privileged() {
        return;
    }
    let _guard = serial();
    // The caller has a controlling terminal, but runs the command with its
    // input and output elsewhere (`< file | tee log`): the command must not
    // find the terminal through /dev/tty either.
    let pty = nix::pty::openpty(None, None).unwrap();
    for fd in [&pty.master, &pty.slave] {
        nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )
        .unwrap();
    }
    let slave = std::os::fd::AsRawFd::as_raw_fd(&pty.slave);
    let probe = "open(T, '+<', '/dev/tty') ? print \"opened\\n\" : print \"no tty: $!\\n\"";
    for kinds in [&["--uts"][..], &["--user", "--mnt", "--pid"][..]] {
        let mut args = vec!["run"];
        args.extend_from_slice(kinds);
        args.extend_from_slice(&["--", "perl", "-e", probe]);
        let mut command = learnns(&args);
        // SAFETY: setsid and ioctl are async-signal-safe.
        unsafe {
            command.pre_exec(move || {
                if libc::setsid() < 0 || libc::ioctl(slave, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let out = command.output().unwrap();
        assert!(
            stdout(&out).contains("no tty: No such device or address"),
            "{kinds:?}: {}{}",
            stdout(&out),
            stderr(&out)
        );
    }
}

#[test]
fn nothing_a_command_leaves_running_outlives_learnns_run() {
    if !privileged() {
        return;
    }
    let _guard = serial();
    let before = Fingerprint::take();
    // Without a PID namespace, a process that leaves the command's session
    // would go on (and, with a terminal, could read what the caller types
    // next).
    let marker = format!("4{}", std::process::id());
    let script = format!("setsid sleep {marker} & sleep {marker}1 & echo started");
    let out = run(&["run", "--uts", "--", "sh", "-c", &script]);
    assert_eq!(stdout(&out), "started\n", "{}", stderr(&out));
    let left = common::running(&format!("sleep {marker}"));
    assert!(left.is_empty(), "left running: {left:?}");
    assert_host_unchanged(&before, "learnns run leaving processes behind");
}

#[test]
fn an_acl_that_lets_another_user_write_is_seen() {
    if !privileged() {
        return;
    }
    let _guard = serial();
    let scratch = Scratch::new("acl");
    let tree = scratch.0.join("tree");
    for dir in ["bin", "proc", "dev"] {
        std::fs::create_dir_all(tree.join(dir)).unwrap();
    }
    std::fs::write(tree.join("bin/sh"), "").unwrap();
    let dir = tree.display().to_string();
    let plain = ["run", "--mnt", "--pid", "--rootfs", &dir, "--", "/bin/sh"];
    assert_ne!(learnns(&plain).output().unwrap().status.code(), Some(2));
    // user:ATTACKER:rw- on bin/sh, as `setfacl -m u:61234:rw` writes it:
    // the mode bits alone still say 0644-ish, group root.
    let mut acl = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in [
        (0x01u16, 6u16, u32::MAX),
        (0x02, 6, ATTACKER),
        (0x04, 4, u32::MAX),
        (0x10, 6, u32::MAX),
        (0x20, 4, u32::MAX),
    ] {
        acl.extend(tag.to_le_bytes());
        acl.extend(perm.to_le_bytes());
        acl.extend(id.to_le_bytes());
    }
    let path = CString::new(format!("{dir}/bin/sh")).unwrap();
    // SAFETY: valid C strings and a buffer of the length given.
    let set = unsafe {
        libc::setxattr(
            path.as_ptr(),
            c"system.posix_acl_access".as_ptr(),
            acl.as_ptr().cast(),
            acl.len(),
            0,
        )
    };
    assert_eq!(set, 0, "{}", std::io::Error::last_os_error());
    let out = learnns(&plain).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("uid {ATTACKER} (an ACL entry)")),
        "{}",
        stderr(&out)
    );
}
