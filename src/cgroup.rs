//! Control groups: the kernel's resource limits and accounting. A cgroup is a
//! directory in a special file system; its files are the limits, moving a
//! process in is writing its PID to `cgroup.procs`, and removing it is
//! `rmdir`. learnns gives a container its own cgroup at the top of each
//! hierarchy it needs, named `learnns-PID-START-N` for its run, and
//! registers it for clean-up before making it.
//!
//! Two layouts exist. cgroup v2 is one tree where each directory has every
//! enabled controller's files; cgroup v1 has a tree per controller (pids and
//! memory live in `/sys/fs/cgroup/pids` and `/sys/fs/cgroup/memory`), and a
//! "hybrid" machine has v1 controllers plus an (often empty) v2 tree.

use std::fs::{self, File};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use nix::unistd::Pid;

use crate::cleanup::{self, RunId, Token, Undo};
use crate::error::{Error, Result};

/// Where cgroup file systems are mounted on every distribution.
pub const ROOT: &str = cleanup::CGROUP_ROOT;

/// Where the pids and memory controllers can be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// One unified v2 tree; a child directory gets both controllers' files.
    V2 { root: PathBuf },
    /// Separate v1 hierarchies for the two controllers.
    V1 { pids: PathBuf, memory: PathBuf },
}

/// What a container may use. `None` leaves that resource unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// At most this many processes (and threads) at once: `pids.max`.
    pub pids: Option<u32>,
    /// At most this many bytes of memory: `memory.max` (v2) or
    /// `memory.limit_in_bytes` (v1).
    pub memory: Option<u64>,
}

impl Layout {
    /// The layout of this machine.
    pub fn detect() -> Result<Layout> {
        Layout::detect_at(Path::new(ROOT))
    }

    // ANCHOR: detect
    /// The layout of the cgroup file systems mounted under `root`.
    pub fn detect_at(root: &Path) -> Result<Layout> {
        let v1 = |c: &str| root.join(c).join("cgroup.procs").exists();
        // A controller lives in one hierarchy only: if v1 has it, v2 cannot.
        if v1("pids") && v1("memory") {
            return Ok(Layout::V1 {
                pids: root.join("pids"),
                memory: root.join("memory"),
            });
        }
        for tree in [root.to_path_buf(), root.join("unified")] {
            let Ok(available) = fs::read_to_string(tree.join("cgroup.controllers")) else {
                continue;
            };
            let has = |text: &str, c: &str| text.split_whitespace().any(|x| x == c);
            if !(has(&available, "pids") && has(&available, "memory")) {
                continue;
            }
            let enabled =
                fs::read_to_string(tree.join("cgroup.subtree_control")).unwrap_or_default();
            if has(&enabled, "pids") && has(&enabled, "memory") {
                return Ok(Layout::V2 { root: tree });
            }
            return Err(Error::setup(
                format!(
                    "the pids and memory controllers are not enabled for cgroups under {}",
                    tree.display()
                ),
                format!(
                    "echo '+pids +memory' | sudo tee {}",
                    tree.join("cgroup.subtree_control").display()
                ),
            ));
        }
        Err(Error::setup(
            format!(
                "no cgroup hierarchy under {} offers the pids and memory controllers",
                root.display()
            ),
            format!(
                "boot with cgroups enabled (most distributions do), or mount cgroup2 on {ROOT}"
            ),
        ))
    }
    // ANCHOR_END: detect

    /// One line for `doctor` and the lessons.
    pub fn describe(&self) -> String {
        match self {
            Layout::V2 { root } if root.ends_with("unified") => format!(
                "hybrid: v1 hierarchies, and the pids and memory controllers in the v2 tree at {}",
                root.display()
            ),
            Layout::V2 { root } => format!("cgroup v2, one tree at {}", root.display()),
            Layout::V1 { pids, memory } => {
                let unified = pids.with_file_name("unified");
                let v1 = format!(
                    "cgroup v1 controllers, pids at {} and memory at {}",
                    pids.display(),
                    memory.display()
                );
                if unified.join("cgroup.controllers").exists() {
                    format!("hybrid: {v1}, and a v2 tree at {}", unified.display())
                } else {
                    v1
                }
            }
        }
    }
}

/// One step learnns took on the host to make a cgroup, as a shell command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Mkdir(PathBuf),
    Write(PathBuf, String),
}

