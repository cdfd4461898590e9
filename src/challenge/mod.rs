//! Challenges: one per lesson, solved by hand with `unshare`, `nsenter`,
//! `mount`...; learnns grades the result by reading the kernel (never the
//! shell history) and names what is missing in the learner's terms.
//!
//! The texts (task, what to leave running, how to check, hints, solution)
//! live in `lessons/challenges.md`, which the book includes too.

mod candidates;
pub mod capstone;
pub mod cgroup;
mod grade;
mod ipc;
mod mnt;
pub mod net;
mod security;
mod time;

pub use candidates::{Candidate, Candidates, Children, Graded};

use crate::error::{Error, Result};
use crate::prose;

/// The prose of every challenge.
pub const PROSE: &str = include_str!("../../lessons/challenges.md");

/// Text a graded process chose (its name, its hostname, the names of its
/// directories and mounts) as it may reach a terminal, root's included:
/// control characters (escape sequences, newlines that would start a line
/// of learnns's own) and the marks that reorder text are shown escaped
/// (`\u{1b}`), never sent.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => c.escape_unicode().to_string(),
            c if c.is_control() => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// This process has the state asked for.
    Pass { pid: i32, what: String },
    /// Nothing has it; `closest` is the process that got furthest, and the
    /// reasons name what it still lacks.
    Missing {
        closest: Option<i32>,
        reasons: Vec<String>,
    },
}

impl Verdict {
    pub fn passed(&self) -> bool {
        matches!(self, Verdict::Pass { .. })
    }
}

/// One challenge of the course.
#[derive(Debug)]
pub struct Challenge {
    /// The number of the lesson it belongs to.
    pub number: u8,
    /// That lesson's name, also the prefix of its sections in the prose.
    pub lesson: &'static str,
    pub title: &'static str,
    pub check: fn(&Candidates) -> Verdict,
}

/// The capstone's number: after lesson 9, the last.
pub const CAPSTONE: u8 = 10;

// ANCHOR: challenges
/// The challenges, in the course's order.
pub const CHALLENGES: [Challenge; 10] = [
    Challenge {
        number: 1,
        lesson: "uts",
        title: "A process whose hostname is `lab`",
        check: grade::uts,
    },
    Challenge {
        number: 2,
        lesson: "ipc",
        title: "A message queue the host cannot see",
        check: ipc::ipc,
    },
    Challenge {
        number: 3,
        lesson: "pid",
        title: "PID 1 of its own PID namespace, with its own /proc",
        check: grade::pid,
    },
    Challenge {
        number: 4,
        lesson: "mnt",
        title: "A root of its own, reached with pivot_root, private",
        check: mnt::mnt,
    },
    Challenge {
        number: 5,
        lesson: "net",
        title: "A network namespace `lab`, joined to the host by a veth pair",
        check: net::check,
    },
    Challenge {
        number: 6,
        lesson: "user",
        title: "Root inside, yourself outside, without sudo",
        check: grade::user,
    },
    Challenge {
        number: 7,
        lesson: "cgroup",
        title: "A cgroup `lab` with a pids limit, seen as `/`",
        check: cgroup::cgroup,
    },
    Challenge {
        number: 8,
        lesson: "time",
        title: "A boot-time clock a day ahead",
        check: time::time,
    },
    Challenge {
        number: 9,
        lesson: "security",
        title: "No CAP_SYS_ADMIN for good, and a seccomp filter",
        check: security::security,
    },
    // The capstone has no lesson: its number comes after the last one, and
    // its name (`capstone`) is no lesson's, so `of_lesson` never finds it.
    Challenge {
        number: CAPSTONE,
        lesson: "capstone",
        title: "The whole container by hand: six namespaces, a veth, a limit",
        check: capstone::check,
    },
];
// ANCHOR_END: challenges

impl Challenge {
    fn section(&self, part: &str) -> String {
        prose::section(PROSE, &format!("{}-{part}", self.lesson)).unwrap_or_default()
    }

    /// The state to build.
    pub fn task(&self) -> String {
        self.section("task")
    }

    /// What to leave running for the check.
    pub fn leave_running(&self) -> String {
        self.section("leave")
    }

    /// How to check.
    pub fn how_to_check(&self) -> String {
        self.section("check")
    }

    /// The hints, from the gentlest to the answer.
    pub fn hints(&self) -> Vec<String> {
        self.section("hints")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    }
}

/// The challenge of a lesson, if it has one (never the capstone, which
/// belongs to no lesson).
pub fn of_lesson(number: u8) -> Option<&'static Challenge> {
    CHALLENGES
        .iter()
        .find(|c| c.number == number && c.number != CAPSTONE)
}

/// Find a challenge by its lesson's number (`3`) or name (`pid`).
pub fn find(selector: &str) -> Result<&'static Challenge> {
    let wanted = selector.trim().to_ascii_lowercase();
    CHALLENGES
        .iter()
        .find(|c| c.lesson == wanted || c.number.to_string() == wanted)
        .ok_or_else(|| {
            let names: Vec<_> = CHALLENGES
                .iter()
                .map(|c| format!("{} {}", c.number, c.lesson))
                .collect();
            Error::usage(
                format!("there is no challenge `{selector}`"),
                format!(
                    "pick one of: {} (`learnns challenge` lists them)",
                    names.join(", ")
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_challenge_has_its_texts() {
        for c in &CHALLENGES {
            for (part, text) in [
                ("task", c.task()),
                ("leave", c.leave_running()),
                ("check", c.how_to_check()),
            ] {
                assert!(!text.is_empty(), "{}: no {part}", c.lesson);
            }
            assert!(c.hints().len() >= 2, "{}: too few hints", c.lesson);
            assert!(
                prose::section(PROSE, &format!("{}-solution", c.lesson)).is_some(),
                "{}: no solution for the book",
                c.lesson
            );
            assert!(c.how_to_check().contains(&c.number.to_string()));
        }
    }

    #[test]
    fn what_a_process_chose_is_shown_escaped() {
        assert_eq!(printable("sleep"), "sleep");
        assert_eq!(printable("a\x1b[2Jb\n✓"), "a\\u{1b}[2Jb\\u{a}✓");
        assert_eq!(printable("x\u{202e}y"), "x\\u{202e}y");
    }

    #[test]
    fn challenges_are_found_by_number_or_name_and_belong_to_their_lesson() {
        assert_eq!(find("3").unwrap().lesson, "pid");
        assert_eq!(find(" USER ").unwrap().number, 6);
        assert_eq!(find("42").unwrap_err().exit_code(), 2);
        assert!(find("nope").unwrap_err().to_string().contains("1 uts"));
        assert_eq!(find("capstone").unwrap().number, CAPSTONE);
        assert_eq!(find("10").unwrap().lesson, "capstone");
        assert!(of_lesson(CAPSTONE).is_none());
        for c in CHALLENGES.iter().filter(|c| c.number != CAPSTONE) {
            let lesson = crate::lessons::find(c.lesson).unwrap();
            assert_eq!(lesson.number, c.number, "{}", c.lesson);
        }
    }
}
