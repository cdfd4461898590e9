//! The journal: one append-only file per run in learnns's private
//! directory, read back by the next start to undo what a killed run left.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{Mode, fstat};

use super::run::{RunId, salt};
use super::rundir;
use super::undo::Undo;
use crate::error::{Error, Result};

/// Make this run's journal (mode 0600, never through a link), starting with
/// the secret salt its queue keys are made with.
pub(super) fn create() -> Result<fs::File> {
    rundir::locked(|dir, fd| {
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
        file.write_all(format!("salt {:x}\n", salt()).as_bytes())
            .map_err(|e| Error::io("write learnns's journal", e))?;
        Ok(file)
    })
}

/// Remove this run's journal: everything in it is undone.
pub(super) fn remove() {
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

/// The pending records of one journal: the latest line of every change
/// that was not finished, oldest first.
pub(super) fn pending(text: &str, run: &RunId) -> Vec<Undo> {
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
