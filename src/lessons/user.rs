//! Lesson 6: the user namespace. Root inside, an unused range of host IDs
//! outside, and a file of the host's root that root inside cannot change.

use std::path::PathBuf;

use super::{Session, Step};
use crate::cleanup;
use crate::error::Result;
use crate::ns::Kind;

/// How many IDs the container gets when learnns runs as root: root inside
/// becomes the first of a range of host IDs nobody on this machine uses.
pub const COUNT: u32 = 65536;

/// Where the host's file appears inside the container.
const INSIDE: &str = "/host-file";

// ANCHOR: steps
pub fn steps(s: &mut Session) -> Step {
    s.say("opening");
    s.pause()?;
    if s.lacks(Kind::User)? {
        return Ok(());
    }

    s.heading("Root inside, somebody else outside");
    let root = nix::unistd::geteuid().is_root();
    let bound = s.has(Kind::Mnt) && root;
    let unused = if root {
        // A range of its own for each run, so concurrent lessons differ.
        Some(crate::ids::unused(COUNT, std::process::id())?)
    } else {
        None
    };
    s.spec.id_map = unused;
    // As root, a file of learnns's own making; without root, one the host's
    // root already owns (learnns could not make one), which the kernel keeps
    // as safe from the container's root as from the learner.
    let host_file = if bound {
        Some(host_file()?)
    } else if s.has(Kind::Mnt) {
        roots_file().map(|path| (path, None))
    } else {
        None
    };
    if let Some((path, _)) = &host_file {
        s.spec.binds.push((path.clone(), PathBuf::from(INSIDE)));
    }
    s.say("map");
    s.say(if root { "map_root" } else { "map_user" });
    let pid = s.start_container()?.pid;
    if let Some(map) = unused {
        s.note(&format!(
            "(To type that line yourself, unshare needs newuidmap and newgidmap, from the uidmap package, and ranges for root of {} IDs from {} in /etc/subuid and from {} in /etc/subgid: a map of more than one ID is written through them. learnns writes the map itself.)",
            map.count, map.uid, map.gid
        ));
    }
    let (_, id) = s.observe(&["id"])?;
    let (_, map) = s.observe(&["cat", "/proc/self/uid_map"])?;
    let expected = match unused {
        Some(map) => map.uid,
        None => nix::unistd::geteuid().as_raw(),
    };
    let fields: Vec<&str> = map.text.split_whitespace().collect();
    s.check(
        id.text.starts_with("uid=0(root)")
            && fields.first() == Some(&"0")
            && fields.get(1) == Some(&expected.to_string().as_str()),
        &format!("inside, `id` says root, and root inside is {expected} outside"),
        &format!(
            "id said `{}`, the map `{}`",
            id.text.trim(),
            map.text.trim()
        ),
    );
    s.say("host_view");
    let status = s.host(&["grep", "^Uid:", &format!("/proc/{pid}/status")])?;
    s.check(
        status.text.split_whitespace().nth(1) == Some(expected.to_string().as_str()),
        &format!("the host sees the container's root as user {expected}"),
        "it sees another user",
    );
    s.pause()?;

    s.heading("A file of the host's root");
    match &host_file {
        Some((path, _token)) => {
            s.say("host_file");
            let before = std::fs::read_to_string(path).unwrap_or_default();
            s.inside(&["ls", "-ln", INSIDE])?;
            let write = s.inside(&["sh", "-c", &format!("echo changed >> {INSIDE}")])?;
            let after = std::fs::read_to_string(path).unwrap_or_default();
            s.check(
                write.status != Some(0) && before == after,
                "root inside could not change the host root's file",
                "the write went through",
            );
        }
        None => {
            s.skip("without a mount namespace of its own there is nowhere to put the host's file")
        }
    }
    s.pause()?;

    s.heading("Why rootless containers start with the user namespace");
    s.say("rootless");
    s.say("privilege");
    s.pause()?;

    s.links()?;
    s.check_your_work()
}
// ANCHOR_END: steps

/// A small file owned by the host's root, in learnns's private directory
/// (never at a name another user could plant a link at), removed at the end.
fn host_file() -> Result<(PathBuf, Option<cleanup::Token>)> {
    let (path, token) = cleanup::private_file("host-file", b"owned by the host's root\n", 0o644)?;
    Ok((path, Some(token)))
}

/// A file the host's root owns and nobody else may write.
fn roots_file() -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    ["/etc/hostname", "/etc/passwd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| {
            std::fs::symlink_metadata(p)
                .is_ok_and(|m| m.is_file() && m.uid() == 0 && m.mode() & 0o022 == 0)
        })
}
