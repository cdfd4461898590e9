//! The command line, defined once with clap; help, completions and the man
//! page all come from here.

use clap::{Args, Parser, Subcommand};

use crate::network::Subnet;
use crate::ns::{KINDS, Kind, KindSet};
use crate::ui::ColorChoice;

#[derive(Debug, Parser)]
#[command(
    name = "learnns",
    version,
    about = "Build a Linux container by hand, one namespace at a time.",
    long_about = "Build a Linux container by hand, one namespace at a time.\n\n\
        A container is an ordinary process that the kernel shows a custom view of \
        reality. Each lesson adds one namespace to a growing mini-container and shows \
        the same commands run outside and inside.\n\n\
        Run without a command to see the course map.",
    after_help = "Examples:\n  learnns                      the course map\n  sudo learnns lesson 1        walk through lesson 1\n  sudo learnns run --uts --hostname box -- hostname\n  learnns doctor               can this machine run every lesson?"
)]
pub struct Cli {
    /// When to use colour: auto (a terminal, unless NO_COLOR is set), always, never.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "auto",
        value_name = "WHEN"
    )]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the lessons, one line each.
    #[command(after_help = "Example:\n  learnns lessons")]
    Lessons,

    /// Walk through one lesson: explain, look outside and inside, compare.
    #[command(
        after_help = "Examples:\n  sudo learnns lesson 1\n  sudo learnns lesson pid --no-pause\n  sudo learnns lesson 3 --pid        only a PID namespace, nothing else"
    )]
    Lesson(LessonArgs),

    /// Run a command in a mini-container and exit with its status.
    #[command(
        after_help = "Examples:\n  sudo learnns run --uts --hostname box -- hostname\n  sudo learnns run --upto 3 -- sh -c 'echo $$'\n  sudo learnns run --all -- sh -c 'exit 7'; echo $?"
    )]
    Run(RunArgs),

    /// An interactive shell inside the container of a lesson.
    #[command(
        after_help = "Examples:\n  sudo learnns shell              the container of the last lesson\n  sudo learnns shell --upto 3     uts, ipc and pid namespaces\n  echo hostname | sudo learnns shell --upto 1"
    )]
    Shell(ShellArgs),

    /// Show the namespaces of processes, kind by kind, and what they share
    /// with PID 1 (the host).
    #[command(
        after_help = "Examples:\n  learnns ns                 learnns itself\n  sudo learnns ns 1 $$\n  sudo learnns ns $(pgrep -f nginx | head -1)"
    )]
    Ns(NsArgs),

    /// Compare the namespaces of two processes and say what each difference
    /// means for them in practice.
    #[command(
        after_help = "Examples:\n  sudo learnns compare 1 $$\n  sudo unshare --net sleep 60 & sudo learnns compare $$ $!"
    )]
    Compare(CompareArgs),

    /// Answer questions about the lessons; `--live` asks about namespaces
    /// learnns makes on this machine right now.
    #[command(
        after_help = "Examples:\n  learnns quiz                   ten questions from the whole course\n  learnns quiz --lesson 5        every question on lesson 5, in order\n  sudo learnns quiz --live       questions about real processes\n  printf '2\\n--uts\\n' | learnns quiz --lesson 1 --count 2\n  learnns quiz --key > key.md    every answer, for instructors"
    )]
    Quiz(QuizArgs),

    /// Build a lesson's state by hand, then let learnns grade it from the
    /// kernel: without N, the list; with N, the task.
    #[command(
        override_usage = "learnns challenge [N]\n       learnns challenge N --check | --watch [--pid PID]\n       learnns challenge N --hint | --clean",
        after_help = "Examples:\n  learnns challenge                 every challenge, ✓ for those passed\n  learnns challenge 3               the task of lesson 3's challenge\n  learnns challenge pid --hint      one more hint each time\n  learnns challenge 3 --check       exit 0 when it is done, 1 with what is missing\n  learnns challenge 3 --watch       check about once a second until it is done\n  learnns challenge 6 --check --pid 4321   grade that process only"
    )]
    Challenge(ChallengeArgs),

    /// Show the lessons done and the quiz scores, where they are kept, and
    /// what is next; `--reset` starts over.
    #[command(
        after_help = "Examples:\n  learnns progress\n  learnns progress --reset          asks first\n  learnns progress --reset --yes    no question (scripts, a room's machines)"
    )]
    Progress(ProgressArgs),

    /// Check whether this machine can run every lesson, and how to fix it.
    #[command(after_help = "Example:\n  learnns doctor")]
    Doctor,

    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  learnns completions bash > ~/.local/share/bash-completion/completions/learnns\n  learnns completions zsh > ~/.zfunc/_learnns\n  learnns completions fish > ~/.config/fish/completions/learnns.fish"
    )]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// Print the man page (roff), or the page of one command with its options.
    #[command(
        after_help = "Examples:\n  learnns man | man -l -          read the main page\n  learnns man run | man -l -      the options of `learnns run`\n  learnns man > learnns.1 && learnns man run > learnns-run.1"
    )]
    Man {
        /// The command whose page to print (run, lesson, quiz, ...)
        /// [default: the main page, which lists them].
        #[arg(value_name = "COMMAND")]
        command: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct ChallengeArgs {
    /// The challenge, by its lesson's number or name (`3` or `pid`)
    /// [default: list them].
    #[arg(value_name = "N")]
    pub challenge: Option<String>,

    /// Grade what is running now: exit 0 when the state is there, 1 with
    /// what is missing.
    #[arg(long, requires = "challenge", conflicts_with_all = ["hint", "watch", "clean"])]
    pub check: bool,

    /// Show one more hint each time (they are counted in the progress file).
    #[arg(long, requires = "challenge", conflicts_with_all = ["watch", "clean", "pid"])]
    pub hint: bool,

    /// Check about once a second until the state is there (Ctrl-C stops).
    #[arg(long, requires = "challenge", conflicts_with = "clean")]
    pub watch: bool,

    /// Remove what the task told you to create, and nothing else.
    #[arg(long, requires = "challenge", conflicts_with = "pid")]
    pub clean: bool,

    /// With --check or --watch: grade this process only [default: every
    /// process of yours], e.g. when several shells have namespaces.
    #[arg(long, value_name = "PID", value_parser = clap::value_parser!(i32).range(1..))]
    pub pid: Option<i32>,
}

#[derive(Debug, Args)]
pub struct ProgressArgs {
    /// Remove the progress file: every lesson undone, every quiz score gone.
    /// Asks first on a terminal.
    #[arg(long)]
    pub reset: bool,

    /// Do not ask before --reset (needed without a terminal).
    #[arg(long, short = 'y', requires = "reset")]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct NsArgs {
    /// Process IDs [default: learnns itself].
    #[arg(value_name = "PID", value_parser = clap::value_parser!(i32).range(1..))]
    pub pids: Vec<i32>,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The first process.
    #[arg(value_name = "PID_A", value_parser = clap::value_parser!(i32).range(1..))]
    pub a: i32,
    /// The second process.
    #[arg(value_name = "PID_B", value_parser = clap::value_parser!(i32).range(1..))]
    pub b: i32,
}

#[derive(Debug, Args)]
pub struct QuizArgs {
    /// Only questions on this lesson (number or name), in the lesson's order
    /// (shuffled too with --seed).
    #[arg(long, value_name = "LESSON", conflicts_with = "live")]
    pub lesson: Option<String>,

    /// How many questions [default: all of a lesson's, 10 from the course,
    /// 4 live; at most 20 live].
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..))]
    pub count: Option<u32>,

    /// Questions about processes learnns puts in namespaces on this machine
    /// now (needs root or unprivileged user namespaces).
    #[arg(long)]
    pub live: bool,

    /// Shuffle with this seed, to repeat a quiz exactly (a class can share one).
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,

    /// Print every question with its answer and explanation as Markdown,
    /// for instructors (with --lesson: that lesson's only). Asks nothing.
    #[arg(long, conflicts_with_all = ["live", "count", "seed"])]
    pub key: bool,
}

