//! Lesson 7: cgroups and the cgroup namespace. A cgroup of the container's
//! own with process and memory limits, a fork bomb on a leash, the OOM
//! killer confined to the container, and a view of the tree rooted at `/`.

use std::time::Duration;

use super::{Session, Step};
use crate::cgroup::{self, Cgroup, Layout, Limits};
use crate::error::{Error, Result};
use crate::events::{self, Where};
use crate::ns::{Kind, KindSet};
use crate::sys;

/// The container's limits in this lesson.
pub const LIMITS: Limits = Limits {
    pids: Some(20),
    memory: Some(64 << 20),
};
/// How many forks the leashed bomb tries, and how long each child lives.
pub const FORKS: u32 = 100;
const LIFE: Duration = Duration::from_millis(500);

// ANCHOR: steps
pub fn steps(s: &mut Session) -> Step {
    s.say("opening");
    s.host(&["cat", "/proc/self/cgroup"])?;
    s.say("versions");
    let layout = Layout::detect();
    match &layout {
        Ok(layout) => events::output(layout.describe()),
        Err(e) => events::output(e.to_string()),
    }
    s.pause()?;
    if !s.has(Kind::Cgroup) {
        s.skip("your kind flags left the cgroup namespace out, and this lesson shows the limits and the container's view of them together");
        s.start_container()?;
        s.links()?;
        return by_hand(s, &layout);
    }

    s.heading("A cgroup of its own");
    let why_not = if !nix::unistd::geteuid().is_root() {
        let way = if systemd_delegates(&layout) {
            " (systemd-run, in the check section, is the way without root)"
        } else {
            ""
        };
        Some(format!(
            "making a cgroup needs root, so this container has no limits of its own{way}"
        ))
    } else {
        layout.as_ref().err().map(|e| e.to_string())
    };
    match &why_not {
        None => {
            s.spec.limits = Some(LIMITS);
            s.say("create");
        }
        Some(why) => {
            s.skip(why);
            s.say("no_limits");
        }
    }
    s.start_container()?;
    let container = s.container()?;
    if let Some(cgroup) = container.cgroup() {
        s.say("made");
        for step in cgroup.steps() {
            s.show_command(Where::Host, &step.command());
        }
    }
    s.pause()?;

    s.heading("A view rooted at its own cgroup");
    s.say("view");
    let pid = container.pid;
    let (outside, inside) = s.observe_each(
        &["cat", &format!("/proc/{pid}/cgroup")],
        &["cat", "/proc/self/cgroup"],
    )?;
    s.check(
        !inside.text.is_empty() && inside.text.lines().all(|l| l.ends_with(":/")),
        "inside, every line of /proc/self/cgroup ends at the root, `/`",
        "some line shows a path",
    );
    if let Some(cgroup) = container.cgroup() {
        s.check(
            outside.text.contains(&format!("/{}", cgroup.name())),
            &format!("the host sees the container in /{}", cgroup.name()),
            "the host's view does not show the container's cgroup",
        );
    }
    s.say("view_why");
    s.pause()?;

    let Some(cgroup) = container.cgroup() else {
        let why = "the container has no cgroup of its own with limits to reach";
        s.heading("A fork bomb on a leash");
        s.skip(why);
        s.heading("Too much memory");
        s.skip(why);
        s.links()?;
        return by_hand(s, &layout);
    };
    s.heading("A fork bomb on a leash");
    s.say("bomb");
    fork_bomb(s, cgroup)?;
    s.pause()?;

    s.heading("Too much memory");
    s.say("memory");
    let dd = s.inside(&["dd", "if=/dev/zero", "of=/dev/null", "bs=128M", "count=1"])?;
    if let Some(status) = dd.status {
        events::output(format!("(exit status {status})"));
    }
    s.say("memory_count");
    let oom = s.host(&["cat", &cgroup.oom_file().display().to_string()])?;
    let kills = cgroup::field(&oom.text, "oom_kill").unwrap_or(0);
    s.check(
        dd.status == Some(137) && kills >= 1,
        "dd was killed inside the container (status 137), and the cgroup counted it",
        &format!("dd ended with {:?}, oom_kill {kills}", dd.status),
    );
    s.say("oom_versions");
    s.pause()?;

    s.links()?;
    by_hand(s, &layout)
}
// ANCHOR_END: steps