impl Step {
    pub fn command(&self) -> String {
        match self {
            Step::Mkdir(dir) => format!("mkdir {}", dir.display()),
            Step::Write(file, value) => format!("echo {value} > {}", file.display()),
        }
    }
}

/// A cgroup learnns made for a container. Dropping it removes it, after
/// killing whatever is still inside.
#[derive(Debug)]
pub struct Cgroup {
    layout: Layout,
    name: String,
    /// What was done, in order, for the learner to see.
    steps: Vec<Step>,
    tokens: Vec<Token>,
}

static NEXT: AtomicU32 = AtomicU32::new(1);

// ANCHOR: create
impl Cgroup {
    /// Make a cgroup with `limits` and move process `pid` into it. Run by the
    /// parent before the container's first process goes on, so that nothing
    /// it starts escapes the limits.
    pub fn create(layout: &Layout, limits: Limits, pid: Pid) -> Result<Cgroup> {
        // The name holds the run (PID and start time), so no other run,
        // not even a later one with the same PID, can ever have it.
        let name = RunId::current().cgroup_name(NEXT.fetch_add(1, Ordering::Relaxed));
        let mut cgroup = Cgroup {
            layout: layout.clone(),
            name,
            steps: Vec::new(),
            tokens: Vec::new(),
        };
        let pid = pid.to_string();
        match layout {
            Layout::V2 { .. } => {
                let dir = cgroup.pids_dir();
                cgroup.mkdir(&dir)?;
                if let Some(max) = limits.pids {
                    cgroup.write(&dir, "pids.max", &max.to_string())?;
                }
                if let Some(bytes) = limits.memory {
                    cgroup.write(&dir, "memory.max", &bytes.to_string())?;
                    // Otherwise the limit only pushes memory out to swap.
                    if dir.join("memory.swap.max").exists() {
                        cgroup.write(&dir, "memory.swap.max", "0")?;
                    }
                }
                cgroup.write(&dir, "cgroup.procs", &pid)?;
            }
            Layout::V1 { .. } => {
                let dir = cgroup.pids_dir();
                cgroup.mkdir(&dir)?;
                if let Some(max) = limits.pids {
                    cgroup.write(&dir, "pids.max", &max.to_string())?;
                }
                cgroup.write(&dir, "cgroup.procs", &pid)?;
                let dir = cgroup.memory_dir();
                cgroup.mkdir(&dir)?;
                if let Some(bytes) = limits.memory {
                    cgroup.write(&dir, "memory.limit_in_bytes", &bytes.to_string())?;
                    if dir.join("memory.memsw.limit_in_bytes").exists() {
                        cgroup.write(&dir, "memory.memsw.limit_in_bytes", &bytes.to_string())?;
                    }
                }
                cgroup.write(&dir, "cgroup.procs", &pid)?;
            }
        }
        Ok(cgroup)
    }
}
// ANCHOR_END: create

