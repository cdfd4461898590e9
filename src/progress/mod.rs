//! Self-study progress: which lessons a learner finished and how their
//! quizzes went, in `$XDG_STATE_HOME/learnns/progress.toml` (by default
//! `~/.local/state/learnns/`). Under sudo it is the invoking user's file,
//! owned by them, so that `sudo learnns lesson 1` and `learnns quiz` share it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use nix::unistd::{Gid, Uid};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Problem, Result};
use crate::lessons::{LESSONS, Lesson};

mod report;

pub use report::{OTHER_QUIZZES, mark, next_lesson, next_step, reset, show, summary};

/// What is kept between runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Names of the lessons run to their end (`uts`, `pid`, ...), so that a
    /// lesson added or moved later never changes what a learner has done.
    /// The first format kept numbers; they are read as the lessons those
    /// numbers were then ([`FORMAT_1_LESSONS`]).
    #[serde(default, deserialize_with = "lesson_names")]
    pub completed: BTreeSet<String>,
    /// Quiz results by topic: a lesson's name, `course` or `live`.
    #[serde(default)]
    pub quiz: BTreeMap<String, Score>,
    /// Challenges whose check passed, by lesson name (`uts`, `pid`, ...).
    /// Files written before challenges existed have none.
    #[serde(default, deserialize_with = "lesson_names")]
    pub challenges: BTreeSet<String>,
    /// How many hints of each challenge were shown, by lesson name.
    #[serde(default)]
    pub hints: BTreeMap<String, u32>,
}

impl Progress {
    pub fn is_done(&self, lesson: &Lesson) -> bool {
        self.completed.contains(lesson.name)
    }

    /// Nothing recorded: no lesson done, no quiz taken.
    pub fn is_empty(&self) -> bool {
        self.completed.is_empty()
            && self.quiz.is_empty()
            && self.challenges.is_empty()
            && self.hints.is_empty()
    }
}

/// The lessons by number as progress files of the first format (before
/// names were kept) numbered them. Frozen: inserting a lesson into
/// [`crate::lessons::LESSONS`] must not change what an old file means.
pub const FORMAT_1_LESSONS: [&str; 10] = [
    "intro", "uts", "ipc", "pid", "mnt", "net", "user", "cgroup", "time", "security",
];

/// One entry of `completed`: a lesson's name, or its number in a file of
/// the first format.
#[derive(Deserialize)]
#[serde(untagged)]
enum Entry {
    Name(String),
    Number(i64),
}

fn lesson_names<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<BTreeSet<String>, D::Error> {
    use serde::de::Error as _;
    let entries = Vec::<Entry>::deserialize(deserializer)?;
    entries
        .into_iter()
        .map(|entry| match entry {
            Entry::Name(name) if valid_name(&name) => Ok(name),
            Entry::Name(name) => Err(D::Error::custom(format!(
                "{name:?} is not the name of a lesson"
            ))),
            Entry::Number(n) => usize::try_from(n)
                .ok()
                .and_then(|n| FORMAT_1_LESSONS.get(n))
                .map(|name| name.to_string())
                .ok_or_else(|| D::Error::custom(format!("there is no lesson {n}"))),
        })
        .collect()
}

/// A lesson's name as learnns writes one: short, lower case letters,
/// digits and '-'. A name this version does not know (a later version's
/// lesson) is kept, and shown nowhere.
fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The last and the best result of one kind of quiz.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Score {
    pub last_right: u32,
    pub last_asked: u32,
    pub best_right: u32,
    pub best_asked: u32,
}

impl Score {
    /// `best 4/5, last 3/5`.
    pub fn describe(&self) -> String {
        format!(
            "best {}/{}, last {}/{}",
            self.best_right, self.best_asked, self.last_right, self.last_asked
        )
    }

    fn record(&mut self, right: u32, asked: u32) {
        self.last_right = right;
        self.last_asked = asked;
        // Best by share of right answers.
        if self.best_asked == 0
            || u64::from(right) * u64::from(self.best_asked)
                > u64::from(self.best_right) * u64::from(asked)
        {
            self.best_right = right;
            self.best_asked = asked;
        }
    }
}

