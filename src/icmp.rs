//! One ICMP echo request and its reply, like `ping -c 1 -W 2 ADDR`, so
//! learnns can show connectivity on machines where `ping` is not installed.
//!
//! A raw ICMP socket sees every ICMP packet the host receives, including the
//! replies to other programs' pings (and other learnns runs'), so a reply
//! counts only if everything about it is ours: type, code, source,
//! identifier, sequence number, payload and checksum.

use std::io::IoSliceMut;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{
    AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockProtocol, SockType, SockaddrIn,
    getsockname, recvmsg, sendto, setsockopt, socket, sockopt,
};

use crate::error::{Error, Problem, Result};

/// What one echo request found.
#[derive(Debug, Clone, PartialEq)]
pub enum Echo {
    Reply {
        from: Ipv4Addr,
        bytes: usize,
        ttl: Option<u8>,
        rtt: Duration,
    },
    Timeout,
}

const ECHO_REPLY: u8 = 0;
const ECHO_REQUEST: u8 = 8;
const HEADER_LEN: usize = 8;
/// The size `ping` sends, so the learner sees the familiar "64 bytes".
const PAYLOAD_LEN: usize = 56;
/// `ping -c 1` numbers its only request 1.
const SEQ: u16 = 1;

/// Which kind of socket carried the request: it decides what a reply looks like.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// Needs CAP_NET_RAW; replies arrive with their IPv4 header.
    Raw,
    /// An unprivileged "ping socket": replies arrive without the IPv4 header,
    /// and the kernel replaces our identifier with the socket's own.
    Ping,
}

/// One request, and everything a reply must echo back to count as ours.
struct Probe {
    to: Ipv4Addr,
    id: u16,
    seq: u16,
    payload: [u8; PAYLOAD_LEN],
}

impl Probe {
    fn new(to: Ipv4Addr) -> Probe {
        // Concurrent runs must not take each other's replies: the identifier
        // differs per call, and the random bytes at the start of the payload
        // settle the 1-in-65536 identifier collisions.
        let id = (std::process::id() as u16) ^ fastrand::u16(..);
        let mut payload = [0u8; PAYLOAD_LEN];
        payload[..8].copy_from_slice(&fastrand::u64(..).to_be_bytes());
        for (byte, pattern) in payload[8..].iter_mut().zip(b"learnns ".iter().cycle()) {
            *byte = *pattern;
        }
        Probe {
            to,
            id,
            seq: SEQ,
            payload,
        }
    }

    /// The ICMP echo request, header and payload, with its checksum filled in.
    fn request(&self) -> Vec<u8> {
        let mut packet = Vec::with_capacity(HEADER_LEN + PAYLOAD_LEN);
        packet.extend_from_slice(&[ECHO_REQUEST, 0, 0, 0]);
        packet.extend_from_slice(&self.id.to_be_bytes());
        packet.extend_from_slice(&self.seq.to_be_bytes());
        packet.extend_from_slice(&self.payload);
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
        packet
    }

    /// The ICMP size and (raw sockets only) TTL of `packet` if it is the
    /// reply to this probe, or None for anything else the socket received.
    fn reply(&self, packet: &[u8], from: Ipv4Addr, kind: Kind) -> Option<(usize, Option<u8>)> {
        if from != self.to {
            return None;
        }
        let (icmp, ttl) = match kind {
            Kind::Raw => {
                // IP options make the header longer than 20 bytes.
                let header_len = usize::from(*packet.first()? & 0x0f) * 4;
                if packet[0] >> 4 != 4 || header_len < 20 || packet.len() < header_len {
                    return None;
                }
                let protocol_icmp = packet[9] == 1;
                if !protocol_icmp || packet[12..16] != self.to.octets() {
                    return None;
                }
                (&packet[header_len..], Some(packet[8]))
            }
            Kind::Ping => (packet, None),
        };
        let ours = icmp.len() == HEADER_LEN + PAYLOAD_LEN
            && icmp[0] == ECHO_REPLY
            && icmp[1] == 0
            && icmp[4..6] == self.id.to_be_bytes()
            && icmp[6..8] == self.seq.to_be_bytes()
            && icmp[HEADER_LEN..] == self.payload
            && checksum(icmp) == 0;
        ours.then_some((icmp.len(), ttl))
    }
}

/// The internet checksum (RFC 1071): the one's complement of the one's
/// complement sum of 16-bit big-endian words. Over a message that already
/// holds its checksum it comes out 0.
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Send one ICMP echo request to `to` and wait up to `timeout` for its reply.
pub fn echo(to: Ipv4Addr, timeout: Duration) -> Result<Echo> {
    let (fd, kind) = open()?;
    echo_on(&fd, kind, to, timeout)
}

