//! Running a command inside the namespaces of a process, like `nsenter`,
//! and saying so as the command a learner would type. Imports nothing of
//! `container` above it, so `network` can enter a container too.

use std::fs::File;
use std::os::fd::OwnedFd;
use std::process::Command;

use nix::unistd::Pid;

use crate::error::{Error, Result};
use crate::ns::{Identities, Kind, KindSet};
use crate::sys;

/// The kinds in which process `pid` differs from learnns.
fn differing(pid: Pid) -> Result<KindSet> {
    Ok(Identities::of_self()?.differing(&Identities::of(pid.as_raw())?))
}

/// Open `/proc/PID/ns/*` for every kind where `pid` differs from us.
pub(super) fn targets(pid: Pid) -> Result<Vec<(Kind, OwnedFd)>> {
    let mut targets = Vec::new();
    for kind in differing(pid)?.iter() {
        let path = format!("/proc/{pid}/ns/{}", kind.proc_name());
        let file = File::open(&path).map_err(|e| match e.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ESRCH) => Error::Setup(
                format!("the container's init (PID {pid}) is gone; start again").into(),
            ),
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

/// The `nsenter` line for a command that enters only `kinds` of a container
/// made with `made` whose init is `pid`, as `Container::fork_inside` does:
/// its user namespace comes too when it has one, since the others belong
/// to it. For lines a lesson builds around its own work (a listener it
/// forks inside), so that they read like every other line.
pub fn nsenter_line_into(pid: Pid, made: KindSet, kinds: KindSet, argv: &[String]) -> String {
    let entered = made
        .iter()
        .filter(|k| *k == Kind::User || kinds.contains(*k))
        .collect();
    nsenter_words(pid, entered, argv)
}

/// The `nsenter` line for entering `kinds` of process `pid`, for whoever
/// runs learnns now.
pub(super) fn nsenter_words(pid: Pid, kinds: KindSet, argv: &[String]) -> String {
    nsenter_words_as(pid, kinds, nix::unistd::geteuid().is_root(), argv)
}

/// The `nsenter` line, typed by root or not. Into a user namespace,
/// `nsenter --user` drops the supplementary groups and becomes UID and GID 0
/// there, which is what learnns does as root. Without root the container's
/// map holds only the caller's own IDs and its setgroups is `deny`, so that
/// plain `--user` fails ("setgroups failed"); `--preserve-credentials`
/// keeps the caller's IDs, which the map makes root inside, as learnns's
/// own attempt ends up (see `become_root_inside`).
pub(super) fn nsenter_words_as(pid: Pid, kinds: KindSet, root: bool, argv: &[String]) -> String {
    let mut words = vec![format!("nsenter -t {pid}")];
    if !kinds.is_empty() {
        words.push(kinds.util_flags());
    }
    if kinds.contains(Kind::User) && !root {
        words.push("--preserve-credentials".into());
    }
    words.push("--".into());
    words.push(shell_words(argv));
    words.join(" ")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_quotes_only_when_needed() {
        let argv: Vec<String> = ["ls", "-l", "/proc/self/ns", "it's", ""]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(shell_words(&argv), r"ls -l /proc/self/ns 'it'\''s' ''");
    }

    #[test]
    fn without_root_the_user_namespace_keeps_the_callers_ids() {
        let pid = Pid::from_raw(42);
        let kinds = KindSet::new().with(Kind::User).with(Kind::Uts);
        let argv = vec!["hostname".to_string()];
        assert_eq!(
            nsenter_words_as(pid, kinds, true, &argv),
            "nsenter -t 42 --user --uts -- hostname"
        );
        assert_eq!(
            nsenter_words_as(pid, kinds, false, &argv),
            "nsenter -t 42 --user --uts --preserve-credentials -- hostname"
        );
        let net = KindSet::new().with(Kind::Net);
        assert_eq!(
            nsenter_words_as(pid, net, false, &argv),
            "nsenter -t 42 --net -- hostname"
        );
    }
}
