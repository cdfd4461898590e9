//! `learnns ns` and `learnns compare`: the namespaces of real processes,
//! kind by kind, and what a difference means for them in practice.

use colored::Colorize;

use crate::error::Result;
use crate::ns::{Identities, Identity, Kind, ORDER, link_text};

/// A process as the learner knows it: its PID, name and namespaces.
struct Seen {
    pid: i32,
    name: String,
    ids: Identities,
}

impl Seen {
    fn read(pid: i32) -> Result<Seen> {
        let ids = Identities::of(pid)?;
        let name = procfs::process::Process::new(pid)
            .and_then(|p| p.stat())
            .map(|s| s.comm)
            .unwrap_or_else(|_| "?".into());
        Ok(Seen { pid, name, ids })
    }

    fn label(&self) -> String {
        format!("PID {} ({})", self.pid, self.name)
    }
}

// ANCHOR: meaning
/// What it means in practice that processes `a` and `b` are in different
/// namespaces of `kind`, and how to look from the host. The sentences are the
/// `meaning` column of the table of kinds (`KINDS` in `src/ns.rs`), written
/// with `{a}` and `{b}` where the two PIDs go:
/// `nsenter -t {a} -u hostname` becomes `nsenter -t 123 -u hostname`.
pub fn meaning(kind: Kind, a: i32, b: i32) -> String {
    kind.meaning()
        .replace("{a}", &a.to_string())
        .replace("{b}", &b.to_string())
}
// ANCHOR_END: meaning

fn same_or_not(a: Option<Identity>, b: Option<Identity>) -> Option<bool> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a == b),
        _ => None,
    }
}

/// `learnns ns [PID...]`: each process against PID 1, or against learnns
/// where PID 1 cannot be read.
pub fn ns(pids: &[i32]) -> Result<i32> {
    let pids = if pids.is_empty() {
        vec![std::process::id() as i32]
    } else {
        pids.to_vec()
    };
    // Every process asked for first: one that cannot be read is the
    // answer, before any note about the reference.
    let all = pids
        .iter()
        .map(|pid| Seen::read(*pid))
        .collect::<Result<Vec<_>>>()?;
    let reference = match Seen::read(1) {
        Ok(init) => init,
        Err(e) => {
            let me = Seen::read(std::process::id() as i32)?;
            let why = e.to_string();
            crate::render::paragraph::paragraph(
                &format!(
                    "(PID 1 cannot be read here: {}; comparing with learnns itself, which runs in your shell's namespaces)",
                    why.lines().next().unwrap_or_default().trim_end_matches('.')
                ),
                "",
            );
            me
        }
    };
    for (i, (pid, seen)) in pids.iter().zip(all).enumerate() {
        if i > 0 {
            outln!();
        }
        outln!(
            "{}, compared with {}:",
            seen.label().bold(),
            reference.label()
        );
        outln!("  $ readlink /proc/{pid}/ns/*");
        let mut differ = Vec::new();
        for kind in ORDER {
            let mine = seen.ids.get(kind);
            let verdict = match same_or_not(mine, reference.ids.get(kind)) {
                Some(true) => "same".to_string(),
                Some(false) => {
                    differ.push(kind);
                    format!("own: {}", kind.when_different())
                        .yellow()
                        .to_string()
                }
                None => "not supported by this kernel".to_string(),
            };
            outln!(
                "  {:<7} {:<20} {verdict}",
                kind.proc_name(),
                link_text(kind, mine)
            );
        }
        if seen.pid == reference.pid {
            outln!("  (this is the reference process itself)");
        } else if differ.is_empty() {
            outln!(
                "  In every namespace of {}: not in a container as far as namespaces go.",
                reference.label()
            );
        } else {
            let names: Vec<_> = differ.iter().map(|k| k.proc_name()).collect();
            outln!(
                "  Its own namespaces: {}. Details: learnns compare {} {pid}",
                names.join(" "),
                reference.pid
            );
        }
    }
    Ok(0)
}

// ANCHOR: compare
/// `learnns compare A B`: kind by kind, same or different, and what a
/// difference means for these two processes.
pub fn compare(a: i32, b: i32) -> Result<i32> {
    let (first, second) = (Seen::read(a)?, Seen::read(b)?);
    outln!("{} and {}", first.label().bold(), second.label().bold());
    outln!("  $ readlink /proc/{a}/ns/* /proc/{b}/ns/*");
    outln!(
        "  {:<7} {:<20} {:<20}",
        "kind",
        format!("PID {a}"),
        format!("PID {b}")
    );
    let (mut same, mut different) = (Vec::new(), Vec::new());
    for kind in ORDER {
        let (x, y) = (first.ids.get(kind), second.ids.get(kind));
        let verdict = match same_or_not(x, y) {
            Some(true) => {
                same.push(kind.proc_name());
                "same".green().to_string()
            }
            Some(false) => {
                different.push(kind.proc_name());
                "different".yellow().bold().to_string()
            }
            None => "not supported".to_string(),
        };
        outln!(
            "  {:<7} {:<20} {:<20} {verdict}",
            kind.proc_name(),
            link_text(kind, x),
            link_text(kind, y)
        );
        if same_or_not(x, y) == Some(false) {
            outln!("          {}", meaning(kind, a, b));
        }
    }
    outln!();
    if different.is_empty() {
        outln!("They share every namespace: the kernel shows them the same view of the system.");
    } else {
        outln!("Different: {}.", different.join(" "));
        if !same.is_empty() {
            outln!("Shared: {}.", same.join(" "));
        }
        outln!(
            "To act in {b}'s namespaces from the host: nsenter -t {b} {} -- COMMAND",
            different
                .iter()
                .filter_map(|n| Kind::from_name(n))
                .map(|k| k.util_flag())
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    let devices: std::collections::BTreeSet<u64> = ORDER
        .iter()
        .flat_map(|k| [first.ids.get(*k), second.ids.get(*k)])
        .flatten()
        .map(|id| id.device)
        .collect();
    if devices.len() == 1 {
        outln!(
            "(A namespace is identified by device and inode together; every link here is on the same device, so equal inodes mean the same namespace.)"
        );
    }
    Ok(0)
}
// ANCHOR_END: compare

/// A user's name with the number, as a learner would recognise them:
/// `alice (uid 1000)`, or `uid 1000` when the user database has no name.
pub fn user_name(uid: u32) -> String {
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(user)) => format!("{} (uid {uid})", user.name),
        _ => format!("uid {uid}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_practical_meaning_naming_the_processes() {
        for kind in ORDER {
            let text = meaning(kind, 123, 456);
            assert!(text.contains("123"), "{kind}: {text}");
            assert!(
                !text.contains(['{', '}']),
                "{kind}: a placeholder is left: {text}"
            );
        }
        assert!(meaning(Kind::Net, 123, 456).contains("127.0.0.1"));
        assert!(meaning(Kind::Net, 123, 456).contains("nsenter -t 123 -n"));
    }
}
