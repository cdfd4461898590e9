//! `learnns challenge`: the list, a task, hints, and grading what the
//! learner left running (the grading itself is `challenge`'s; this module
//! says it and keeps the score in the progress file).

use colored::Colorize;

use crate::challenge::{self, Challenge, Verdict};
use crate::cli::ChallengeArgs;
use crate::error::{Error, Result};
use crate::render::paragraph::{hanging, paragraph};
use crate::{inspect, progress, sys, ui};

/// `learnns challenge [N] [--check|--hint|--watch|--clean]`.
pub fn run(args: &ChallengeArgs) -> Result<i32> {
    let Some(selector) = &args.challenge else {
        list_challenges();
        return Ok(0);
    };
    let chosen = challenge::find(selector)?;
    if args.pid.is_some() && !(args.check || args.watch) {
        return Err(Error::usage(
            "--pid names the process to grade, and nothing is graded here",
            format!(
                "add --check or --watch: learnns challenge {} --check --pid PID",
                chosen.number
            ),
        ));
    }
    if args.pid.is_some() && chosen.lesson == "net" {
        return Err(Error::usage(
            "challenge 5 grades the network namespace named `lab` and the link `lab-h`, not a process, so --pid has nothing to name",
            "leave out --pid: learnns challenge 5 --check",
        ));
    }
    if args.check {
        return Ok(if check_challenge(chosen, args.pid, true)? {
            0
        } else {
            1
        });
    }
    if args.watch {
        return watch_challenge(chosen, args.pid);
    }
    if args.hint {
        return show_hint(chosen);
    }
    if args.clean && chosen.lesson == "net" {
        return challenge::net::clean();
    }
    if args.clean && chosen.lesson == "cgroup" {
        return challenge::cgroup::clean();
    }
    if args.clean {
        let what = if chosen.number == challenge::CAPSTONE {
            // Where the cgroup is depends on the machine: name the
            // solution's, so that `rmdir` has a directory to go with it.
            let dir = challenge::cgroup::PidsTree::detect()
                .map(|tree| {
                    format!(
                        " (the solution's: `rmdir {}`)",
                        tree.dir.join("cap").display()
                    )
                })
                .unwrap_or_default();
            format!(
                "The capstone leaves the names to you (the solution's are the veth `cap-h` and the cgroup `cap`), so learnns removes nothing it cannot be sure you made. The veth pair goes with the network namespace when its last process exits; then remove the cgroup with `rmdir`{dir}, once no process is left in it."
            )
        } else {
            "This challenge told you to create no named object (no link, no cgroup, no file), so there is nothing for learnns to remove.".to_string()
        };
        paragraph(&what, "");
        paragraph(
            "The processes you started are yours: stop them yourself (exit the shell, or `kill PID`; PID 1 of a PID namespace takes from outside only the signals it handles, so it needs `kill -KILL PID`). learnns never kills them.",
            "",
        );
        return Ok(0);
    }
    show_challenge(chosen);
    Ok(0)
}

fn list_challenges() {
    let progress = progress::Place::here()
        .and_then(|place| place.load())
        .unwrap_or_default();
    outln!(
        "{}",
        "Challenges: build it by hand, learnns grades it".bold()
    );
    for c in &challenge::CHALLENGES {
        outln!(
            " {} {:>2}  {:<9} {}",
            progress::mark(progress.challenges.contains(c.lesson)),
            c.number,
            c.lesson,
            c.title
        );
    }
    outln!("\n  learnns challenge N          the task");
    outln!("  learnns challenge N --check  grade what is running");
    outln!("  learnns challenge N --watch  grade it again every second until it passes");
    outln!("  learnns challenge N --hint   one hint more each time");
    outln!("  learnns challenge N --clean  remove what the task told you to make");
}

fn show_challenge(c: &Challenge) {
    // The title may be longer than a narrow terminal: it wraps between
    // words, under itself.
    let heading = format!("Challenge {} ({}): ", c.number, c.lesson);
    let rest = " ".repeat(heading.chars().count());
    let width = ui::width();
    let lines = crate::render::text::wrap(c.title, width, &heading, &rest);
    for line in lines {
        outln!("{}", line.bold());
    }
    for (heading, text) in [
        ("The task", c.task()),
        ("Leave running", c.leave_running()),
        ("Check", c.how_to_check()),
    ] {
        outln!("\n{}", heading.bold());
        paragraph(&text.split_whitespace().collect::<Vec<_>>().join(" "), "  ");
    }
    outln!(
        "\n  Stuck? learnns challenge {} --hint ({} hints, one at a time)",
        c.number,
        c.hints().len()
    );
}