#[derive(Debug, Args)]
pub struct LessonArgs {
    /// The lesson, by number or name (`3` or `pid`).
    #[arg(value_name = "LESSON")]
    pub lesson: String,

    #[command(flatten)]
    pub kinds: KindFlags,

    /// Do not wait between steps (also the case without a terminal).
    #[arg(long)]
    pub no_pause: bool,

    /// Open a shell inside the container at the end of the lesson.
    #[arg(long, conflicts_with = "no_pause")]
    pub shell: bool,

    /// The subnet of the veth pair (lesson 5): a /24 to /30 of an RFC 5737
    /// documentation range [default: a free /30 of one of them].
    #[arg(long, value_name = "CIDR")]
    pub subnet: Option<Subnet>,

    /// How to show the lesson: `json` writes one event per line (JSON
    /// Lines) and never waits; `plain` is the text without colour or pauses.
    #[arg(
        long,
        value_enum,
        default_value = "terminal",
        value_name = "FORMAT",
        conflicts_with = "shell"
    )]
    pub format: crate::render::Format,
}

#[derive(Debug, Args)]
pub struct ShellArgs {
    /// The container of lesson N [default: the last ready lesson].
    #[arg(long, value_name = "N")]
    pub upto: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub kinds: KindFlags,

    /// The container of lesson N: the kinds of lessons 1..=N (with --user,
    /// inside a user namespace of its own, as an ordinary user needs).
    #[arg(long, value_name = "N", conflicts_with_all = KIND_IDS_BUT_USER)]
    pub upto: Option<String>,

