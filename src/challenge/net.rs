//! Challenge 5: a named network namespace `lab`, a veth pair `lab-h` (on
//! the host) and `lab-c` (inside `lab`), both up, on a /30 of a
//! documentation range the host does not use, answering pings both ways.
//!
//! Unlike the other challenges, nothing here is a process: the state is
//! read from the kernel with `ip -j` (the tool the lesson teaches) and
//! `/proc/self/mountinfo`, then one ICMP echo goes from the host to
//! `lab-c` and one from inside `lab` to `lab-h`: never anywhere else.

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{Candidates, Verdict};
use crate::error::{Error, Result};
use crate::icmp;
use crate::network::{self, InUse};
use crate::ns::Kind;

const NETNS: &str = "lab";
const RUN_NETNS: &str = "/run/netns/lab";
const HOST_END: &str = "lab-h";
const INSIDE_END: &str = "lab-c";
mod clean;
pub use clean::clean;

const ECHO_WAIT: Duration = Duration::from_secs(2);

/// The documentation ranges of RFC 5737, each a /24.
const DOC_RANGES: [Ipv4Addr; 3] = [
    Ipv4Addr::new(192, 0, 2, 0),
    Ipv4Addr::new(198, 51, 100, 0),
    Ipv4Addr::new(203, 0, 113, 0),
];

/// One link, as `ip -j -d addr show` describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Link {
    pub(super) name: String,
    pub(super) ifindex: u32,
    /// A veth's peer's ifindex (in whatever namespace the peer is).
    pub(super) peer: Option<u32>,
    /// Administratively up (`ip link set ... up`).
    pub(super) up: bool,
    pub(super) kind: Option<String>,
    pub(super) v4: Vec<(Ipv4Addr, u8)>,
}

/// What `/run/netns/lab` is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Netns {
    Missing,
    /// There, but not a network namespace: what it is instead.
    NotNet(String),
    /// The host's own network namespace, bound under that name.
    Host,
    Own,
}

/// Everything the check reads before sending anything.
#[derive(Debug, Clone)]
struct Seen {
    netns: Netns,
    host: Vec<Link>,
    inside: Vec<Link>,
    used: Vec<InUse>,
}

/// The pair, once everything that can be read is right.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pair {
    host: Ipv4Addr,
    inside: Ipv4Addr,
    prefix: u8,
    lo_up: bool,
}

fn mask(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

pub(super) fn network_of(addr: Ipv4Addr, prefix: u8) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(addr) & mask(prefix))
}

/// Parse `ip -j -d addr show` output.
pub(super) fn parse_links(json: &str) -> std::result::Result<Vec<Link>, String> {
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("unreadable `ip -j` output: {e}"))?;
    let list = value.as_array().cloned().unwrap_or_default();
    Ok(list
        .iter()
        .map(|l| {
            let flags: Vec<&str> = l["flags"]
                .as_array()
                .map(|f| f.iter().filter_map(|x| x.as_str()).collect())
                .unwrap_or_default();
            let v4 = l["addr_info"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter(|x| x["family"] == "inet")
                        .filter_map(|x| {
                            let addr = x["local"].as_str()?.parse().ok()?;
                            let prefix = u8::try_from(x["prefixlen"].as_u64()?).ok()?;
                            Some((addr, prefix))
                        })
                        .collect()
                })
                .unwrap_or_default();
            Link {
                name: l["ifname"].as_str().unwrap_or_default().to_string(),
                ifindex: l["ifindex"].as_u64().unwrap_or(0) as u32,
                peer: l["link_index"].as_u64().map(|i| i as u32),
                up: flags.contains(&"UP"),
                kind: l["linkinfo"]["info_kind"].as_str().map(String::from),
                v4,
            }
        })
        .collect())
}

/// Run `ip ARGS` and return its standard output, or its first error line.
fn ip_output(args: &[&str]) -> std::result::Result<String, String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(err.lines().next().unwrap_or("ip failed").trim().to_string());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The links of the host (`ns` None) or of `lab`.
pub(super) fn links(ns: Option<&str>) -> std::result::Result<Vec<Link>, String> {
    let mut args = vec!["-j", "-d"];
    if let Some(ns) = ns {
        args.extend(["-n", ns]);
    }
    args.extend(["addr", "show"]);
    parse_links(&ip_output(&args)?)
}

