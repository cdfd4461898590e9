//! One lesson being run: the container, the commands it shows and runs,
//! and the events it emits on the way.

use super::{Lesson, Step, Stop};
use crate::container::{Container, Spec, shell_words};
use crate::error::{Error, Result};
use crate::events::{self, Event, Where};
use crate::network::Subnet;
use crate::ns::{Identities, Kind, KindSet};
use crate::observe::{self, Capture};
use crate::shell;
use crate::ui::{self, Choice};

/// One lesson being run: its container, and the events it emits.
pub struct Session {
    pub lesson: &'static Lesson,
    pub spec: Spec,
    /// The learner replaced the lesson's kinds with kind flags.
    pub kinds_chosen: bool,
    container: Option<Container>,
    pub subnet: Option<Subnet>,
    /// The step being shown, for a skip to name.
    heading: std::cell::RefCell<String>,
    failed: std::cell::Cell<usize>,
    /// learnns added a user namespace the learner did not ask for: not root.
    pub added_user: bool,
}

impl Session {
    pub fn new(
        lesson: &'static Lesson,
        spec: Spec,
        kinds_chosen: bool,
        subnet: Option<Subnet>,
    ) -> Session {
        Session {
            lesson,
            spec,
            kinds_chosen,
            container: None,
            subnet,
            heading: std::cell::RefCell::new(lesson.title.to_string()),
            failed: std::cell::Cell::new(0),
            added_user: false,
        }
    }

    /// Stop the container and undo what was made for it.
    pub fn stop_container(&mut self) {
        drop(self.container.take());
    }

    /// How many checks did not hold.
    pub fn failed_checks(&self) -> usize {
        self.failed.get()
    }

    /// Show a section of the lesson's prose with this run's values in place
    /// of the book's examples (a subnet, a cgroup path): the book shows the
    /// example, the learner the command for this machine.
    pub fn say_with(&self, section: &str, values: &[(&str, String)]) {
        let mut text = self.lesson.section(section);
        for (example, value) in values {
            text = text.replace(example, value);
        }
        events::emit(Event::Prose { text });
    }

    /// Show a section of the lesson's prose.
    pub fn say(&self, section: &str) {
        events::emit(Event::Prose {
            text: self.lesson.section(section),
        });
    }

    pub fn heading(&self, text: &str) {
        self.heading.replace(text.to_string());
        events::emit(Event::Heading { text: text.into() });
    }

    /// Something learnns says about what it is doing.
    pub fn note(&self, text: &str) {
        events::note(text);
    }

    /// Show a command as the learner would type it, without running it
    /// here (learnns does the same with system calls, or runs it below).
    pub fn show_command(&self, place: Where, line: &str) {
        events::command(place, line);
    }

    /// Does the container have its own namespace of this kind?
    pub fn has(&self, kind: Kind) -> bool {
        self.spec.kinds.contains(kind)
    }

    /// Start the lesson's container, showing how it is made.
    pub fn start_container(&mut self) -> Result<&Container> {
        ui::check_interrupt()?;
        let shown = self.spec.unshare_line(&["sleep".into(), "infinity".into()]);
        events::note("learnns starts the container's first process, as this would:");
        events::command(Where::Host, shown);
        if let (true, Some(name)) = (self.has(Kind::Uts), &self.spec.hostname) {
            events::note("and, as its first act inside:");
            events::command(Where::Inside, format!("hostname {name}"));
        }
        let container = Container::start(&self.spec)?;
        events::note(format!(
            "container init: PID {} on the host, in new namespaces: {}",
            container.pid, self.spec.kinds
        ));
        Ok(self.container.insert(container))
    }

    pub fn container(&self) -> Result<&Container> {
        self.container
            .as_ref()
            .ok_or_else(|| Error::Setup("the lesson has no container yet".into()))
    }

    /// Run one command on the host, shown as the learner would type it.
    pub fn host(&self, argv: &[&str]) -> Result<Capture> {
        ui::check_interrupt()?;
        let argv = words(argv);
        events::command(Where::Host, shell_words(&argv));
        let out = observe::capture(observe::host_command(&argv));
        events::output(out.text.clone());
        Ok(out)
    }

    /// Run one command inside the container, shown as its `nsenter` line.
    pub fn inside(&self, argv: &[&str]) -> Result<Capture> {
        ui::check_interrupt()?;
        let argv = words(argv);
        let container = self.container()?;
        events::command(Where::Inside, container.nsenter_line(&argv));
        let out = observe::capture(container.command(&argv)?);
        events::output(out.text.clone());
        Ok(out)
    }

    // ANCHOR: observe
    /// Run the same command outside and inside and show both side by side.
    pub fn observe(&self, argv: &[&str]) -> Result<(Capture, Capture)> {
        self.observe_each(argv, argv)
    }