/// How to do it by hand, for the cgroup layout this machine has, with its
/// paths: v2's one tree, or v1's hierarchy per controller.
fn by_hand(s: &Session, layout: &crate::error::Result<Layout>) -> Step {
    s.say("check");
    let dir = |p: &std::path::Path| format!("{}/", p.display());
    match layout {
        Ok(Layout::V2 { root }) => s.say_with("check_v2", &[("/sys/fs/cgroup/", dir(root))]),
        Ok(Layout::V1 { pids, memory }) => s.say_with(
            "check_v1",
            &[
                ("/sys/fs/cgroup/pids/", dir(pids)),
                ("/sys/fs/cgroup/memory/", dir(memory)),
            ],
        ),
        Err(_) => {
            s.say("check_v2");
            s.say("check_v1");
        }
    }
    if systemd_delegates(layout) {
        s.say("check_user");
    }
    s.pause()
}

/// Can an ordinary user here ask systemd for a cgroup with limits? Only
/// with systemd running and cgroup v2, where it delegates a subtree.
fn systemd_delegates(layout: &crate::error::Result<Layout>) -> bool {
    matches!(layout, Ok(Layout::V2 { .. })) && std::path::Path::new("/run/systemd/system").is_dir()
}

// ANCHOR: fork_bomb
fn fork_bomb(s: &Session, cgroup: &Cgroup) -> Result<()> {
    let container = s.container()?;
    for line in cgroup.join_commands() {
        s.show_command(Where::Inside, &line);
    }
    let argv = [
        "sh".to_string(),
        "-c".into(),
        format!("for i in $(seq {FORKS}); do sleep 0.5 & done"),
    ];
    s.say("bomb_loop");
    s.show_command(Where::Inside, &container.nsenter_line(&argv));
    // The bomb reports how many forks worked, then waits for its
    // children itself: orphans of a process that entered a PID namespace
    // from outside would go to the host's init, not the container's.
    let (read_end, write_end) = nix::unistd::pipe().map_err(|e| Error::sys("pipe", e))?;
    let bomb = container.fork_inside(KindSet::ALL, move || {
        let started = sys::fork_sleepers(FORKS, LIFE);
        let _ = nix::unistd::write(&write_end, &[started as u8]);
        sys::reap_children();
        0
    })?;
    let mut count = [0u8; 1];
    let reported = std::io::Read::read_exact(&mut std::fs::File::from(read_end), &mut count);
    if reported.is_err() {
        sys::wait_child(bomb)?;
        return Err(Error::Setup("the fork bomb did not report".into()));
    }
    let started = u32::from(count[0]);
    let refused = FORKS - started;
    events::output(format!(
        "{started} of {FORKS} forks worked; {refused} were refused"
    ));

    s.say("bomb_count");
    let pids = cgroup.pids_dir();
    let current = s.host(&["cat", &pids.join("pids.current").display().to_string()])?;
    let events = s.host(&["cat", &pids.join("pids.events").display().to_string()])?;
    let current: u32 = current.text.trim().parse().unwrap_or(u32::MAX);
    let max = LIMITS.pids.unwrap_or(u32::MAX);
    s.check(
        refused > 0 && current <= max,
        &format!(
            "the bomb hit pids.max: {current} processes at most {max}, {refused} forks refused"
        ),
        &format!("{current} processes, {refused} refused"),
    );
    s.check(
        cgroup::field(&events.text, "max").is_some_and(|n| n >= u64::from(refused)),
        "pids.events counted every refusal",
        "pids.events does not match",
    );

    s.say("bomb_over");
    let file = pids.join("pids.current");
    if !sys::wait_child(bomb)? {
        return Err(Error::Setup("the fork bomb did not end cleanly".into()));
    }
    let after = s.host(&["cat", &file.display().to_string()])?;
    s.check(
        after.text.trim() == "1",
        "the sleepers are gone; the count is back to 1",
        &format!("pids.current is {}", after.text.trim()),
    );
    Ok(())
}
// ANCHOR_END: fork_bomb