/// What `/run/netns/lab` is, from the mount table: `ip netns add` bind
/// mounts the namespace there, and mountinfo names its type (`net:[...]`).
fn netns_state() -> Netns {
    if std::fs::symlink_metadata(RUN_NETNS).is_err() {
        return Netns::Missing;
    }
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mounted = table.lines().rev().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let dash = f.iter().position(|w| *w == "-")?;
        (f.get(4) == Some(&RUN_NETNS)).then(|| (f[3].to_string(), f[dash + 1].to_string()))
    });
    match mounted {
        None => Netns::NotNet("a plain file, nothing is mounted on it".into()),
        Some((root, fstype)) if fstype != "nsfs" || !root.starts_with("net:[") => {
            Netns::NotNet(format!("{fstype} `{root}` is mounted on it"))
        }
        Some(_) => {
            let host = super::candidates::identity("/proc/1/ns/net");
            if host.is_some() && host == super::candidates::identity(RUN_NETNS) {
                Netns::Host
            } else {
                Netns::Own
            }
        }
    }
}

fn find<'a>(list: &'a [Link], name: &str) -> Option<&'a Link> {
    list.iter().find(|l| l.name == name)
}

/// The RFC 5737 range an address is in, if any.
fn doc_range(addr: Ipv4Addr) -> Option<Ipv4Addr> {
    DOC_RANGES.into_iter().find(|r| network_of(addr, 24) == *r)
}

/// A /30 to suggest in a fix: one nothing on the host uses.
fn suggestion() -> String {
    network::suggest_subnet()
        .map(|s| format!("{}/30 and {}/30", s.host(), s.container()))
        .unwrap_or_else(|| "198.51.100.1/30 and 198.51.100.2/30".into())
}

/// The first IPv4 address of one end that fits the task, or why none does.
fn address(link: &Link, add: &str) -> std::result::Result<(Ipv4Addr, u8), String> {
    let name = &link.name;
    let Some(&(addr, prefix)) = link
        .v4
        .iter()
        .find(|(a, _)| doc_range(*a).is_some())
        .or(link.v4.first())
    else {
        return Err(format!(
            "`{name}` has no IPv4 address: `{add} ADDRESS/30 dev {name}` (e.g. {})",
            suggestion()
        ));
    };
    if doc_range(addr).is_none() {
        return Err(format!(
            "`{name}` has {addr}/{prefix}, which is outside the documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24): use a /30 of one of them the host does not use, e.g. {}",
            suggestion()
        ));
    }
    if prefix < 30 {
        return Err(format!(
            "`{name}` has {addr}/{prefix}: a /{prefix} is wider than the /30 the task asks for; delete it (`{} {addr}/{prefix} dev {name}`) and add a /30",
            add.replace(" add", " del")
        ));
    }
    if prefix > 31 {
        return Err(format!(
            "`{name}` has {addr}/{prefix}: a /{prefix} leaves no room for the other end; use a /30"
        ));
    }
    let net = network_of(addr, prefix);
    let last = Ipv4Addr::from(u32::from(net) | !mask(prefix));
    if prefix == 30 && (addr == net || addr == last) {
        return Err(format!(
            "`{name}` has {addr}/30, the {} address of {net}/30: the two ends take the two addresses between",
            if addr == net { "network" } else { "broadcast" }
        ));
    }
    Ok((addr, prefix))
}

