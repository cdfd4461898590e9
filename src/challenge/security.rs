//! Challenge 9: a process that has lost CAP_SYS_ADMIN for good (it is out
//! of the bounding set) and runs under a seccomp filter.

use super::grade::{Grade, best};
use super::{Candidates, Verdict};

/// CAP_SYS_ADMIN's bit in the capability sets.
const SYS_ADMIN: u32 = 21;
/// `Seccomp:` in /proc/PID/status: 2 is SECCOMP_MODE_FILTER.
const FILTER: u32 = 2;

/// What /proc/PID/status says of its security.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confinement {
    pub bounding: u64,
    pub effective: u64,
    pub seccomp: u32,
}

impl Confinement {
    fn read(pid: i32) -> Option<Confinement> {
        let status = procfs::process::Process::new(pid).ok()?.status().ok()?;
        Some(Confinement {
            bounding: status.capbnd?,
            effective: status.capeff,
            seccomp: status.seccomp?,
        })
    }

    fn bounding_admin(&self) -> bool {
        self.bounding & (1 << SYS_ADMIN) != 0
    }

    fn effective_admin(&self) -> bool {
        self.effective & (1 << SYS_ADMIN) != 0
    }

    fn filtered(&self) -> bool {
        self.seccomp == FILTER
    }
}

const BOUNDING_FIX: &str = "drop it from the bounding set, which no exec can refill: `setpriv --bounding-set -sys_admin` or `capsh --drop=cap_sys_admin`";
const SECCOMP_FIX: &str = "start it under a tool that installs a filter, such as `systemd-run -p SystemCallFilter=~@mount` (`setpriv` and `capsh` install none)";

/// The reason for one process's state, or `None` when it passes.
pub fn judge(c: &Confinement) -> Option<(u8, String)> {
    match (c.bounding_admin(), c.filtered()) {
        (false, true) => None,
        (true, true) => {
            let only = if c.effective_admin() {
                ""
            } else {
                " (it was dropped from the effective set only, and the next exec as root brings it back)"
            };
            Some((
                2,
                format!("CAP_SYS_ADMIN still in the bounding set{only}; {BOUNDING_FIX}"),
            ))
        }
        (false, false) => Some((
            2,
            format!(
                "no seccomp filter (Seccomp {}): CAP_SYS_ADMIN is out of the bounding set, but nothing filters its system calls; {SECCOMP_FIX}",
                c.seccomp
            ),
        )),
        (true, false) => Some((
            0,
            format!(
                "CAP_SYS_ADMIN still in the bounding set and no seccomp filter (Seccomp {}): {BOUNDING_FIX}, and {SECCOMP_FIX}",
                c.seccomp
            ),
        )),
    }
}

/// Grade challenge 9.
pub fn security(all: &Candidates) -> Verdict {
    // With --pid, the one process's own state is the reason; among all of
    // the user's processes, one with neither layer is no progress.
    let one = all.list.len() == 1;
    best(
        all,
        |c| match Confinement::read(c.pid) {
            None => Grade::Nowhere,
            Some(state) => match judge(&state) {
                None => Grade::Done(format!(
                    "{} has CAP_SYS_ADMIN out of its bounding set and runs under a seccomp filter (Seccomp 2)",
                    c.label()
                )),
                Some((0, _)) if !one => Grade::Nowhere,
                Some((score, why)) => Grade::Partly(score + 1, format!("{}: {why}", c.label())),
            },
        },
        format!(
            "{}: {BOUNDING_FIX}, and {SECCOMP_FIX}",
            all.none("has CAP_SYS_ADMIN out of its bounding set or a seccomp filter")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: u64 = 0x1ff_ffff_ffff;

    fn state(bounding: u64, effective: u64, seccomp: u32) -> Confinement {
        Confinement {
            bounding,
            effective,
            seccomp,
        }
    }

    #[test]
    fn each_missing_layer_is_named() {
        let without = FULL & !(1 << SYS_ADMIN);
        assert_eq!(judge(&state(without, without, 2)), None);
        let (_, why) = judge(&state(FULL, without, 2)).unwrap();
        assert!(why.contains("still in the bounding set") && why.contains("effective set only"));
        let (_, why) = judge(&state(FULL, FULL, 2)).unwrap();
        assert!(!why.contains("effective set only"));
        let (_, why) = judge(&state(without, without, 0)).unwrap();
        assert!(why.contains("no seccomp filter (Seccomp 0)"));
        let (_, why) = judge(&state(FULL, FULL, 0)).unwrap();
        assert!(why.contains("bounding set") && why.contains("no seccomp filter"));
    }
}
