//! Lesson 5: the network namespace. Only `lo`, and it is down; a veth pair
//! to the host on a documentation subnet; ping both ways; routes and sockets
//! are per namespace; all of it removed.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use super::{Session, Step};
use crate::container::Container;
use crate::error::{Error, Result};
use crate::events::{self, Where};
use crate::icmp;
use crate::network::{self, Subnet};
use crate::ns::{Kind, KindSet};

/// Interfaces in `ip link` output: lines like `1: lo: <...> ... state DOWN`.
pub fn interfaces(ip_link: &str) -> Vec<(String, bool)> {
    ip_link
        .lines()
        .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .filter_map(|l| {
            let name = l.split(": ").nth(1)?.split('@').next()?.to_string();
            Some((name, l.contains("state UP") || l.contains(",UP")))
        })
        .collect()
}

/// The fallback devices of the tunnel drivers: while a driver's module is
/// loaded, the kernel adds its device to every new network namespace, DOWN
/// (unless `net.core.fb_tunnels_only_for_init_net` says otherwise).
pub const FALLBACK_TUNNELS: [&str; 9] = [
    "tunl0", "sit0", "ip6tnl0", "gre0", "gretap0", "erspan0", "ip_vti0", "ip6_vti0", "ip6gre0",
];

/// A fresh network namespace, as `ip link` lists it: `lo`, DOWN, and
/// nothing else but DOWN fallback tunnels. Some(the tunnels) if so.
pub fn fresh_stack(found: &[(String, bool)]) -> Option<Vec<String>> {
    let lo_down = found.iter().any(|(name, up)| name == "lo" && !up);
    let others: Vec<&(String, bool)> = found.iter().filter(|(name, _)| name != "lo").collect();
    let all_fallback = others
        .iter()
        .all(|(name, up)| !up && FALLBACK_TUNNELS.contains(&name.as_str()));
    (lo_down && all_fallback).then(|| others.iter().map(|(name, _)| name.clone()).collect())
}

// ANCHOR: steps
pub fn steps(s: &mut Session) -> Step {
    s.say("opening");
    s.pause()?;
    if !s.has(Kind::Net) {
        s.skip("your kind flags left the network namespace out, and every step here needs one (without it they would act on the host's network)");
        s.start_container()?;
        s.links()?;
        return by_hand(s, None);
    }
    network::require_ip()?;

    s.heading("An empty network stack");
    s.start_container()?;
    s.say("empty");
    let (_, inside) = s.observe(&["ip", "link"])?;
    let found = interfaces(&inside.text);
    let claim = match fresh_stack(&found) {
        Some(tunnels) if !tunnels.is_empty() => format!(
            "inside, lo is DOWN; the other links ({}) are DOWN fallback tunnels, which the kernel adds to every new network namespace",
            tunnels.join(", ")
        ),
        _ => "inside there is only lo, and it is DOWN".to_string(),
    };
    s.check(
        fresh_stack(&found).is_some(),
        &claim,
        &format!("inside lists {found:?}"),
    );
    s.pause()?;

    s.heading("Its own loopback");
    s.say("loopback");
    s.inside(&["ip", "link", "set", "lo", "up"])?;
    let answered = ping(s, Side::Inside, Ipv4Addr::LOCALHOST)?;
    s.check(answered, "127.0.0.1 answers inside", "ping failed");
    s.pause()?;

    s.heading("A cable to the host");
    let Some(veth) = cable(s)? else {
        s.skip("making the host's end of a veth pair needs root on the host");
        s.say("no_veth");
        s.pause()?;
        s.heading("Routes are per namespace");
        s.skip("without the veth pair there is no route to compare: the container's table is empty, since its lo is the only link it has");
        s.say("dns");
        s.pause()?;
        sockets(s)?;
        s.heading("Taking the cable away");
        s.skip("there is no cable to take away");
        s.pause()?;
        s.heading("A namespace with no process in it");
        s.skip("entering the kept namespace from the host (setns) needs CAP_SYS_ADMIN in your own user namespace too, not only over the namespace, and an ordinary user has none on the host");
        s.pause()?;
        s.links()?;
        return by_hand(s, None);
    };
    let subnet = veth.subnet;
    s.pause()?;

    s.heading("Routes are per namespace");
    s.say("routes");
    let (_, routes) = s.observe(&["ip", "route"])?;
    s.check(
        routes.text.contains(&subnet.to_string()) && !routes.text.contains("default"),
        &format!("inside, the only route is {subnet}; there is no default route"),
        "the container has other routes",
    );
    s.say("dns");
    s.pause()?;

    sockets(s)?;

    s.heading("Taking the cable away");
    s.say("cleanup");
    s.show_command(Where::Host, &format!("ip link delete {}", veth.host));
    let host_end = veth.host.clone();
    drop(veth);
    let after = std::path::Path::new("/sys/class/net")
        .join(&host_end)
        .exists();
    s.check(
        !after,
        &format!("{host_end} is gone from the host"),
        "it is still there",
    );
    s.pause()?;

    s.heading("A namespace with no process in it");
    s.say("kept");
    kept_by_a_descriptor(s)?;
    s.say("kept_after");
    s.pause()?;

    s.links()?;
    by_hand(s, Some(subnet))
}
// ANCHOR_END: steps

