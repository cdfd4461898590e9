//! learnns: build a Linux container by hand, one namespace at a time.

#![deny(unsafe_code)]

use clap::Parser;
use colored::Colorize;
use learnns::render::paragraph::{hanging, paragraph};
use learnns::render::problem;
use learnns::{
    cgroup, challenge, cli, container, doctor, error, inspect, lessons, network, ns, out, outln,
    progress, quiz, rootfs, security, shell, sys, ui,
};

use cli::{Cli, Command, RunArgs, ShellArgs};
use container::{DEFAULT_HOSTNAME, Spec};
use error::{Error, Result};
use learnns::cleanup;
use lessons::LESSONS;
use ns::Kind;
use rootfs::Root;

fn main() {
    let code = match run() {
        Ok(code) => code,
        // Whoever read the output went away (`learnns lesson 1 | head`):
        // stop quietly, as a program killed by SIGPIPE does.
        Err(Error::Interrupted) if sys::output_closed() => 128 + libc::SIGPIPE,
        Err(err) => {
            print_error(&err);
            err.exit_code()
        }
    };
    std::process::exit(code);
}

/// The one place errors are printed.
fn print_error(err: &Error) {
    if matches!(err, Error::Interrupted) {
        // The terminal shows ^C where the cursor was; start a fresh line.
        learnns::errln!();
    }
    problem::print(&err.problem(), problem::Level::Error);
    if matches!(err, Error::Interrupted) {
        let undone = cleanup::take_undone();
        if undone.is_empty() {
            learnns::errln!("  learnns had changed nothing on the host");
        } else {
            for what in undone {
                learnns::errln!("  undone: {what}");
            }
            learnns::errln!("  the host is as it was");
        }
    }
}

fn run() -> Result<i32> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return Ok(e.exit_code());
        }
    };
    ui::init_color(cli.color);
    // Narration outside lessons (a shell's entry, `run --veth`) goes to the
    // terminal until a command chooses otherwise.
    learnns::events::set_renderer(Box::new(learnns::render::Terminal::new(false, false)));
    sys::catch_interrupts()?;
    match cleanup::recover() {
        Ok(lines) => {
            for line in lines {
                problem::warn(format!("cleaned up: {line}"));
            }
        }
        // Nothing of an earlier run could be read: say so and go on; a
        // step that needs the journal will stop with the same reason.
        Err(e) => problem::warn(e.problem()),
    }
    let result = dispatch(cli.command);
    // Whatever happened, nothing learnns made stays on the host.
    cleanup::undo_all();
    let written = ui::finish_output();
    let code = result?;
    written?;
    Ok(code)
}

fn dispatch(command: Option<Command>) -> Result<i32> {
    match command {
        None => {
            course_map();
            Ok(0)
        }
        Some(Command::Lessons) => {
            list_lessons();
            Ok(0)
        }
        Some(Command::Lesson(args)) => {
            let lesson = lessons::find(&args.lesson)?;
            let options = lessons::Options {
                kinds: args.kinds.kinds(),
                no_pause: args.no_pause,
                shell: args.shell,
                subnet: args.subnet,
            };
            if args.format == learnns::render::Format::Plain {
                colored::control::set_override(false);
            }
            if lessons::run(lesson, &options, args.format)? == lessons::Ended::Finished {
                progress::lesson_done(lesson);
            }
            Ok(0)
        }
        Some(Command::Run(args)) => run_command(args),
        Some(Command::Shell(args)) => shell_command(args),
        Some(Command::Doctor) => {
            let machine = doctor::Machine::inspect();
            Ok(if doctor::report(&machine) { 0 } else { 1 })
        }
        Some(Command::Ns(args)) => inspect::ns(&args.pids),
        Some(Command::Compare(args)) => inspect::compare(args.a, args.b),
        Some(Command::Quiz(args)) if args.key => quiz::key::print(args.lesson.as_deref()),
        Some(Command::Quiz(args)) => quiz::run(&args),
        Some(Command::Challenge(args)) => learnns::coach::run(&args),
        Some(Command::Progress(args)) if args.reset => progress::reset(args.yes),
        Some(Command::Progress(_)) => progress::show(),
        Some(Command::Completions { shell }) => {
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "learnns", &mut script);
            out!("{}", String::from_utf8_lossy(&script));
            Ok(0)
        }
        Some(Command::Man { command }) => {
            let page = learnns::manpage::page(command.as_deref())?;
            if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                let which = command.map(|c| format!(" {c}")).unwrap_or_default();
                learnns::errln!("learnns: this is roff; to read it: learnns man{which} | man -l -");
            }
            out!("{page}");
            Ok(0)
        }
    }
}

