//! The course: one table of lessons, in order, and the runner that walks a
//! learner through a lesson's steps.

mod cgroup;
mod intro;
mod ipc;
mod mnt;
mod net;
mod pid;
mod security;
mod session;
mod time;
mod user;
mod uts;

use crate::container::{DEFAULT_HOSTNAME, Spec};
use crate::error::{Error, Problem, Result};
use crate::events::{self, Event, Next};
use crate::network::Subnet;
use crate::ns::{Kind, KindSet};
use crate::prose;
use crate::render::Format;
use crate::rootfs::Root;
use crate::ui;

/// Why a lesson ended before its last step. The learner quitting is not
/// an error: the lesson stops, cleans up, and learnns exits 0.
#[derive(Debug)]
pub enum Stop {
    Quit,
    Failed(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Stop {
        Stop::Failed(e)
    }
}

/// How a lesson that did not fail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Finished,
    /// The learner quit before the end.
    Stopped,
}

/// What a step returns: go on, or stop (quit or fail).
pub type Step<T = ()> = std::result::Result<T, Stop>;

pub use session::Session;

/// The steps of a lesson, run against a session.
pub type Steps = fn(&mut Session) -> Step;

/// One lesson of the course.
pub struct Lesson {
    pub number: u8,
    pub name: &'static str,
    pub title: &'static str,
    /// The namespace kind this lesson adds to the growing container.
    pub adds: Option<Kind>,
    /// The lesson's prose (`lessons/<name>.md`).
    pub prose: &'static str,
    /// The lesson's question bank (`lessons/<name>.toml`).
    pub quiz: &'static str,
    pub steps: Steps,
    /// What the machine must have beyond the lesson's namespace kinds.
    pub needs: &'static [Need],
    /// What the lesson leaves out when run without root, said by `doctor`
    /// and checked against the lesson's own skips by the tests.
    pub without_root: Option<&'static str>,
    /// With a mount namespace, the container gets a root file system of its
    /// own (the lesson that teaches it, and every one after).
    pub own_root: bool,
}

/// Something a lesson needs from the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// `ip` from iproute2, which the lesson runs and shows.
    Ip,
    /// A cgroup hierarchy where learnns can set process and memory limits.
    CgroupLimits,
    /// Seccomp filters in the kernel.
    Seccomp,
}

// ANCHOR: lessons
/// The syllabus. Its order is the course's order, the book's and the quiz's.
pub const LESSONS: [Lesson; 10] = [
    Lesson {
        number: 0,
        name: "intro",
        title: "What a namespace is, and how to see one",
        adds: None,
        prose: include_str!("../../lessons/intro.md"),
        quiz: include_str!("../../lessons/intro.toml"),
        steps: intro::steps,
        needs: &[],
        without_root: None,
        own_root: false,
    },
    Lesson {
        number: 1,
        name: "uts",
        title: "A hostname of its own",
        adds: Some(Kind::Uts),
        prose: include_str!("../../lessons/uts.md"),
        quiz: include_str!("../../lessons/uts.toml"),
        steps: uts::steps,
        needs: &[],
        without_root: None,
        own_root: false,
    },
    Lesson {
        number: 2,
        name: "ipc",
        title: "System V IPC and message queues of its own",
        adds: Some(Kind::Ipc),
        prose: include_str!("../../lessons/ipc.md"),
        quiz: include_str!("../../lessons/ipc.toml"),
        steps: ipc::steps,
        needs: &[],
        without_root: None,
        own_root: false,
    },
    Lesson {
        number: 3,
        name: "pid",
        title: "Becoming PID 1",
        adds: Some(Kind::Pid),
        prose: include_str!("../../lessons/pid.md"),
        quiz: include_str!("../../lessons/pid.toml"),
        steps: pid::steps,
        needs: &[],
        without_root: None,
        own_root: false,
    },
    Lesson {
        number: 4,
        name: "mnt",
        title: "A root file system of its own",
        adds: Some(Kind::Mnt),
        prose: include_str!("../../lessons/mnt.md"),
        quiz: include_str!("../../lessons/mnt.toml"),
        steps: mnt::steps,
        needs: &[],
        without_root: None,
        own_root: true,
    },
    Lesson {
        number: 5,
        name: "net",
        title: "A network of its own",
        adds: Some(Kind::Net),
        prose: include_str!("../../lessons/net.md"),
        quiz: include_str!("../../lessons/net.toml"),
        steps: net::steps,
        needs: &[Need::Ip],
        without_root: Some("the veth steps need root and are left out"),
        own_root: true,
    },
    Lesson {
        number: 6,
        name: "user",
        title: "Root inside, nobody outside",
        adds: Some(Kind::User),
        prose: include_str!("../../lessons/user.md"),
        quiz: include_str!("../../lessons/user.toml"),
        steps: user::steps,
        needs: &[],
        without_root: None,
        own_root: true,
    },
    Lesson {
        number: 7,
        name: "cgroup",
        title: "Limits, and a clean view of them",
        adds: Some(Kind::Cgroup),
        prose: include_str!("../../lessons/cgroup.md"),
        quiz: include_str!("../../lessons/cgroup.toml"),
        steps: cgroup::steps,
        needs: &[Need::CgroupLimits],
        without_root: Some("the limits need root (making a cgroup) and are left out"),
        own_root: true,
    },
    Lesson {
        number: 8,
        name: "time",
        title: "Clocks of its own",
        adds: Some(Kind::Time),
        prose: include_str!("../../lessons/time.md"),
        quiz: include_str!("../../lessons/time.toml"),
        steps: time::steps,
        needs: &[],
        without_root: None,
        own_root: true,
    },
    Lesson {
        number: 9,
        name: "security",
        title: "Namespaces are not security",
        adds: None,
        prose: include_str!("../../lessons/security.md"),
        quiz: include_str!("../../lessons/security.toml"),
        steps: security::steps,
        needs: &[Need::Seccomp],
        without_root: None,
        own_root: true,
    },
];
// ANCHOR_END: lessons