    /// Every kind of namespace.
    #[arg(long, conflicts_with_all = KIND_IDS, conflicts_with = "upto")]
    pub all: bool,

    /// The hostname inside (needs a UTS namespace): 1 to 64 letters,
    /// digits, '-', '_' and '.'.
    #[arg(long, value_name = "NAME", value_parser = parse_hostname)]
    pub hostname: Option<String>,

    /// Use this directory as the root instead of learnns's mini root (needs
    /// a mount namespace), e.g. an unpacked busybox or Alpine tree.
    #[arg(long, value_name = "DIR")]
    pub rootfs: Option<std::path::PathBuf>,

    /// Seconds to add to the boot-time and monotonic clocks inside (needs a
    /// time namespace), e.g. 86400: the container's uptime is a day longer.
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    pub time_offset: Option<i64>,

    /// Give the container a cgroup of its own allowing at most N processes
    /// (pids.max, 1 to 4194304, the kernel's limit; needs root).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=PID_MAX_LIMIT))]
    pub pids_max: Option<u32>,

    /// Give the container a cgroup of its own with this much memory
    /// (memory.max, or memory.limit_in_bytes on cgroup v1), e.g. 64M; needs root.
    #[arg(long, value_name = "SIZE", value_parser = crate::cgroup::parse_size)]
    pub memory_max: Option<u64>,

    /// Keep only Docker's default 14 capabilities (no CAP_SYS_ADMIN), also
    /// in the bounding set.
    #[arg(long)]
    pub drop_caps: bool,

    /// Set no_new_privs: no program run inside can gain privileges (setuid
    /// bits and file capabilities are ignored).
    #[arg(long)]
    pub no_new_privs: bool,

    /// Install a seccomp filter that refuses new namespaces (clone and
    /// unshare by their flags; clone3 with ENOSYS), mount and the new mount
    /// API, setns, mknod, module loading, reboot and similar calls.
    #[arg(long)]
    pub seccomp: bool,

    /// Join the container to the host with a veth pair (needs a network
    /// namespace and root).
    #[arg(long)]
    pub veth: bool,

    /// The veth pair's subnet: a /24 to /30 of an RFC 5737 documentation
    /// range [default: a free /30 of one of them].
    #[arg(long, value_name = "CIDR", requires = "veth")]
    pub subnet: Option<Subnet>,

    /// Set a variable inside (repeatable); `--env NAME` passes on the
    /// caller's value. The command starts with PATH, HOME, TERM and LANG
    /// only, as with `docker run`.
    #[arg(long = "env", value_name = "NAME=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, Option<String>)>,

    /// The command and its arguments, after `--`.
    #[arg(required = true, last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// The most processes a pids cgroup can be limited to (PID_MAX_LIMIT).
pub const PID_MAX_LIMIT: i64 = 4_194_304;

/// A hostname the way resolvers and humans expect one.
pub fn parse_hostname(text: &str) -> Result<String, String> {
    let rule = "a hostname is 1 to 64 characters: letters, digits, '-', '_' and '.'";
    if text.is_empty() || text.len() > 64 {
        return Err(format!("{rule} (this one has {})", text.len()));
    }
    match text
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        Some(c) => Err(format!("{rule}, and {c:?} is none of those")),
        None => Ok(text.to_string()),
    }
}

/// `NAME=VALUE`, or `NAME` for the caller's value.
pub fn parse_env(text: &str) -> Result<(String, Option<String>), String> {
    let (name, value) = match text.split_once('=') {
        Some((name, value)) => (name, Some(value.to_string())),
        None => (text, None),
    };
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "`{name}` is not a variable name: letters, digits and '_', not starting with a digit (e.g. --env GREETING=hello)"
        ));
    }
    Ok((name.to_string(), value))
}

/// The ids of the kind flags below, which are the kinds' names in the table
/// (`--mnt`, with `--mount` as unshare spells it).
const KIND_IDS: [&str; 8] = {
    let mut ids = [""; KINDS.len()];
    let mut i = 0;
    while i < KINDS.len() {
        ids[i] = KINDS[i].proc_name;
        i += 1;
    }
    ids
};

/// The kind flags `--upto` and `--all` replace. `--user` is not one of
/// them: without root, `--upto 5 --user` adds the user namespace that lets
/// an ordinary user make the others.
const KIND_IDS_BUT_USER: [&str; 7] = {
    let mut ids = [""; KINDS.len() - 1];
    let (mut i, mut j) = (0, 0);
    while i < KINDS.len() {
        if !matches!(KINDS[i].kind, crate::ns::Kind::User) {
            ids[j] = KINDS[i].proc_name;
            j += 1;
        }
        i += 1;
    }
    ids
};