/// The veth pair, pinged both ways; None without root, which making the
/// host's end needs.
fn cable(s: &Session) -> Result<Option<network::Veth>> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    s.say("veth");
    let veth = network::connect(s.container()?.pid, s.subnet)?;
    let subnet = veth.subnet;
    let (_, addrs) = s.observe(&["ip", "-brief", "addr"])?;
    s.check(
        addrs.text.contains(&veth.inside) && addrs.text.contains(&subnet.container().to_string()),
        &format!("inside, {} is UP with {}", veth.inside, subnet.container()),
        "the container's end is not there",
    );
    s.say("ping");
    let to_inside = ping(s, Side::Host, subnet.container())?;
    let to_host = ping(s, Side::Inside, subnet.host())?;
    s.check(
        to_inside && to_host,
        &format!(
            "{} (host) and {} (container) reach each other both ways",
            subnet.host(),
            subnet.container()
        ),
        "a ping got no answer",
    );
    Ok(Some(veth))
}

/// Sockets belong to the namespace: no veth needed.
fn sockets(s: &Session) -> Step {
    s.heading("Sockets are per namespace");
    s.say("sockets");
    loopback_is_private(s)?;
    abstract_is_private(s)?;
    s.pause()
}

/// How to do it by hand, with addresses this machine does not use: the
/// subnet learnns used, or one it would have.
fn by_hand(s: &Session, used: Option<Subnet>) -> Step {
    let Some(subnet) = used.or_else(network::suggest_subnet) else {
        s.say("check");
        return s.pause();
    };
    s.say_with(
        "check",
        &[
            ("192.0.2.0/30", subnet.to_string()),
            ("192.0.2.1", subnet.host().to_string()),
            ("192.0.2.2", subnet.container().to_string()),
        ],
    );
    s.note(&format!(
        "For this machine the commands use {subnet}, which no address or route here uses."
    ));
    if crate::host_tools::find_in_path("ping").is_none() {
        s.note("ping is not installed here: install iputils-ping to type the ping line.");
    }
    s.pause()
}

/// Where a ping is sent from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Host,
    Inside,
}

/// How long a ping waits for its reply (`ping -W 2`).
const PING_WAIT: Duration = Duration::from_secs(2);