impl Lesson {
    /// The container of lesson N holds the kinds of lessons 1..=N.
    pub fn default_kinds(&self) -> KindSet {
        upto(self.number)
    }

    /// A section of this lesson's prose; an empty string if missing (the
    /// content check in the tests makes sure none is).
    pub fn section(&self, name: &str) -> String {
        prose::section(self.prose, name).unwrap_or_default()
    }
}

/// The kinds added by lessons 0..=n: the growing container.
pub fn upto(n: u8) -> KindSet {
    LESSONS
        .iter()
        .filter(|l| l.number <= n)
        .filter_map(|l| l.adds)
        .collect()
}

// ANCHOR: rootless
/// Without root, a namespace can only be created from inside a user
/// namespace of one's own: add one (created first), as rootless container
/// tools do (the lesson says so).
pub fn rootless(kinds: KindSet) -> KindSet {
    if kinds.is_empty() || kinds.contains(Kind::User) || nix::unistd::geteuid().is_root() {
        return kinds;
    }
    kinds.with(Kind::User)
}
// ANCHOR_END: rootless

/// Find a lesson by number (`3`) or name (`pid`).
pub fn find(selector: &str) -> Result<&'static Lesson> {
    let wanted = selector.trim().to_ascii_lowercase();
    LESSONS
        .iter()
        .find(|l| l.name == wanted || l.number.to_string() == wanted)
        .ok_or_else(|| {
            let names: Vec<_> = LESSONS
                .iter()
                .map(|l| format!("{} {}", l.number, l.name))
                .collect();
            Error::usage(
                format!("there is no lesson `{selector}`"),
                format!("pick one of: {}", names.join(", ")),
            )
        })
}

/// How a lesson is run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Replace the lesson's default kinds.
    pub kinds: Option<KindSet>,
    /// Never wait at a pause.
    pub no_pause: bool,
    /// Open a shell inside the container at the end.
    pub shell: bool,
    /// The veth pair's subnet (lesson 5); None picks a free one.
    pub subnet: Option<Subnet>,
}

/// The container of a lesson: its kinds (or the learner's), the lesson's
/// hostname, and from lesson 4 on, the mini root file system.
pub fn container_spec(lesson: &Lesson, kinds: Option<KindSet>) -> Spec {
    let kinds = rootless(kinds.unwrap_or_else(|| lesson.default_kinds()));
    let root = if lesson.own_root && kinds.contains(Kind::Mnt) {
        Root::Skeleton
    } else {
        Root::Host
    };
    Spec::new(kinds).hostname(DEFAULT_HOSTNAME).root(root)
}