/// Where the progress file lives and whom it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub dir: PathBuf,
    /// Under sudo: the invoking user, who must own what learnns writes.
    pub owner: Option<(Uid, Gid)>,
}

/// The facts [`Place`] is decided from, gathered from the environment.
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub xdg_state_home: Option<String>,
    pub home: Option<String>,
    pub root: bool,
    pub sudo_uid: Option<String>,
    pub sudo_gid: Option<String>,
    /// The home directory of SUDO_UID, from the user database.
    pub sudo_home: Option<PathBuf>,
}

impl Env {
    pub fn current() -> Env {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let sudo_uid = var("SUDO_UID");
        let sudo_home = sudo_uid
            .as_deref()
            .and_then(|u| u.parse::<u32>().ok())
            .and_then(|u| nix::unistd::User::from_uid(Uid::from_raw(u)).ok().flatten())
            .map(|user| user.dir);
        Env {
            xdg_state_home: var("XDG_STATE_HOME"),
            home: var("HOME"),
            root: nix::unistd::geteuid().is_root(),
            sudo_uid,
            sudo_gid: var("SUDO_GID"),
            sudo_home,
        }
    }
}

// ANCHOR: place
/// Decide where progress lives. Under sudo, `HOME` may be root's (it
/// depends on the sudoers policy), so the invoking user's home comes from
/// the user database instead.
pub fn place(env: &Env) -> Result<Place> {
    let owner = match (env.root, &env.sudo_uid, &env.sudo_gid) {
        (true, Some(uid), Some(gid)) => match (uid.parse(), gid.parse()) {
            (Ok(uid), Ok(gid)) => Some((Uid::from_raw(uid), Gid::from_raw(gid))),
            _ => None,
        },
        _ => None,
    };
    let base = match (&env.xdg_state_home, owner, &env.sudo_home, &env.home) {
        (Some(xdg), _, _, _) if Path::new(xdg).is_absolute() => PathBuf::from(xdg),
        (_, Some(_), Some(home), _) => home.join(".local/state"),
        (_, _, _, Some(home)) => Path::new(home).join(".local/state"),
        _ => {
            return Err(Error::Progress(
                Problem::new("there is nowhere to keep progress: HOME is not set")
                    .fix("set HOME or XDG_STATE_HOME"),
            ));
        }
    };
    Ok(Place {
        dir: base.join("learnns"),
        owner,
    })
}
// ANCHOR_END: place

impl Place {
    pub fn here() -> Result<Place> {
        place(&Env::current())
    }

    pub fn file(&self) -> PathBuf {
        self.dir.join("progress.toml")
    }

    /// Read the progress; none yet is empty progress.
    pub fn load(&self) -> Result<Progress> {
        self.as_owner(|| self.load_here())
    }

