//! The book cannot drift from the code: every include resolves to text, its
//! chapters follow the course order, and every section of a lesson's prose
//! appears in that lesson's chapter.

mod common;

use std::collections::BTreeSet;

use common::shown::Shown;
use learnns::events::{Event, Where};
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
    let mut expected: Vec<String> = lessons()
        .iter()
        .map(|(n, name)| format!("{:0>2}-{name}.md", n))
        .collect();
    // The capstone, a challenge of no lesson, comes after the last one.
    expected.push("10-capstone.md".into());
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

/// Where the book's transcripts live, one file per lesson.
fn transcript_path(number: u8, name: &str) -> PathBuf {
    Path::new(BOOK)
        .join("transcripts")
        .join(format!("{number:02}-{name}.txt"))
}

/// Outputs longer than this are shortened in a transcript: the rest is
/// mostly the machine's own (its processes, links, namespaces).
const LINES: usize = 6;

fn shorten(text: &str, keep: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    // A short `keep` is for listings whose length is the machine's own
    // (lsns: one line per namespace with a process): always cut, so that
    // a container someone else has running changes nothing.
    if keep >= 4 && lines.len() <= LINES {
        return text.to_string();
    }
    let keep = keep.min(lines.len());
    format!("{}\n[… more lines]\n", lines[..keep].join("\n"))
}

/// What every Linux machine has in `/`.
const FHS: [&str; 6] = ["bin", "dev", "etc", "proc", "sys", "usr"];

/// What a command printed, without what belongs to this machine rather
/// than to the lesson: another machine has other entries in `/`, other
/// kernel threads after `kthreadd`, other links and routes, another disk.
/// The book keeps what every Linux machine shows and marks the rest.
fn machines_own(command: &str, text: &str) -> String {
    const MARK: &str = "[… the machine's own]";
    let lines: Vec<&str> = text.lines().collect();
    let keep = |wanted: &dyn Fn(&str) -> bool| {
        let kept: Vec<&str> = lines.iter().copied().filter(|l| wanted(l)).collect();
        let mut out = kept.join("\n");
        if kept.len() < lines.len() {
            out.push('\n');
            out.push_str(MARK);
        }
        out + "\n"
    };
    match command {
        "ls /" => keep(&|l| FHS.contains(&l)),
        "findmnt -n -o SOURCE,FSTYPE /" if !text.contains("learnns") => {
            "[the host's disk and file system]\n".into()
        }
        // The host's processes: PID 1 is whatever this machine boots
        // (systemd, a sandbox's init), and the kernel threads after
        // kthreadd change names between kernel versions.
        c if c.starts_with("ps ") => {
            let pid = |l: &str| l.split_whitespace().next().map(str::to_string);
            let hosts = lines.iter().any(|l| pid(l).as_deref() == Some("2"));
            let mut kept: Vec<String> = lines
                .iter()
                .filter(|l| !hosts || matches!(pid(l).as_deref(), Some("PID" | "1" | "2")))
                .map(|l| match pid(l).as_deref() {
                    Some("1") if !l.contains("learnns") => {
                        format!("{}1 [INIT]", &l[..l.find('1').unwrap_or(0)])
                    }
                    _ => l.to_string(),
                })
                .collect();
            if kept.len() < lines.len() {
                kept.push(MARK.into());
            }
            kept.join("\n") + "\n"
        }
        "ip link" => {
            // The loopback device, always the first: its line and the next.
            let mut out = lines.iter().take(2).copied().collect::<Vec<_>>().join("\n");
            if lines.len() > 2 {
                out = out + "\n" + MARK;
            }
            out + "\n"
        }
        "ip -brief addr" | "ip route" => keep(&|l| l.starts_with("lo ") || l.contains("learnns")),
        _ => text.to_string(),
    }
}