/// A raw socket if we may, else a ping socket, else an error that says how to
/// get either.
fn open() -> Result<(OwnedFd, Kind)> {
    let raw_refused = match open_kind(Kind::Raw) {
        Ok(fd) => return Ok((fd, Kind::Raw)),
        Err(e @ (Errno::EPERM | Errno::EACCES)) => e,
        Err(e) => return Err(Error::sys("opening a raw ICMP socket", e)),
    };
    match open_kind(Kind::Ping) {
        Ok(fd) => Ok((fd, Kind::Ping)),
        // EACCES: our group is outside net.ipv4.ping_group_range, which is
        // where most distributions leave it.
        Err(e @ (Errno::EPERM | Errno::EACCES | Errno::EPROTONOSUPPORT)) => Err(Error::Failed(
            Problem::new(format!(
                "sending an ICMP echo request: a raw ICMP socket needs CAP_NET_RAW \
                     ({raw_refused}), and ping sockets are not allowed for this user by sysctl \
                     net.ipv4.ping_group_range ({e})"
            ))
            .fix("run as root, or install ping (iputils-ping)"),
        )),
        Err(e) => Err(Error::sys("opening an ICMP ping socket", e)),
    }
}

fn open_kind(kind: Kind) -> nix::Result<OwnedFd> {
    let ty = match kind {
        Kind::Raw => SockType::Raw,
        Kind::Ping => SockType::Datagram,
    };
    let flags = SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK;
    let fd = socket(AddressFamily::Inet, ty, flags, SockProtocol::Icmp)?;
    if kind == Kind::Ping {
        // Without an IP header the TTL only comes as ancillary data; it is
        // cosmetic, so a refusal just leaves it out of the output.
        let _ = setsockopt(&fd, sockopt::Ipv4RecvTtl, &true);
    }
    Ok(fd)
}

fn echo_on(fd: &OwnedFd, kind: Kind, to: Ipv4Addr, timeout: Duration) -> Result<Echo> {
    let mut probe = Probe::new(to);
    let dest = SockaddrIn::from(SocketAddrV4::new(to, 0));
    let sent = Instant::now();
    sendto(fd.as_raw_fd(), &probe.request(), &dest, MsgFlags::empty())
        .map_err(|e| Error::sys(format!("sending an ICMP echo request to {to}"), e))?;
    if kind == Kind::Ping {
        // The kernel sent our request with the socket's port as identifier.
        let local: SockaddrIn = getsockname(fd.as_raw_fd())
            .map_err(|e| Error::sys("reading the ping socket's identifier", e))?;
        probe.id = local.port();
    }
    let deadline = sent + timeout;
    let mut buf = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(Echo::Timeout);
        }
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, poll_timeout(left)) {
            Ok(_) => {}
            Err(Errno::EINTR) => check_interrupted()?,
            Err(e) => return Err(Error::sys("waiting for an ICMP echo reply", e)),
        }
        // Read everything queued: other hosts' ICMP may be ahead of our reply.
        loop {
            match receive(fd, &mut buf) {
                Ok((len, from, cmsg_ttl)) => {
                    let at = Instant::now();
                    if let Some((bytes, ttl)) = probe.reply(&buf[..len], from, kind) {
                        return Ok(Echo::Reply {
                            from,
                            bytes,
                            ttl: ttl.or(cmsg_ttl),
                            rtt: at - sent,
                        });
                    }
                }
                Err(Errno::EAGAIN) => break,
                Err(Errno::EINTR) => check_interrupted()?,
                Err(e) => return Err(Error::sys("receiving an ICMP echo reply", e)),
            }
        }
    }
}

/// Ctrl-C stops learnns; any other signal just wakes us to wait again.
fn check_interrupted() -> Result<()> {
    if crate::sys::interrupted() {
        Err(Error::Interrupted)
    } else {
        Ok(())
    }
}

/// Rounded up: rounding down would spin on a zero timeout in the last
/// millisecond before the deadline.
fn poll_timeout(left: Duration) -> PollTimeout {
    let millis = left.as_micros().div_ceil(1000);
    PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX)
}

/// One packet without blocking: its length, sender and the TTL the kernel
/// attached (ping sockets only).
fn receive(fd: &OwnedFd, buf: &mut [u8]) -> nix::Result<(usize, Ipv4Addr, Option<u8>)> {
    let mut iov = [IoSliceMut::new(buf)];
    let mut cmsg = nix::cmsg_space!(libc::c_int);
    let msg = recvmsg::<SockaddrIn>(
        fd.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_DONTWAIT,
    )?;
    let from = msg.address.map_or(Ipv4Addr::UNSPECIFIED, |a| a.ip());
    let ttl = msg.cmsgs().ok().and_then(|mut cmsgs| {
        cmsgs.find_map(|c| match c {
            ControlMessageOwned::Ipv4Ttl(ttl) => u8::try_from(ttl).ok(),
            _ => None,
        })
    });
    Ok((msg.bytes, from, ttl))
}

