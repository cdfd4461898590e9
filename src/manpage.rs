//! `learnns man [COMMAND]`: man pages (roff) made from the clap definition
//! `--help` comes from. The main page lists the commands and names each
//! one's page the way it can be had, `learnns man run`: no page is named
//! that does not exist.

use clap::CommandFactory;
use roff::{Roff, bold, roman};

use crate::cli::Cli;
use crate::error::{Error, Result};

/// The commands that have a page of their own, in `--help` order.
pub fn commands() -> Vec<String> {
    let mut cli = Cli::command();
    cli.build();
    cli.get_subcommands()
        .filter(|c| !c.is_hide_set() && c.get_name() != "help")
        .map(|c| c.get_name().to_string())
        .collect()
}

/// The page of `learnns` (None) or of one of its commands.
pub fn page(command: Option<&str>) -> Result<String> {
    let mut cli = Cli::command();
    cli.build();
    match command {
        None => main_page(&cli),
        Some(name) => {
            let valid = commands();
            let sub = valid
                .iter()
                .any(|c| c == name)
                .then(|| cli.find_subcommand(name))
                .flatten()
                .ok_or_else(|| {
                    Error::usage(
                        format!("there is no command `{name}`, so no page for it"),
                        format!("pick one of: {}", valid.join(", ")),
                    )
                })?;
            command_page(sub)
        }
    }
}

/// A page made of sections rendered one by one, by clap_mangen or roff.
struct Page {
    text: Vec<u8>,
}

impl Page {
    fn new() -> Page {
        Page { text: Vec::new() }
    }

    fn add(
        &mut self,
        section: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
    ) -> Result<&mut Page> {
        section(&mut self.text).map_err(|e| Error::io("render the man page", e))?;
        Ok(self)
    }

    /// Every rendered piece starts with roff's preamble (a string
    /// definition for apostrophes); a page needs it once.
    fn finish(self) -> String {
        let preamble = Roff::new().render();
        let text = String::from_utf8_lossy(&self.text);
        match text.strip_prefix(&preamble) {
            Some(rest) => format!("{preamble}{}", rest.replace(&preamble, "")),
            None => text.into_owned(),
        }
    }
}

fn main_page(cli: &clap::Command) -> Result<String> {
    let man = clap_mangen::Man::new(cli.clone());
    let mut commands = Roff::new();
    commands.control("SH", ["COMMANDS"]);
    for sub in cli
        .get_subcommands()
        .filter(|c| !c.is_hide_set() && c.get_name() != "help")
    {
        let name = sub.get_name();
        commands.control("TP", []);
        commands.text([bold(format!("learnns {name}"))]);
        if let Some(about) = sub.get_about() {
            commands.text([roman(about.to_string())]);
        }
        commands.control("br", []);
        commands.text([roman("Its options: "), bold(format!("learnns man {name}"))]);
    }
    let mut see_also = Roff::new();
    see_also.control("SH", ["SEE ALSO"]);
    see_also.text([
        roman("The page of each command, with its options: "),
        bold("learnns man COMMAND"),
        roman(", e.g. "),
        bold("learnns man run | man -l -"),
        roman("."),
    ]);
    see_also.control("PP", []);
    see_also.text([roman(
        "namespaces(7), user_namespaces(7), cgroups(7), unshare(1), nsenter(1), lsns(8), ip-netns(8)",
    )]);
    let mut page = Page::new();
    page.add(|w| man.render_title(w))?
        .add(|w| man.render_name_section(w))?
        .add(|w| man.render_synopsis_section(w))?
        .add(|w| man.render_description_section(w))?
        .add(|w| man.render_options_section(w))?
        .add(|w| commands.to_writer(w))?
        .add(|w| man.render_extra_section(w))?
        .add(|w| man.render_version_section(w))?
        .add(|w| see_also.to_writer(w))?;
    Ok(page.finish())
}

fn command_page(sub: &clap::Command) -> Result<String> {
    let man =
        clap_mangen::Man::new(sub.clone()).source(format!("learnns {}", env!("CARGO_PKG_VERSION")));
    let mut see_also = Roff::new();
    see_also.control("SH", ["SEE ALSO"]);
    see_also.text([
        roman("Every command: "),
        bold("learnns man"),
        roman(". namespaces(7), unshare(1), nsenter(1)"),
    ]);
    let mut page = Page::new();
    page.add(|w| man.render(w))?
        .add(|w| see_also.to_writer(w))?;
    Ok(page.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_main_page_names_only_pages_that_exist() {
        let page = page(None).unwrap();
        assert!(!page.contains("learnns\\-run(1)"), "{page}");
        assert!(!page.contains("(1)\n.TP"), "{page}");
        for name in commands() {
            assert!(
                page.contains(&format!("learnns man {name}")),
                "{name}: {page}"
            );
            assert!(page.contains(&format!("learnns {name}")), "{name}");
            assert!(self::page(Some(&name)).is_ok(), "{name}");
        }
        assert_eq!(page.matches(&Roff::new().render()).count(), 1);
        assert!(page.starts_with(&Roff::new().render()));
        assert_eq!(page.matches(".TH ").count(), 1);
    }

    #[test]
    fn a_command_page_has_its_options_and_unknown_commands_are_usage_errors() {
        let run = page(Some("run")).unwrap();
        for option in ["upto", "rootfs", "hostname", "veth", "color"] {
            assert!(run.contains(&format!("\\-\\-{option}")), "{option}: {run}");
        }
        assert!(run.contains("learnns run"), "the synopsis: {run}");
        assert!(commands().contains(&"man".to_string()));
        assert!(!commands().contains(&"help".to_string()));
        let err = page(Some("nosuch")).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("run, shell"), "{err}");
    }
}
