//! The capstone: the whole container by hand. One process in new uts, ipc,
//! pid (PID 1 with its own /proc), mnt (pivot_root into a root of its
//! own), net (a veth to the host that answers an echo) and cgroup (a
//! pids limit, and a cgroup namespace) namespaces, graded kind by kind.
//!
//! Any hostname will do: the UTS lesson's `lab` was challenge 1; here what
//! counts is that the name is the container's own. Each kind reuses what
//! the challenge of its lesson reads, and the same namespace table the
//! lessons print is shown above the verdict ([`table`]).

use std::net::Ipv4Addr;
use std::time::Duration;

use super::net::{self as netns, Link};
use super::{Candidate, Candidates, Verdict, grade};
use crate::events::Event;
use crate::icmp;
use crate::ns::{Identities, Kind};

/// The kinds a container needs, in the course's order.
pub const REQUIRED: [Kind; 6] = [
    Kind::Uts,
    Kind::Ipc,
    Kind::Pid,
    Kind::Mnt,
    Kind::Net,
    Kind::Cgroup,
];

const ECHO_WAIT: Duration = Duration::from_secs(2);

/// One kind's grade: what is right, or what is missing.
type Mark = std::result::Result<String, String>;

/// Every required kind's mark, in order.
type Marks = Vec<(Kind, Mark)>;

/// Grade the capstone: the process with the most kinds right.
pub fn check(all: &Candidates) -> Verdict {
    let mut best: Option<(usize, &Candidate, Marks)> = None;
    for c in &all.list {
        if !REQUIRED.iter().any(|k| c.own(*k, &all.host)) {
            continue;
        }
        let marks: Marks = REQUIRED.iter().map(|k| (*k, mark(*k, c, all))).collect();
        // Read by PID: gone now, what was read may be another process's.
        if !c.still_there() {
            continue;
        }
        let right = marks.iter().filter(|(_, m)| m.is_ok()).count();
        if best.as_ref().is_none_or(|(n, _, _)| right > *n) {
            best = Some((right, c, marks));
        }
    }
    let Some((right, c, marks)) = best else {
        if let Some(gone) = all
            .list
            .iter()
            .find(|c| all.named == Some(c.pid) && !c.still_there())
        {
            return Verdict::Missing {
                closest: None,
                reasons: vec![grade::gone(gone)],
            };
        }
        return Verdict::Missing {
            closest: None,
            reasons: vec![
                format!("{}: start one with `sudo unshare --uts --ipc --pid --fork --mount-proc --mount --net --cgroup`, then build the rest around it, and leave it running", all.none("is in a namespace of its own of any of the six kinds (uts, ipc, pid, mnt, net, cgroup)")),
            ],
        };
    };
    let lines: Vec<String> = marks
        .iter()
        .map(|(k, m)| match m {
            Ok(what) => format!("✓ {}: {what}", k.proc_name()),
            Err(why) => format!("✗ {}: {why}", k.proc_name()),
        })
        .collect();
    if right == REQUIRED.len() {
        return Verdict::Pass {
            pid: c.pid,
            what: format!(
                "{} is a whole container, built by hand:\n{}",
                c.label(),
                lines.join("\n")
            ),
        };
    }
    let mut reasons = vec![format!(
        "{} got furthest: {right} of the {} kinds {} right.",
        c.label(),
        REQUIRED.len(),
        if right == 1 { "is" } else { "are" }
    )];
    reasons.extend(lines);
    Verdict::Missing {
        closest: Some(c.pid),
        reasons,
    }
}

/// The namespace table of the graded (or closest) process next to
/// learnns's, as the lessons print it.
pub fn table(verdict: &Verdict, width: usize) -> Vec<String> {
    let pid = match verdict {
        Verdict::Pass { pid, .. } => *pid,
        Verdict::Missing {
            closest: Some(pid), ..
        } => *pid,
        Verdict::Missing { closest: None, .. } => return Vec::new(),
    };
    let (Ok(outside), Ok(inside)) = (Identities::of_self(), Identities::of(pid)) else {
        return Vec::new();
    };
    let command = format!(
        "readlink /proc/{}/ns/* /proc/{pid}/ns/*",
        std::process::id()
    );
    crate::render::layout::event(&Event::table(command, &outside, &inside), width)
}

