//! `learnns doctor`: can this machine run every lesson, and if not, what
//! would fix it. Facts about the machine are gathered once into [`Machine`];
//! the verdicts are pure functions of it, so they are tested without a machine.

use std::path::{Path, PathBuf};

use colored::Colorize;

/// Also named here by the lessons, which ask the doctor what is installed.
use crate::error::Problem;
use crate::host_tools::find_in_path;
use crate::lessons::{LESSONS, Lesson, Need};
use crate::ns::{Kind, KindSet, ORDER};
use crate::render::layout::wrap;
use crate::ui::width;

/// Whether an unprivileged user may create user namespaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Userns {
    Allowed,
    Blocked { why: String, fix: String },
}

/// How the cgroup file system is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupMode {
    /// One unified v2 tree at /sys/fs/cgroup (most current distributions).
    V2,
    /// v1 controllers, and a v2 tree at /sys/fs/cgroup/unified.
    Hybrid,
    /// v1 controllers only.
    V1,
    Missing,
}

/// What learnns needs to know about the machine.
#[derive(Debug, Clone)]
pub struct Machine {
    pub root: bool,
    pub userns: Userns,
    pub kinds: KindSet,
    pub cgroup: CgroupMode,
    /// Where processes and memory can be limited, or why they cannot.
    pub limits: Result<String, Problem>,
    pub ip: Option<PathBuf>,
    pub ping: Option<PathBuf>,
    pub seccomp: bool,
}

impl Machine {
    /// Look at this machine.
    pub fn inspect() -> Machine {
        let kinds = ORDER
            .into_iter()
            .filter(|k| Path::new(&format!("/proc/self/ns/{}", k.proc_name())).exists())
            .collect();
        let cgroup = cgroup_mode();
        Machine {
            root: nix::unistd::geteuid().is_root(),
            userns: userns(),
            kinds,
            cgroup,
            limits: crate::cgroup::Layout::detect()
                .map(|l| l.describe())
                .map_err(|e| e.problem()),
            ip: find_in_path("ip"),
            ping: find_in_path("ping"),
            seccomp: std::fs::read_to_string("/proc/self/status")
                .is_ok_and(|s| s.lines().any(|l| l.starts_with("Seccomp:"))),
        }
    }
}

fn sysctl(path: &str) -> Option<i64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn userns() -> Userns {
    if sysctl("/proc/sys/user/max_user_namespaces") == Some(0) {
        return Userns::Blocked {
            why: "user.max_user_namespaces is 0".into(),
            fix: "sudo sysctl -w user.max_user_namespaces=15000".into(),
        };
    }
    if sysctl("/proc/sys/kernel/unprivileged_userns_clone") == Some(0) {
        return Userns::Blocked {
            why: "kernel.unprivileged_userns_clone is 0 (a Debian/Ubuntu patch)".into(),
            fix: "sudo sysctl -w kernel.unprivileged_userns_clone=1".into(),
        };
    }
    if sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == Some(1) {
        return Userns::Blocked {
            why: "AppArmor restricts unprivileged user namespaces (Ubuntu 23.10 and later)".into(),
            fix: "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or run as root"
                .into(),
        };
    }
    Userns::Allowed
}

fn fs_type(path: &str) -> Option<nix::sys::statfs::FsType> {
    nix::sys::statfs::statfs(path)
        .ok()
        .map(|s| s.filesystem_type())
}

fn cgroup_mode() -> CgroupMode {
    use nix::sys::statfs::{CGROUP2_SUPER_MAGIC, TMPFS_MAGIC};
    match fs_type("/sys/fs/cgroup") {
        Some(t) if t == CGROUP2_SUPER_MAGIC => CgroupMode::V2,
        Some(t) if t == TMPFS_MAGIC => {
            if fs_type("/sys/fs/cgroup/unified") == Some(CGROUP2_SUPER_MAGIC) {
                CgroupMode::Hybrid
            } else {
                CgroupMode::V1
            }
        }
        _ => CgroupMode::Missing,
    }
}

/// Can a lesson run here?
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Ready,
    /// Runs for an unprivileged user when a user namespace is added.
    Rootless(String),
    Blocked(Vec<Problem>),
}