    fn load_here(&self) -> Result<Progress> {
        let path = self.file();
        let text = match read_regular(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Progress::default()),
            Err(e) => {
                return Err(unreadable(&path, &e.to_string()));
            }
        };
        parse(&text).map_err(|why| unreadable(&path, &why))
    }

    /// Write the progress: to a new file, then renamed over the old one, so
    /// a crash never leaves half a file.
    pub fn save(&self, progress: &Progress) -> Result<()> {
        let text = toml::to_string(progress)
            .map_err(|e| Error::Progress(format!("cannot write progress: {e}").into()))?;
        self.as_owner(|| {
            fs::create_dir_all(&self.dir)
                .map_err(|e| Error::io(format!("mkdir -p {}", self.dir.display()), e))?;
            let tmp = self
                .dir
                .join(format!(".progress.{}.tmp", std::process::id()));
            // create_new: never follow a link someone left at this name.
            let written = fs::File::options()
                .write(true)
                .create_new(true)
                .open(&tmp)
                .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()));
            if let Err(e) = written {
                let _ = fs::remove_file(&tmp);
                return Err(Error::io(format!("write {}", tmp.display()), e));
            }
            fs::rename(&tmp, self.file()).map_err(|e| {
                let _ = fs::remove_file(&tmp);
                Error::io(format!("write {}", self.file().display()), e)
            })
        })
    }

    // ANCHOR: as_owner
    /// Run `work` with the invoking user's identity when under sudo, so that
    /// everything made in their home is theirs, and root's privilege is
    /// never used on paths they control (a link planted in their state
    /// directory cannot make root write elsewhere).
    fn as_owner<T>(&self, work: impl FnOnce() -> Result<T>) -> Result<T> {
        use nix::unistd::{getegid, geteuid, getgroups, setegid, seteuid, setgroups};
        let Some((uid, gid)) = self.owner else {
            return work();
        };
        let (euid, egid) = (geteuid(), getegid());
        let groups = getgroups().map_err(|e| Error::sys("getgroups", e))?;
        let switch = || -> nix::Result<()> {
            setgroups(&[gid])?;
            setegid(gid)?;
            seteuid(uid)
        };
        let switched = switch();
        let result = switched
            .map_err(|e| Error::sys("switch to the invoking user", e))
            .and_then(|()| work());
        // Back to root, in the reverse order.
        let restored = seteuid(euid)
            .and_then(|()| setegid(egid))
            .and_then(|()| setgroups(&groups));
        if let Err(e) = restored {
            // Carrying on with the wrong identity would be worse than stopping.
            crate::render::problem::warn(format!(
                "cannot return to root's identity ({e}); stopping"
            ));
            crate::cleanup::undo_all();
            std::process::exit(1);
        }
        result
    }
    // ANCHOR_END: as_owner

    /// Load, change, save, holding the lock: two learnns of one learner
    /// (a lesson ending while `challenge --watch` passes in another
    /// terminal) would otherwise each save what they loaded, and one mark
    /// would be lost.
    pub fn change<T>(&self, change: impl FnOnce(&mut Progress) -> T) -> Result<T> {
        let _held = self.lock()?;
        let mut progress = self.load()?;
        let result = change(&mut progress);
        self.save(&progress)?;
        Ok(result)
    }

    /// [`Place::change`]; a problem is reported on stderr and otherwise
    /// ignored: losing a progress mark must never fail a lesson.
    pub fn update(&self, change: impl FnOnce(&mut Progress)) {
        if let Err(e) = self.change(change) {
            crate::render::problem::warn(format!("progress not saved: {e}"));
        }
    }

    /// An exclusive lock on `.lock` beside the progress file, released when
    /// the returned file is dropped. The file is made as its owner, never
    /// through a link, and must be a regular file: opening a FIFO for
    /// writing would wait for a reader forever. A lock held elsewhere is
    /// waited for a few seconds at most.
    fn lock(&self) -> Result<nix::fcntl::Flock<fs::File>> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.dir.join(".lock");
        let mut file = self.as_owner(|| {
            fs::create_dir_all(&self.dir)
                .map_err(|e| Error::io(format!("mkdir -p {}", self.dir.display()), e))?;
            let file = fs::File::options()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                .open(&path)
                .map_err(|e| Error::io(format!("open {}", path.display()), e))?;
            match file.metadata() {
                Ok(meta) if meta.is_file() => Ok(file),
                Ok(_) => Err(Error::io(
                    format!("lock {}", path.display()),
                    std::io::Error::other("it is not a regular file"),
                )),
                Err(e) => Err(Error::io(format!("lock {}", path.display()), e)),
            }
        })?;
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        loop {
            match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock) {
                Ok(held) => return Ok(held),
                Err((back, nix::errno::Errno::EWOULDBLOCK))
                    if std::time::Instant::now() < deadline =>
                {
                    file = back;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err((_, e)) => return Err(Error::sys(format!("lock {}", path.display()), e)),
            }
        }
    }
}

/// How long a save waits for another learnns's: each holds the lock for one
/// load and save, a few milliseconds.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// A progress file is small and regular: a FIFO or device at its name
/// would block learnns, or feed it forever.
const MAX_SIZE: u64 = 64 << 10;