fn mark(kind: Kind, c: &Candidate, all: &Candidates) -> Mark {
    let own = c.own(kind, &all.host);
    match kind {
        Kind::Uts if own => {
            let user = c.own(Kind::User, &all.host);
            Ok(match grade::hostname_of(c, all.graded.as_root, user) {
                Ok(name) => format!("a UTS namespace of its own (hostname `{name}`)"),
                Err(_) => "a UTS namespace of its own".into(),
            })
        }
        Kind::Uts => Err(shared(kind, "its hostname is the host's")),
        Kind::Ipc if own => Ok("an IPC namespace of its own".into()),
        Kind::Ipc => Err(shared(kind, "it sees the host's message queues")),
        Kind::Pid => pid(c, all),
        Kind::Mnt if own => mnt(c.pid),
        Kind::Mnt => Err(shared(
            kind,
            "its mounts are the host's, and so is its `/`; it needs a mount namespace of its own to pivot_root in",
        )),
        Kind::Net if own => net(c),
        Kind::Net => Err(shared(
            kind,
            "it uses the host's interfaces, so there is no veth pair to test",
        )),
        Kind::Cgroup => cgroup(c.pid, own),
        _ => Ok(String::new()),
    }
}

fn shared(kind: Kind, consequence: &str) -> String {
    format!(
        "it shares the host's {} namespace ({consequence}): add `{}` to the `unshare` that starts it",
        kind.proc_name(),
        kind.util_flag()
    )
}

/// Challenge 3's reasoning, on this one process.
fn pid(c: &Candidate, all: &Candidates) -> Mark {
    let one = Candidates {
        host: all.host.clone(),
        graded: all.graded,
        list: vec![c.clone()],
        named: None,
    };
    match grade::pid(&one) {
        Verdict::Pass { .. } => {
            Ok("PID 1 of a PID namespace of its own, with a /proc of that namespace".into())
        }
        Verdict::Missing { closest: None, .. } => Err(shared(
            Kind::Pid,
            "its PIDs are the host's; `--pid --fork --mount-proc` makes it PID 1 with its own /proc",
        )),
        Verdict::Missing { reasons, .. } => Err(reasons.join(" ")),
    }
}

/// The mount at `/` in a mountinfo table: (device, root in it, type,
/// source), the last one mounted there (the one seen).
fn root_mount(mountinfo: &str) -> Option<(String, String, String, String)> {
    mountinfo.lines().rev().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let dash = f.iter().position(|w| *w == "-")?;
        (f.get(4) == Some(&"/")).then(|| {
            (
                f[2].to_string(),
                f[3].to_string(),
                f.get(dash + 1).unwrap_or(&"").to_string(),
                f.get(dash + 2).unwrap_or(&"").to_string(),
            )
        })
    })
}

/// Own mount namespace given: is its `/` a mount other than the host's?
fn mnt(pid: i32) -> Mark {
    let read = |p: &str| std::fs::read_to_string(format!("/proc/{p}/mountinfo")).ok();
    let host = read("1")
        .or_else(|| read("self"))
        .as_deref()
        .and_then(root_mount);
    let Some(theirs) = read(&pid.to_string()) else {
        return Err("its mount table cannot be read; run the check with sudo".into());
    };
    let fix = "mount a root of its own (a tmpfs, or a directory bind-mounted onto itself), `cd` into it, `pivot_root . old`, then `umount -l /old`";
    match root_mount(&theirs) {
        None => Err(format!(
            "nothing is mounted at its `/` (a chroot leaves the old root's mount where it was): {fix}"
        )),
        Some(root) if Some(&root) == host.as_ref() => Err(format!(
            "a mount namespace of its own, but its `/` is still the host's ({} {}): {fix}",
            root.2, root.3
        )),
        Some((_, _, fstype, source)) => Ok(format!(
            "a mount namespace of its own whose `/` is {fstype} `{source}`, not the host's"
        )),
    }
}

