//! The host side of container networking: a veth pair between the host and
//! the container, on a small subnet of a documentation range (RFC 5737), so
//! no packet can ever be meant for a real machine. Everything is done with
//! the `ip` command the lesson teaches, and every command is shown.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Stdio};

use nix::unistd::Pid;

use crate::cleanup::{self, RunId, Token, Undo};
use crate::container::enter;
use crate::error::{Error, Result};
use crate::events::{self, Where};

/// The documentation ranges of RFC 5737: never routed on the Internet.
const DOC_RANGES: [Ipv4Addr; 3] = [
    Ipv4Addr::new(192, 0, 2, 0),
    Ipv4Addr::new(198, 51, 100, 0),
    Ipv4Addr::new(203, 0, 113, 0),
];

/// A subnet for one veth pair: the host end takes the first address, the
/// container end the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    pub network: Ipv4Addr,
    pub prefix: u8,
}

impl Subnet {
    pub fn host(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }

    pub fn container(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 2)
    }

    fn mask(&self) -> u32 {
        u32::MAX << (32 - self.prefix)
    }

    fn overlaps(&self, network: Ipv4Addr, mask: u32) -> bool {
        let both = self.mask() & mask;
        u32::from(self.network) & both == u32::from(network) & both
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl std::str::FromStr for Subnet {
    type Err = String;

    /// Accept `A.B.C.D/N` inside one of the RFC 5737 ranges, N from 24 to 30.
    fn from_str(text: &str) -> std::result::Result<Subnet, String> {
        let usage = "expected a subnet of a documentation range (RFC 5737), e.g. 192.0.2.8/30, 198.51.100.0/30 or 203.0.113.4/30";
        let (addr, prefix) = text.split_once('/').ok_or(usage)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| usage)?;
        let prefix: u8 = prefix.parse().map_err(|_| usage)?;
        if !(24..=30).contains(&prefix) {
            return Err(format!("/{prefix} is not between /24 and /30; {usage}"));
        }
        if !DOC_RANGES
            .iter()
            .any(|r| u32::from(*r) == u32::from(addr) & 0xffff_ff00)
        {
            return Err(format!(
                "{addr} is outside the documentation ranges; {usage}"
            ));
        }
        let network = Ipv4Addr::from(u32::from(addr) & (u32::MAX << (32 - prefix)));
        Ok(Subnet { network, prefix })
    }
}

/// A network the host uses: an interface's address with its prefix, or a
/// route's destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InUse {
    pub network: Ipv4Addr,
    pub mask: u32,
    /// Where it was seen, for the learner: `eth0` or `a route via eth0`.
    pub by: String,
}

/// Every IPv4 network the host uses right now: its interfaces' addresses
/// (also other learnns runs' veth ends) and its routes. The default route
/// (0.0.0.0/0) covers everything but uses nothing, so it is left out.
pub fn host_networks() -> Vec<InUse> {
    let mut used: Vec<InUse> = procfs::net::route()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| u32::from(r.mask) != 0)
        .map(|r| InUse {
            network: r.destination,
            mask: u32::from(r.mask),
            by: format!("a route via {}", r.iface),
        })
        .collect();
    for ifaddr in nix::ifaddrs::getifaddrs().into_iter().flatten() {
        let v4 = |a: Option<nix::sys::socket::SockaddrStorage>| {
            a.and_then(|a| a.as_sockaddr_in().map(|s| s.ip()))
        };
        if let (Some(addr), Some(mask)) = (v4(ifaddr.address), v4(ifaddr.netmask)) {
            used.push(InUse {
                network: addr,
                mask: u32::from(mask),
                by: ifaddr.interface_name.clone(),
            });
        }
    }
    used
}

/// Refuse a subnet the host uses: its host end could take an address of the
/// host's own network (a gateway, say) and break the host's networking.
pub fn check_unused(subnet: Subnet, used: &[InUse]) -> Result<()> {
    match used.iter().find(|u| subnet.overlaps(u.network, u.mask)) {
        None => Ok(()),
        Some(u) => Err(Error::usage(
            format!(
                "--subnet {subnet} overlaps {}/{} on this host ({})",
                u.network,
                u.mask.leading_ones(),
                u.by
            ),
            format!(
                "pick a subnet the host does not use{}",
                first_free(used, 0)
                    .map(|s| format!(", e.g. {s}"))
                    .unwrap_or_default()
            ),
        )),
    }
}