// ANCHOR: run_command
fn run_command(args: RunArgs) -> Result<i32> {
    let kinds = match (args.kinds.kinds(), &args.upto, args.all) {
        (_, Some(n), _) if args.kinds.user => lessons::find(n)?.default_kinds().with(Kind::User),
        (Some(kinds), _, _) => kinds,
        (None, Some(n), _) => lessons::find(n)?.default_kinds(),
        (None, None, true) => ns::KindSet::ALL,
        (None, None, false) => {
            return Err(Error::usage(
                "say which namespaces to create",
                "add kind flags (e.g. --uts --pid), --upto N, or --all",
            ));
        }
    };
    let usage = |what: &str, fix: &str| Err(Error::usage(what, fix));
    let mut spec = Spec::new(kinds);
    spec.root = match (&args.rootfs, kinds.contains(Kind::Mnt)) {
        (Some(dir), true) => Root::Dir(user_root(dir, &mut spec)?),
        (None, true) => Root::Skeleton,
        (Some(_), false) => return usage("--rootfs needs a mount namespace", "add --mnt"),
        (None, false) => Root::Host,
    };
    match args.hostname {
        Some(_) if !kinds.contains(Kind::Uts) => {
            return usage(
                "--hostname needs a UTS namespace, or it would rename the host",
                "add --uts",
            );
        }
        Some(name) => spec = spec.hostname(name),
        // A container with its own root and UTS namespace is named like
        // its /etc/hostname; with the host's root, keep unshare's habit.
        None if kinds.contains(Kind::Uts) && spec.root != Root::Host => {
            spec = spec.hostname(DEFAULT_HOSTNAME)
        }
        None => {}
    }
    if let Some(seconds) = args.time_offset {
        if !kinds.contains(Kind::Time) {
            return usage("--time-offset needs a time namespace", "add --time");
        }
        let range = container::time_offset_range();
        if !range.contains(&seconds) {
            return Err(Error::usage(
                format!(
                    "--time-offset {seconds} would take the container's clocks below 0 or past what the kernel counts; right now the kernel accepts {} to {} seconds",
                    range.start(),
                    range.end()
                ),
                "pick an offset in that range (86400 is a day)",
            ));
        }
        spec.time_offset = Some(seconds);
    }
    if args.pids_max.is_some() || args.memory_max.is_some() {
        if !nix::unistd::geteuid().is_root() {
            return Err(Error::setup(
                "limits need a cgroup, and only root can make one",
                "run with sudo, or leave out --pids-max/--memory-max (as an ordinary user on a cgroup v2 machine with systemd, `systemd-run --user --scope -p TasksMax=N -p MemoryMax=SIZE CMD` asks systemd for one)",
            ));
        }
        spec.limits = Some(cgroup::Limits {
            pids: args.pids_max,
            memory: args.memory_max,
        });
    }
    let mut env = container::base_env();
    for (name, value) in args.env {
        let Some(value) = value.or_else(|| std::env::var(&name).ok()) else {
            return Err(Error::usage(
                format!("--env {name}: there is no {name} here to pass on"),
                format!("give its value, --env {name}=VALUE"),
            ));
        };
        env.retain(|(k, _)| *k != name);
        env.push((name, value));
    }
    spec.env = Some(env);
    spec.layers = security::Layers {
        drop_caps: args.drop_caps,
        no_new_privs: args.no_new_privs,
        seccomp: args.seccomp,
    };
    if args.veth {
        // stdout belongs to the command inside: set-up narration goes to
        // stderr.
        learnns::events::set_renderer(Box::new(learnns::render::Terminal::new(false, true)));
        if !kinds.contains(Kind::Net) {
            return usage(
                "--veth needs a network namespace for the other end",
                "add --net",
            );
        }
        if !nix::unistd::geteuid().is_root() {
            return Err(Error::setup(
                "the host end of a veth pair can only be made by root",
                "run with sudo, or leave out --veth",
            ));
        }
        network::require_ip()?;
        if let Some(subnet) = args.subnet {
            network::check_unused(subnet, &network::host_networks())?;
        }
        spec.veth = true;
        spec.subnet = args.subnet;
    }
    container::run(&spec, &args.command)
}
// ANCHOR_END: run_command