/// The line `ping -c 1` would print for this result, so the learner sees
/// familiar output.
pub fn describe(to: Ipv4Addr, echo: &Echo, timeout: Duration) -> String {
    match echo {
        Echo::Reply {
            from,
            bytes,
            ttl,
            rtt,
        } => {
            let ttl = ttl.map(|t| format!(" ttl={t}")).unwrap_or_default();
            format!(
                "{bytes} bytes from {from}: icmp_seq={SEQ}{ttl} time={} ms",
                milliseconds(*rtt)
            )
        }
        Echo::Timeout => format!("no reply from {to} within {} s", timeout.as_secs_f64()),
    }
}

/// As ping prints a round trip: three significant digits, at least.
/// An echo sent from a forked child (which has joined another network
/// namespace): it writes the line ping would print to `report`, and its
/// exit code says whether a reply came (0), none came (1), or it could not
/// send (2).
pub fn echo_and_report(to: Ipv4Addr, timeout: Duration, report: OwnedFd) -> i32 {
    let (text, code) = match echo(to, timeout) {
        Ok(echo) => (
            describe(to, &echo, timeout),
            i32::from(!matches!(echo, Echo::Reply { .. })),
        ),
        Err(e) => (e.to_string(), 2),
    };
    let _ = nix::unistd::write(&report, text.as_bytes());
    code
}

/// What the child of [`echo_and_report`] said, and whether a reply came;
/// `silent` when it said nothing.
pub fn read_report(
    report: OwnedFd,
    child: nix::unistd::Pid,
    silent: &str,
) -> Result<(String, bool)> {
    let mut text = String::new();
    let read = std::io::Read::read_to_string(&mut std::fs::File::from(report), &mut text);
    let answered = crate::sys::wait_child(child)?;
    read.map_err(|e| Error::io("read the echo's result", e))?;
    if text.is_empty() {
        text = silent.into();
    }
    Ok((text, answered))
}

