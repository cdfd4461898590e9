//! Lesson 5: the network namespace. Only `lo`, and it is down; a veth pair
//! to the host on a documentation subnet; ping both ways; routes and sockets
//! are per namespace; all of it removed.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::time::Duration;

use nix::sys::wait::{WaitStatus, waitpid};

use super::Session;
use crate::error::{Error, Result};
use crate::network;
use crate::ns::{Kind, KindSet};
use crate::ui;

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

// ANCHOR: steps
pub fn steps(s: &mut Session) -> Result<()> {
    s.say("opening");
    s.pause()?;
    if s.lacks(Kind::Net)? {
        return Ok(());
    }
    network::require_ip()?;

    s.heading("An empty network stack");
    s.start_container()?;
    s.say("empty");
    let (_, inside) = s.observe(&["ip", "link"])?;
    let found = interfaces(&inside.text);
    s.check(
        found == [("lo".to_string(), false)],
        "inside there is only lo, and it is DOWN",
        &format!("inside lists {found:?}"),
    );
    s.pause()?;

    s.heading("Its own loopback");
    s.say("loopback");
    s.inside(&["ip", "link", "set", "lo", "up"])?;
    let ping = s.inside(&["ping", "-c", "1", "-W", "2", "127.0.0.1"])?;
    s.check(
        ping.status == Some(0),
        "127.0.0.1 answers inside",
        "ping failed",
    );
    s.pause()?;

    s.heading("A cable to the host");
    if !nix::unistd::geteuid().is_root() {
        s.say("no_veth");
        s.links()?;
        return s.check_your_work();
    }
    s.say("veth");
    let subnet = match s.subnet {
        Some(subnet) => subnet,
        None => network::free_subnet()?,
    };
    let veth = network::connect(s.container()?.pid, subnet)?;
    outln!();
    let (_, addrs) = s.observe(&["ip", "-brief", "addr"])?;
    s.check(
        addrs.text.contains(&veth.inside) && addrs.text.contains(&subnet.container().to_string()),
        &format!("inside, {} is UP with {}", veth.inside, subnet.container()),
        "the container's end is not there",
    );
    s.say("ping");
    let to_inside = s.host(&[
        "ping",
        "-c",
        "1",
        "-W",
        "2",
        &subnet.container().to_string(),
    ])?;
    let to_host = s.inside(&["ping", "-c", "1", "-W", "2", &subnet.host().to_string()])?;
    s.check(
        to_inside.status == Some(0) && to_host.status == Some(0),
        &format!(
            "{} (host) and {} (container) reach each other both ways",
            subnet.host(),
            subnet.container()
        ),
        "a ping got no answer",
    );
    s.pause()?;

    s.heading("Routes are per namespace");
    s.say("routes");
    let (_, routes) = s.observe(&["ip", "route"])?;
    s.check(
        routes.text.contains(&subnet.to_string()) && !routes.text.contains("default"),
        &format!("inside, the only route is {subnet}; there is no default route"),
        "the container has other routes",
    );
    s.pause()?;

    s.heading("Sockets are per namespace");
    s.say("sockets");
    loopback_is_private(s)?;
    s.pause()?;

    s.heading("Taking the cable away");
    s.say("cleanup");
    ui::command_line("$", &format!("ip link delete {}", veth.host));
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

    s.links()?;
    s.check_your_work()
}
// ANCHOR_END: steps

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
    let pid = container.pid;
    ui::command_line(
        "#",
        &format!("nsenter -t {pid} --net -- nc -l 127.0.0.1 {port} &"),
    );
    ui::command_line("$", &format!("nc -z 127.0.0.1 {port}"));
    let from_host = TcpStream::connect_timeout(&address, Duration::from_secs(1));
    outln!(
        "    from the host: {}",
        match &from_host {
            Ok(_) => "connected".to_string(),
            Err(e) => e.to_string(),
        }
    );
    ui::command_line(
        "#",
        &format!("nsenter -t {pid} --net -- nc -z 127.0.0.1 {port}"),
    );
    let inside = container.fork_inside(net, move || {
        TcpStream::connect_timeout(&address, Duration::from_secs(2))
            .map(|_| 0)
            .unwrap_or(1)
    })?;
    let from_inside = matches!(waitpid(inside, None), Ok(WaitStatus::Exited(_, 0)));
    outln!(
        "    from inside: {}",
        if from_inside { "connected" } else { "failed" }
    );
    let _ = waitpid(listener, None);
    s.check(
        from_host.is_err() && from_inside,
        &format!("127.0.0.1:{port} inside is not 127.0.0.1:{port} on the host"),
        "the host reached the container's loopback",
    );
    Ok(())
}
// ANCHOR_END: sockets

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
}