/// One flag per namespace kind, named as `unshare` names them.
#[derive(Debug, Args, Default)]
pub struct KindFlags {
    /// A UTS namespace: its own hostname.
    #[arg(long)]
    pub uts: bool,
    /// An IPC namespace: its own message queues and shared memory.
    #[arg(long)]
    pub ipc: bool,
    /// A PID namespace: its own process numbers.
    #[arg(long)]
    pub pid: bool,
    /// A mount namespace: its own mount table.
    #[arg(long, visible_alias = "mount")]
    pub mnt: bool,
    /// A network namespace: its own interfaces, routes and sockets.
    #[arg(long)]
    pub net: bool,
    /// A user namespace: root inside, the caller outside.
    #[arg(long)]
    pub user: bool,
    /// A cgroup namespace: its own view of the cgroup tree.
    #[arg(long)]
    pub cgroup: bool,
    /// A time namespace: its own boot and monotonic clocks.
    #[arg(long)]
    pub time: bool,
}

impl KindFlags {
    /// The kinds asked for, or None when no flag was given.
    pub fn kinds(&self) -> Option<KindSet> {
        let pairs = [
            (self.uts, Kind::Uts),
            (self.ipc, Kind::Ipc),
            (self.pid, Kind::Pid),
            (self.mnt, Kind::Mnt),
            (self.net, Kind::Net),
            (self.user, Kind::User),
            (self.cgroup, Kind::Cgroup),
            (self.time, Kind::Time),
        ];
        let set: KindSet = pairs
            .into_iter()
            .filter(|(on, _)| *on)
            .map(|(_, k)| k)
            .collect();
        (!set.is_empty()).then_some(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn kind_flags_replace_defaults() {
        let cli = Cli::try_parse_from(["learnns", "lesson", "3", "--pid", "--mount"]).unwrap();
        let Some(Command::Lesson(args)) = cli.command else {
            panic!("not a lesson")
        };
        assert_eq!(args.kinds.kinds().unwrap().to_string(), "mnt pid");
    }

    #[test]
    fn every_kind_in_the_table_has_a_flag_and_every_flag_a_kind() {
        // clap's derive needs the fields written out; this keeps them and
        // `KindFlags::kinds` in step with the table of kinds.
        let flags = KindFlags::augment_args(clap::Command::new("flags"));
        let mut ids: Vec<&str> = flags.get_arguments().map(|a| a.get_id().as_str()).collect();
        let mut names: Vec<&str> = KINDS.iter().map(|i| i.proc_name).collect();
        ids.sort();
        names.sort();
        assert_eq!(ids, names);
        for info in &KINDS {
            // Both learnns's name for the kind and unshare's option select it.
            for flag in [format!("--{}", info.proc_name), info.util_flag.to_string()] {
                let cli = Cli::try_parse_from(["learnns", "run", &flag, "--", "true"]).unwrap();
                let Some(Command::Run(args)) = cli.command else {
                    panic!("not a run")
                };
                assert_eq!(
                    args.kinds.kinds(),
                    Some(KindSet::new().with(info.kind)),
                    "{flag}"
                );
            }
        }
    }

    #[test]
    fn hostnames_and_variables_follow_the_rules() {
        assert_eq!(parse_hostname("box-1.lab"), Ok("box-1.lab".into()));
        for bad in [
            "",
            "a b",
            "tab\there",
            "new\nline",
            "a/b",
            &"x".repeat(65),
            "é",
        ] {
            assert!(parse_hostname(bad).is_err(), "{bad:?}");
        }
        assert!(parse_hostname(&"x".repeat(64)).is_ok());
        assert_eq!(parse_env("A_1=x=y"), Ok(("A_1".into(), Some("x=y".into()))));
        assert_eq!(parse_env("HOME"), Ok(("HOME".into(), None)));
        for bad in ["=x", "1A=x", "A-B=x", ""] {
            assert!(parse_env(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn run_rejects_mixed_selections() {
        for argv in [
            vec!["learnns", "run", "--uts", "--all", "--", "true"],
            vec!["learnns", "run", "--upto", "3", "--all", "--", "true"],
            vec!["learnns", "run", "--pid", "--upto", "3", "--", "true"],
            vec!["learnns", "run", "--uts"],
            vec!["learnns", "lesson", "1", "--shell", "--no-pause"],
            vec!["learnns", "challenge", "1", "--check", "--watch"],
            vec!["learnns", "challenge", "1", "--hint", "--clean"],
            vec!["learnns", "challenge", "--check"],
        ] {
            let err = Cli::try_parse_from(&argv).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{argv:?}");
        }
    }
}