    /// Run one command outside and another inside, side by side.
    pub fn observe_each(&self, outside: &[&str], inside: &[&str]) -> Result<(Capture, Capture)> {
        ui::check_interrupt()?;
        let (outside, inside) = (words(outside), words(inside));
        let container = self.container()?;
        let command = shell_words(&outside);
        let inside_command = container.nsenter_line(&inside);
        let outside = observe::capture(observe::host_command(&outside));
        let inside = observe::capture(container.command(&inside)?);
        events::emit(Event::Observation {
            command,
            inside_command,
            outside: outside.text.clone(),
            inside: inside.text.clone(),
            labels: None,
        });
        Ok((outside, inside))
    }
    // ANCHOR_END: observe

    /// Show the namespace links of learnns and of the container's init.
    pub fn inode_table(&self) -> Result<()> {
        ui::check_interrupt()?;
        let container = self.container()?;
        let command = format!(
            "readlink /proc/{}/ns/* /proc/{}/ns/*",
            std::process::id(),
            container.pid
        );
        let outside = Identities::of_self()?;
        let inside = container.identities()?;
        let differing = outside.differing(&inside);
        events::emit(Event::table(command, &outside, &inside));
        for sentence in self.what_differs(differing) {
            events::note(sentence);
        }
        Ok(())
    }

    /// What the table shows about this lesson, from the rows that really
    /// differ: whether the lesson's own kind is among them, and why a kind
    /// the lesson does not teach is.
    fn what_differs(&self, differing: KindSet) -> Vec<String> {
        let mut said = Vec::new();
        if let Some(kind) = self.lesson.adds {
            said.push(if differing.contains(kind) {
                format!("New in this lesson: the {kind} row.")
            } else if self.kinds_chosen {
                format!(
                    "The {kind} row, this lesson's own, is the same: your kind flags left the {kind} namespace out."
                )
            } else {
                format!("The {kind} row, this lesson's own, is the same on this machine.")
            });
        }
        if differing.contains(Kind::User) && self.added_user {
            said.push(
                "The user row differs because you are not root: learnns made a user namespace first and the others inside it (lesson 6).".into(),
            );
        }
        said
    }

    /// A lesson about `kind` run with kind flags that leave it out has
    /// nothing of its own to show: say so, compare the links, and finish.
    /// True when the lesson is over.
    pub fn lacks(&mut self, kind: Kind) -> Step<bool> {
        if self.has(kind) {
            return Ok(false);
        }
        self.skip(&format!(
            "your kind flags left the {kind} namespace out, and the steps here need one (without it they would act on the host's)"
        ));
        if self.container.is_none() {
            self.start_container()?;
        }
        self.links()?;
        self.check_your_work()?;
        Ok(true)
    }

    /// The closing comparison every lesson makes: its `table` section, then
    /// the namespace links of learnns and the container side by side.
    pub fn links(&self) -> Result<()> {
        self.heading("The namespace links");
        self.say("table");
        self.inode_table()
    }

    /// The lesson's `check` section (how to do it by hand), then a last pause.
    pub fn check_your_work(&self) -> Step {
        self.say("check");
        self.pause()
    }

    /// Tell the learner whether what the lesson promised really happened.
    /// Never hidden: a lesson that cannot show its point says so.
    pub fn check(&self, held: bool, claim: &str, otherwise: &str) {
        if !held {
            self.failed.set(self.failed.get() + 1);
        }
        events::emit(Event::Check {
            ok: held,
            text: claim.into(),
            but: (!held).then(|| otherwise.into()),
        });
    }

    /// A note that (part of) the current step was left out, and why.
    pub fn skip(&self, reason: &str) {
        events::emit(Event::Skip {
            text: self.heading.borrow().clone(),
            reason: reason.into(),
        });
    }

    /// The end of a step: wait for the learner, unless nobody waits.
    pub fn pause(&self) -> Step {
        ui::check_interrupt()?;
        events::emit(Event::Pause);
        loop {
            if !events::waits() {
                return Ok(());
            }
            match events::ask(self.container.is_some())? {
                Choice::Continue => return Ok(()),
                Choice::Quit => return Err(Stop::Quit),
                Choice::Shell => {
                    self.shell()?;
                    events::resumed();
                }
            }
        }
    }

    /// An interactive shell inside the container as it is at this step.
    pub fn shell(&self) -> Result<()> {
        let Some(container) = &self.container else {
            events::note("(no container at this step yet)");
            return Ok(());
        };
        events::note(format!(
            "A shell inside the container ({}). Type `exit` to come back.",
            self.spec.kinds
        ));
        shell::run(container, &format!("learnns lesson {}", self.lesson.number))?;
        Ok(())
    }
}

fn words(argv: &[&str]) -> Vec<String> {
    argv.iter().map(|s| s.to_string()).collect()
}
