//! Lesson 4: the mount namespace. Private propagation, a root assembled from
//! the skeleton, `pivot_root`, a fresh `/proc` so `ps` tells the truth, a
//! mount that stays inside, and why `chroot` alone can be escaped.

use super::{Session, Step};
use crate::container::{self, setup_inside};
use crate::error::Result;
use crate::events::Where;
use crate::ns::Kind;
use crate::rootfs::Switch;
use crate::sys::{self, Recorder};

// ANCHOR: steps
pub fn steps(s: &mut Session) -> Step {
    s.say("opening");
    s.pause()?;
    if s.lacks(Kind::Mnt)? {
        return Ok(());
    }

    s.heading("The container builds its own root");
    s.say("assemble");
    if s.has(Kind::Pid) {
        s.say("assemble_proc");
    } else {
        s.say("assemble_proc_shared");
    }
    s.say("pivot");
    show_setup(s)?;
    s.start_container()?;
    s.say("propagation");
    let (_, inside) = s.observe(&["findmnt", "-n", "-o", "TARGET,PROPAGATION", "/"])?;
    s.check(
        inside.text.contains("private"),
        "inside, the root mount is private: nothing mounted here propagates",
        &format!("inside said `{}`", inside.text.trim()),
    );
    s.pause()?;

    s.heading("A different /");
    s.say("new_root");
    let (outside, inside) = s.observe(&["ls", "/"])?;
    s.observe(&["cat", "/etc/hostname"])?;
    let (_, source) = s.observe(&["findmnt", "-n", "-o", "SOURCE,FSTYPE", "/"])?;
    s.check(
        inside.text != outside.text && source.text.contains("learnns-root"),
        "inside, / is the learnns-root tmpfs, with other files than the host's /",
        "the roots look the same",
    );
    s.pause()?;

    if s.has(Kind::Pid) {
        s.heading("ps tells the truth now");
        s.say("ps");
    } else {
        s.heading("ps without a PID namespace");
        s.say("ps_shared");
    }
    let (all_out, all_in) = s.observe(&["ps", "-e", "-o", "pid,comm"])?;
    let rows = |text: &str| text.lines().skip(1).count();
    let (inside, outside) = (rows(&all_in.text), rows(&all_out.text));
    if s.has(Kind::Pid) {
        s.check(
            all_in
                .text
                .lines()
                .nth(1)
                .is_some_and(|l| l.trim() == "1 learnns-init")
                && inside < outside,
            &format!(
                "inside, ps lists {inside} processes, starting with PID 1; outside it lists {outside}"
            ),
            "ps inside still sees other processes",
        );
    } else {
        // A fresh /proc needs a PID namespace of its own to show less.
        s.check(
            inside + 5 >= outside,
            &format!(
                "without a PID namespace, ps inside lists the host's processes too ({inside} inside, {outside} outside): a /proc shows the PID namespace of whoever mounted it"
            ),
            "ps inside lists far fewer processes",
        );
    }
    s.pause()?;

    s.heading("A mount that stays inside");
    s.say("tmpfs");
    s.inside(&["mount", "-t", "tmpfs", "lesson4-scratch", "/mnt"])?;
    let (outside, inside) = s.observe(&["findmnt", "-n", "--source", "lesson4-scratch"])?;
    let (count_out, count_in) = s.observe(&["wc", "-l", "/proc/self/mountinfo"])?;
    let host_table = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    s.check(
        inside.text.contains("/mnt")
            && outside.text.trim().is_empty()
            && !host_table.contains("lesson4-scratch"),
        &format!(
            "the tmpfs is mounted inside only; mount tables: {} lines outside, {} inside",
            first_word(&count_out.text),
            first_word(&count_in.text)
        ),
        "the host can see the container's mount",
    );
    s.pause()?;

    s.heading("chroot is not enough");
    s.say("chroot");
    escape(s)?;
    s.pause()?;

    s.links()?;
    s.check_your_work()
}
// ANCHOR_END: steps

fn first_word(text: &str) -> &str {
    text.split_whitespace().next().unwrap_or("?")
}

/// Show the set-up as shell commands: the same function the container runs,
/// against a kernel stand-in that only writes the calls down.
fn show_setup(s: &Session) -> Result<()> {
    let mut script = Recorder::on_this_host();
    setup_inside(&mut script, &s.spec)?;
    let mut files = 0;
    for call in &script.calls {
        if call.is_mount_or_switch() {
            for line in call.commands() {
                s.show_command(Where::Inside, &line);
            }
        } else {
            files += 1;
        }
    }
    s.note(&format!(
        "(and {files} mkdir, ln -s and file writes that lay out the skeleton)"
    ));
    Ok(())
}

// ANCHOR: escape
fn escape(s: &Session) -> Result<()> {
    let host_root = listing(std::fs::read_dir("/").ok());
    let mut results = Vec::new();
    for switch in [Switch::Chroot, Switch::Pivot] {
        let mut spec = s.spec.clone();
        spec.switch = switch;
        let found = container::run_probe(&spec, || Ok(sys::chroot_escape()?.join(" ")))?;
        let label = match switch {
            Switch::Chroot => "after chroot    ",
            Switch::Pivot => "after pivot_root",
        };
        s.note(&format!("{label}  the escape reached a / holding: {found}"));
        results.push(found);
    }
    s.check(
        results[0] == host_root && results[1] != host_root,
        "from the chroot the escape reached the host's /; from the pivoted root it went nowhere",
        &format!("the host's / holds {host_root}"),
    );
    Ok(())
}
// ANCHOR_END: escape

fn listing(dir: Option<std::fs::ReadDir>) -> String {
    let mut names: Vec<String> = dir
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.join(" ")
}