fn show_hint(c: &Challenge) -> Result<i32> {
    let hints = c.hints();
    // Reading them all again is not one more hint: the count stays at the
    // number there are.
    let before = progress::Place::here()
        .and_then(|place| place.load())
        .map(|p| p.hints.get(c.lesson).copied().unwrap_or(0) as usize)
        .unwrap_or(0);
    if before >= hints.len() {
        outln!(
            "No more hints: you have seen all {} of challenge {}.",
            hints.len(),
            c.number
        );
        for (i, hint) in hints.iter().enumerate() {
            let number = format!("  {}. ", i + 1);
            hanging(hint, &number, &" ".repeat(number.len()));
        }
        return Ok(0);
    }
    let seen = progress::hint_shown(c.lesson)? as usize;
    // Another learnns counted one in between.
    let seen = seen.min(hints.len());
    outln!("Hint {seen} of {}:", hints.len());
    paragraph(&hints[seen - 1], "  ");
    Ok(0)
}

/// Grade once; say whose processes were graded when `whose`. True on a
/// pass, which is recorded.
fn check_challenge(c: &Challenge, only: Option<i32>, whose: bool) -> Result<bool> {
    let (verdict, graded) = grade(c, only)?;
    // Challenge 5 grades named objects, not processes.
    if whose && c.lesson != "net" {
        paragraph(&graded, "");
    }
    report(c, &verdict);
    if !verdict.passed() {
        sudo_note(c, only);
    }
    Ok(verdict.passed())
}

/// The tasks start their processes with `sudo`, and such a process is
/// root's: an ordinary user's check cannot read it, and said "no process of
/// yours" of a process that is there. Say so, and how to grade it. (Under
/// sudo, the processes the user started with sudo are graded already.)
fn sudo_note(c: &Challenge, only: Option<i32>) {
    // Challenge 5 grades named objects; 6 must not be root's.
    let graded = challenge::Graded::invoker();
    if only.is_some() || graded.as_root || matches!(c.lesson, "net" | "user") {
        return;
    }
    outln!();
    paragraph(
        &format!(
            "Started it with `sudo`? Then it is root's process, and only root may read its namespaces: check with sudo too, `sudo learnns challenge {} --check`.",
            c.number
        ),
        "  ",
    );
}

fn grade(c: &Challenge, only: Option<i32>) -> Result<(Verdict, String)> {
    let graded = challenge::Graded::invoker();
    let candidates = challenge::Candidates::gather(graded, only)?;
    let whose = match only {
        Some(pid) => format!("Graded process {pid} only."),
        None if graded.as_root && graded.uid != 0 => format!(
            "Graded the {} running processes of {} and those they started with sudo, not counting learnns and the shell it runs in.",
            candidates.list.len(),
            inspect::user_name(graded.uid),
        ),
        None => format!(
            "Graded the {} running processes of {}, not counting learnns and the shell it runs in.",
            candidates.list.len(),
            inspect::user_name(graded.uid),
        ),
    };
    Ok(((c.check)(&candidates), whose))
}

/// The verdict, and for the capstone the table of kinds above it.
fn report(c: &Challenge, verdict: &Verdict) {
    // The capstone shows the namespace table the lessons print.
    if c.number == challenge::CAPSTONE {
        for line in challenge::capstone::table(verdict, ui::width()) {
            outln!("{line}");
        }
    }
    match verdict {
        Verdict::Pass { what, .. } => {
            outln!("{} challenge {} done", "✓".green().bold(), c.number);
            paragraph(&shown(what), "  ");
            progress::challenge_passed(c.lesson);
        }
        Verdict::Missing { reasons, .. } => {
            outln!("{} challenge {}: not yet", "✗".red().bold(), c.number);
            for why in reasons {
                // The capstone's lines start with a mark: they continue
                // under their text, not under the mark.
                let why = shown(why);
                if why.starts_with(['✓', '✗']) {
                    hanging(&why, "  ", "    ");
                } else {
                    paragraph(&why, "  ");
                }
            }
        }
    }
}

/// A verdict as it may reach root's terminal: it quotes what the graded
/// process chose (names, mount sources, cgroup paths), so every control
/// character is escaped; its own line breaks (the capstone's list) stay.
fn shown(text: &str) -> String {
    let lines: Vec<String> = text.split('\n').map(challenge::printable).collect();
    lines.join("\n")
}

/// Check about once a second until it passes; print a verdict only when
/// it changes, so the output stays short without a terminal too.
fn watch_challenge(c: &Challenge, only: Option<i32>) -> Result<i32> {
    let mut last = None;
    loop {
        let (verdict, whose) = grade(c, only)?;
        if last.is_none() {
            paragraph(&format!("{whose} Watching; Ctrl-C stops."), "");
        }
        if last.as_ref() != Some(&verdict) {
            report(c, &verdict);
            if last.is_none() && !verdict.passed() {
                sudo_note(c, only);
            }
            ui::flush_out();
        }
        if verdict.passed() {
            return Ok(0);
        }
        last = Some(verdict);
        for _ in 0..10 {
            std::thread::sleep(std::time::Duration::from_millis(100));
            if sys::interrupted() {
                return Err(Error::Interrupted);
            }
        }
    }
}
