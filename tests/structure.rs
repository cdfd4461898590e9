//! The house stays one a newcomer can extend: no module longer than 500
//! lines before its tests, and no two top-level modules that import each
//! other, directly or around a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

fn sources(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

/// A file's code before its unit tests, without comments.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let before_tests = text.split("#[cfg(test)]\nmod tests").next().unwrap();
    before_tests
        .lines()
        .map(|l| l.split("//").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module a file belongs to: its first path component under src/.
/// `container::enter` counts on its own: it is the part of `container` that
/// the network code may use, and it imports nothing of `container`.
fn module(path: &Path) -> String {
    let rel = path.strip_prefix(SRC).unwrap();
    if rel == Path::new("container/enter.rs") {
        return "container::enter".into();
    }
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

#[test]
fn no_module_is_longer_than_500_lines_before_its_tests() {
    let mut files = Vec::new();
    sources(Path::new(SRC), &mut files);
    let long: Vec<String> = files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            let lines = text
                .split("#[cfg(test)]\nmod tests")
                .next()
                .unwrap()
                .lines()
                .count();
            (f, lines)
        })
        .filter(|(_, lines)| *lines > 500)
        .map(|(f, lines)| format!("{}: {lines}", f.display()))
        .collect();
    assert!(long.is_empty(), "split these by concern: {long:?}");
}

#[test]
fn no_two_modules_import_each_other() {
    let mut files = Vec::new();
    sources(Path::new(SRC), &mut files);
    let used = regex::Regex::new(r"crate::(\w+)(::enter\b)?").unwrap();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let from = module(file);
        if from == "lib" || from == "main" {
            continue;
        }
        let mut text = code(file);
        if from == "container" {
            text = text.replace("enter::", "crate::container::enter::");
        }
        for m in used.captures_iter(&text) {
            let to = match (&m[1], m.get(2)) {
                ("container", Some(_)) => "container::enter".to_string(),
                (name, _) => name.to_string(),
            };
            if to != from && !["outln", "out", "errln"].contains(&to.as_str()) {
                edges.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    // Depth-first search for a path back to where it started.
    fn circle(
        at: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == at) {
            let mut found = path[i..].to_vec();
            found.push(at.to_string());
            return Some(found);
        }
        if !done.insert(at.to_string()) {
            return None;
        }
        path.push(at.to_string());
        for next in edges.get(at).into_iter().flatten() {
            if let Some(found) = circle(next, edges, path, done) {
                return Some(found);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for start in edges.keys() {
        let found = circle(start, &edges, &mut Vec::new(), &mut done);
        assert!(
            found.is_none(),
            "modules import each other around a circle: {}",
            found.unwrap().join(" -> ")
        );
    }
    assert!(edges.contains_key("lessons") && edges["lessons"].contains("events"));
}