fn read_regular(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = fs::File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("it is not a regular file"));
    }
    if meta.len() > MAX_SIZE {
        return Err(std::io::Error::other(format!(
            "it is {} bytes, more than a progress file ever is",
            meta.len()
        )));
    }
    let mut text = String::new();
    file.take(MAX_SIZE).read_to_string(&mut text)?;
    Ok(text)
}

fn unreadable(path: &Path, why: &str) -> Error {
    Error::Progress(
        Problem::new(format!(
            "the progress file {} cannot be read ({why})",
            path.display()
        ))
        .fix(format!(
            "remove it (`rm {}`); your progress starts over",
            path.display()
        )),
    )
}

/// Parse a progress file's text. Untrusted: it may be anything.
pub fn parse(text: &str) -> std::result::Result<Progress, String> {
    let progress: Progress = toml::from_str(text).map_err(|e| e.message().to_string())?;
    for (topic, score) in &progress.quiz {
        if score.last_right > score.last_asked || score.best_right > score.best_asked {
            return Err(format!(
                "the {topic} score has more right answers than questions"
            ));
        }
    }
    Ok(progress)
}

/// Record a finished lesson.
pub fn lesson_done(lesson: &Lesson) {
    if let Ok(place) = Place::here() {
        place.update(|p| {
            p.completed.insert(lesson.name.to_string());
        });
    }
}

/// Record a challenge whose check passed.
pub fn challenge_passed(name: &str) {
    if let Ok(place) = Place::here() {
        place.update(|p| {
            p.challenges.insert(name.to_string());
        });
    }
}

/// Count one more hint of a challenge shown; the hints seen so far.
pub fn hint_shown(name: &str) -> Result<u32> {
    Place::here()?.change(|progress| {
        let seen = progress.hints.entry(name.to_string()).or_default();
        *seen = seen.saturating_add(1);
        *seen
    })
}

