//! Challenge 2: a process in an IPC namespace of its own, holding a System
//! V message queue the host cannot see.

use super::grade::{Grade, best};
use super::{Candidate, Candidates, Verdict};
use crate::ns::Kind;
use crate::sysvipc::{self, MsgQueueInfo};

/// Grade challenge 2.
pub fn ipc(all: &Candidates) -> Verdict {
    let as_root = all.graded.as_root;
    let host = sysvipc::msg_queues();
    best(
        all,
        |c| {
            if !c.own(Kind::Ipc, &all.host) {
                return Grade::Nowhere;
            }
            match queues_of(c, as_root, all) {
                Ok(queues) => {
                    // A namespace of its own shows only its queues; one the
                    // host lists too would mean we read the wrong table.
                    let own: Vec<_> = queues.iter().filter(|q| !host.contains(q)).collect();
                    match own.first() {
                        Some(q) => Grade::Done(format!(
                            "{} is in an IPC namespace of its own, and it holds message queue {} (key {}) that the host's `ipcs -q` does not list",
                            c.label(),
                            q.id,
                            key_text(q.key)
                        )),
                        None => Grade::Partly(
                            2,
                            format!(
                                "{} has its own IPC namespace but no queue in it: `ipcmk -Q` ran outside it (or after the process it ran in had exited); run it inside (e.g. `sudo nsenter -t {} -i ipcmk -Q`; for a namespace of your own user namespace, `nsenter -t {} -U -i --preserve-credentials ipcmk -Q`)",
                                c.label(),
                                c.pid,
                                c.pid
                            ),
                        ),
                    }
                }
                Err(why) => Grade::Partly(
                    1,
                    format!(
                        "{} has its own IPC namespace, but its queues cannot be read ({why}); run the check with sudo",
                        c.label()
                    ),
                ),
            }
        },
        nothing(
            &host,
            all.graded.uid,
            &all.none("is in an IPC namespace other than the host's"),
        ),
    )
}

/// What to say when no process has an IPC namespace of its own: if the
/// graded user made a queue on the host, that is the mistake.
fn nothing(host: &[MsgQueueInfo], uid: u32, none: &str) -> String {
    let fix = "start a process with `sudo unshare --ipc` (as an ordinary user, `unshare --user --map-root-user --ipc`), make the queue with `ipcmk -Q` inside it, and leave it running";
    match host.iter().find(|q| q.creator_uid == uid) {
        Some(q) => format!(
            "no IPC namespace of its own (the queue is on the host): queue {} (key {}) was made without `unshare --ipc`, so every process of the host sees it; remove it with `ipcrm -q {}`, then {fix}",
            q.id,
            key_text(q.key),
            q.id
        ),
        None => format!("no IPC namespace of its own: {none}; {fix}"),
    }
}

fn key_text(key: i32) -> String {
    format!("0x{:08x}", key as u32)
}

/// The message queues of a process's IPC namespace, read by entering it as
/// the course teaches (`nsenter -t PID -i`): /proc/sysvipc/msg, what
/// `ipcs -q` reads, answers for the reader's IPC namespace. Without root,
/// the namespace's user namespace is entered first, keeping our own uid.
fn queues_of(c: &Candidate, as_root: bool, all: &Candidates) -> Result<Vec<MsgQueueInfo>, String> {
    let own_user = c.own(Kind::User, &all.host);
    let table =
        super::grade::read_inside(c, as_root, own_user, &["-i", "cat", "/proc/sysvipc/msg"])?;
    Ok(sysvipc::parse(&table))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_on_the_host_is_named_as_the_mistake() {
        let q = MsgQueueInfo {
            key: -5,
            id: 7,
            creator_uid: 1000,
            ctime: 0,
        };
        let text = nothing(std::slice::from_ref(&q), 1000, "none");
        assert!(text.contains("(the queue is on the host)"), "{text}");
        assert!(text.contains("0xfffffffb") && text.contains("ipcrm -q 7"));
        assert!(!nothing(&[q], 0, "none").contains("on the host"));
    }
}
