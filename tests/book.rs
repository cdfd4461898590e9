//! The book cannot drift from the code: every include resolves to text, its
//! chapters follow the course order, and every section of a lesson's prose
//! appears in that lesson's chapter.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const BOOK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/book/src");

/// `{{#include path:anchor}}` directives of a chapter: (file, anchor).
fn includes(chapter: &Path) -> Vec<(PathBuf, Option<String>)> {
    let text = std::fs::read_to_string(chapter).unwrap();
    text.split("{{#include ")
        .skip(1)
        .map(|rest| {
            let spec = rest.split("}}").next().unwrap().trim();
            let (path, anchor) = match spec.split_once(':') {
                Some((p, a)) => (p, Some(a.to_string())),
                None => (spec, None),
            };
            (chapter.parent().unwrap().join(path), anchor)
        })
        .collect()
}

/// What mdBook would include for `anchor`: the lines between `ANCHOR: name`
/// and `ANCHOR_END: name`, without other anchor lines. None if not defined.
fn anchored(text: &str, anchor: &str) -> Option<String> {
    let is = |line: &str, tag: &str| {
        line.split(tag)
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .is_some_and(|name| name.trim_end_matches("-->") == anchor)
    };
    let start = text.lines().position(|l| is(l, "ANCHOR:"))?;
    let body: Vec<&str> = text
        .lines()
        .skip(start + 1)
        .take_while(|l| !is(l, "ANCHOR_END:"))
        .filter(|l| !l.contains("ANCHOR:") && !l.contains("ANCHOR_END:"))
        .collect();
    Some(body.join("\n"))
}

fn chapters() -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = std::fs::read_dir(BOOK)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    all.sort();
    all
}

#[test]
fn every_include_resolves_to_text() {
    let mut count = 0;
    for chapter in chapters() {
        for (file, anchor) in includes(&chapter) {
            let text = std::fs::read_to_string(&file).unwrap_or_else(|_| {
                panic!("{} includes missing {}", chapter.display(), file.display())
            });
            let included = match &anchor {
                Some(a) => anchored(&text, a).unwrap_or_else(|| {
                    panic!(
                        "{} includes {}:{a}, which is not defined",
                        chapter.display(),
                        file.display()
                    )
                }),
                None => text,
            };
            assert!(
                !included.trim().is_empty(),
                "{} includes {}:{anchor:?}, which is empty",
                chapter.display(),
                file.display()
            );
            count += 1;
        }
    }
    assert!(
        count > 20,
        "the chapters include their text ({count} includes)"
    );
}

/// The lessons, in course order, as `learnns lessons` lists them.
fn lessons() -> Vec<(String, String)> {
    let out = common::run(&["lessons"]);
    common::stdout(&out)
        .lines()
        .map(|l| {
            let mut words = l.split_whitespace();
            (
                words.next().unwrap().to_string(),
                words.next().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn summary_follows_the_course_order() {
    let summary = std::fs::read_to_string(format!("{BOOK}/SUMMARY.md")).unwrap();
    let linked: Vec<String> = summary
        .lines()
        .filter(|l| l.trim_start().starts_with("- ["))
        .filter_map(|l| l.split("](").nth(1)?.strip_suffix(')').map(str::to_string))
        // Lesson chapters are `NN-name.md`; the guides around them are not.
        .filter(|file| {
            file.as_bytes().get(2) == Some(&b'-') && file[..2].bytes().all(|b| b.is_ascii_digit())
        })
        .collect();
    let expected: Vec<String> = lessons()
        .iter()
        .map(|(n, name)| format!("{:0>2}-{name}.md", n))
        .collect();
    assert_eq!(linked, expected);
}

#[test]
fn every_prose_section_is_in_its_chapter() {
    for (n, name) in lessons() {
        let chapter = PathBuf::from(format!("{BOOK}/{n:0>2}-{name}.md"));
        let prose = format!("{}/lessons/{name}.md", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&prose).unwrap();
        let defined: BTreeSet<String> = text
            .lines()
            .filter_map(|l| l.split("ANCHOR: ").nth(1))
            .map(|rest| rest.trim_end_matches("-->").trim().to_string())
            .collect();
        let prose_path = PathBuf::from(&prose);
        let used: BTreeSet<String> = includes(&chapter)
            .into_iter()
            .filter(|(file, _)| file.canonicalize().ok() == prose_path.canonicalize().ok())
            .filter_map(|(_, anchor)| anchor)
            .collect();
        assert_eq!(
            defined,
            used,
            "chapter {} and lessons/{name}.md",
            chapter.display()
        );
    }
}
