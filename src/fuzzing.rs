//! The parsers that read untrusted text, each behind one entry point taking
//! raw bytes: the fuzz targets in `fuzz/` call these, and a test replays the
//! kept corpus through them on every `cargo test`. None may panic.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::lessons::LESSONS;
use crate::quiz::{self, Response};

/// A progress file as found on disk.
pub fn progress_file(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::progress::parse(text);
    }
}

/// A quiz answer, typed or chosen, against every question of every bank.
pub fn quiz_answer(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = quiz::words_of(&text);
    let _ = quiz::normalize(&text);
    for count in [0, 1, 2, 4] {
        let _ = quiz::parse_choice(&text, count);
    }
    for lesson in &LESSONS {
        for question in quiz::bank::for_lesson(lesson).unwrap_or_default() {
            let _ = question.is_right(&Response::Text(text.to_string()));
            if let Some(choice) = quiz::parse_choice(&text, question.choices.len()) {
                let _ = question.is_right(&Response::Choice(choice));
            }
        }
    }
}

/// What a learner types on the command line: a `--rootfs` path, a lesson,
/// a `--subnet`, a `--memory-max` size. Reading paths only looks (stat,
/// canonicalize); it creates nothing.
pub fn user_input(data: &[u8]) {
    let _ = crate::rootfs::open_user_root(Path::new(OsStr::from_bytes(data)));
    let text = String::from_utf8_lossy(data);
    let _ = crate::lessons::find(&text);
    let _ = text.parse::<crate::network::Subnet>();
    let _ = crate::cgroup::parse_size(&text);
}