/// A lesson's events as the plain renderer shows them at 80 columns,
/// without the prose (the chapter has it), cut into one mdBook anchor per
/// step. What changes from run to run is filtered out of the events first,
/// so that lines wrap the same way every time.
fn transcript(events: &[Event], host: &str) -> String {
    use learnns::render::Plain;
    colored::control::set_override(false);
    let filters = filters(events, host);
    let mut plain = Plain::new(80);
    let mut out = vec!["// ANCHOR: start".to_string()];
    let mut open = "start".to_string();
    let mut host_command = false;
    let mut last = String::new();
    for event in events {
        let event = match event {
            Event::Prose { .. } | Event::Pause | Event::Lesson { .. } | Event::Done { .. } => {
                continue;
            }
            Event::Heading { text } => {
                out.push(format!("// ANCHOR_END: {open}"));
                open = slug(text);
                out.push(format!("// ANCHOR: {open}"));
                event.clone()
            }
            Event::Command { place, line } => {
                host_command = *place == Where::Host;
                last = line.clone();
                event.clone()
            }
            // `lsns` lists every namespace on the machine: keep the header
            // and the host's own.
            // lsns pads its columns to the widest value on the machine:
            // one space between columns, and only the host's own line.
            Event::Output { text } if host_command && last.starts_with("lsns") => {
                let tight: Vec<String> = text
                    .lines()
                    .map(|l| {
                        let indent = l.len() - l.trim_start().len();
                        let words = l.split_whitespace().collect::<Vec<_>>().join(" ");
                        format!("{}{words}", &l[..indent.min(2)])
                    })
                    .collect();
                Event::Output {
                    text: shorten(&(tight.join("\n") + "\n"), 2),
                }
            }
            // The chroot escape lists the host's own `/`.
            Event::Note { text } if text.starts_with("after chroot") => {
                let (said, found) = text.split_once("holding: ").unwrap_or((text, ""));
                let common: Vec<&str> = found
                    .split_whitespace()
                    .filter(|name| FHS.contains(name))
                    .collect();
                Event::Note {
                    text: format!("{said}holding: {} … (the machine's own)", common.join(" ")),
                }
            }
            Event::Output { text } if host_command => Event::Output {
                text: shorten(&machines_own(&last, text), 4),
            },
            Event::Observation {
                command,
                inside_command,
                outside,
                inside,
                labels,
            } => Event::Observation {
                command: command.clone(),
                inside_command: inside_command.clone(),
                // The shell's PID on the host.
                outside: if command.contains("echo $$") {
                    "[PID]\n".into()
                } else {
                    shorten(&machines_own(command, outside), 4)
                },
                // The container's own `/` is the lesson's; the rest of
                // what is inside can be the host's seen from inside.
                inside: if command == "ls /" {
                    shorten(inside, 4)
                } else {
                    shorten(&machines_own(command, inside), 4)
                },
                labels: labels.clone(),
            },
            other => other.clone(),
        };
        let lines = plain.lines(&filtered(&event, &filters));
        // A step's transcript starts at its heading, not at a blank line.
        let first = out.last().is_some_and(|l| l.contains("ANCHOR: "));
        out.extend(lines.into_iter().skip_while(|l| first && l.is_empty()));
    }
    out.push(format!("// ANCHOR_END: {open}"));
    out.join("\n") + "\n"
}