/// What stands between this machine and a lesson, each with its fix.
pub fn missing(lesson: &Lesson, machine: &Machine) -> Vec<Problem> {
    let mut problems = Vec::new();
    let unsupported: KindSet = lesson
        .default_kinds()
        .iter()
        .filter(|k| !machine.kinds.contains(*k))
        .collect();
    if !unsupported.is_empty() {
        problems.push(
            Problem::new(format!("the kernel has no {unsupported} namespace")).fix(
                "a newer kernel (time needs 5.6+) built with CONFIG_{USER,PID,NET,IPC,UTS,CGROUP,TIME}_NS",
            ),
        );
    }
    for need in lesson.needs {
        match need {
            Need::Ip if machine.ip.is_none() => problems.push(
                Problem::new("`ip` is not installed")
                    .fix("sudo apt-get install iproute2 (or your distribution's iproute2)"),
            ),
            Need::CgroupLimits => {
                if let Err(why) = &machine.limits {
                    problems.push(why.clone());
                }
            }
            Need::Seccomp if !machine.seccomp => problems.push(
                Problem::new("the kernel has no seccomp")
                    .fix("a kernel built with CONFIG_SECCOMP_FILTER"),
            ),
            _ => {}
        }
    }
    problems
}

// ANCHOR: verdict
pub fn verdict(lesson: &Lesson, machine: &Machine) -> Verdict {
    let mut problems = missing(lesson, machine);
    let needs_namespaces = !lesson.default_kinds().is_empty();
    if needs_namespaces && !machine.root {
        match &machine.userns {
            Userns::Allowed if problems.is_empty() => {
                if lesson.without_root.is_none() && lesson.default_kinds().contains(Kind::User) {
                    return Verdict::Ready;
                }
                let caveat = lesson
                    .without_root
                    .map(|what| format!("; {what}"))
                    .unwrap_or_default();
                return Verdict::Rootless(format!("learnns adds a user namespace first{caveat}"));
            }
            Userns::Allowed => {}
            Userns::Blocked { why, fix } => problems.push(
                Problem::new(format!("not root, and {why}"))
                    .fix(format!("sudo learnns lesson {}, or {fix}", lesson.number)),
            ),
        }
    }
    if problems.is_empty() {
        Verdict::Ready
    } else {
        Verdict::Blocked(problems)
    }
}
// ANCHOR_END: verdict

fn mark(ok: bool) -> colored::ColoredString {
    if ok {
        "✓".green().bold()
    } else {
        "✗".red().bold()
    }
}

/// One line of the report: a mark, then text wrapped under itself.
fn item(mark: &str, plain_mark: char, text: &str) {
    let first = format!("    {plain_mark} ");
    for (i, line) in wrap(text, width(), &first, "      ").iter().enumerate() {
        if i == 0 {
            outln!("{}", line.replacen(plain_mark, mark, 1));
        } else {
            outln!("{line}");
        }
    }
}

fn fact(ok: bool, text: &str) {
    item(&mark(ok).to_string(), if ok { '✓' } else { '✗' }, text);
}

/// A machine fact that stands in the way, with its fix.
fn obstacle(problem: &Problem, indent: &str) {
    let rest = format!("{indent}  ");
    for line in wrap(&problem.what, width(), indent, &rest) {
        outln!("{line}");
    }
    if let Some(fix) = &problem.fix {
        let fix_rest = format!("{indent}     ");
        for line in wrap(&format!("fix: {fix}"), width(), &rest, &fix_rest) {
            outln!("{line}");
        }
    }
}