/// Grade everything that can be read without sending a packet.
fn judge(seen: &Seen) -> std::result::Result<Pair, Vec<String>> {
    match &seen.netns {
        Netns::Missing => {
            return Err(vec![format!(
                "there is no network namespace named `{NETNS}` ({RUN_NETNS} does not exist): `ip netns add {NETNS}`"
            )]);
        }
        Netns::NotNet(what) => {
            return Err(vec![format!(
                "{RUN_NETNS} exists but is not a network namespace ({what}); `ip netns add {NETNS}` makes one there"
            )]);
        }
        Netns::Host => {
            return Err(vec![format!(
                "{RUN_NETNS} is the host's own network namespace, not a new one: `ip netns del {NETNS}`, then `ip netns add {NETNS}`"
            )]);
        }
        Netns::Own => {}
    }
    let pair_cmd = format!("ip link add {HOST_END} type veth peer name {INSIDE_END}");
    let Some(h) = find(&seen.host, HOST_END) else {
        if find(&seen.inside, HOST_END).is_some() {
            return Err(vec![format!(
                "`{HOST_END}` is inside `{NETNS}`, but it is the host's end: `ip -n {NETNS} link set {HOST_END} netns 1` brings it back"
            )]);
        }
        return Err(vec![format!(
            "there is no link `{HOST_END}` on the host: make the pair with `{pair_cmd}`"
        )]);
    };
    if h.kind.as_deref() != Some("veth") {
        return Err(vec![format!(
            "`{HOST_END}` is a {} link, not a veth: `ip link del {HOST_END}`, then `{pair_cmd}`",
            h.kind.as_deref().unwrap_or("plain")
        )]);
    }
    let Some(c) = find(&seen.inside, INSIDE_END) else {
        if find(&seen.host, INSIDE_END).is_some() {
            return Err(vec![format!(
                "`{INSIDE_END}` is still on the host, not moved into `{NETNS}`: `ip link set {INSIDE_END} netns {NETNS}`"
            )]);
        }
        return Err(vec![format!(
            "there is no link `{INSIDE_END}` in `{NETNS}` (nor on the host): `{pair_cmd}`, then `ip link set {INSIDE_END} netns {NETNS}`"
        )]);
    };
    if h.peer != Some(c.ifindex) || c.peer != Some(h.ifindex) {
        return Err(vec![format!(
            "`{INSIDE_END}` in `{NETNS}` is not the other end of `{HOST_END}`: make them one pair with `{pair_cmd}`"
        )]);
    }
    let mut reasons = Vec::new();
    if !h.up {
        reasons.push(format!("`{HOST_END}` is DOWN: `ip link set {HOST_END} up`"));
    }
    if !c.up {
        reasons.push(format!(
            "`{INSIDE_END}` in `{NETNS}` is DOWN: `ip -n {NETNS} link set {INSIDE_END} up`"
        ));
    }
    let ha = address(h, "ip addr add");
    let ca = address(c, &format!("ip -n {NETNS} addr add"));
    let ((hip, hp), (cip, cp)) = match (ha, ca) {
        (Ok(h), Ok(c)) => (h, c),
        (h, c) => {
            reasons.extend(h.err());
            reasons.extend(c.err());
            return Err(reasons);
        }
    };
    if hp != cp || network_of(hip, hp) != network_of(cip, cp) {
        reasons.push(format!(
            "the ends are in different subnets: `{HOST_END}` has {hip}/{hp} (in {}/{hp}), `{INSIDE_END}` has {cip}/{cp} (in {}/{cp}); give them the two addresses of one /30",
            network_of(hip, hp),
            network_of(cip, cp)
        ));
        return Err(reasons);
    }
    if hip == cip {
        reasons.push(format!(
            "both ends have {hip}: each end needs its own address of the /30"
        ));
        return Err(reasons);
    }
    let net = network_of(hip, hp);
    let theirs = |by: &str| by == HOST_END || by == format!("a route via {HOST_END}");
    let both = |m: u32| mask(hp) & m;
    if let Some(u) = seen.used.iter().find(|u| {
        !theirs(&u.by) && u32::from(net) & both(u.mask) == u32::from(u.network) & both(u.mask)
    }) {
        reasons.push(format!(
            "{net}/{hp} overlaps {}/{}, which this host already uses ({}): packets for the pair and for that network would be confused; pick a /30 the host does not use, e.g. {}",
            network_of(u.network, u.mask.leading_ones() as u8),
            u.mask.leading_ones(),
            u.by,
            suggestion()
        ));
    }
    if !reasons.is_empty() {
        return Err(reasons);
    }
    Ok(Pair {
        host: hip,
        inside: cip,
        prefix: hp,
        lo_up: find(&seen.inside, "lo").is_some_and(|l| l.up),
    })
}

