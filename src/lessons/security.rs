//! Lesson 9: namespaces are not security. What root in a namespaces-only
//! container can still do, and the layers that stop it: capabilities,
//! no_new_privs and a seccomp filter, one at a time.

use super::{Session, Step};
use crate::container::{self, shell_words};
use crate::error::Result;
use crate::events::{self, Event, GridRow, Where};
use crate::ns::Kind;
use crate::observe;
use crate::security::Layers;
use crate::{sys, ui};

/// Three harmless actions only root may take, each confined to the
/// container's own mount namespace.
const ACTIONS: [(&str, &[&str]); 3] = [
    ("mount", &["mount", "-t", "tmpfs", "none", "/mnt"]),
    ("mknod", &["mknod", "/mnt/null", "c", "1", "3"]),
    ("unshare", &["unshare", "--net", "true"]),
];

/// The columns of the results table: cumulative layers, then the filter alone.
const COLUMNS: [(&str, Layers); 5] = [
    (
        "namespaces",
        Layers {
            drop_caps: false,
            no_new_privs: false,
            seccomp: false,
        },
    ),
    (
        "+ caps",
        Layers {
            drop_caps: true,
            no_new_privs: false,
            seccomp: false,
        },
    ),
    (
        "+ nnp",
        Layers {
            drop_caps: true,
            no_new_privs: true,
            seccomp: false,
        },
    ),
    (
        "+ seccomp",
        Layers {
            drop_caps: true,
            no_new_privs: true,
            seccomp: true,
        },
    ),
    (
        "seccomp alone",
        Layers {
            drop_caps: false,
            no_new_privs: false,
            seccomp: true,
        },
    ),
];

/// The row no command gives: the container's first process makes the raw
/// clone(2) system call itself, asking for a user and a network namespace.
const CLONE: &str = "clone";

/// Each row of the results table: the action's name in the script, and
/// how the table shows it.
const ROWS: [(&str, &str); 4] = [
    ("mount", "mount"),
    ("mknod", "mknod"),
    ("unshare", "unshare --net"),
    (CLONE, "clone(USER|NET)"),
];

const STATUS: [&str; 3] = ["grep", "-E", "^(Uid|CapEff|CapBnd|NoNewPrivs|Seccomp):"];

