//! Challenge 8: a process whose boot-time clock is a day ahead of the
//! host's, in a time namespace of its own.

use super::grade::{Grade, best};
use super::{Candidates, Verdict};
use crate::ns::Kind;

/// A day, in seconds, and how far from it still counts.
const DAY: i64 = 86_400;
const SLACK: i64 = 60;

/// The offsets of a time namespace, in seconds (nanoseconds dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Offsets {
    pub monotonic: i64,
    pub boottime: i64,
}

/// `/proc/PID/timens_offsets`: a line per clock, its name (or number),
/// seconds and nanoseconds.
pub fn parse(text: &str) -> Option<Offsets> {
    let mut offsets = Offsets::default();
    let mut seen = false;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [clock, secs, ..] = f[..] else { continue };
        let Ok(secs) = secs.parse::<i64>() else {
            continue;
        };
        match clock {
            "monotonic" | "1" => offsets.monotonic = secs,
            "boottime" | "7" => offsets.boottime = secs,
            _ => continue,
        }
        seen = true;
    }
    seen.then_some(offsets)
}

/// Grade challenge 8.
pub fn time(all: &Candidates) -> Verdict {
    best(
        all,
        |c| {
            if !c.own(Kind::Time, &all.host) {
                return Grade::Nowhere;
            }
            let text = std::fs::read_to_string(format!("/proc/{}/timens_offsets", c.pid));
            let offsets = match text.map(|t| parse(&t)) {
                Ok(Some(o)) => o,
                Ok(None) | Err(_) => {
                    return Grade::Partly(
                        1,
                        format!(
                            "{} is in a time namespace of its own, but its offsets cannot be read (/proc/{}/timens_offsets); run the check with sudo",
                            c.label(),
                            c.pid
                        ),
                    );
                }
            };
            let Offsets {
                boottime,
                monotonic,
            } = offsets;
            if (boottime - DAY).abs() <= SLACK {
                return Grade::Done(format!(
                    "{} is in a time namespace of its own, and its boot-time clock is {boottime} s ahead of the host's (a day)",
                    c.label()
                ));
            }
            if boottime == 0 && monotonic == 0 {
                return Grade::Partly(
                    2,
                    format!(
                        "{} has its own time namespace but offsets 0: the offsets were never set, and they can only be written before the first process enters the namespace (later the kernel refuses, EACCES); start it again with `unshare --time --boottime {DAY}`",
                        c.label()
                    ),
                );
            }
            let hint = if boottime == 0 {
                format!(
                    "the offset is on the monotonic clock ({monotonic} s), not on the boot-time one: use `--boottime {DAY}`, not `--monotonic`"
                )
            } else {
                format!(
                    "its boot-time offset is {boottime} s, not a day ({DAY} s): start it again with `--boottime {DAY}`"
                )
            };
            Grade::Partly(
                3,
                format!(
                    "{} has its own time namespace, but its boot-time clock is not a day ahead: {hint}",
                    c.label()
                ),
            )
        },
        format!(
            "no time namespace: {} (changing the date with `date -s` would change the host's clock, not a namespace's); start one with `sudo unshare --time --boottime {DAY}` (as an ordinary user, `unshare --user --map-root-user --time --boottime {DAY}`) and leave it running",
            all.none("is in a time namespace other than the host's")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_read_by_clock_name_or_number() {
        let text = "monotonic           0         0\nboottime        86400         0\n";
        assert_eq!(
            parse(text),
            Some(Offsets {
                monotonic: 0,
                boottime: 86400
            })
        );
        assert_eq!(
            parse("1 -5 0\n7 3600 500\n"),
            Some(Offsets {
                monotonic: -5,
                boottime: 3600
            })
        );
        assert_eq!(parse(""), None);
    }
}