/// The device the route to `to` goes out of, on the host or in `lab`.
pub(super) fn route_dev(ns: Option<&str>, to: Ipv4Addr) -> Option<String> {
    let to = to.to_string();
    let mut args = vec!["-j"];
    if let Some(ns) = ns {
        args.extend(["-n", ns]);
    }
    args.extend(["route", "get", &to]);
    let json: serde_json::Value = serde_json::from_str(&ip_output(&args).ok()?).ok()?;
    json[0]["dev"].as_str().map(String::from)
}

/// One echo from the host, or from inside `lab` (a child of learnns that
/// joins the namespace bound at /run/netns/lab). The line ping would print,
/// and whether it was answered.
fn echo(inside: bool, to: Ipv4Addr) -> Result<(String, bool)> {
    if !inside {
        let echo = icmp::echo(to, ECHO_WAIT)?;
        let answered = matches!(echo, icmp::Echo::Reply { .. });
        return Ok((icmp::describe(to, &echo, ECHO_WAIT), answered));
    }
    let ns = std::fs::File::open(RUN_NETNS).map_err(|e| Error::io(RUN_NETNS, e))?;
    let (read_end, write_end) = nix::unistd::pipe().map_err(|e| Error::sys("pipe", e))?;
    let child = crate::sys::fork_into(Vec::new(), vec![(Kind::Net, ns.into())], move || {
        icmp::echo_and_report(to, ECHO_WAIT, write_end)
    })?;
    icmp::read_report(
        read_end,
        child,
        &format!("learnns could not send the echo request from inside `{NETNS}`"),
    )
}

fn missing(reasons: Vec<String>) -> Verdict {
    Verdict::Missing {
        closest: None,
        reasons,
    }
}