/// Own network namespace given: a veth whose peer is on the host, an
/// address on each end in one subnet, and an echo from the host answered.
/// The only packet sent goes to the inside end, and only if the host's
/// route to it leaves by the pair.
fn net(candidate: &Candidate) -> Mark {
    let pid = candidate.pid;
    let inside = std::process::Command::new("nsenter")
        .args([
            "-t",
            &pid.to_string(),
            "-n",
            "ip",
            "-j",
            "-d",
            "addr",
            "show",
        ])
        .stdin(std::process::Stdio::null())
        .output();
    // By PID: what nsenter read is this process's only if it still runs.
    if !candidate.still_there() {
        return Err(grade::gone(candidate));
    }
    let inside = match inside {
        Ok(out) if out.status.success() => {
            netns::parse_links(&String::from_utf8_lossy(&out.stdout))
        }
        _ => Err("`nsenter -n ip addr` failed; run the check with sudo".into()),
    };
    let (inside, host) = match (inside, netns::links(None)) {
        (Ok(i), Ok(h)) => (i, h),
        (Err(e), _) | (_, Err(e)) => return Err(format!("its links cannot be listed: {e}")),
    };
    let (h, c) = pair(&host, &inside, pid)?;
    ends(h, c)?;
    let (ha, ca, p) = addresses(h, c, pid)?;
    if netns::route_dev(None, ca).as_deref() != Some(h.name.as_str()) {
        return Err(format!(
            "the host's route to {ca} does not go via `{}`, so learnns sends no echo there; `ip route get {ca}` shows where it goes",
            h.name
        ));
    }
    match icmp::echo(ca, ECHO_WAIT) {
        Ok(echo @ icmp::Echo::Reply { .. }) => Ok(format!(
            "a network namespace of its own, joined to the host by the veth pair `{}` ({ha}/{p}) ↔ `{}` ({ca}/{p}); from the host: {}",
            h.name,
            c.name,
            icmp::describe(ca, &echo, ECHO_WAIT)
        )),
        Ok(echo) => Err(format!(
            "an echo from the host to `{}` ({ca}) got no answer: {}; look for a firewall rule dropping ICMP (`nft list ruleset`)",
            c.name,
            icmp::describe(ca, &echo, ECHO_WAIT)
        )),
        Err(e) => Err(format!("learnns could not ping {ca} from the host: {e}")),
    }
}

/// The host's end and the inside end of one veth pair.
fn pair<'a>(
    host: &'a [Link],
    inside: &'a [Link],
    pid: i32,
) -> Result<(&'a Link, &'a Link), String> {
    let veth = |l: &&Link| l.kind.as_deref() == Some("veth");
    let found = inside.iter().filter(veth).find_map(|c| {
        let h = host
            .iter()
            .filter(veth)
            .find(|h| Some(h.ifindex) == c.peer && h.peer == Some(c.ifindex))?;
        Some((h, c))
    });
    match found {
        Some(pair) => Ok(pair),
        None if inside.iter().any(|l| veth(&l)) => Err(
            "it has a veth, but its other end is not on the host: move the other end back (`ip link set NAME netns 1`) or make a new pair".into(),
        ),
        None => Err(format!(
            "a network namespace of its own with no veth in it: `ip link add v-h type veth peer name v-c`, then `ip link set v-c netns {pid}`"
        )),
    }
}

fn ends(h: &Link, c: &Link) -> Result<(), String> {
    let mut down = Vec::new();
    if !h.up {
        down.push(format!(
            "`{0}` on the host is DOWN: `ip link set {0} up`",
            h.name
        ));
    }
    if !c.up {
        down.push(format!(
            "`{0}` inside is DOWN: `ip link set {0} up` inside it",
            c.name
        ));
    }
    match down.is_empty() {
        true => Ok(()),
        false => Err(down.join("; ")),
    }
}

fn addresses(h: &Link, c: &Link, pid: i32) -> Result<(Ipv4Addr, Ipv4Addr, u8), String> {
    let example = format!(
        "`ip addr add 198.51.100.1/30 dev {}` on the host, `nsenter -t {pid} -n ip addr add 198.51.100.2/30 dev {}`",
        h.name, c.name
    );
    let (Some(&(ha, hp)), Some(&(ca, cp))) = (h.v4.first(), c.v4.first()) else {
        return Err(format!(
            "the pair `{}` ↔ `{}` needs an IPv4 address on each end: {example}",
            h.name, c.name
        ));
    };
    if hp != cp || netns::network_of(ha, hp) != netns::network_of(ca, cp) || ha == ca {
        return Err(format!(
            "`{}` has {ha}/{hp} and `{}` has {ca}/{cp}: the two ends need two addresses of one subnet, e.g. {example}",
            h.name, c.name
        ));
    }
    Ok((ha, ca, hp))
}

/// A cgroup hierarchy that can hold pids.max: its mount point and the
/// process's path in it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Place {
    mount: String,
    path: String,
}

