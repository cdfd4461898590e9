//! `learnns challenge 5 --clean`: remove exactly what the task made, the
//! network namespace `lab` and the veth `lab-h`, showing each command.

use std::time::{Duration, Instant};

use super::{HOST_END, INSIDE_END, NETNS, Netns, RUN_NETNS, find, ip_output, links, netns_state};
use crate::error::{Error, Result};

/// Print and run one `ip` command; say so when it fails.
fn run_shown(args: &[&str]) -> bool {
    outln!("$ ip {}", args.join(" "));
    match ip_output(args) {
        Ok(_) => true,
        Err(e) => {
            outln!("  failed: {e}");
            false
        }
    }
}

/// `learnns challenge 5 --clean`: remove the netns `lab` and, if still
/// there, the veth `lab-h`; nothing else.
pub fn clean() -> Result<i32> {
    if !nix::unistd::geteuid().is_root() {
        return Err(Error::usage(
            "removing `lab` and `lab-h` needs root",
            "sudo learnns challenge 5 --clean",
        ));
    }
    let mut ok = true;
    match netns_state() {
        Netns::Own | Netns::Host => ok &= run_shown(&["netns", "del", NETNS]),
        Netns::Missing => outln!("No network namespace `{NETNS}`: nothing to delete there."),
        Netns::NotNet(what) => outln!(
            "Left alone: {RUN_NETNS} is not a network namespace ({what}); the task did not make it."
        ),
    }
    // The namespace is destroyed a moment after its last user leaves, and
    // lab-c with it, and so lab-h: wait for that before deleting anything.
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut left = links(None).unwrap_or_default();
    while find(&left, HOST_END).is_some() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        left = links(None).unwrap_or_default();
    }
    match find(&left, HOST_END) {
        None => outln!("No link `{HOST_END}` on the host (any more)."),
        Some(h) if h.kind.as_deref() == Some("veth") => {
            ok &= run_shown(&["link", "del", HOST_END]);
        }
        Some(h) => outln!(
            "Left alone: `{HOST_END}` is a {} link, not the task's veth.",
            h.kind.as_deref().unwrap_or("plain")
        ),
    }
    if let Some(c) = find(&left, INSIDE_END).filter(|_| find(&left, HOST_END).is_none()) {
        outln!(
            "Left alone: a `{INSIDE_END}` ({}) on the host that is not `{HOST_END}`'s peer.",
            c.kind.as_deref().unwrap_or("plain")
        );
    }
    outln!(
        "/run/netns stays a mount point (`ip netns add` made it one); it may hold other namespaces, so learnns does not unmount it."
    );
    Ok(if ok { 0 } else { 1 })
}