/// Challenge 5: grade the pair (no process is graded: `_all` is unused).
pub fn check(_all: &Candidates) -> Verdict {
    if !nix::unistd::geteuid().is_root() {
        return missing(vec![
            "this check reads `lab` and pings from inside it, which needs root: `sudo learnns challenge 5 --check`".into(),
        ]);
    }
    let netns = netns_state();
    let host = links(None);
    let inside = if netns == Netns::Own {
        links(Some(NETNS))
    } else {
        Ok(Vec::new())
    };
    let (host, inside) = match (host, inside) {
        (Ok(h), Ok(i)) => (h, i),
        (Err(e), _) | (_, Err(e)) => {
            return missing(vec![format!("`ip` could not list the links: {e}")]);
        }
    };
    let seen = Seen {
        netns,
        host,
        inside,
        used: network::host_networks(),
    };
    let pair = match judge(&seen) {
        Ok(pair) => pair,
        Err(reasons) => return missing(reasons),
    };
    // Never send a packet that would leave by another link than the pair's.
    for (ns, to, dev, side) in [
        (None, pair.inside, HOST_END, "on the host"),
        (Some(NETNS), pair.host, INSIDE_END, "in `lab`"),
    ] {
        let via = route_dev(ns, to);
        if via.as_deref() != Some(dev) {
            return missing(vec![format!(
                "{side}, the route to {to} goes {} rather than via `{dev}`, so learnns sends no echo there; `ip{} route get {to}` shows it",
                via.map(|d| format!("via `{d}`"))
                    .unwrap_or_else(|| "nowhere".into()),
                ns.map(|n| format!(" -n {n}")).unwrap_or_default()
            )]);
        }
    }
    let mut lines = Vec::new();
    let mut reasons = Vec::new();
    for (inside, to, from, at) in [
        (false, pair.inside, "the host", INSIDE_END),
        (true, pair.host, "inside `lab`", HOST_END),
    ] {
        match echo(inside, to) {
            Ok((line, true)) => lines.push(format!("from {from} to `{at}`: {line}")),
            Ok((line, false)) => reasons.push(format!(
                "an echo from {from} to `{at}` ({to}) got no answer: {line}; look for a firewall rule dropping ICMP (`nft list ruleset`)"
            )),
            Err(e) => reasons.push(format!("learnns could not ping from {from}: {e}")),
        }
    }
    if !reasons.is_empty() {
        return missing(reasons);
    }
    let lo = if pair.lo_up {
        "`lo` in `lab` is up (not needed for the task, but fine)"
    } else {
        "`lo` in `lab` is down: fine for this task (`ip -n lab link set lo up` gives `lab` its 127.0.0.1)"
    };
    Verdict::Pass {
        pid: 0,
        what: format!(
            "network namespace `lab` holds `{INSIDE_END}` ({}/{p}, UP), the other end of `{HOST_END}` on the host ({}/{p}, UP), on {}/{p}, which nothing else on the host uses. Echo {}; echo {}. {lo}.",
            pair.inside,
            pair.host,
            network_of(pair.host, pair.prefix),
            lines[0],
            lines[1],
            p = pair.prefix
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(name: &str, ifindex: u32, peer: u32, addr: &str) -> Link {
        let v4 = addr
            .split_once('/')
            .map(|(a, p)| vec![(a.parse().unwrap(), p.parse().unwrap())])
            .unwrap_or_default();
        Link {
            name: name.into(),
            ifindex,
            peer: Some(peer),
            up: true,
            kind: Some("veth".into()),
            v4,
        }
    }

    fn eth0() -> Vec<InUse> {
        vec![InUse {
            network: Ipv4Addr::new(192, 0, 2, 0),
            mask: mask(24),
            by: "a route via eth0".into(),
        }]
    }

    fn seen(h: &str, c: &str) -> Seen {
        Seen {
            netns: Netns::Own,
            host: vec![link("lab-h", 7, 6, h)],
            inside: vec![link("lab-c", 6, 7, c)],
            used: eth0(),
        }
    }

    fn reasons(s: &Seen) -> String {
        judge(s).unwrap_err().join(" ")
    }

    #[test]
    fn the_right_pair_passes_and_lo_may_be_down() {
        let pair = judge(&seen("198.51.100.1/30", "198.51.100.2/30")).unwrap();
        assert_eq!(pair.inside, Ipv4Addr::new(198, 51, 100, 2));
        assert!(!pair.lo_up);
        assert!(judge(&seen("203.0.113.8/31", "203.0.113.9/31")).is_ok());
    }

    #[test]
    fn mistakes_are_named() {
        let mut s = seen("198.51.100.1/30", "198.51.100.2/30");
        s.host[0].up = false;
        assert!(reasons(&s).contains("`ip link set lab-h up`"));
        let s = seen("192.0.2.5/30", "192.0.2.6/30");
        assert!(
            reasons(&s).contains("overlaps 192.0.2.0/24"),
            "{}",
            reasons(&s)
        );
        let s = seen("198.51.100.1/30", "198.51.100.6/30");
        assert!(reasons(&s).contains("different subnets"));
        let s = seen("198.51.100.1/24", "198.51.100.2/24");
        assert!(reasons(&s).contains("wider than the /30"));
        let s = seen("10.0.0.1/30", "10.0.0.2/30");
        assert!(reasons(&s).contains("outside the documentation ranges"));
        let s = seen("198.51.100.3/30", "198.51.100.2/30");
        assert!(reasons(&s).contains("broadcast"));
        let mut s = seen("198.51.100.1/30", "");
        let c = s.inside.remove(0);
        s.host.push(c);
        assert!(reasons(&s).contains("still on the host"));
        s.netns = Netns::Missing;
        assert!(reasons(&s).contains("`ip netns add lab`"));
    }

    #[test]
    fn ip_json_is_read() {
        let json = r#"[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK"],"addr_info":[]},
            {"ifindex":6575,"link_index":6576,"ifname":"lab-c","flags":["BROADCAST","UP"],
             "linkinfo":{"info_kind":"veth"},"addr_info":[{"family":"inet","local":"198.51.100.2","prefixlen":30},
             {"family":"inet6","local":"fe80::1","prefixlen":64}]}]"#;
        let l = parse_links(json).unwrap();
        assert!(!l[0].up);
        assert_eq!(l[1].peer, Some(6576));
        assert_eq!(l[1].v4, vec![(Ipv4Addr::new(198, 51, 100, 2), 30)]);
        assert_eq!(l[1].kind.as_deref(), Some("veth"));
    }
}