/// Open a user's root tree. As root, its programs act with root's power
/// over files unless a user namespace maps root inside to someone else:
/// then root inside is the tree's owner. When that would be root itself,
/// or without a user namespace, the whole tree must be root's (or the sudo
/// caller's) and nobody else's to change.
fn user_root(dir: &std::path::Path, spec: &mut Spec) -> Result<rootfs::UserTree> {
    let tree = rootfs::open_user_root(dir)?;
    if !nix::unistd::geteuid().is_root() {
        return Ok(tree);
    }
    let (uid, gid) = tree.owner;
    if spec.kinds.contains(Kind::User) && uid != 0 {
        spec.id_map = Some(container::IdMap { uid, gid, count: 1 });
        return Ok(tree);
    }
    let mut trusted = vec![0];
    if let Some(uid) = std::env::var("SUDO_UID").ok().and_then(|v| v.parse().ok()) {
        trusted.push(uid);
    }
    rootfs::check_trusted(&tree, &trusted, spec.kinds)?;
    Ok(tree)
}

fn shell_command(args: ShellArgs) -> Result<i32> {
    let lesson = match &args.upto {
        Some(n) => lessons::find(n)?,
        None => &LESSONS[LESSONS.len() - 1],
    };
    let spec = lessons::container_spec(lesson, None);
    let container = container::Container::start(&spec)?;
    outln!(
        "A shell inside the container of lesson {} (namespaces: {}). Type `exit` to leave;",
        lesson.number,
        spec.kinds
    );
    outln!("the container and everything it made go with it.");
    if spec.root != Root::Host {
        out!("\n{}\n", rootfs::motd());
    }
    shell::run(
        &container,
        &format!("learnns shell --upto {}", lesson.number),
    )
}

fn list_lessons() {
    for lesson in &LESSONS {
        let kind = lesson.adds.map(Kind::proc_name).unwrap_or("-");
        outln!(
            "{:>2}  {:<9} {:<7} {}",
            lesson.number,
            lesson.name,
            kind,
            lesson.title
        );
    }
}

// ANCHOR: course_map
/// The course map: every lesson, what this learner has done, what is next.
fn course_map() {
    outln!(
        "{}",
        "learnns: build a Linux container by hand, one namespace at a time".bold()
    );
    paragraph(
        "A container is an ordinary process that the kernel shows a custom view of reality. Each lesson adds one namespace to a growing container.",
        "",
    );
    outln!();
    let progress = progress::Place::here().and_then(|place| place.load());
    let progress = progress.unwrap_or_else(|e| {
        problem::warn(e.problem());
        progress::Progress::default()
    });
    for lesson in &LESSONS {
        let quiz = progress
            .quiz
            .get(lesson.name)
            .map(|s| format!("  quiz {}/{}", s.best_right, s.best_asked))
            .unwrap_or_default();
        outln!(
            " {} {:>2}  {:<9} {}{}",
            progress::mark(progress.is_done(lesson)),
            lesson.number,
            lesson.name,
            lesson.title,
            quiz.dimmed()
        );
    }
    let passed: Vec<String> = challenge::CHALLENGES
        .iter()
        .filter(|c| progress.challenges.contains(c.lesson))
        // A non-breaking space: a number stays with its name.
        .map(|c| format!("{}\u{a0}{}", c.number, c.lesson))
        .collect();
    if !passed.is_empty() {
        hanging(
            &format!(
                "challenges passed ({} of {}): {}",
                passed.len(),
                challenge::CHALLENGES.len(),
                passed.join(", ")
            ),
            "     ",
            "       ",
        );
    }
    for (topic, label) in progress::OTHER_QUIZZES {
        if let Some(s) = progress.quiz.get(topic) {
            outln!("     {label}: best {}/{}", s.best_right, s.best_asked);
        }
    }
    // The whole map fits a 80x24 terminal with the prompt under it.
    outln!();
    hanging(
        &format!("{} {}", "Next:".bold(), progress::next_step(&progress)),
        "",
        "      ",
    );
    hanging(
        "Also: `learnns challenge` (build each stage by hand, graded from the kernel), `learnns quiz`, `learnns progress`, `learnns doctor` (can this machine run every lesson?), `learnns --help`.",
        "",
        "      ",
    );
}
// ANCHOR_END: course_map