fn milliseconds(rtt: Duration) -> String {
    let ms = rtt.as_secs_f64() * 1000.0;
    match ms {
        ms if ms < 1.0 => format!("{ms:.3}"),
        ms if ms < 10.0 => format!("{ms:.2}"),
        ms if ms < 100.0 => format!("{ms:.1}"),
        ms => format!("{ms:.0}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);

    /// What a peer would send back for `probe`: the request turned into a
    /// reply, behind a 20-byte IPv4 header for raw sockets.
    fn reply_to(probe: &Probe, kind: Kind) -> Vec<u8> {
        let mut icmp = probe.request();
        icmp[0] = ECHO_REPLY;
        icmp[2..4].copy_from_slice(&[0, 0]);
        let sum = checksum(&icmp);
        icmp[2..4].copy_from_slice(&sum.to_be_bytes());
        match kind {
            Kind::Ping => icmp,
            Kind::Raw => ip_header(5, probe.to, &icmp),
        }
    }

    fn ip_header(ihl: u8, from: Ipv4Addr, icmp: &[u8]) -> Vec<u8> {
        let mut packet = vec![0u8; usize::from(ihl) * 4];
        packet[0] = 0x40 | ihl;
        packet[8] = 64;
        packet[9] = 1;
        packet[12..16].copy_from_slice(&from.octets());
        packet.extend_from_slice(icmp);
        packet
    }

    #[test]
    fn checksum_matches_rfc_1071_example() {
        // RFC 1071 section 3: these bytes sum to ddf2, so the checksum is 220d.
        let bytes = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&bytes), 0x220d);
        assert_eq!(checksum(&[]), 0xffff);
        // An odd byte counts as the high half of a zero-padded word.
        assert_eq!(checksum(&[0x12]), !0x1200);
        assert_eq!(checksum(&[0xff, 0xff, 0x00, 0x01]), !0x0001);
    }

    #[test]
    fn request_parses_back() {
        let probe = Probe::new(PEER);
        let request = probe.request();
        assert_eq!(request.len(), 64);
        assert_eq!(&request[..2], &[ECHO_REQUEST, 0]);
        assert_eq!(checksum(&request), 0);
        assert_eq!(request[4..6], probe.id.to_be_bytes());
        assert_eq!(request[6..8], SEQ.to_be_bytes());
        assert_eq!(request[8..], probe.payload);
        assert!(request.ends_with(b"learnns learnns "));
    }

    #[test]
    fn takes_its_own_reply() {
        let probe = Probe::new(PEER);
        let raw = reply_to(&probe, Kind::Raw);
        assert_eq!(probe.reply(&raw, PEER, Kind::Raw), Some((64, Some(64))));
        let ping = reply_to(&probe, Kind::Ping);
        assert_eq!(probe.reply(&ping, PEER, Kind::Ping), Some((64, None)));
        // IP options: the header length comes from IHL, not an assumed 20.
        let icmp = reply_to(&probe, Kind::Ping);
        let with_options = ip_header(6, PEER, &icmp);
        assert_eq!(
            probe.reply(&with_options, PEER, Kind::Raw),
            Some((64, Some(64)))
        );
    }

    #[test]
    fn ignores_everything_else() {
        let probe = Probe::new(PEER);
        let good = reply_to(&probe, Kind::Ping);
        let raw = |icmp: &[u8]| ip_header(5, PEER, icmp);
        // Change one thing and fix up the checksum, so only that thing is wrong.
        let changed = |at: usize, value: u8| {
            let mut icmp = good.clone();
            icmp[at] = value;
            icmp[2..4].copy_from_slice(&[0, 0]);
            let sum = checksum(&icmp);
            icmp[2..4].copy_from_slice(&sum.to_be_bytes());
            icmp
        };
        let wrong = [
            ("our own request", changed(0, ECHO_REQUEST)),
            ("a nonzero code", changed(1, 1)),
            ("another identifier", changed(4, good[4] ^ 1)),
            ("another sequence number", changed(7, good[7] ^ 1)),
            ("another payload", changed(20, b'x')),
            ("a bad checksum", {
                let mut icmp = good.clone();
                icmp[3] ^= 1;
                icmp
            }),
            ("a short packet", good[..60].to_vec()),
        ];
        for (what, icmp) in &wrong {
            assert_eq!(probe.reply(icmp, PEER, Kind::Ping), None, "{what}");
            assert_eq!(probe.reply(&raw(icmp), PEER, Kind::Raw), None, "{what}");
        }
        let elsewhere = Ipv4Addr::new(203, 0, 113, 9);
        assert_eq!(probe.reply(&good, elsewhere, Kind::Ping), None);
        let forged = ip_header(5, elsewhere, &good);
        assert_eq!(probe.reply(&forged, PEER, Kind::Raw), None);
        assert_eq!(probe.reply(&[0x45], PEER, Kind::Raw), None);
        assert_eq!(probe.reply(&[], PEER, Kind::Raw), None);
        let mut not_icmp = raw(&good);
        not_icmp[9] = 17;
        assert_eq!(probe.reply(&not_icmp, PEER, Kind::Raw), None);
    }

    #[test]
    fn probes_differ() {
        let (a, b) = (Probe::new(PEER), Probe::new(PEER));
        assert_ne!((a.id, a.payload), (b.id, b.payload));
    }

    #[test]
    fn describes_like_ping() {
        let reply = Echo::Reply {
            from: PEER,
            bytes: 64,
            ttl: Some(64),
            rtt: Duration::from_micros(51),
        };
        let two = Duration::from_secs(2);
        assert_eq!(
            describe(PEER, &reply, two),
            "64 bytes from 198.51.100.2: icmp_seq=1 ttl=64 time=0.051 ms"
        );
        let slow = Echo::Reply {
            from: PEER,
            bytes: 64,
            ttl: None,
            rtt: Duration::from_micros(12_345),
        };
        assert_eq!(
            describe(PEER, &slow, two),
            "64 bytes from 198.51.100.2: icmp_seq=1 time=12.3 ms"
        );
        assert_eq!(
            describe(PEER, &Echo::Timeout, two),
            "no reply from 198.51.100.2 within 2 s"
        );
        assert_eq!(
            describe(PEER, &Echo::Timeout, Duration::from_millis(500)),
            "no reply from 198.51.100.2 within 0.5 s"
        );
    }

    #[test]
    fn pings_loopback_as_root() {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let found = echo(Ipv4Addr::LOCALHOST, Duration::from_secs(2)).unwrap();
        let Echo::Reply { from, bytes, .. } = found else {
            panic!("no reply from 127.0.0.1: {found:?}");
        };
        assert_eq!((from, bytes), (Ipv4Addr::LOCALHOST, 64));
    }

    /// The fallback, where this system allows ping sockets (root's group is
    /// outside the default net.ipv4.ping_group_range of "1 0").
    #[test]
    fn pings_loopback_through_a_ping_socket_if_allowed() {
        let Ok(fd) = open_kind(Kind::Ping) else {
            return;
        };
        let found = echo_on(&fd, Kind::Ping, Ipv4Addr::LOCALHOST, Duration::from_secs(2));
        let Echo::Reply { from, bytes, .. } = found.unwrap() else {
            panic!("no reply from 127.0.0.1 through a ping socket");
        };
        assert_eq!((from, bytes), (Ipv4Addr::LOCALHOST, 64));
    }
}
