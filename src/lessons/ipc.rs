//! Lesson 2: the IPC namespace. A message queue made on the host is absent
//! inside, and one made inside never reaches the host.

use super::Session;
use crate::container::cleanup::{self, Undo};
use crate::error::Result;
use crate::ns::Kind;
use crate::sys;

/// The message queue ids in `ipcs -q` output (the second column of rows
/// that start with a hexadecimal key).
pub fn queue_ids(ipcs: &str) -> Vec<i32> {
    ipcs.lines()
        .filter(|line| line.starts_with("0x"))
        .filter_map(|line| line.split_whitespace().nth(1)?.parse().ok())
        .collect()
}

// ANCHOR: steps
pub fn steps(s: &mut Session) -> Result<()> {
    s.say("opening");
    s.pause()?;

    s.heading("A message queue on the host");
    s.say("host_queue");
    let id = sys::msg_queue_create()?;
    let ctime = cleanup::msg_queue_ctime(id).unwrap_or(0);
    let token = cleanup::register(Undo::MsgQueue { id, ctime });
    crate::ui::command_line("$", "ipcmk -Q");
    outln!("    Message queue id: {id}");

    s.heading("The container's queues");
    s.start_container()?;
    s.say("compare");
    let (outside, inside) = s.observe(&["ipcs", "-q"])?;
    let host_before = queue_ids(&outside.text);
    if s.has(Kind::Ipc) {
        s.check(
            host_before.contains(&id) && !queue_ids(&inside.text).contains(&id),
            &format!("queue {id} is listed on the host and absent inside"),
            &format!("inside lists {:?}", queue_ids(&inside.text)),
        );
    } else {
        s.check(
            queue_ids(&inside.text).contains(&id),
            "without an IPC namespace the container sees the host's queue",
            "it does not",
        );
    }
    s.pause()?;

    s.heading("A queue made inside");
    s.say("inner_queue");
    if s.has(Kind::Ipc) {
        s.inside(&["ipcmk", "-Q"])?;
        let (outside, inside) = s.observe(&["ipcs", "-q"])?;
        s.check(
            queue_ids(&inside.text).len() == 1 && queue_ids(&outside.text) == host_before,
            "the container has exactly one queue, and the host's list did not change",
            &format!(
                "inside {:?}, outside {:?}",
                queue_ids(&inside.text),
                queue_ids(&outside.text)
            ),
        );
        s.say("lifetime");
    } else {
        s.skip("skipped: without an IPC namespace, the queue would be made on the host");
    }
    s.pause()?;

    s.links()?;

    s.heading("Tidying up the host");
    cleanup::undo(token);
    crate::ui::command_line("$", &format!("ipcrm -q {id}"));
    s.check(
        cleanup::msg_queue_ctime(id).is_none(),
        &format!("queue {id} is gone from the host"),
        "it is still there",
    );
    s.check_your_work()
}
// ANCHOR_END: steps

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_the_msqid_column() {
        let ipcs = "\n------ Message Queues --------\nkey        msqid      owner      perms      used-bytes   messages    \n0x00000000 3          root       600        0            0           \n0x1234abcd 7          root       644        0            0           \n\n";
        assert_eq!(queue_ids(ipcs), vec![3, 7]);
        assert!(queue_ids("\n------ Message Queues --------\nkey msqid\n\n").is_empty());
    }
}
