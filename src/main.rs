//! learnns: build a Linux container by hand, one namespace at a time.

mod cli;
mod container;
mod doctor;
mod error;
mod lessons;
mod ns;
mod observe;
mod prose;
mod sys;
mod ui;

use clap::Parser;
use colored::Colorize;

use cli::{Cli, Command, RunArgs};
use container::{Spec, cleanup};
use error::{Error, Result};
use lessons::LESSONS;
use ns::Kind;

fn main() {
    let code = match run() {
        Ok(code) => code,
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
        eprintln!();
    }
    eprintln!("{} {err}", "learnns:".red().bold());
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
    sys::catch_interrupts()?;
    for line in cleanup::recover() {
        eprintln!("{} {line}", "learnns: cleaned up:".yellow());
    }
    let result = dispatch(cli.command);
    // Whatever happened, nothing learnns made stays on the host.
    cleanup::undo_all();
    result
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
            };
            lessons::run(lesson, &options)?;
            Ok(0)
        }
        Some(Command::Run(args)) => run_command(args),
        Some(Command::Doctor) => {
            let machine = doctor::Machine::inspect();
            Ok(if doctor::report(&machine) { 0 } else { 1 })
        }
    }
}

// ANCHOR: run_command
fn run_command(args: RunArgs) -> Result<i32> {
    let kinds = match (args.kinds.kinds(), &args.upto, args.all) {
        (Some(kinds), _, _) => kinds,
        (None, Some(n), _) => lessons::find(n)?.default_kinds(),
        (None, None, true) => ns::KindSet::ALL,
        (None, None, false) => {
            return Err(Error::Usage(
                "say which namespaces to create.\n  fix: add kind flags (e.g. --uts --pid), --upto N, or --all".into(),
            ));
        }
    };
    let mut spec = Spec::new(kinds);
    if let Some(name) = args.hostname {
        if !kinds.contains(Kind::Uts) {
            return Err(Error::Usage(
                "--hostname needs a UTS namespace, or it would rename the host.\n  fix: add --uts"
                    .into(),
            ));
        }
        if name.is_empty() || name.len() > 64 {
            return Err(Error::Usage(
                "--hostname must be 1 to 64 characters long.\n  fix: pick a shorter name".into(),
            ));
        }
        spec = spec.hostname(name);
    }
    container::run(&spec, &args.command)
}
// ANCHOR_END: run_command

fn list_lessons() {
    for lesson in &LESSONS {
        let kind = lesson.adds.map(Kind::proc_name).unwrap_or("-");
        let state = if lesson.is_available() {
            "ready".green()
        } else {
            "coming".dimmed()
        };
        println!(
            "{:>2}  {:<9} {:<7} {:<6}  {}",
            lesson.number, lesson.name, kind, state, lesson.title
        );
    }
}

fn course_map() {
    println!(
        "{}",
        "learnns: build a Linux container by hand, one namespace at a time".bold()
    );
    println!("A container is an ordinary process that the kernel shows a custom view of reality.");
    println!("Each lesson adds one namespace to a growing container.\n");
    list_lessons();
    let root = nix::unistd::geteuid().is_root();
    println!("\n{}", "Next".bold());
    println!("  {} learnns lesson 0", if root { "" } else { "sudo" });
    println!("\n  learnns doctor      can this machine run every lesson?");
    println!("  learnns --help      every command");
}
