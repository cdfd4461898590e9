//! What to build: a [`Spec`] names the namespaces of a container and how
//! to fill them, and says the same as an `unshare` command line.

use std::path::PathBuf;

use super::enter::shell_words;
use crate::cgroup::Limits;
use crate::network::Subnet;
use crate::ns::{Kind, KindSet};
use crate::rootfs::{Root, Switch};
use crate::security::Layers;

/// What to build: which namespaces, and how to fill them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spec {
    pub kinds: KindSet,
    /// Set inside a new UTS namespace; `None` keeps the copy of the host's.
    pub hostname: Option<String>,
    /// The tree that becomes `/` (with a mount namespace).
    pub root: Root,
    /// How the first process gets there.
    pub switch: Switch,
    /// Join the container to the host with a veth pair...
    pub veth: bool,
    /// ...on this subnet, or on a free /30 of a documentation range.
    pub subnet: Option<Subnet>,
    /// Seconds added to the monotonic and boot-time clocks inside.
    pub time_offset: Option<i64>,
    /// Map root inside to these host IDs instead of to the caller. Only
    /// root may map IDs other than its own.
    pub id_map: Option<IdMap>,
    /// Host files to bind into the mini root, read-write: (host, inside).
    pub binds: Vec<(PathBuf, PathBuf)>,
    /// Give the container a cgroup of its own with these limits.
    pub limits: Option<Limits>,
    /// The command's environment; None is [`base_env`].
    pub env: Option<Vec<(String, String)>>,
    /// Security layers the first process puts on before the command runs
    /// (inherited by what it starts; not applied to entered processes).
    pub layers: Layers,
    /// learnns makes the container as root: its user namespace then allows
    /// setgroups (without root, the maps need it denied).
    pub by_root: bool,
}

/// Root (and the IDs after it) inside a user namespace, as host IDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    pub uid: u32,
    pub gid: u32,
    pub count: u32,
}

/// The hostname a container gets when nobody chose one; also the skeleton's
/// `/etc/hostname`.
pub const DEFAULT_HOSTNAME: &str = "container";

/// The PATH inside a container, as in most images.
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What a command in a container starts with, as with `docker run`: a
/// PATH and HOME of the container's, and the terminal type and language of
/// the caller. Nothing else of the caller's environment (tokens, SUDO_*,
/// the caller's PATH) goes inside unless asked for.
pub fn base_env() -> Vec<(String, String)> {
    let mut env = vec![
        ("PATH".to_string(), PATH.to_string()),
        ("HOME".to_string(), "/root".to_string()),
    ];
    for name in ["TERM", "LANG"] {
        if let Ok(value) = std::env::var(name) {
            env.push((name.to_string(), value));
        }
    }
    env
}

/// Time-namespace offsets the kernel accepts now, in seconds: a clock may
/// not go below 0, nor beyond half of what it can count (about 146 years).
pub fn time_offset_range() -> std::ops::RangeInclusive<i64> {
    use nix::time::{ClockId, clock_gettime};
    const KTIME_SEC_MAX: i64 = i64::MAX / 1_000_000_000;
    let seconds = |clock| clock_gettime(clock).map_or(0, |t| t.tv_sec());
    let monotonic = seconds(ClockId::CLOCK_MONOTONIC);
    let boottime = seconds(ClockId::CLOCK_BOOTTIME).max(monotonic);
    // A second of slack each way: the clocks move on before the write.
    -(monotonic - 1).max(0)..=KTIME_SEC_MAX / 2 - boottime - 1
}

impl Spec {
    /// The environment the command starts with.
    pub fn environment(&self) -> Vec<(String, String)> {
        self.env.clone().unwrap_or_else(base_env)
    }

    pub fn new(kinds: KindSet) -> Spec {
        Spec {
            kinds,
            by_root: nix::unistd::geteuid().is_root(),
            ..Spec::default()
        }
    }

    /// Use this root (only takes effect with a mount namespace).
    pub fn root(mut self, root: Root) -> Spec {
        self.root = root;
        self
    }

    pub fn hostname(mut self, name: impl Into<String>) -> Spec {
        self.hostname = Some(name.into());
        self
    }

    /// The `unshare` command that builds the same namespaces, for the learner.
    pub fn unshare_line(&self, argv: &[String]) -> String {
        self.unshare_line_as(nix::unistd::geteuid().is_root(), argv)
    }

    /// The `unshare` command, typed by root or not. `--map-root-user` maps
    /// the caller's own IDs to 0, which is learnns's map without an
    /// [`IdMap`]; with one (only root has one), root inside is a range of
    /// other host IDs, which `--map-users=OUTER,INNER,COUNT` names. Root
    /// outside is then nobody inside, so `--setuid 0 --setgid 0` make the
    /// command root there, as learnns's first process becomes. unshare
    /// writes such a map with newuidmap(1) and newgidmap(1), which allow
    /// only ranges /etc/subuid and /etc/subgid give the caller, root too.
    pub fn unshare_line_as(&self, root: bool, argv: &[String]) -> String {
        let mut words = vec!["unshare".to_string()];
        if !self.kinds.is_empty() {
            words.push(self.kinds.util_flags());
        }
        if self.kinds.contains(Kind::User) {
            match self.id_map {
                Some(IdMap { uid, gid, count }) if root => words.push(format!(
                    "--map-users={uid},0,{count} --map-groups={gid},0,{count} \
                     --setuid 0 --setgid 0"
                )),
                _ => words.push("--map-root-user".into()),
            }
        }
        if let (true, Some(s)) = (self.kinds.contains(Kind::Time), self.time_offset) {
            words.push(format!("--monotonic {s} --boottime {s}"));
        }
        if self.kinds.contains(Kind::Pid) {
            words.push("--fork".into());
            if self.kinds.contains(Kind::Mnt) {
                words.push("--mount-proc".into());
            }
        }
        words.push(shell_words(argv));
        words.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unshare_line_matches_what_a_learner_would_type() {
        let spec = Spec::new(KindSet::ALL);
        let argv = vec!["sh".to_string(), "-c".into(), "echo $$".into()];
        assert_eq!(
            spec.unshare_line(&argv),
            "unshare --user --mount --pid --net --ipc --uts --cgroup --time \
             --map-root-user --fork --mount-proc sh -c 'echo $$'"
        );
    }

    #[test]
    fn as_root_an_id_map_is_a_range_of_host_ids() {
        let mut spec = Spec::new(KindSet::new().with(Kind::User).with(Kind::Uts));
        spec.id_map = Some(IdMap {
            uid: 2054725952,
            gid: 2054725953,
            count: 65536,
        });
        let argv = vec!["true".to_string()];
        assert_eq!(
            spec.unshare_line_as(true, &argv),
            "unshare --user --uts --map-users=2054725952,0,65536 \
             --map-groups=2054725953,0,65536 --setuid 0 --setgid 0 true"
        );
        spec.id_map = None;
        assert_eq!(
            spec.unshare_line_as(true, &argv),
            "unshare --user --uts --map-root-user true"
        );
    }
}
