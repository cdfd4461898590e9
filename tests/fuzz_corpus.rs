//! Replay the fuzzing corpus (fuzz/corpus/, grown by fuzz/run.sh) through
//! the same entry points the fuzz targets use: no input may panic.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let data = std::fs::read(entry.path()).unwrap();
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(
            outcome.is_ok(),
            "{target} panicked on {}",
            entry.path().display()
        );
        count += 1;
    }
    assert!(count >= 3, "the {target} corpus is kept ({count} inputs)");
}

#[test]
fn progress_files() {
    replay("progress_file", learnns::fuzzing::progress_file);
}

#[test]
fn quiz_answers() {
    replay("quiz_answer", learnns::fuzzing::quiz_answer);
}

#[test]
fn user_input() {
    replay("user_input", learnns::fuzzing::user_input);
}