/// Where pids.max can be: the v1 pids hierarchy, and the v2 tree.
fn places(cgroup: &str, mountinfo: &str) -> Vec<Place> {
    let mut found = Vec::new();
    for line in mountinfo.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let Some(dash) = f.iter().position(|w| *w == "-") else {
            continue;
        };
        let (fstype, opts) = (f.get(dash + 1), f.get(dash + 3).unwrap_or(&""));
        let v1 = fstype == Some(&"cgroup") && opts.split(',').any(|o| o == "pids");
        let v2 = fstype == Some(&"cgroup2");
        let wanted = |controllers: &str| match (v1, v2) {
            (true, _) => controllers.split(',').any(|c| c == "pids"),
            (_, true) => controllers.is_empty(),
            _ => false,
        };
        let path = cgroup.lines().find_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            wanted(controllers).then(|| path.to_string())
        });
        if let Some(path) = path {
            found.push(Place {
                mount: f[4].to_string(),
                path,
            });
        }
    }
    found
}

/// In a cgroup other than the session's with a pids.max that is a number,
/// and in a cgroup namespace of its own.
fn cgroup(pid: i32, own: bool) -> Mark {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let mountinfo = read("/proc/self/mountinfo");
    let session = places(&read("/proc/self/cgroup"), &mountinfo);
    let theirs = places(&read(&format!("/proc/{pid}/cgroup")), &mountinfo);
    let mut unlimited = None;
    let mut limited = None;
    for place in &theirs {
        if session.contains(place) {
            continue;
        }
        let dir = format!("{}{}", place.mount, place.path.trim_end_matches('/'));
        match read(&format!("{dir}/pids.max")).trim().parse::<u64>() {
            Ok(max) => limited = limited.or(Some((dir, max))),
            Err(_) => unlimited = unlimited.or(Some(dir)),
        }
    }
    let Some((dir, max)) = limited else {
        return Err(match unlimited {
            Some(dir) => format!(
                "it is in a cgroup of its own ({dir}), but with no limit: its pids.max is `max`; `echo 20 > {dir}/pids.max`"
            ),
            None => {
                let at = theirs
                    .first()
                    .map_or("/sys/fs/cgroup/pids".into(), |p| p.mount.clone());
                format!(
                    "it is in the same cgroup as your shell: `mkdir {at}/lab`, `echo 20 > {at}/lab/pids.max`, `echo $$ > {at}/lab/cgroup.procs` from the shell that then starts it with `unshare --cgroup`"
                )
            }
        });
    };
    if !own {
        return Err(format!(
            "it is in {dir} with pids.max {max}, but it shares the host's cgroup namespace, so it sees the whole cgroup tree: start it with `unshare --cgroup` after it is in the cgroup (from a shell moved there first)"
        ));
    }
    Ok(format!(
        "in {dir} with pids.max {max}, and a cgroup namespace of its own rooted there"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTS: &str = "\
31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
";

    #[test]
    fn pids_max_is_looked_for_in_v1_and_v2() {
        let cg = "8:pids:/learnns-1\n4:memory:/x\n0::/lab\n";
        assert_eq!(
            places(cg, MOUNTS),
            vec![
                Place {
                    mount: "/sys/fs/cgroup/pids".into(),
                    path: "/learnns-1".into()
                },
                Place {
                    mount: "/sys/fs/cgroup/unified".into(),
                    path: "/lab".into()
                }
            ]
        );
    }

    #[test]
    fn the_root_mount_is_the_last_at_slash() {
        let pivoted =
            "64 42 0:40 / / rw - tmpfs learnns-root rw\n70 64 0:41 / /proc rw - proc proc rw\n";
        assert_eq!(root_mount(pivoted).unwrap().3, "learnns-root");
        assert_eq!(root_mount(MOUNTS).unwrap().0, "254:0");
        assert_eq!(root_mount("70 64 0:41 / /proc rw - proc proc rw\n"), None);
    }

    #[test]
    fn a_pair_needs_both_ends_pointing_at_each_other() {
        let link = |name: &str, ifindex, peer| Link {
            name: name.into(),
            ifindex,
            peer: Some(peer),
            up: true,
            kind: Some("veth".into()),
            v4: vec![],
        };
        let host = [link("v-h", 7, 2)];
        assert!(pair(&host, &[link("v-c", 2, 7)], 9).is_ok());
        let why = pair(&host, &[link("v-c", 2, 8)], 9).unwrap_err();
        assert!(why.contains("not on the host"), "{why}");
        assert!(pair(&host, &[], 9).unwrap_err().contains("no veth"));
        let why = addresses(&host[0], &link("v-c", 2, 7), 9).unwrap_err();
        assert!(why.contains("needs an IPv4 address"), "{why}");
    }
}