/// A /30 of a documentation range that the host does not use yet. Called
/// under the run lock, so two runs never pick the same one.
fn free_subnet(used: &[InUse]) -> Result<Subnet> {
    first_free(used, std::process::id() as usize).ok_or_else(|| {
        Error::setup(
            "every /30 of the documentation ranges is in use on this host",
            "pass --subnet with one you know is free",
        )
    })
}

/// The first /30, starting at a place that depends on `seed`, that overlaps
/// nothing in `used`.
fn first_free(used: &[InUse], seed: usize) -> Option<Subnet> {
    DOC_RANGES.iter().find_map(|range| {
        (0..64)
            .map(|i| Subnet {
                network: Ipv4Addr::from(u32::from(*range) + (((seed + i) % 64) * 4) as u32),
                prefix: 30,
            })
            .find(|s| !used.iter().any(|u| s.overlaps(u.network, u.mask)))
    })
}

/// A /30 no address or route of this host uses, to suggest (nothing is
/// made with it).
pub fn suggest_subnet() -> Option<Subnet> {
    first_free(&host_networks(), std::process::id() as usize)
}

/// This run's veth names.
pub fn veth_names() -> (String, String) {
    RunId::current().veth_names()
}

/// Is `ip` here? The error names the package.
pub fn require_ip() -> Result<()> {
    if crate::host_tools::find_in_path("ip").is_none() {
        return Err(Error::setup(
            "the `ip` command is missing; network set-up uses it",
            "install iproute2 (sudo apt-get install iproute2)",
        ));
    }
    Ok(())
}

fn run_ip(mut command: Command, shown: &str) -> Result<()> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io(format!("run `{shown}`"), e))?;
    if !out.status.success() {
        return Err(Error::Setup(
            format!(
                "`{shown}` failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )
            .into(),
        ));
    }
    Ok(())
}

/// Run `ip ARGS` on the host, showing it.
pub fn ip(args: &[&str]) -> Result<()> {
    let shown = format!("ip {}", args.join(" "));
    events::command(Where::Host, shown.clone());
    let mut command = Command::new("ip");
    command.args(args);
    run_ip(command, &shown)
}

/// Run `ip ARGS` inside the namespaces of process `pid`, showing it.
pub fn ip_inside(pid: Pid, args: &[&str]) -> Result<()> {
    let argv: Vec<String> = std::iter::once("ip")
        .chain(args.iter().copied())
        .map(String::from)
        .collect();
    let shown = enter::nsenter_line(pid, &argv);
    events::command(Where::Inside, shown.clone());
    run_ip(enter::command_in(pid, &argv)?, &shown)
}

/// A veth pair that joins the host and a container.
#[derive(Debug)]
pub struct Veth {
    pub host: String,
    pub inside: String,
    pub subnet: Subnet,
    token: Token,
}

impl Drop for Veth {
    fn drop(&mut self) {
        cleanup::undo(self.token);
    }
}

// ANCHOR: connect
/// Create the pair, move one end into the container (whose first process is
/// `pid`), address and raise both ends, on `subnet` or a free /30.
pub fn connect(pid: Pid, subnet: Option<Subnet>) -> Result<Veth> {
    require_ip()?;
    let (host, inside) = veth_names();
    // Runs take turns from choosing the subnet until the host end has its
    // address, so the next run sees it in use.
    let veth = cleanup::locked(|| {
        let used = host_networks();
        let subnet = match subnet {
            Some(subnet) => {
                check_unused(subnet, &used)?;
                subnet
            }
            None => free_subnet(&used)?,
        };
        // Recorded before it exists: a kill right after `ip link add`
        // still leads the next start to it.
        let token = cleanup::register(Undo::Link { name: host.clone() })?;
        let veth = Veth {
            host: host.clone(),
            inside: inside.clone(),
            subnet,
            token,
        };
        ip(&[
            "link", "add", &host, "type", "veth", "peer", "name", &inside,
        ])?;
        crate::failpoint::hit("link-add");
        tag(&host)?;
        ip(&["link", "set", &inside, "netns", &pid.to_string()])?;
        ip(&[
            "addr",
            "add",
            &format!("{}/{}", subnet.host(), subnet.prefix),
            "dev",
            &host,
        ])?;
        Ok(veth)
    })?;
    ip(&["link", "set", &host, "up"])?;
    let prefix = veth.subnet.prefix;
    ip_inside(
        pid,
        &[
            "addr",
            "add",
            &format!("{}/{prefix}", veth.subnet.container()),
            "dev",
            &inside,
        ],
    )?;
    ip_inside(pid, &["link", "set", &inside, "up"])?;
    Ok(veth)
}
// ANCHOR_END: connect