/// Print the report; true when every lesson that is built can run here.
pub fn report(machine: &Machine) -> bool {
    outln!(
        "{}",
        "learnns doctor: can this machine run every lesson?".bold()
    );
    outln!("\n  {}", "machine".bold());
    fact(
        machine.root,
        if machine.root {
            "running as root"
        } else {
            "not root (lessons need root, or a user namespace)"
        },
    );
    match &machine.userns {
        Userns::Allowed => fact(
            true,
            "unprivileged user namespaces are allowed (rootless works)",
        ),
        Userns::Blocked { why, fix } => {
            fact(false, "rootless is blocked");
            obstacle(&Problem::new(why.clone()).fix(fix), "      ");
        }
    }
    let lacking: KindSet = ORDER
        .into_iter()
        .filter(|k| !machine.kinds.contains(*k))
        .collect();
    fact(
        lacking.is_empty(),
        &format!("namespace kinds in this kernel: {}", machine.kinds),
    );
    let mode = match machine.cgroup {
        CgroupMode::V2 => "cgroup v2 (unified)",
        CgroupMode::Hybrid => "hybrid: cgroup v1 controllers, v2 at /sys/fs/cgroup/unified",
        CgroupMode::V1 => "cgroup v1",
        CgroupMode::Missing => "no cgroup file system at /sys/fs/cgroup",
    };
    fact(machine.cgroup != CgroupMode::Missing, mode);
    match &machine.limits {
        Ok(place) => fact(true, &format!("process and memory limits: {place}")),
        Err(why) => {
            fact(false, "no process and memory limits");
            obstacle(why, "      ");
        }
    }
    match &machine.ip {
        Some(path) => fact(true, &format!("ip: {}", path.display())),
        None => {
            fact(false, "`ip` not found");
            obstacle(
                &Problem::new("lesson 5 and --veth run it").fix("install iproute2"),
                "      ",
            );
        }
    }
    match &machine.ping {
        Some(path) => fact(true, &format!("ping: {}", path.display())),
        None => item(
            &"–".yellow().bold().to_string(),
            '–',
            "ping is not installed (optional: lesson 5 then sends its echo requests itself; to have it: sudo apt-get install iputils-ping)",
        ),
    }
    fact(machine.seccomp, "seccomp filters");

    outln!("\n  {}", "lessons".bold());
    let mut all_ok = true;
    for lesson in &LESSONS {
        let label = format!("{} {:<9}", lesson.number, lesson.name);
        match verdict(lesson, machine) {
            Verdict::Ready => fact(true, &format!("{label} ready")),
            Verdict::Rootless(how) => fact(true, &format!("{label} ready without root: {how}")),
            Verdict::Blocked(problems) => {
                all_ok = false;
                fact(false, &format!("{label} cannot run here:"));
                for p in problems {
                    obstacle(&p, "        ");
                }
            }
        }
    }
    all_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine() -> Machine {
        Machine {
            root: true,
            userns: Userns::Allowed,
            kinds: KindSet::ALL,
            cgroup: CgroupMode::V2,
            limits: Ok("cgroup v2, one tree at /sys/fs/cgroup".into()),
            ip: Some("/usr/sbin/ip".into()),
            ping: Some("/usr/bin/ping".into()),
            seccomp: true,
        }
    }

    #[test]
    fn root_with_everything_runs_every_built_lesson() {
        let m = machine();
        for lesson in &LESSONS {
            assert_eq!(verdict(lesson, &m), Verdict::Ready, "{}", lesson.name);
        }
    }

    #[test]
    fn without_root_a_user_namespace_is_the_way() {
        let m = Machine {
            root: false,
            ..machine()
        };
        assert_eq!(verdict(&LESSONS[0], &m), Verdict::Ready);
        assert_eq!(
            verdict(&LESSONS[3], &m),
            Verdict::Rootless("learnns adds a user namespace first".into())
        );
    }

    #[test]
    fn apparmor_restriction_is_named_with_its_fix() {
        let m = Machine {
            root: false,
            userns: Userns::Blocked {
                why: "AppArmor restricts".into(),
                fix: "sysctl".into(),
            },
            ..machine()
        };
        let Verdict::Blocked(problems) = verdict(&LESSONS[1], &m) else {
            panic!()
        };
        assert!(
            problems[0].what.contains("AppArmor restricts")
                && problems[0]
                    .fix
                    .as_ref()
                    .unwrap()
                    .contains("sudo learnns lesson 1")
        );
    }

    #[test]
    fn old_kernels_and_missing_tools_are_reported() {
        let m = Machine {
            kinds: KindSet::ALL.iter().filter(|k| *k != Kind::Time).collect(),
            ip: None,
            limits: Err(
                Problem::new("no cgroup hierarchy offers the pids and memory controllers")
                    .fix("..."),
            ),
            ..machine()
        };
        let Verdict::Blocked(p) = verdict(&LESSONS[8], &m) else {
            panic!()
        };
        assert!(p.iter().any(|s| s.what.contains("no time namespace")));
        let Verdict::Blocked(p) = verdict(&LESSONS[5], &m) else {
            panic!()
        };
        assert!(
            p.iter()
                .any(|s| s.fix.as_ref().unwrap().contains("iproute2"))
        );
        // Without ping, lesson 5 sends its own echo requests.
        let m5 = Machine {
            ping: None,
            ..machine()
        };
        assert_eq!(verdict(&LESSONS[5], &m5), Verdict::Ready);
        let Verdict::Blocked(p) = verdict(&LESSONS[7], &m) else {
            panic!()
        };
        assert!(p.iter().any(|s| s.what.contains("pids and memory")));
        let rootless = Machine {
            root: false,
            ..machine()
        };
        let Verdict::Rootless(how) = verdict(&LESSONS[7], &rootless) else {
            panic!()
        };
        assert!(how.contains("limits need root"), "{how}");
    }

    #[test]
    fn this_machine_can_be_inspected() {
        let m = Machine::inspect();
        assert!(m.kinds.contains(Kind::Uts));
    }
}