/// Run one lesson from start to end, showing it through `render`. Whatever
/// happens, the container and everything registered for clean-up is gone
/// when this returns.
pub fn run(lesson: &'static Lesson, options: &Options, format: Format) -> Result<Ended> {
    let steps = lesson.steps;
    if options.shell && (format != Format::Terminal || !ui::interactive()) {
        return Err(Error::NeedsTerminal(
            Problem::new("--shell needs a terminal to type into")
                .fix("run it from an interactive terminal without --format, or drop --shell"),
        ));
    }
    let waits = format == Format::Terminal && !options.no_pause && ui::interactive();
    events::set_renderer(format.renderer(waits));
    let spec = container_spec(lesson, options.kinds);
    let kinds = spec.kinds;
    let asked = options.kinds.unwrap_or_else(|| lesson.default_kinds());
    let added_user = kinds.contains(Kind::User) && !asked.contains(Kind::User);
    let mut session = Session::new(lesson, spec, options.kinds.is_some(), options.subnet);
    session.added_user = added_user;
    events::emit(Event::Lesson {
        number: lesson.number,
        name: lesson.name.into(),
        title: lesson.title.into(),
        kinds: kinds.to_string(),
        default_kinds: lesson.default_kinds().to_string(),
        chosen: options.kinds.is_some(),
    });
    if added_user {
        events::note(
            "(not root: learnns adds a user namespace and creates the others inside it, as rootless containers do; lesson 6 explains)",
        );
    }
    let outcome = steps(&mut session).and_then(|()| {
        if options.shell {
            session.shell()?;
        }
        Ok(())
    });
    session.stop_container();
    let done = |stopped: bool| Event::Done {
        ok: session.failed_checks() == 0,
        stopped,
        number: lesson.number,
        next: LESSONS.get(lesson.number as usize + 1).map(|l| Next {
            number: l.number,
            name: l.name.into(),
            title: l.title.into(),
        }),
    };
    match outcome {
        Err(Stop::Quit) => {
            events::emit(done(true));
            Ok(Ended::Stopped)
        }
        Ok(()) => {
            if let Some(challenge) = crate::challenge::of_lesson(lesson.number) {
                events::note(format!(
                    "Now try it by hand, without learnns building it: learnns challenge {}",
                    challenge.number
                ));
            }
            events::emit(done(false));
            Ok(Ended::Finished)
        }
        Err(Stop::Failed(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_table_order() {
        for (i, lesson) in LESSONS.iter().enumerate() {
            assert_eq!(lesson.number as usize, i);
        }
    }

    #[test]
    fn the_container_grows_one_kind_per_lesson() {
        assert!(upto(0).is_empty());
        assert_eq!(upto(1).to_string(), "uts");
        assert_eq!(upto(3).to_string(), "pid ipc uts");
        assert_eq!(upto(9), KindSet::ALL);
        assert_eq!(LESSONS[3].default_kinds(), upto(3));
    }

    #[test]
    fn lessons_are_found_by_number_or_name() {
        assert_eq!(find("3").unwrap().name, "pid");
        assert_eq!(find("PID").unwrap().number, 3);
        assert!(matches!(find("10"), Err(Error::Usage(_))));
        assert!(matches!(find("docker"), Err(Error::Usage(_))));
    }

    #[test]
    fn every_section_a_lesson_uses_exists_and_every_section_is_used() {
        for lesson in &LESSONS {
            let names = prose::section_names(lesson.prose);
            assert!(!names.is_empty(), "{} has no sections", lesson.name);
            for name in &names {
                let text = prose::section(lesson.prose, name).unwrap();
                assert!(!text.trim().is_empty(), "{}:{name} is empty", lesson.name);
            }
        }
    }

    #[test]
    fn every_section_the_steps_say_is_in_the_prose() {
        for lesson in &LESSONS {
            let path = format!(
                "{}/src/lessons/{}.rs",
                env!("CARGO_MANIFEST_DIR"),
                lesson.name
            );
            let code = std::fs::read_to_string(&path).unwrap();
            let mut used: Vec<&str> = ["say(\"", "say_with(\""]
                .iter()
                .flat_map(|call| code.split(call).skip(1))
                .filter_map(|rest| rest.split('"').next())
                .collect();
            // The shared closing steps say these sections for the lesson.
            if code.contains("s.links()") {
                used.push("table");
            }
            if code.contains("s.check_your_work()") {
                used.push("check");
            }
            assert!(!used.is_empty(), "{} says nothing", lesson.name);
            for name in used {
                assert!(
                    prose::section(lesson.prose, name).is_some(),
                    "{} says `{name}`, which lessons/{}.md does not define",
                    lesson.name,
                    lesson.name
                );
            }
        }
    }
}