// ANCHOR: ping
/// Send one echo request to `to` and say whether it was answered: with
/// `ping` when it is installed, otherwise (a minimal machine) with
/// learnns's own ICMP echo, which does what `ping -c 1 -W 2` does.
fn ping(s: &Session, side: Side, to: Ipv4Addr) -> Result<bool> {
    let argv = ["ping", "-c", "1", "-W", "2", &to.to_string()];
    if crate::host_tools::find_in_path("ping").is_some() {
        let out = match side {
            Side::Host => s.host(&argv)?,
            Side::Inside => s.inside(&argv)?,
        };
        return Ok(out.status == Some(0));
    }
    let words: Vec<String> = argv.iter().map(|w| w.to_string()).collect();
    let (place, line) = match side {
        Side::Host => (Where::Host, crate::container::shell_words(&words)),
        Side::Inside => (Where::Inside, s.container()?.nsenter_line(&words)),
    };
    s.show_command(place, &line);
    s.note("(ping is not installed here: learnns sends the same echo request itself)");
    let (text, answered) = match side {
        Side::Host => {
            let echo = icmp::echo(to, PING_WAIT)?;
            let answered = matches!(echo, icmp::Echo::Reply { .. });
            (icmp::describe(to, &echo, PING_WAIT), answered)
        }
        Side::Inside => echo_inside(s, to)?,
    };
    events::output(text);
    Ok(answered)
}
// ANCHOR_END: ping

/// The echo request sent from inside the container's network namespace.
fn echo_inside(s: &Session, to: Ipv4Addr) -> Result<(String, bool)> {
    let (read_end, write_end) = nix::unistd::pipe().map_err(|e| Error::sys("pipe", e))?;
    let net = KindSet::new().with(Kind::Net);
    let child = s
        .container()?
        .fork_inside(net, move || icmp::echo_and_report(to, PING_WAIT, write_end))?;
    icmp::read_report(
        read_end,
        child,
        "learnns could not send the echo request from inside",
    )
}

