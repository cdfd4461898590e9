//! Lesson 3: the PID namespace. The first process is PID 1; the host sees it
//! under another number; `ps` still shows the host's processes because /proc
//! is the host's; and when PID 1 dies, the namespace dies with it.

use std::time::{Duration, Instant};

use super::{Session, Step};
use crate::container::{self, Container, shell_words};
use crate::error::{Error, Result};
use crate::events::{self, Event, Where};
use crate::ns::{Identities, Kind};
use crate::observe::{self, Capture};

/// The processes whose PID namespace is the one `pid` is in, as host PIDs.
fn members(pid: i32) -> Result<Vec<i32>> {
    let target = Identities::of(pid)?.get(Kind::Pid);
    let all = procfs::process::all_processes()
        .map_err(|e| Error::from_proc(pid, e))?
        .flatten()
        .map(|p| p.pid)
        .filter(|p| Identities::of(*p).is_ok_and(|ids| ids.get(Kind::Pid) == target))
        .collect();
    Ok(all)
}

fn nspid(pid: i32) -> Option<Vec<i32>> {
    procfs::process::Process::new(pid)
        .and_then(|p| p.status())
        .ok()?
        .nspid
}

// ANCHOR: steps
pub fn steps(s: &mut Session) -> Step {
    s.say("opening");
    s.pause()?;

    if s.has(Kind::Pid) {
        s.heading("The first process is PID 1");
        s.say("first");
        s.say("first_ask");
    } else {
        s.heading("Is the first process PID 1?");
        s.say("first");
        s.say("first_ask_shared");
    }
    let argv = vec!["sh".to_string(), "-c".into(), "echo $$".into()];
    let outside = observe::capture(observe::host_command(&argv));
    let (status, text) = container::run_captured(&s.spec, &argv)?;
    let inside = Capture {
        status: Some(status),
        text,
    };
    events::emit(Event::Observation {
        command: shell_words(&argv),
        inside_command: s.spec.unshare_line(&argv),
        outside: outside.text.clone(),
        inside: inside.text.clone(),
        labels: None,
    });
    if s.has(Kind::Pid) {
        s.check(
            inside.text.trim() == "1",
            &format!(
                "inside, `$$` is 1; on the host the shell was {}",
                outside.text.trim()
            ),
            &format!("inside printed `{}`", inside.text.trim()),
        );
    } else {
        s.check(
            inside.text.trim() != "1",
            "without a PID namespace the shell gets an ordinary host PID",
            "it was 1",
        );
    }
    s.pause()?;

    s.heading(if s.has(Kind::Pid) {
        "One process, two numbers"
    } else {
        "One process, one number"
    });
    s.say("nspid");
    let init = s.start_container()?.pid.as_raw();
    s.host(&["grep", "NSpid", &format!("/proc/{init}/status")])?;
    let numbers = nspid(init).unwrap_or_default();
    if s.has(Kind::Pid) {
        s.check(
            numbers.len() == 2 && numbers[0] == init && numbers[1] == 1,
            &format!("the host calls it {init}; inside, it is 1"),
            &format!("NSpid was {numbers:?}"),
        );
    } else {
        s.check(
            numbers == vec![init],
            "one namespace, one number",
            &format!("NSpid was {numbers:?}"),
        );
    }
    s.pause()?;

    s.heading("unshare --pid without --fork");
    s.say("no_fork");
    no_fork(s)?;
    s.pause()?;

    s.heading("ps inside the container");
    let (outside, inside) = s.observe(&["ps", "-o", "pid,comm", "-p", "1"])?;
    let (all_out, all_in) = s.observe(&["ps", "-e", "-o", "pid,comm"])?;
    let count = |c: &Capture| c.text.lines().count().saturating_sub(1);
    // ps pads its columns to fit the largest possible PID, which differs.
    let words = |c: &Capture| {
        c.text
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    if s.has(Kind::Mnt) && s.has(Kind::Pid) {
        s.say("ps_fresh");
        s.check(
            count(&all_in) < count(&all_out)
                && !inside
                    .text
                    .contains(outside.text.lines().nth(1).unwrap_or("?")),
            &format!(
                "inside, ps lists {} processes, outside {}",
                count(&all_in),
                count(&all_out)
            ),
            "the lists look the same",
        );
    } else {
        // Without a PID namespace of its own, any /proc shows the host's.
        if s.has(Kind::Pid) {
            s.say("ps");
        } else {
            s.say("ps_shared");
        }
        s.check(
            words(&inside) == words(&outside) && count(&all_in) > 1,
            &format!(
                "inside, `ps -p 1` shows the host's PID 1, and `ps -e` lists {} processes",
                count(&all_in)
            ),
            "the container's ps did not show the host's processes",
        );
    }
    s.pause()?;

    s.heading("PID 1 and SIGTERM");
    if s.has(Kind::Pid) {
        s.say("sigterm");
        sigterm_to_itself(s)?;
        s.say("sigterm_why");
    } else {
        s.skip("without a PID namespace the shell is not PID 1 anywhere");
    }
    s.pause()?;

    s.heading("When PID 1 dies");
    if s.has(Kind::Pid) {
        s.say("init_dies");
        init_dies(s)?;
    } else {
        s.skip("without a PID namespace there is no PID 1 of its own to kill");
    }
    s.pause()?;

    s.links()?;
    s.check_your_work()
}
// ANCHOR_END: steps

// ANCHOR: no_fork
/// `unshare --pid` without `--fork`: the shell stays outside, its first
/// child becomes PID 1 of the new namespace and ends, and the next fork
/// into the namespace fails.
fn no_fork(s: &Session) -> Result<()> {
    if crate::host_tools::find_in_path("unshare").is_none() {
        s.skip("`unshare` (util-linux) is not installed here");
        return Ok(());
    }
    let script = "env true && echo first child ran; env true && echo second child ran";
    let mut argv = vec!["unshare"];
    if !nix::unistd::geteuid().is_root() {
        argv.extend(["--user", "--map-root-user"]);
    }
    argv.extend(["--pid", "sh", "-c", script]);
    let out = s.host(&argv)?;
    let said = out
        .text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string();
    s.check(
        out.text.contains("first child ran")
            && !out.text.contains("second child ran")
            && out.status != Some(0),
        &format!("the first child ran and ended; the next fork failed: `{said}`"),
        &format!("the shell said `{}`", out.text.trim()),
    );
    Ok(())
}
// ANCHOR_END: no_fork

// ANCHOR: sigterm
/// A shell that sends SIGTERM to itself: on the host it dies; as PID 1 of
/// a PID namespace, with no handler for SIGTERM, the kernel drops it.
fn sigterm_to_itself(s: &Session) -> Result<()> {
    let argv = vec![
        "sh".to_string(),
        "-c".into(),
        "kill -TERM $$; echo still here after SIGTERM".into(),
    ];
    let outside = observe::capture(observe::host_command(&argv));
    let (status, text) = container::run_captured(&s.spec, &argv)?;
    events::emit(Event::Observation {
        command: shell_words(&argv),
        inside_command: s.spec.unshare_line(&argv),
        outside: outside.text.clone(),
        inside: text.clone(),
        labels: None,
    });
    let died = outside.status.is_none() && !outside.text.contains("still here");
    s.check(
        died && text.contains("still here") && status == 0,
        "on the host the shell died of its own SIGTERM; as PID 1 it never received it",
        &format!(
            "outside: status {:?}, `{}`; inside: status {status}, `{}`",
            outside.status,
            outside.text.trim(),
            text.trim()
        ),
    );
    Ok(())
}
// ANCHOR_END: sigterm

// ANCHOR: init_dies
fn init_dies(s: &Session) -> Result<()> {
    let doomed = Container::start(&s.spec)?;
    let argv = vec!["sleep".to_string(), "300".into()];
    s.show_command(Where::Inside, &format!("{} &", doomed.nsenter_line(&argv)));
    let mut sleeper = doomed
        .command(&argv)?
        .stdin(std::process::Stdio::null())
        .spawn()
        .map_err(|e| Error::io("start sleep inside", e))?;
    let found = wait_until(|| members(doomed.pid.as_raw()).is_ok_and(|m| m.len() >= 2));
    let inside: Vec<i32> = members(doomed.pid.as_raw())?;
    let listing: Vec<String> = inside
        .iter()
        .map(|pid| {
            let nspid: Vec<String> = nspid(*pid)
                .unwrap_or_default()
                .iter()
                .map(ToString::to_string)
                .collect();
            format!("host PID {pid:<8} NSpid: {}", nspid.join(" "))
        })
        .collect();
    events::output(listing.join("\n"));
    s.check(
        found,
        "the namespace holds its PID 1 and `sleep`",
        "sleep did not appear",
    );

    s.show_command(Where::Host, &format!("kill -KILL {}", doomed.pid));
    container::kill_process(doomed.pid);
    let others: Vec<i32> = inside
        .into_iter()
        .filter(|p| *p != doomed.pid.as_raw())
        .collect();
    let gone = wait_until(|| others.iter().all(|p| !alive(*p)));
    let _ = sleeper.wait();
    s.check(
        gone,
        "PID 1 is dead, and the kernel killed `sleep` with it",
        "sleep survived its PID 1",
    );
    drop(doomed);
    Ok(())
}
// ANCHOR_END: init_dies

/// A process that exists and is not a zombie.
fn alive(pid: i32) -> bool {
    procfs::process::Process::new(pid)
        .and_then(|p| p.stat())
        .is_ok_and(|st| st.state != 'Z' && st.state != 'X')
}

fn wait_until(mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    done()
}
