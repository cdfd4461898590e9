//! Every lesson fits the terminal it runs in: at 80x24 (a projector, a
//! split laptop screen) each wait shows the heading of the step being
//! shown and no line wider than the screen, and at 40 columns nothing is
//! wider than 40.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{learnns, privileged, stdout};

/// A tmux server of its own, on a socket of its own, removed on drop.
struct Tmux(std::path::PathBuf);

impl Tmux {
    /// `learnns lesson LESSON` in a 80x24 terminal of its own; when it
    /// ends, the screen shows its exit status after DONE.
    fn lesson(lesson: &str) -> Tmux {
        let tmux =
            Tmux(std::env::temp_dir().join(format!("tmux-walk-{}-{lesson}", std::process::id())));
        let command = format!(
            "{} lesson {lesson}; echo {DONE}=$?; sleep 60",
            env!("CARGO_BIN_EXE_learnns")
        );
        let out = tmux.cmd(&[
            "new-session",
            "-d",
            "-s",
            "walk",
            "-x",
            "80",
            "-y",
            "24",
            &command,
        ]);
        assert!(out.status.success(), "{out:?}");
        tmux
    }

    fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.0)
            .args(["-f", "/dev/null"])
            .args(args)
            .output()
            .expect("tmux runs")
    }

    /// The screen, one string per row, wrapped rows joined (`-J`): a row
    /// longer than the width is a line the terminal had to wrap.
    fn screen(&self) -> Vec<String> {
        let out = self.cmd(&["capture-pane", "-p", "-J", "-t", "walk"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim_end().to_string())
            .collect()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.cmd(&["kill-server"]);
        let _ = std::fs::remove_file(&self.0);
    }
}

const DONE: &str = "LEARNNS-WALK-EXIT";

/// Walk lesson `number` in a 80x24 terminal, pressing Enter at every wait;
/// returns how many waits there were.
fn walk(number: u8) -> usize {
    let tmux = Tmux::lesson(&number.to_string());
    let mut waits = 0;
    let mut seen: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = Vec::new();
    loop {
        assert!(
            Instant::now() < deadline,
            "lesson {number} hangs:\n{}",
            last.join("\n")
        );
        std::thread::sleep(Duration::from_millis(100));
        let screen = tmux.screen();
        if let Some(end) = screen.iter().find(|l| l.starts_with(DONE)) {
            assert_eq!(
                end,
                &format!("{DONE}=0"),
                "lesson {number}:\n{}",
                screen.join("\n")
            );
            // No step scrolled away unread: each heading was on screen at
            // one wait or another (the last screen counts too).
            seen.extend(screen.iter().cloned());
            for heading in headings(number) {
                assert!(
                    seen.iter().any(|l| l.starts_with(&format!("▶ {heading}"))),
                    "lesson {number}: the step `{heading}` was never on screen at a wait"
                );
            }
            return waits;
        }
        let Some(bottom) = screen.iter().rev().find(|l| !l.is_empty()) else {
            continue;
        };
        if !bottom.starts_with("── ") || screen == last {
            last = screen;
            continue;
        }
        // A settled wait: read the screen as a learner would.
        std::thread::sleep(Duration::from_millis(150));
        let screen = tmux.screen();
        for line in &screen {
            assert!(
                line.chars().count() <= 80,
                "lesson {number}: a line wider than 80 columns:\n{line}"
            );
        }
        assert!(
            screen
                .iter()
                .any(|l| l.starts_with("▶ ") || l.starts_with(&format!("Lesson {number} ·"))),
            "lesson {number}: a wait without the step's heading on screen:\n{}",
            screen.join("\n")
        );
        waits += 1;
        seen.extend(screen.iter().cloned());
        tmux.cmd(&["send-keys", "-t", "walk", "Enter"]);
        last = screen;
        // Let the key be read before looking again.
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The headings of a lesson's steps, from its events.
fn headings(number: u8) -> Vec<String> {
    let out = learnns(&["lesson", &number.to_string(), "--format", "json"])
        .output()
        .unwrap();
    common::shown::Shown::parse(&stdout(&out)).headings()
}

#[test]
fn every_lesson_walks_at_80x24_with_its_heading_on_screen() {
    if !privileged() {
        return;
    }
    let _one = common::serial();
    for number in common::lesson_numbers() {
        let waits = walk(number);
        assert!(waits >= 3, "lesson {number} waited only {waits} times");
    }
}

/// Wait until the bottom line of the screen starts with `prefix`.
fn wait_for(tmux: &Tmux, prefix: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let screen = tmux.screen();
        if screen
            .iter()
            .rev()
            .find(|l| !l.is_empty())
            .is_some_and(|l| l.starts_with(prefix))
        {
            return screen;
        }
        assert!(
            Instant::now() < deadline,
            "no `{prefix}`:\n{}",
            screen.join("\n")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A word typed at a pause, as at a shell prompt, is answered with the
/// keys; only q quits, on one key press.
#[test]
fn a_word_typed_at_a_pause_is_answered_with_the_keys() {
    if !privileged() {
        return;
    }
    let tmux = Tmux::lesson("1");
    wait_for(&tmux, "── Enter: next step");
    tmux.cmd(&["send-keys", "-t", "walk", "exit", "Enter"]);
    std::thread::sleep(Duration::from_millis(500));
    let screen = tmux.screen();
    assert!(
        !screen
            .iter()
            .any(|l| l.starts_with(DONE) || l.starts_with("Stopped")),
        "`exit` did not quit:\n{}",
        screen.join("\n")
    );
    assert!(
        screen
            .iter()
            .any(|l| l.starts_with("▶ A container with its own UTS")),
        "Enter after the word went on to the next step:\n{}",
        screen.join("\n")
    );
    wait_for(&tmux, "── ");
    tmux.cmd(&["send-keys", "-t", "walk", "x"]);
    let screen = wait_for(
        &tmux,
        "── keys here: Enter for the next step, s for a shell inside, q to quit",
    );
    assert!(screen.iter().any(|l| l.starts_with("▶ A container")));
    tmux.cmd(&["send-keys", "-t", "walk", "q"]);
    let screen = wait_for(&tmux, DONE);
    assert!(
        screen.iter().any(|l| l.starts_with("Stopped.")),
        "{}",
        screen.join("\n")
    );
    assert!(screen.iter().any(|l| l == &format!("{DONE}=0")));
}

#[test]
fn at_40_columns_no_line_is_wider() {
    if !privileged() {
        return;
    }
    for number in common::lesson_numbers() {
        let n = number.to_string();
        let out = learnns(&["lesson", &n, "--format", "plain"])
            .env("COLUMNS", "40")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", common::stderr(&out));
        for line in stdout(&out).lines() {
            assert!(
                line.chars().count() <= 40,
                "lesson {number} at 40 columns:\n{line}"
            );
        }
    }
}
