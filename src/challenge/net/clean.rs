//! `learnns challenge 5 --clean`: remove exactly what the task made, the
//! network namespace `lab` and the veth `lab-h`, showing each command.

use std::time::{Duration, Instant};

use super::{HOST_END, INSIDE_END, NETNS, Netns, RUN_NETNS, find, ip_output, links, netns_state};
use crate::error::{Error, Result};
use crate::render::paragraph::paragraph;

/// Is `dir` a mount point of its own (as `mountpoint -q` decides)?
fn is_mount_point(dir: &std::path::Path) -> bool {
    procfs::process::Process::myself()
        .and_then(|p| p.mountinfo())
        .is_ok_and(|info| info.into_iter().any(|m| m.mount_point == dir))
}

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
        Netns::Missing => {
            paragraph(
                &format!("No network namespace `{NETNS}`: nothing to delete there."),
                "",
            );
        }
        Netns::NotNet(what) => paragraph(
            &format!(
                "Left alone: {RUN_NETNS} is not a network namespace ({what}); the task did not make it."
            ),
            "",
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
        None => paragraph(&format!("No link `{HOST_END}` on the host (any more)."), ""),
        Some(h) if h.kind.as_deref() == Some("veth") => {
            ok &= run_shown(&["link", "del", HOST_END]);
        }
        Some(h) => paragraph(
            &format!(
                "Left alone: `{HOST_END}` is a {} link, not the task's veth.",
                h.kind.as_deref().unwrap_or("plain")
            ),
            "",
        ),
    }
    if let Some(c) = find(&left, INSIDE_END).filter(|_| find(&left, HOST_END).is_none()) {
        paragraph(
            &format!(
                "Left alone: a `{INSIDE_END}` ({}) on the host that is not `{HOST_END}`'s peer.",
                c.kind.as_deref().unwrap_or("plain")
            ),
            "",
        );
    }
    // `ip netns add` bind-mounts /run/netns onto itself the first time;
    // other namespaces may be kept in it since, so it stays.
    if is_mount_point(
        std::path::Path::new(RUN_NETNS)
            .parent()
            .unwrap_or(std::path::Path::new("/")),
    ) {
        paragraph(
            "/run/netns stays a mount point (`ip netns add` makes it one); it may hold other namespaces, so learnns does not unmount it.",
            "",
        );
    }
    Ok(if ok { 0 } else { 1 })
}
