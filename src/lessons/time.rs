//! Lesson 8: the time namespace. Offsets for the boot-time and monotonic
//! clocks, written before anyone enters; the wall clock unchanged.

use super::{Session, Step};
use crate::container::setup_inside;
use crate::events::Where;
use crate::ns::Kind;
use crate::sys::{Call, Recorder};

/// The offset the lesson gives its container's clocks: one week.
pub const OFFSET: i64 = 7 * 24 * 3600;

fn first_number(text: &str) -> Option<f64> {
    text.split_whitespace().next()?.parse().ok()
}

// ANCHOR: steps
pub fn steps(s: &mut Session) -> Step {
    s.say("opening");
    s.pause()?;
    if s.lacks(Kind::Time)? {
        return Ok(());
    }

    s.heading("Clocks that started a week earlier");
    s.spec.time_offset = Some(OFFSET);
    s.say("create");
    let mut script = Recorder::on_this_host();
    setup_inside(&mut script, &s.spec)?;
    let time_steps = script.calls.iter().filter(|c| {
        matches!(
            c,
            Call::Unshare(_) | Call::SetTimeOffsets(_) | Call::EnterTimeForChildren
        )
    });
    for call in time_steps {
        for line in call.commands() {
            s.show_command(Where::Inside, &line);
        }
    }
    s.start_container()?;
    s.say("uptime");
    let (outside, inside) = s.observe(&["cat", "/proc/uptime"])?;
    let shift = first_number(&inside.text)
        .zip(first_number(&outside.text))
        .map(|(i, o)| i - o);
    s.check(
        shift.is_some_and(|d| (d - OFFSET as f64).abs() < 5.0),
        &format!("inside, uptime is {OFFSET} s (one week) ahead"),
        &format!("the difference was {shift:?} s"),
    );
    s.say("wall");
    let (outside, inside) = s.observe(&["date", "+%s"])?;
    let apart = first_number(&inside.text)
        .zip(first_number(&outside.text))
        .map(|(i, o)| (i - o).abs());
    s.check(
        apart.is_some_and(|d| d <= 2.0),
        "the wall clock reads the same inside and out",
        &format!("they are {apart:?} s apart"),
    );
    s.pause()?;

    s.heading("Offsets come first");
    s.say("too_late");
    let late = s.inside(&[
        "sh",
        "-c",
        "echo 'monotonic 1 0' > /proc/self/timens_offsets",
    ])?;
    s.check(
        late.status != Some(0),
        "once a process is in the namespace, its offsets can no longer change",
        "the write was accepted",
    );
    s.say("why");
    s.pause()?;

    s.links()?;
    s.check_your_work()
}
// ANCHOR_END: steps