impl Cgroup {
    fn mkdir(&mut self, dir: &Path) -> Result<()> {
        // Recorded first: a kill right after the mkdir still leads the
        // next start to it.
        let token = cleanup::register(Undo::Cgroup {
            path: dir.to_path_buf(),
        })?;
        self.tokens.push(token);
        fs::create_dir(dir).map_err(|e| {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                Error::setup(format!("creating the cgroup {} needs root", dir.display()), "run learnns as root, or leave out the limits (as an ordinary user on a cgroup v2 machine with systemd, `systemd-run --user --scope -p TasksMax=20 -p MemoryMax=64M CMD` asks systemd for a cgroup instead)")
            } else {
                Error::io(format!("mkdir {}", dir.display()), e)
            }
        })?;
        crate::failpoint::hit("cgroup-mkdir");
        self.steps.push(Step::Mkdir(dir.to_path_buf()));
        Ok(())
    }

    fn write(&mut self, dir: &Path, file: &str, value: &str) -> Result<()> {
        let path = dir.join(file);
        fs::write(&path, value)
            .map_err(|e| Error::io(format!("write {value} to {}", path.display()), e))?;
        self.steps.push(Step::Write(path, value.to_string()));
        Ok(())
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// What learnns did to make this cgroup, in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The directory with `pids.max`, `pids.current` and `pids.events`.
    pub fn pids_dir(&self) -> PathBuf {
        match &self.layout {
            Layout::V2 { root } => root.join(&self.name),
            Layout::V1 { pids, .. } => pids.join(&self.name),
        }
    }

    /// The directory with the memory controller's files.
    pub fn memory_dir(&self) -> PathBuf {
        match &self.layout {
            Layout::V2 { root } => root.join(&self.name),
            Layout::V1 { memory, .. } => memory.join(&self.name),
        }
    }

    /// The file whose `oom_kill N` line counts processes the kernel killed
    /// for going over the memory limit.
    pub fn oom_file(&self) -> PathBuf {
        match &self.layout {
            Layout::V2 { .. } => self.memory_dir().join("memory.events"),
            Layout::V1 { .. } => self.memory_dir().join("memory.oom_control"),
        }
    }

    /// Every directory of this cgroup (one in v2, one per controller in v1).
    pub fn dirs(&self) -> Vec<PathBuf> {
        let mut dirs = vec![self.pids_dir()];
        if self.memory_dir() != dirs[0] {
            dirs.push(self.memory_dir());
        }
        dirs
    }

    /// The shell commands that move the current shell into this cgroup.
    pub fn join_commands(&self) -> Vec<String> {
        self.dirs()
            .iter()
            .map(|d| format!("echo $$ > {}", d.join("cgroup.procs").display()))
            .collect()
    }

    /// Open every `cgroup.procs` of this cgroup for writing, so that a
    /// process about to enter the container can move itself in by writing
    /// `0` (which means "me"), as `docker exec` puts its process into the
    /// container's cgroup.
    pub fn join_files(&self) -> Result<Vec<OwnedFd>> {
        self.dirs()
            .iter()
            .map(|d| {
                let path = d.join("cgroup.procs");
                File::options()
                    .write(true)
                    .open(&path)
                    .map(OwnedFd::from)
                    .map_err(|e| Error::io(format!("open {}", path.display()), e))
            })
            .collect()
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        for token in self.tokens.drain(..).rev() {
            cleanup::undo(token);
        }
    }
}

/// The number on the line of `text` that starts with `key`, as in
/// `pids.events` (`max 3`) or `memory.events` (`oom_kill 1`).
pub fn field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next()? == key).then(|| words.next()?.parse().ok())?
    })
}