/// The event with every string passed through the filters.
fn filtered(event: &Event, filters: &[(regex::Regex, String)]) -> Event {
    fn walk(value: &mut serde_json::Value, filters: &[(regex::Regex, String)]) {
        match value {
            serde_json::Value::String(s) => {
                for (pattern, with) in filters {
                    *s = pattern.replace_all(s, with.as_str()).into_owned();
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| walk(v, filters)),
            serde_json::Value::Object(map) => map.values_mut().for_each(|v| walk(v, filters)),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(event).unwrap();
    walk(&mut value, filters);
    serde_json::from_value(value).unwrap()
}

fn slug(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// What differs from run to run, or machine to machine, and what it
/// becomes in the book. The veth pair's /30 becomes the first one of
/// TEST-NET-2 (this machine uses TEST-NET-1 for its own eth0, so learnns
/// never picks from it here).
fn filters(events: &[Event], host: &str) -> Vec<(regex::Regex, String)> {
    let mut all: Vec<(String, String)> = Vec::new();
    let host_end = events.iter().find_map(|e| match e {
        Event::Command { line, .. } if line.starts_with("ip addr add ") => line
            .split_whitespace()
            .nth(3)?
            .split('/')
            .next()?
            .parse::<std::net::Ipv4Addr>()
            .ok(),
        _ => None,
    });
    if let Some(host_end) = host_end {
        let n = u32::from(host_end) - 1;
        for (i, example) in [
            "198.51.100.0",
            "198.51.100.1",
            "198.51.100.2",
            "198.51.100.3",
        ]
        .iter()
        .enumerate()
        {
            let real = std::net::Ipv4Addr::from(n + i as u32).to_string();
            all.push((
                format!(r"\b{}\b", regex::escape(&real)),
                example.to_string(),
            ));
        }
    }
    all.extend(
        [
            (r":\[\d+\]", ":[INODE]"),
            // Before the general PID filter: the padding after a PID depends on
            // how many digits it has.
            (r"host PID \d+ +", "host PID [PID]    "),
            (
                r"\b(PID|netns|KILL|PID:|shell was|calls it) \d{3,}",
                "$1 [PID]",
            ),
            (r"echo \d{3,} > (\S*cgroup\.procs)", "echo [PID] > $1"),
            (r"(-t|--target) \d{3,}", "$1 [PID]"),
            (r"/proc/\d{3,}/", "/proc/[PID]/"),
            (r"NSpid:(\s+)\d+", "NSpid:$1[PID]"),
            (r"learnns\d+([hc])\b", "learnns[PID]$1"),
            (r"@if\d+", "@if[N]"),
            (r"learnns-run-\d+-\d+", "learnns-run-[RUN]"),
            (r"learnns-\d+-\d+-\d+", "learnns-[RUN]"),
            (r"time=[\d.]+ ms", "time=[T] ms"),
            (r"link/ether [0-9a-f:]{17} brd", "link/ether [MAC] brd"),
            (r"(?m)^(\s*)\d+: ", "$1[N]: "),
            (r"\b\d+\.\d\d \d+\.\d\d\b", "[UPTIME]"),
            (r"(?m)^1\d{9}$", "[SECONDS]"),
            (r"0x[0-9a-f]{8} +\d+ +", "0x[KEY] [ID]     "),
            (r"0x[0-9a-f]{8}", "0x[KEY]"),
            (r"\bid: \d+", "id: [ID]"),
            (r"(ipcrm -q|queue) \d+", "$1 [ID]"),
            (r"127\.0\.0\.1([: ])\d{4,5}", "127.0.0.1$1[PORT]"),
            (r"\b2\d{9}\b", "[HOST-ID]"),
            (r"[A-Z][a-z]{2} +\d+ \d\d:\d\d", "[DATE]"),
            (r"\blists \d+", "lists [N]"),
            // The host's mount table grows with what else is mounted.
            (r"(?m)^\d+ /proc/self/mountinfo", "[N] /proc/self/mountinfo"),
            (
                r"mount tables: \d+ lines outside",
                "mount tables: [N] lines outside",
            ),
            (r"(?m)^\$", "$"),
            (r" (UP|DOWN|LOWERLAYERDOWN) +(\d)", " [STATE] $2"),
            (r" *fe80::[0-9a-f:]+/64", ""),
            (r"(?m)^( *\d{10} uts) +\d+ +\d+ ", "$1 [N] [PID] "),
            (r"NPROCS +PID", "NPROCS PID"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string())),
    );
    all.push((format!(r"\b{}\b", regex::escape(host)), "[HOST]".into()));
    all.into_iter()
        .map(|(a, b)| (regex::Regex::new(&a).unwrap(), b))
        .collect()
}

/// Each chapter's transcript is what its lesson prints today. Regenerate
/// them, as root: `LEARNNS_UPDATE_TRANSCRIPTS=1 cargo test --test book transcripts`.
#[test]
fn transcripts_are_what_the_lessons_print() {
    if !common::privileged() {
        return;
    }
    let update = std::env::var("LEARNNS_UPDATE_TRANSCRIPTS").as_deref() == Ok("1");
    let host = nix::unistd::gethostname()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let mut stale = Vec::new();
    for lesson in &learnns::lessons::LESSONS {
        let out = common::run(&["lesson", &lesson.number.to_string(), "--format", "json"]);
        assert!(out.status.success(), "{}", common::stderr(&out));
        let shown = Shown::parse(&common::stdout(&out));
        let text = transcript(&shown.events, &host);
        let path = transcript_path(lesson.number, lesson.name);
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        let kept = std::fs::read_to_string(&path).unwrap_or_default();
        if kept != text {
            // Every differing line, so that one run shows the whole change
            // (a CI machine differs from the one that recorded them).
            let (book, now): (Vec<&str>, Vec<&str>) =
                (kept.lines().collect(), text.lines().collect());
            let differing: Vec<String> = (0..book.len().max(now.len()))
                .filter(|&i| book.get(i) != now.get(i))
                .take(12)
                .map(|i| {
                    format!(
                        "  line {}:\n    book: {:?}\n    now:  {:?}",
                        i + 1,
                        book.get(i),
                        now.get(i)
                    )
                })
                .collect();
            stale.push(format!("{}:\n{}", path.display(), differing.join("\n")));
        }
    }
    assert!(
        stale.is_empty(),
        "the book's transcripts no longer match what the lessons print; regenerate them as root with `LEARNNS_UPDATE_TRANSCRIPTS=1 cargo test --test book transcripts`, and read the change:\n{}",
        stale.join("\n")
    );
}

/// Commands a lesson tells the learner to type fit an 80-column terminal
/// as they are (indented by 4), so that none is broken where pasting it
/// would fail.
#[test]
fn commands_to_type_fit_80_columns() {
    for lesson in &learnns::lessons::LESSONS {
        let mut fenced = false;
        for (i, line) in lesson.prose.lines().enumerate() {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
            } else if fenced {
                assert!(
                    line.chars().count() <= 76,
                    "lessons/{}.md:{}: {} columns: {line}",
                    lesson.name,
                    i + 1,
                    line.chars().count()
                );
            }
        }
    }
}
