//! Host IDs for root inside a user namespace when learnns runs as root:
//! a range that nobody on this machine uses, so that nothing inside the
//! container is anybody outside it.

use crate::container::IdMap;
use crate::error::{Error, Result};

/// Where the search starts: above useradd's /etc/subuid ranges (100000 and
/// up, 65536 per user), LXD's and Incus's default (1000000 to 1001000000)
/// and SSSD's ID mapping for directory users (up to 2000200000), below
/// 2^31, past which some programs take an ID for negative.
const FIRST: u32 = 2_000_200_000;
const LAST: u32 = 0x7fff_ffff;

/// `count` IDs nobody uses: no account in /etc/passwd or /etc/group, no
/// range in /etc/subuid or /etc/subgid, and no user or group at the range's
/// ends that the name services (LDAP, SSSD) know. `pick` chooses among the
/// free ranges, so that several containers can differ.
pub fn unused(count: u32, pick: u32) -> Result<IdMap> {
    let taken = taken_ranges();
    let free: Vec<u32> = (0..)
        .map(|k: u64| u64::from(FIRST) + k * u64::from(count))
        .take_while(|first| first + u64::from(count) <= u64::from(LAST))
        .map(|first| first as u32)
        .filter(|first| !overlaps(*first, count, &taken))
        .collect();
    // The name services are asked about the picked range only (a lookup
    // can be slow), moving on while they know it.
    let start = pick as usize % free.len().max(1);
    let first = (0..free.len())
        .map(|i| free[(start + i) % free.len()])
        .find(|first| !known_to_name_services(*first) && !known_to_name_services(first + count - 1))
        .ok_or_else(|| {
            Error::setup(
                "no range of unused host IDs is left for the container's root",
                "check /etc/subuid and /etc/subgid",
            )
        })?;
    Ok(IdMap {
        uid: first,
        gid: first,
        count,
    })
}

fn known_to_name_services(id: u32) -> bool {
    use nix::unistd::{Gid, Group, Uid, User};
    matches!(User::from_uid(Uid::from_raw(id)), Ok(Some(_)))
        || matches!(Group::from_gid(Gid::from_raw(id)), Ok(Some(_)))
}

fn overlaps(first: u32, count: u32, taken: &[(u64, u64)]) -> bool {
    let (start, end) = (u64::from(first), u64::from(first) + u64::from(count));
    taken.iter().any(|(a, b)| *a < end && start < *b)
}

/// Every ID or range of IDs this machine gives out, as [start, end).
fn taken_ranges() -> Vec<(u64, u64)> {
    let mut taken = Vec::new();
    for file in ["/etc/subuid", "/etc/subgid"] {
        taken.extend(parse_ranges(
            &std::fs::read_to_string(file).unwrap_or_default(),
        ));
    }
    for file in ["/etc/passwd", "/etc/group"] {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        taken.extend(text.lines().filter_map(|l| {
            let id: u64 = l.split(':').nth(2)?.parse().ok()?;
            Some((id, id + 1))
        }));
    }
    taken
}

/// `name:start:count` lines, as [start, end).
fn parse_ranges(text: &str) -> Vec<(u64, u64)> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.trim().split(':').skip(1);
            let start: u64 = fields.next()?.parse().ok()?;
            let count: u64 = fields.next()?.parse().ok()?;
            Some((start, start + count))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_in_use_are_skipped() {
        let taken =
            parse_ranges("ada:100000:65536\nlxd:1000000:1000000000\nroot:1500000000:70000\n# x\n");
        assert_eq!(
            taken,
            vec![
                (100000, 165536),
                (1000000, 1001000000),
                (1500000000, 1500070000)
            ]
        );
        assert!(overlaps(1_500_000_000, 65536, &taken));
        assert!(overlaps(1_499_990_000, 65536, &taken));
        assert!(!overlaps(1_500_070_000, 65536, &taken));
        assert!(!overlaps(1_001_000_000, 65536, &taken));
    }

    #[test]
    fn the_range_chosen_is_unused_here() {
        let map = unused(65536, 0).unwrap();
        assert!(map.uid >= FIRST && map.uid as u64 + 65536 <= LAST as u64);
        assert!(!overlaps(map.uid, map.count, &taken_ranges()));
        assert_ne!(unused(65536, 1).unwrap(), map);
    }
}
