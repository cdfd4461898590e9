//! Lesson 1: the UTS namespace. The hostname differs inside, and renaming
//! the container leaves the host's name alone.

use super::{Session, Step};
use crate::container::DEFAULT_HOSTNAME as CONTAINER_HOSTNAME;
use crate::ns::Kind;

// ANCHOR: steps
pub fn steps(s: &mut Session) -> Step {
    s.say("opening");
    s.pause()?;

    if s.has(Kind::Uts) {
        s.heading("A container with its own UTS namespace");
        s.say("create");
    } else {
        s.heading("A container without a UTS namespace");
        s.say("create_shared");
    }
    s.start_container()?;
    s.say("compare");
    let (outside, inside) = s.observe(&["hostname"])?;
    let host_name = outside.text.trim().to_string();
    if s.has(Kind::Uts) {
        s.check(
            inside.text.trim() == CONTAINER_HOSTNAME && host_name != CONTAINER_HOSTNAME,
            &format!("inside says `{CONTAINER_HOSTNAME}`, the host still says `{host_name}`"),
            &format!("inside said `{}`", inside.text.trim()),
        );
    } else {
        s.check(
            inside.text == outside.text,
            "without a UTS namespace the container shares the host's name",
            "the names differ",
        );
    }
    s.pause()?;

    s.heading("Renaming the container");
    if s.has(Kind::Uts) {
        s.say("rename");
        s.inside(&["hostname", "renamed-inside"])?;
        let (after, inside) = s.observe(&["hostname"])?;
        s.check(
            inside.text.trim() == "renamed-inside" && after.text.trim() == host_name,
            &format!("the container is now `renamed-inside`; the host is still `{host_name}`"),
            &format!(
                "inside `{}`, outside `{}`",
                inside.text.trim(),
                after.text.trim()
            ),
        );
    } else {
        s.skip("without a UTS namespace, `hostname` inside would rename the host");
    }
    s.pause()?;

    s.links()?;
    s.check_your_work()
}
// ANCHOR_END: steps