// ANCHOR: sockets
/// Listen on 127.0.0.1 inside; connect from the host (refused: a different
/// loopback) and from inside (accepted).
fn loopback_is_private(s: &Session) -> Result<()> {
    let container = s.container()?;
    let net = KindSet::new().with(Kind::Net);
    let (read_end, write_end) = nix::unistd::pipe().map_err(|e| Error::sys("pipe", e))?;
    let listener = container.fork_inside(net, move || {
        let Ok(server) = TcpListener::bind("127.0.0.1:0") else {
            return 1;
        };
        let port = server.local_addr().map(|a| a.port()).unwrap_or(0);
        let mut report = std::fs::File::from(write_end);
        let _ = writeln!(report, "{port}");
        let mut fds = [nix::poll::PollFd::new(
            server.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(5000u16)) {
            Ok(1) => server.accept().map(|_| 0).unwrap_or(1),
            _ => 1,
        }
    })?;
    let mut line = String::new();
    let mut report = BufReader::new(std::fs::File::from(read_end));
    report
        .read_line(&mut line)
        .map_err(|e| Error::io("read the port", e))?;
    let port: u16 = line
        .trim()
        .parse()
        .map_err(|_| Error::Setup("the listener inside did not start".into()))?;
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let enter = |argv: &[&str]| nsenter_line(s, container.pid, net, argv);
    s.show_command(
        Where::Inside,
        &format!("{} &", enter(&["nc", "-l", "127.0.0.1", &port.to_string()])),
    );
    s.show_command(Where::Host, &format!("nc -z 127.0.0.1 {port}"));
    let from_host = TcpStream::connect_timeout(&address, Duration::from_secs(1));
    let host_reached = from_the_host(&from_host);
    s.show_command(
        Where::Inside,
        &enter(&["nc", "-z", "127.0.0.1", &port.to_string()]),
    );
    let inside = container.fork_inside(net, move || {
        TcpStream::connect_timeout(&address, Duration::from_secs(2))
            .map(|_| 0)
            .unwrap_or(1)
    })?;
    let only_inside = only_inside(host_reached, inside)?;
    crate::sys::wait_child(listener)?;
    s.check(
        only_inside,
        &format!("127.0.0.1:{port} inside is not 127.0.0.1:{port} on the host"),
        "the host reached the container's loopback",
    );
    Ok(())
}
// ANCHOR_END: sockets

/// Show how a connection from the host went; true when it connected.
fn from_the_host<T>(connected: &std::io::Result<T>) -> bool {
    events::output(format!(
        "from the host: {}",
        match connected {
            Ok(_) => "connected".to_string(),
            Err(e) => e.to_string(),
        }
    ));
    connected.is_ok()
}

/// Show how the connection from `inside` (a child that exits 0 when it
/// connected) went; true when only that one connected.
fn only_inside(host_reached: bool, inside: nix::unistd::Pid) -> Result<bool> {
    let from_inside = crate::sys::wait_child(inside)?;
    events::output(format!(
        "from inside: {}",
        if from_inside { "connected" } else { "failed" }
    ));
    Ok(!host_reached && from_inside)
}

/// The `nsenter` line of a command a step runs itself in the container's
/// network namespace, entered as [`Container::fork_inside`] enters it.
fn nsenter_line(s: &Session, pid: nix::unistd::Pid, kinds: KindSet, argv: &[&str]) -> String {
    let argv: Vec<String> = argv.iter().map(|w| w.to_string()).collect();
    crate::container::enter::nsenter_line_into(pid, s.spec.kinds, kinds, &argv)
}

// ANCHOR: abstract
/// Listen on an abstract Unix socket inside; connect to the same name from
/// the host (refused: another namespace's names) and from inside.
fn abstract_is_private(s: &Session) -> Result<()> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr as UnixAddr, UnixListener, UnixStream};
    let container = s.container()?;
    let net = KindSet::new().with(Kind::Net);
    // Only this container's network namespace has the name: another
    // run's container, in a namespace of its own, may use it too.
    let name = "learnns-lesson5".to_string();
    let address = UnixAddr::from_abstract_name(name.as_bytes())
        .map_err(|e| Error::io("name an abstract socket", e))?;
    let (read_end, write_end) = nix::unistd::pipe().map_err(|e| Error::sys("pipe", e))?;
    let bound = address.clone();
    let listener = container.fork_inside(net, move || {
        let Ok(server) = UnixListener::bind_addr(&bound) else {
            return 1;
        };
        let _ = nix::unistd::write(&write_end, b"1");
        let mut fds = [nix::poll::PollFd::new(
            server.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(5000u16)) {
            Ok(1) => server.accept().map(|_| 0).unwrap_or(1),
            _ => 1,
        }
    })?;
    let mut ready = [0u8; 1];
    if std::io::Read::read_exact(&mut std::fs::File::from(read_end), &mut ready).is_err() {
        crate::sys::wait_child(listener)?;
        return Err(Error::Setup(
            "the abstract socket inside did not start".into(),
        ));
    }
    let enter = |argv: &[&str]| nsenter_line(s, container.pid, net, argv);
    s.show_command(
        Where::Inside,
        &format!(
            "{} &",
            enter(&["socat", &format!("ABSTRACT-LISTEN:{name}"), "-"])
        ),
    );
    s.show_command(Where::Host, &format!("socat - ABSTRACT-CONNECT:{name}"));
    let from_host = UnixStream::connect_addr(&address);
    let host_reached = from_the_host(&from_host);
    s.show_command(
        Where::Inside,
        &enter(&["socat", "-", &format!("ABSTRACT-CONNECT:{name}")]),
    );
    let inside = container.fork_inside(net, move || {
        UnixStream::connect_addr(&address).map(|_| 0).unwrap_or(1)
    })?;
    let only_inside = only_inside(host_reached, inside)?;
    crate::sys::wait_child(listener)?;
    s.check(
        only_inside,
        &format!("the abstract name @{name} exists inside only"),
        "the host reached the container's abstract socket",
    );
    Ok(())
}
// ANCHOR_END: abstract