// ANCHOR: steps
pub fn steps(s: &mut Session) -> Step {
    let root = nix::unistd::geteuid().is_root();
    if root && !s.kinds_chosen {
        s.spec.kinds = s.spec.kinds.without(Kind::User);
    }
    s.say("opening");
    if !s.has(Kind::User) {
        s.say("opening_root");
    } else if root {
        s.say("opening_user");
    } else {
        s.say("opening_rootless");
    }
    s.pause()?;

    s.heading("Root in a container of namespaces");
    s.start_container()?;
    s.say("still_root");
    let mut status = STATUS.to_vec();
    status.push("/proc/self/status");
    let (outside, inside) = s.observe(&status)?;
    same_or_own(s, &outside.text, &inside.text);
    if !s.has(Kind::Mnt) {
        s.skip("without a mount namespace of its own, mounting or making nodes would change the host's");
        s.links()?;
        return by_hand(s);
    }
    if s.has(Kind::User) {
        s.say("can_do_userns");
    } else {
        s.say("can_do");
    }
    let mut done = Vec::new();
    for (name, argv) in ACTIONS {
        let out = s.inside(argv)?;
        done.push((name, out.status == Some(0)));
    }
    if s.has(Kind::User) {
        s.check(
            done.iter().any(|(_, ok)| *ok),
            "root in the container could still mount or make namespaces",
            "everything was refused",
        );
    } else {
        s.check(
            done.iter().all(|(_, ok)| *ok),
            "root in the container mounted, made a device node and a namespace",
            &format!("some were refused: {done:?}"),
        );
    }
    if s.has(Kind::User) {
        s.say("what_else_userns");
    } else {
        s.say("what_else");
    }
    s.pause()?;

    s.heading("Layers");
    s.say("layers");
    let script = script();
    s.show_command(
        Where::Inside,
        &format!("SCRIPT={}", shell_words(std::slice::from_ref(&script))),
    );
    s.say("probe");
    let results = layered_runs(s, &script)?;
    s.say("results");
    events::emit(grid(&results));
    let cell = |action: &str, column: usize| {
        results[column]
            .iter()
            .find(|(a, _)| *a == action)
            .is_some_and(|(_, ok)| *ok)
    };
    let refuses_all = |column: usize| ROWS.iter().all(|(a, _)| !cell(a, column));
    if !s.has(Kind::User) {
        s.check(
            cell("mount", 0) && !cell("mount", 1) && !cell("unshare", 1),
            "dropping capabilities stopped the mount and unshare --net",
            "the capability drop did not change the outcome",
        );
        s.check(
            cell("mknod", 2) && !cell("mknod", 3),
            "mknod survived until the filter",
            "mknod did not behave as expected",
        );
    }
    s.check(
        !cell(CLONE, 3) && !cell(CLONE, 4),
        "the filter refused the raw clone, with capabilities and without",
        "the raw clone got past the filter",
    );
    s.check(
        cell("mount", 0) && refuses_all(4),
        "with no capability dropped, the filter alone refused every action",
        "the filter alone let something through",
    );
    // What the table shows, column by column, in the words that fit it.
    if cell("mount", 0) && !cell("mount", 1) && cell("unshare", 0) && !cell("unshare", 1) {
        s.say("caps_stopped");
    }
    match (cell(CLONE, 0), cell(CLONE, 1)) {
        (true, true) => s.say("caps_userns"),
        (true, false) => s.say("caps_userns_restricted"),
        _ => {}
    }
    if cell("mknod", 1) && cell("mknod", 2) {
        s.say("mknod_kept");
    } else if !cell("mknod", 0) && s.has(Kind::User) {
        s.say("mknod_userns");
    }
    if ROWS.iter().all(|(a, _)| cell(a, 1) == cell(a, 2)) {
        s.say("nnp_same");
    }
    if refuses_all(3) {
        s.say("filter_all");
    }
    if refuses_all(4) && ROWS.iter().any(|(a, _)| cell(a, 0)) {
        s.say("filter_alone");
    }
    s.pause()?;

    s.heading("Where the kernel shows the layers");
    s.say("status");
    let all = COLUMNS[3].1;
    let mut argv: Vec<String> = STATUS.iter().map(|w| w.to_string()).collect();
    argv.push("/proc/self/status".into());
    let plain = capture(s, &Layers::default(), &argv)?;
    let layered = capture(s, &all, &argv)?;
    events::emit(Event::Observation {
        command: run_line(s, &Layers::default(), &argv),
        inside_command: run_line(s, &all, &argv),
        outside: plain.text.clone(),
        inside: layered.text.clone(),
        labels: Some(("namespaces only".into(), "all three layers".into())),
    });
    s.check(
        layered.text.contains("NoNewPrivs:\t1") && layered.text.contains("Seccomp:\t2"),
        "the layered process shows NoNewPrivs 1 and Seccomp 2",
        "the status fields do not show the layers",
    );
    s.say("privileged");
    s.pause()?;

    s.links()?;
    by_hand(s)
}

/// How to do it by hand; the systemd part only where systemd runs.
fn by_hand(s: &Session) -> Step {
    s.say("check");
    if std::path::Path::new("/run/systemd/system").is_dir() {
        s.say("check_systemd");
    }
    s.pause()
}
// ANCHOR_END: steps

/// A field of `/proc/PID/status` (`CapEff`), its value with the spacing
/// evened out.
fn field(status: &str, name: &str) -> Option<String> {
    status.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix(':')?;
        Some(value.split_whitespace().collect::<Vec<_>>().join(" "))
    })
}