/// Write the run's tag into the link's alias (what `ip link set NAME alias
/// TAG` does), so a later start knows the link is this run's.
fn tag(name: &str) -> Result<()> {
    let path = Path::new("/sys/class/net").join(name).join("ifalias");
    std::fs::write(&path, RunId::current().tag())
        .map_err(|e| Error::io(format!("write {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cleanup::PREFIX;

    #[test]
    fn only_documentation_subnets_are_accepted() {
        let s: Subnet = "198.51.100.9/30".parse().unwrap();
        assert_eq!(s.to_string(), "198.51.100.8/30");
        assert_eq!(s.host(), Ipv4Addr::new(198, 51, 100, 9));
        assert_eq!(s.container(), Ipv4Addr::new(198, 51, 100, 10));
        for bad in [
            "10.0.0.0/30",
            "192.168.1.0/30",
            "192.0.2.0/16",
            "192.0.2.0/31",
            "192.0.2.0",
            "x/30",
            "203.0.114.0/30",
        ] {
            assert!(bad.parse::<Subnet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn overlapping_routes_are_detected() {
        let s: Subnet = "192.0.2.4/30".parse().unwrap();
        assert!(s.overlaps(Ipv4Addr::new(192, 0, 2, 0), 0xffff_ff00));
        assert!(!s.overlaps(Ipv4Addr::new(192, 0, 2, 8), 0xffff_fffc));
        // A default route (0.0.0.0/0) covers everything, but is not a subnet
        // in use: the free-subnet search must not be blocked by it.
        let default = s.overlaps(Ipv4Addr::new(0, 0, 0, 0), 0);
        assert!(default);
    }

    #[test]
    fn a_host_using_a_range_pushes_learnns_to_the_next() {
        let used = |net: [u8; 4], mask: u32| InUse {
            network: Ipv4Addr::from(net),
            mask,
            by: "eth0".into(),
        };
        let host_uses = [used([192, 0, 2, 0], 0xffff_ff00)];
        let s = first_free(&host_uses, 7).unwrap();
        assert_eq!(s.to_string(), "198.51.100.28/30");
        let ours = [used([192, 0, 2, 28], 0xffff_fffc)];
        assert_eq!(first_free(&ours, 7).unwrap().to_string(), "192.0.2.32/30");
    }

    #[test]
    fn a_subnet_the_host_uses_is_a_usage_error_naming_where() {
        // A LAN on a documentation range, its gateway at .1.
        let lan = [InUse {
            network: Ipv4Addr::new(192, 0, 2, 5),
            mask: 0xffff_ff00,
            by: "eth0".into(),
        }];
        let err = check_unused("192.0.2.0/30".parse().unwrap(), &lan).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let text = err.to_string();
        assert!(
            text.contains("overlaps 192.0.2.5/24") && text.contains("eth0"),
            "{text}"
        );
        assert!(text.contains("e.g. 198.51.100.0/30"), "{text}");
        assert!(check_unused("203.0.113.4/30".parse().unwrap(), &lan).is_ok());
    }

    #[test]
    fn veth_names_fit_the_kernel_limit() {
        let (h, c) = veth_names();
        assert!(h.len() <= 15 && c.len() <= 15);
        assert!(h.starts_with(PREFIX) && h.ends_with('h') && c.ends_with('c'));
    }
}