// ANCHOR: kept
/// A throw-away container's network namespace, held by a descriptor of
/// learnns's after its only process is killed, and entered through it.
fn kept_by_a_descriptor(s: &Session) -> Result<()> {
    let spare = Container::start(&s.spec)?;
    let pid = spare.pid;
    let up = [
        "ip".to_string(),
        "link".into(),
        "set".into(),
        "lo".into(),
        "up".into(),
    ];
    s.show_command(Where::Inside, &spare.nsenter_line(&up));
    let status = spare
        .command(&up)?
        .stdin(std::process::Stdio::null())
        .status()
        .map_err(|e| Error::io("ip link set lo up", e))?;
    if !status.success() {
        return Err(Error::Setup(
            "ip link set lo up failed in the spare container".into(),
        ));
    }
    let path = format!("/proc/{pid}/ns/net");
    let held = std::fs::File::open(&path).map_err(|e| Error::io(format!("open {path}"), e))?;
    let before = std::fs::read_link(&path).map_err(|e| Error::io(format!("readlink {path}"), e))?;
    let fd = held.as_raw_fd();
    s.show_command(Where::Host, &format!("exec {fd}< {path}"));
    s.show_command(Where::Host, &format!("kill -KILL {pid}"));
    crate::container::kill_process(pid);
    drop(spare);
    let gone = !std::path::Path::new(&format!("/proc/{pid}")).exists();
    let through = format!("/proc/{}/fd/{fd}", std::process::id());
    let now = std::fs::read_link(&through).ok();
    // The learner's shell holds the descriptor as its own fd: /dev/fd/N.
    s.show_command(Where::Host, &format!("nsenter --net=/dev/fd/{fd} ip link"));
    let listing = crate::observe::capture(crate::observe::host_command(&[
        "nsenter".to_string(),
        format!("--net={through}"),
        "ip".into(),
        "link".into(),
    ]));
    events::output(listing.text.clone());
    let lo_up = interfaces(&listing.text)
        .iter()
        .any(|(name, up)| name == "lo" && *up);
    s.check(
        gone && now.as_ref() == Some(&before) && lo_up,
        &format!(
            "PID {pid} is gone, yet {} lives on, held by descriptor {fd}, its lo still UP",
            before.display()
        ),
        &format!("process gone: {gone}, the descriptor names {now:?}, lo up: {lo_up}"),
    );
    drop(held);
    Ok(())
}
// ANCHOR_END: kept

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interfaces_and_their_state() {
        let text = "1: lo: <LOOPBACK> mtu 65536 qdisc noop state DOWN mode DEFAULT group default qlen 1000\n    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n5: learnns1c@if6: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\n";
        assert_eq!(
            interfaces(text),
            vec![("lo".to_string(), false), ("learnns1c".to_string(), true)]
        );
    }

    #[test]
    fn a_fresh_stack_is_lo_down_and_fallback_tunnels() {
        let link = |name: &str, up: bool| (name.to_string(), up);
        assert_eq!(fresh_stack(&[link("lo", false)]), Some(vec![]));
        let tunnels = "1: lo: <LOOPBACK> mtu 65536 qdisc noop state DOWN mode DEFAULT\n2: tunl0@NONE: <NOARP> mtu 1480 qdisc noop state DOWN mode DEFAULT\n3: sit0@NONE: <NOARP> mtu 1480 qdisc noop state DOWN mode DEFAULT\n";
        assert_eq!(
            fresh_stack(&interfaces(tunnels)),
            Some(vec!["tunl0".to_string(), "sit0".to_string()])
        );
        assert_eq!(fresh_stack(&[link("lo", true)]), None);
        assert_eq!(fresh_stack(&[link("lo", false), link("gre0", true)]), None);
        assert_eq!(fresh_stack(&[link("lo", false), link("eth0", false)]), None);
        assert_eq!(fresh_stack(&[link("tunl0", false)]), None);
    }
}