/// Record a finished quiz.
pub fn quiz_done(topic: &str, right: u32, asked: u32) {
    if let Ok(place) = Place::here() {
        place.update(|p| {
            p.quiz
                .entry(topic.to_string())
                .or_default()
                .record(right, asked)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Env {
        Env {
            home: Some("/home/ada".into()),
            ..Env::default()
        }
    }

    #[test]
    fn an_ordinary_user_keeps_progress_in_their_home() {
        assert_eq!(
            place(&env()).unwrap(),
            Place {
                dir: "/home/ada/.local/state/learnns".into(),
                owner: None
            }
        );
        let xdg = Env {
            xdg_state_home: Some("/srv/state".into()),
            ..env()
        };
        assert_eq!(
            place(&xdg).unwrap().dir,
            PathBuf::from("/srv/state/learnns")
        );
        // A relative XDG path is invalid by the spec: ignored.
        let relative = Env {
            xdg_state_home: Some("state".into()),
            ..env()
        };
        assert_eq!(
            place(&relative).unwrap().dir,
            PathBuf::from("/home/ada/.local/state/learnns")
        );
    }

    #[test]
    fn under_sudo_the_invoking_user_owns_it_in_their_own_home() {
        let sudo = Env {
            home: Some("/root".into()),
            root: true,
            sudo_uid: Some("1000".into()),
            sudo_gid: Some("1001".into()),
            sudo_home: Some("/home/ada".into()),
            ..Env::default()
        };
        assert_eq!(
            place(&sudo).unwrap(),
            Place {
                dir: "/home/ada/.local/state/learnns".into(),
                owner: Some((Uid::from_raw(1000), Gid::from_raw(1001)))
            }
        );
        // Plain root keeps its own.
        let root = Env {
            home: Some("/root".into()),
            root: true,
            ..Env::default()
        };
        assert_eq!(place(&root).unwrap().owner, None);
        assert!(place(&Env::default()).is_err());
    }

    #[test]
    fn progress_round_trips_and_bad_files_are_refused() {
        let mut progress = Progress::default();
        progress.completed.insert("pid".into());
        progress.quiz.entry("net".into()).or_default().record(4, 5);
        let text = toml::to_string(&progress).unwrap();
        assert_eq!(parse(&text).unwrap(), progress);
        assert_eq!(parse("").unwrap(), Progress::default());
        for bad in [
            "completed = [42]",
            "completed = \"all\"",
            "[quiz.net]\nlast_right = 9\nlast_asked = 5\nbest_right = 0\nbest_asked = 0",
            "\u{0}\u{1}garbage",
            "completed = [1, 2",
            "completed = [-1]",
            "completed = [10]",
            "completed = [\"\"]",
            "completed = [\"../../etc\"]",
            "completed = [1.5]",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn files_of_the_first_format_keep_loading_by_the_numbers_of_then() {
        let old = "completed = [0, 3, 9]\n\n[quiz.net]\nlast_right = 4\nlast_asked = 5\nbest_right = 5\nbest_asked = 5\n";
        let progress = parse(old).unwrap();
        assert_eq!(
            progress.completed,
            BTreeSet::from(["intro".into(), "pid".into(), "security".into()])
        );
        assert_eq!(progress.quiz["net"].best_right, 5);
        // Written back, it is in names, and reads the same.
        let text = toml::to_string(&progress).unwrap();
        assert!(
            text.contains("completed = [\"intro\", \"pid\", \"security\"]"),
            "{text}"
        );
        assert_eq!(parse(&text).unwrap(), progress);
        // Both at once (an old file a new learnns added to).
        assert_eq!(
            parse("completed = [1, \"uts\", \"net\"]")
                .unwrap()
                .completed,
            BTreeSet::from(["uts".into(), "net".into()])
        );
        // A lesson of a later version is kept, not refused.
        let later = parse("completed = [\"uts\", \"seccomp-2\"]").unwrap();
        assert!(later.completed.contains("seccomp-2"));
    }

    #[test]
    fn the_first_formats_numbers_still_name_lessons() {
        // A lesson renamed or removed must keep an old file's meaning:
        // every name the first format's numbers stand for is a lesson.
        for name in FORMAT_1_LESSONS {
            assert!(
                LESSONS.iter().any(|l| l.name == name),
                "{name} of FORMAT_1_LESSONS is no lesson now"
            );
        }
        let progress = parse("completed = [3]").unwrap();
        let pid = LESSONS.iter().find(|l| l.name == "pid").unwrap();
        assert!(progress.is_done(pid));
        assert!(LESSONS.iter().filter(|l| progress.is_done(l)).count() == 1);
    }

    #[test]
    fn a_summary_names_what_a_reset_removes() {
        let mut progress = parse("completed = [\"uts\", \"intro\"]").unwrap();
        assert_eq!(summary(&progress), "2 lessons done (intro, uts)");
        progress.quiz.entry("net".into()).or_default().record(4, 5);
        assert_eq!(
            summary(&progress),
            "2 lessons done (intro, uts) and 1 quiz score (net)"
        );
        assert_eq!(summary(&Progress::default()), "an empty progress file");
        assert_eq!(next_lesson(&progress).unwrap().name, "ipc");
    }

    #[test]
    fn challenges_and_hints_are_kept_and_old_files_still_load() {
        let old = parse("completed = [\"uts\"]").unwrap();
        assert!(old.challenges.is_empty() && old.hints.is_empty());
        let mut progress = old;
        progress.challenges.insert("pid".into());
        progress.hints.insert("user".into(), 2);
        let text = toml::to_string(&progress).unwrap();
        assert_eq!(parse(&text).unwrap(), progress);
        assert!(parse("challenges = [\"../x\"]").is_err());
        let only_hints = parse("[hints]\nuts = 1").unwrap();
        assert!(!only_hints.is_empty());
    }

    #[test]
    fn the_best_score_is_the_best_share() {
        let mut score = Score::default();
        score.record(3, 5);
        score.record(2, 5);
        assert_eq!((score.best_right, score.best_asked), (3, 5));
        assert_eq!((score.last_right, score.last_asked), (2, 5));
        score.record(10, 10);
        assert_eq!((score.best_right, score.best_asked), (10, 10));
    }
}