/// What the identities side by side show, from the captured status text:
/// without a user namespace, the same root on both sides; with one, user 0
/// inside holding capabilities of that namespace's own.
fn same_or_own(s: &Session, outside: &str, inside: &str) {
    let uid = |text: &str| field(text, "Uid").unwrap_or_default();
    let caps = |text: &str| field(text, "CapEff").unwrap_or_default();
    let (uid_out, uid_in) = (uid(outside), uid(inside));
    let (caps_out, caps_in) = (caps(outside), caps(inside));
    if !s.has(Kind::User) {
        s.check(
            uid_out == uid_in && caps_out == caps_in && !caps_in.is_empty(),
            &format!(
                "the same user IDs ({uid_in}) and the same CapEff mask ({caps_in}) on both sides: root inside is root outside"
            ),
            &format!("outside Uid {uid_out}, CapEff {caps_out}; inside Uid {uid_in}, CapEff {caps_in}"),
        );
        return;
    }
    let held = uid_in.split(' ').next() == Some("0")
        && !caps_in.is_empty()
        && caps_in.chars().any(|c| c.is_ascii_hexdigit() && c != '0');
    if held {
        s.say("caps_in_userns");
    }
    s.check(
        held,
        &format!(
            "inside, user 0 with CapEff {caps_in}; outside, user {} with CapEff {caps_out}",
            uid_out.split(' ').next().unwrap_or("?")
        ),
        &format!("inside Uid {uid_in}, CapEff {caps_in}"),
    );
}

/// One shell script that tries every action and reports each exit status.
fn script() -> String {
    ACTIONS
        .iter()
        .map(|(name, argv)| {
            let words: Vec<String> = argv.iter().map(|w| w.to_string()).collect();
            format!("{} 2>/dev/null; echo {name}=$?", shell_words(&words))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The `learnns run` line for the lesson's container with these layers.
fn run_line(s: &Session, layers: &Layers, argv: &[String]) -> String {
    let mut words = vec!["learnns run".to_string(), s.spec.kinds.util_flags()];
    if !layers.is_empty() {
        words.push(layers.flags());
    }
    words.push("--".into());
    words.push(shell_words(argv));
    words.join(" ")
}

fn capture(s: &Session, layers: &Layers, argv: &[String]) -> Result<observe::Capture> {
    ui::check_interrupt()?;
    let mut spec = s.spec.clone();
    spec.layers = *layers;
    let (status, text) = container::run_captured(&spec, argv)?;
    Ok(observe::Capture {
        status: Some(status),
        text,
    })
}

type Results = Vec<Vec<(&'static str, bool)>>;

// ANCHOR: layered_runs
/// Run the script in a fresh container per column, and the raw clone in
/// another; for each action, did it succeed?
fn layered_runs(s: &Session, script: &str) -> Result<Results> {
    let argv = vec!["sh".to_string(), "-c".into(), script.to_string()];
    let mut results = Vec::new();
    for (_, layers) in COLUMNS {
        let shown = vec!["sh".to_string(), "-c".into(), "$SCRIPT".into()];
        let line = run_line(s, &layers, &shown).replace("'$SCRIPT'", "\"$SCRIPT\"");
        s.show_command(Where::Host, &line);
        let out = capture(s, &layers, &argv)?;
        let mut column: Vec<(&'static str, bool)> = ACTIONS
            .iter()
            .map(|(name, _)| {
                let ok = out.text.lines().any(|l| l == format!("{name}=0"));
                (*name, ok)
            })
            .collect();
        ui::check_interrupt()?;
        let mut spec = s.spec.clone();
        spec.layers = layers;
        let clone = container::run_probe(&spec, clone_probe)?;
        column.push((CLONE, clone == "done"));
        results.push(column);
    }
    Ok(results)
}

/// The probe: the container's first process, with its layers on, asks the
/// kernel for a user and a network namespace by clone(2) itself.
fn clone_probe() -> Result<String> {
    Ok(
        match sys::clone_raw(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) {
            Ok(()) => "done".into(),
            Err(e) => format!("refused: {}", e.desc()),
        },
    )
}
// ANCHOR_END: layered_runs

/// Each action in each column: done or refused.
fn grid(results: &Results) -> Event {
    Event::Grid {
        columns: COLUMNS.iter().map(|(title, _)| title.to_string()).collect(),
        rows: ROWS
            .iter()
            .map(|(name, label)| GridRow {
                label: label.to_string(),
                cells: results
                    .iter()
                    .map(|column| {
                        let ok = column.iter().any(|(a, ok)| a == name && *ok);
                        if ok { "done" } else { "refused" }.to_string()
                    })
                    .collect(),
            })
            .collect(),
    }
}
