//! The host side of container networking: a veth pair between the host and
//! the container, on a small subnet of a documentation range (RFC 5737), so
//! no packet can ever be meant for a real machine. Everything is done with
//! the `ip` command the lesson teaches, and every command is shown.

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use nix::unistd::Pid;

use crate::container;
use crate::container::cleanup::{self, PREFIX, Token, Undo};
use crate::error::{Error, Result};
use crate::ui;

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

/// A /30 of a documentation range for this run that no route on the host
/// touches yet, so two learnns runs (a workshop machine, parallel tests)
/// never collide, and neither does a host that uses a range itself.
pub fn free_subnet() -> Result<Subnet> {
    let routes: Vec<(Ipv4Addr, u32)> = procfs::net::route()
        .unwrap_or_default()
        .into_iter()
        // The default route (mask 0) covers everything but uses nothing.
        .filter(|r| u32::from(r.mask) != 0)
        .map(|r| (r.destination, u32::from(r.mask)))
        .collect();
    first_free(&routes, std::process::id() as usize).ok_or_else(|| {
        Error::Setup("every /30 of the documentation ranges is in use on this host.\n  fix: pass --subnet with one you know is free".into())
    })
}

/// The first /30, starting at a place that depends on `seed`, that overlaps
/// none of `routes`.
fn first_free(routes: &[(Ipv4Addr, u32)], seed: usize) -> Option<Subnet> {
    DOC_RANGES.iter().find_map(|range| {
        (0..64)
            .map(|i| Subnet {
                network: Ipv4Addr::from(u32::from(*range) + (((seed + i) % 64) * 4) as u32),
                prefix: 30,
            })
            .find(|s| !routes.iter().any(|(net, mask)| s.overlaps(*net, *mask)))
    })
}

/// The names of the two ends of this run's veth pair: prefix, PID, and h
/// (host) or c (container); at most 15 characters, the kernel's limit.
pub fn veth_names() -> (String, String) {
    let pid = std::process::id();
    (format!("{PREFIX}{pid}h"), format!("{PREFIX}{pid}c"))
}

/// Is `ip` here? The error names the package.
pub fn require_ip() -> Result<()> {
    if crate::doctor::find_in_path("ip").is_none() {
        return Err(Error::Setup(
            "the `ip` command is missing; network set-up uses it.\n  fix: install iproute2 (sudo apt-get install iproute2)".into(),
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
        return Err(Error::Setup(format!(
            "`{shown}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Run `ip ARGS` on the host, showing it.
pub fn ip(args: &[&str]) -> Result<()> {
    let shown = format!("ip {}", args.join(" "));
    ui::command_line("$", &shown);
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
    let shown = container::nsenter_line(pid, &argv);
    ui::command_line("#", &shown);
    run_ip(container::command_in(pid, &argv)?, &shown)
}

/// A veth pair that joins the host and a container.
#[derive(Debug)]
pub struct Veth {
    pub host: String,
    pub inside: String,
    token: Token,
}

impl Drop for Veth {
    fn drop(&mut self) {
        cleanup::undo(self.token);
    }
}

// ANCHOR: connect
/// Create the pair, move one end into the container (whose first process is
/// `pid`), address and raise both ends.
pub fn connect(pid: Pid, subnet: Subnet) -> Result<Veth> {
    require_ip()?;
    let (host, inside) = veth_names();
    // Registered before it exists: a crash between the two lines below must
    // still lead the next start to it.
    let token = cleanup::register(Undo::Link { name: host.clone() });
    let veth = Veth {
        host: host.clone(),
        inside: inside.clone(),
        token,
    };
    let prefix = subnet.prefix;
    ip(&[
        "link", "add", &host, "type", "veth", "peer", "name", &inside,
    ])?;
    ip(&["link", "set", &inside, "netns", &pid.to_string()])?;
    ip(&[
        "addr",
        "add",
        &format!("{}/{prefix}", subnet.host()),
        "dev",
        &host,
    ])?;
    ip(&["link", "set", &host, "up"])?;
    ip_inside(
        pid,
        &[
            "addr",
            "add",
            &format!("{}/{prefix}", subnet.container()),
            "dev",
            &inside,
        ],
    )?;
    ip_inside(pid, &["link", "set", &inside, "up"])?;
    Ok(veth)
}
// ANCHOR_END: connect

#[cfg(test)]
mod tests {
    use super::*;

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
        let host_uses = [(Ipv4Addr::new(192, 0, 2, 0), 0xffff_ff00)];
        let s = first_free(&host_uses, 7).unwrap();
        assert_eq!(s.to_string(), "198.51.100.28/30");
        let ours = [(Ipv4Addr::new(192, 0, 2, 28), 0xffff_fffc)];
        assert_eq!(first_free(&ours, 7).unwrap().to_string(), "192.0.2.32/30");
    }

    #[test]
    fn veth_names_fit_the_kernel_limit() {
        let (h, c) = veth_names();
        assert!(h.len() <= 15 && c.len() <= 15);
        assert!(h.starts_with(PREFIX) && h.ends_with('h') && c.ends_with('c'));
    }
}
