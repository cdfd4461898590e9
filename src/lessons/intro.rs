//! Lesson 0: namespace links, identity, the eight kinds, and an ordinary
//! process that shares all of them.

use super::{Session, Step};
use crate::ns::ORDER;

// ANCHOR: steps
pub fn steps(s: &mut Session) -> Step {
    s.say("opening");
    s.pause()?;

    s.heading("Namespace links in /proc");
    s.say("links");
    let links = s.host(&["ls", "-l", "/proc/self/ns"])?;
    s.check(
        ORDER.iter().all(|k| links.text.contains(&format!("{k}:["))),
        "one link per kind, each reading `kind:[number]`",
        "some kinds are missing: this kernel may lack them (see `learnns doctor`)",
    );

    s.heading("What makes two namespaces the same");
    s.say("identity");
    s.host(&[
        "stat",
        "-L",
        "-c",
        "%n  device %d  inode %i",
        "/proc/self/ns/uts",
        "/proc/self/ns/net",
    ])?;
    s.pause()?;

    s.heading("The eight kinds");
    s.say("kinds");
    let kinds: Vec<String> = ORDER
        .iter()
        .map(|kind| {
            format!(
                "{:<7} {:<16} {}",
                kind.proc_name(),
                kind.clone_flag_name(),
                kind.isolates()
            )
        })
        .collect();
    crate::events::output(kinds.join("\n"));
    s.say("lsns");
    s.host(&["lsns", "--type", "uts"])?;
    s.pause()?;

    s.heading("An ordinary process");
    s.say("ordinary");
    s.start_container()?;
    s.inode_table()?;
    s.check_your_work()
}
// ANCHOR_END: steps
