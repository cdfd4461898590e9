//! Lesson 2: the IPC namespace. A message queue made on the host is absent
//! inside, and one made inside never reaches the host.

use super::{Session, Step};
use crate::cleanup::{self, Token, Undo};
use crate::error::{Error, Result};
use crate::events::{self, Where};
use crate::ns::Kind;
use crate::sys;

/// The message queues in `ipcs -q` output, as (key, id): rows that start
/// with a hexadecimal key, the id in the second column.
pub fn queues(ipcs: &str) -> Vec<(i32, i32)> {
    ipcs.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let key = words.next()?.strip_prefix("0x")?;
            let key = u32::from_str_radix(key, 16).ok()? as i32;
            Some((key, words.next()?.parse().ok()?))
        })
        .collect()
}

/// The queue ids in `ipcs -q` output.
pub fn queue_ids(ipcs: &str) -> Vec<i32> {
    queues(ipcs).into_iter().map(|(_, id)| id).collect()
}

/// Is there a queue with this key in `ipcs -q` output? A key tells this
/// lesson's queue from those of other runs on a busy machine.
fn lists_key(ipcs: &str, key: i32) -> bool {
    queues(ipcs).iter().any(|(k, _)| *k == key)
}

// ANCHOR: host_queue
/// Make a queue on the host with a key derived from this run (`ipcmk -Q`
/// would pick a random one); its record is in the journal before it exists.
fn host_queue() -> Result<(i32, i32, Token)> {
    let run = cleanup::RunId::current();
    for attempt in 0..cleanup::QUEUE_ATTEMPTS {
        let key = run.queue_key(cleanup::salt(), attempt);
        let token = cleanup::register(Undo::MsgQueue { key, made: None })?;
        match sys::msg_queue_create(key) {
            Ok(id) => {
                crate::failpoint::hit("msgget");
                let ctime = cleanup::msg_queue_ctime(id).unwrap_or(0);
                let made = Some((id, ctime));
                cleanup::made(token, Undo::MsgQueue { key, made })?;
                return Ok((key, id, token));
            }
            // Somebody's queue has this key: not ours to touch, try another.
            Err(nix::Error::EEXIST) => cleanup::release(token),
            Err(e) => {
                cleanup::release(token);
                return Err(Error::sys("msgget", e));
            }
        }
    }
    Err(Error::setup(
        "every message queue key learnns tried is taken on this host",
        "remove stale queues (`ipcs -q`, then `ipcrm -q ID`)",
    ))
}
// ANCHOR_END: host_queue

// ANCHOR: steps
pub fn steps(s: &mut Session) -> Step {
    s.say("opening");
    s.pause()?;

    s.heading("A message queue on the host");
    s.say("host_queue");
    let (key, id, token) = host_queue()?;
    s.show_command(Where::Host, "ipcmk -Q");
    events::output(format!(
        "Message queue id: {id}\n(its key, the first column of ipcs: {key:#010x})"
    ));

    s.heading("The container's queues");
    s.start_container()?;
    if s.has(Kind::Ipc) {
        s.say("compare");
    } else {
        s.say("compare_shared");
    }
    let (outside, inside) = s.observe(&["ipcs", "-q"])?;
    if s.has(Kind::Ipc) {
        s.check(
            lists_key(&outside.text, key) && queues(&inside.text).is_empty(),
            &format!("queue {id} is listed on the host; inside there is no queue at all"),
            &format!("inside lists {:?}", queue_ids(&inside.text)),
        );
    } else {
        s.check(
            lists_key(&inside.text, key),
            "without an IPC namespace the container sees the host's queue",
            "it does not",
        );
    }
    s.pause()?;

    s.heading("A queue made inside");
    if s.has(Kind::Ipc) {
        s.say("inner_queue");
        s.inside(&["ipcmk", "-Q"])?;
        let (outside, inside) = s.observe(&["ipcs", "-q"])?;
        let inner = queues(&inside.text);
        s.check(
            inner.len() == 1 && !lists_key(&outside.text, inner[0].0),
            "the container has exactly one queue, and the host does not list it",
            &format!(
                "inside {:?}, outside {:?}",
                queue_ids(&inside.text),
                queue_ids(&outside.text)
            ),
        );
        s.say("lifetime");
    } else {
        s.skip("without an IPC namespace, the queue would be made on the host");
    }
    s.pause()?;

    s.links()?;

    s.heading("Tidying up the host");
    cleanup::undo(token);
    s.show_command(Where::Host, &format!("ipcrm -q {id}"));
    s.check(
        !crate::sysvipc::msg_queues().iter().any(|q| q.key == key),
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
        let ipcs = "\n------ Message Queues --------\nkey        msqid      owner      perms      used-bytes   messages    \n0x00000000 3          root       600        0            0           \n0x8234abcd 7          root       644        0            0           \n\n";
        assert_eq!(queue_ids(ipcs), vec![3, 7]);
        assert_eq!(queues(ipcs)[1], (0x8234abcdu32 as i32, 7));
        assert!(lists_key(ipcs, 0x8234abcdu32 as i32));
        assert!(queue_ids("\n------ Message Queues --------\nkey msqid\n\n").is_empty());
    }
}