/// Parse a memory size as the kernel does: bytes, or with K, M or G.
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (digits, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => t.split_at(i),
        None => (t, ""),
    };
    let shift = match unit.to_ascii_uppercase().as_str() {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        _ => {
            return Err(format!(
                "`{text}` is not a size; write bytes, or a number with K, M or G (e.g. 64M)"
            ));
        }
    };
    let number: u64 = digits.parse().map_err(|_| {
        format!("`{text}` is not a size; write bytes, or a number with K, M or G (e.g. 64M)")
    })?;
    let bytes = number
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("`{text}` is too large"))?;
    if bytes < 4 << 20 {
        return Err(format!(
            "`{text}` is too little memory to start a program in; give at least 4M"
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temporary directory shaped like a cgroup mount.
    struct Fixture(PathBuf);

    impl Fixture {
        fn new(files: &[(&str, &str)]) -> Fixture {
            let dir = std::env::temp_dir().join(format!(
                "learnns-test-cgroup-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            for (path, text) in files {
                let path = dir.join(path);
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(path, text).unwrap();
            }
            Fixture(dir)
        }
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn v2_tree(enabled: &str) -> Fixture {
        Fixture::new(&[
            (
                "cgroup.controllers",
                "cpuset cpu io memory hugetlb pids rdma misc\n",
            ),
            ("cgroup.subtree_control", enabled),
            ("cgroup.procs", "1\n"),
        ])
    }

    #[test]
    fn pure_v2_is_found_and_needs_the_controllers_enabled() {
        let tree = v2_tree("cpu memory pids\n");
        assert_eq!(
            Layout::detect_at(&tree.0).unwrap(),
            Layout::V2 {
                root: tree.0.clone()
            }
        );
        let tree = v2_tree("cpu\n");
        let err = Layout::detect_at(&tree.0).unwrap_err().to_string();
        assert!(err.contains("+pids +memory"), "{err}");
    }

    #[test]
    fn hybrid_uses_v1_controllers_over_an_empty_unified_tree() {
        let tree = Fixture::new(&[
            ("unified/cgroup.controllers", "hugetlb\n"),
            ("unified/cgroup.subtree_control", ""),
            ("pids/cgroup.procs", ""),
            ("memory/cgroup.procs", ""),
        ]);
        assert_eq!(
            Layout::detect_at(&tree.0).unwrap(),
            Layout::V1 {
                pids: tree.0.join("pids"),
                memory: tree.0.join("memory"),
            }
        );
    }

    #[test]
    fn hybrid_with_controllers_in_the_unified_tree_uses_it() {
        let tree = Fixture::new(&[
            ("unified/cgroup.controllers", "memory pids\n"),
            ("unified/cgroup.subtree_control", "memory pids\n"),
        ]);
        assert_eq!(
            Layout::detect_at(&tree.0).unwrap(),
            Layout::V2 {
                root: tree.0.join("unified")
            }
        );
    }

    #[test]
    fn no_controllers_is_an_error_that_names_a_fix() {
        let tree = Fixture::new(&[("unified/cgroup.controllers", "hugetlb\n")]);
        let err = Layout::detect_at(&tree.0).unwrap_err().to_string();
        assert!(err.contains("fix:"), "{err}");
    }

    #[test]
    fn v2_cgroup_is_made_limited_and_joined_in_that_order() {
        let tree = v2_tree("memory pids\n");
        let layout = Layout::detect_at(&tree.0).unwrap();
        let limits = Limits {
            pids: Some(20),
            memory: Some(64 << 20),
        };
        let cgroup = Cgroup::create(&layout, limits, Pid::from_raw(4242)).unwrap();
        let dir = tree.0.join(cgroup.name());
        assert!(
            cgroup
                .name()
                .starts_with(&format!("learnns-{}-", std::process::id()))
        );
        assert_eq!(
            cgroup.steps(),
            &[
                Step::Mkdir(dir.clone()),
                Step::Write(dir.join("pids.max"), "20".into()),
                Step::Write(dir.join("memory.max"), "67108864".into()),
                Step::Write(dir.join("cgroup.procs"), "4242".into()),
            ]
        );
        assert_eq!(fs::read_to_string(dir.join("pids.max")).unwrap(), "20");
        assert_eq!(
            fs::read_to_string(dir.join("cgroup.procs")).unwrap(),
            "4242"
        );
        assert_eq!(cgroup.dirs(), vec![dir.clone()]);
        assert_eq!(cgroup.oom_file(), dir.join("memory.events"));
        assert_eq!(
            cgroup.join_commands(),
            vec![format!("echo $$ > {}/cgroup.procs", dir.display())]
        );
        // A real cgroup's files vanish with it; a fixture's must go first.
        for file in ["pids.max", "memory.max", "cgroup.procs"] {
            fs::remove_file(dir.join(file)).unwrap();
        }
        drop(cgroup);
        assert!(!dir.exists(), "the cgroup directory is removed on drop");
    }

    #[test]
    fn v1_cgroup_has_a_directory_per_controller() {
        let tree = Fixture::new(&[("pids/cgroup.procs", ""), ("memory/cgroup.procs", "")]);
        let layout = Layout::detect_at(&tree.0).unwrap();
        let limits = Limits {
            pids: Some(5),
            memory: None,
        };
        let cgroup = Cgroup::create(&layout, limits, Pid::from_raw(7)).unwrap();
        let pids = tree.0.join("pids").join(cgroup.name());
        let memory = tree.0.join("memory").join(cgroup.name());
        assert_eq!(
            cgroup.steps(),
            &[
                Step::Mkdir(pids.clone()),
                Step::Write(pids.join("pids.max"), "5".into()),
                Step::Write(pids.join("cgroup.procs"), "7".into()),
                Step::Mkdir(memory.clone()),
                Step::Write(memory.join("cgroup.procs"), "7".into()),
            ]
        );
        assert_eq!(cgroup.oom_file(), memory.join("memory.oom_control"));
        assert_eq!(cgroup.dirs(), vec![pids, memory]);
    }

    #[test]
    fn fields_of_event_files() {
        assert_eq!(field("max 3\n", "max"), Some(3));
        let events = "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(field(events, "oom_kill"), Some(1));
        assert_eq!(field(events, "oom"), Some(1));
        assert_eq!(field("", "max"), None);
    }

    #[test]
    fn sizes_parse_like_the_kernel() {
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("8388608"), Ok(8 << 20));
        assert!(parse_size("1K").unwrap_err().contains("at least 4M"));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("-5M").is_err());
        assert!(
            parse_size("99999999999G")
                .unwrap_err()
                .contains("too large")
        );
        assert!(parse_size("").is_err());
    }
}
