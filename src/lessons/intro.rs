//! Lesson 0: namespace links, identity, the eight kinds, and an ordinary
//! process that shares all of them.

use super::{Session, Step};
use crate::ns::{Kind, ORDER};

// ANCHOR: steps
pub fn steps(s: &mut Session) -> Step {
    s.say("opening");
    s.pause()?;

    s.heading("Namespace links in /proc");
    s.say("links");
    let links = s.host(&["ls", "-l", "/proc/self/ns"])?;
    let names = link_names(&links.text);
    let extra: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| Kind::from_name(n).is_none())
        .collect();
    s.check(
        ORDER.iter().all(|k| links.text.contains(&format!("{k}:["))),
        &format!(
            "{} links: one per kind, each reading `kind:[number]`, and {}",
            names.len(),
            if extra.is_empty() {
                "no others".to_string()
            } else {
                extra.join(" and ")
            }
        ),
        "some kinds are missing: this kernel may lack them (see `learnns doctor`)",
    );

    s.heading("What makes two namespaces the same");
    s.say("identity");
    s.host(&[
        "stat",
        "-L",
        "-c",
        "%n  device %d  inode %i",
        "/proc/self/ns/uts",
        "/proc/self/ns/net",
    ])?;
    s.pause()?;

    s.heading("The eight kinds");
    s.say("kinds");
    let kinds: Vec<String> = ORDER
        .iter()
        .map(|kind| {
            format!(
                "{:<7} {:<16} {}",
                kind.proc_name(),
                kind.clone_flag_name(),
                kind.isolates()
            )
        })
        .collect();
    crate::events::output(kinds.join("\n"));
    s.say("lsns");
    s.host(&["lsns", "--type", "uts"])?;
    s.pause()?;

    s.heading("One process, its namespaces and their owners");
    s.say("one_process");
    // The columns that stay put while other processes come and go.
    let columns = "NS,TYPE,PID,COMMAND";
    let mine = s.host(&["sh", "-c", &format!("lsns -p $$ -o {columns}")])?;
    let kinds = lsns_types(&mine.text);
    s.check(
        ORDER.iter().all(|k| kinds.contains(&k.proc_name())) && kinds.len() == ORDER.len(),
        &format!(
            "lsns -p $$ lists {} namespaces, one of each kind",
            kinds.len()
        ),
        &format!("it listed {kinds:?}"),
    );
    let tree = s.host(&["lsns", "-T", "-o", columns])?;
    let rows = lsns_types(&tree.text);
    if tree.status == Some(0) {
        let root = tree
            .text
            .lines()
            .nth(1)
            .and_then(|l| l.split_whitespace().next());
        let hanging = hangs_from_the_first(&tree.text);
        s.check(
            rows.first() == Some(&"user") && rows.len() > 1 && hanging,
            &format!(
                "the tree's root is user namespace {}, and every other namespace hangs under the user namespace that owns it",
                root.unwrap_or("?")
            ),
            "the tree does not start at a user namespace",
        );
    } else {
        s.skip("this lsns has no -T (util-linux 2.38 or later)");
    }
    s.say("enter");
    s.pause()?;

    s.heading("An ordinary process");
    s.say("ordinary");
    s.start_container()?;
    s.inode_table()?;
    s.check_your_work()
}
// ANCHOR_END: steps

/// The names of the links in `ls -l /proc/self/ns` output (`uts -> ...`).
fn link_names(ls: &str) -> Vec<String> {
    ls.lines()
        .filter_map(|l| l.split(" -> ").next()?.split_whitespace().last())
        .filter(|name| !name.is_empty() && *name != "0")
        .map(str::to_string)
        .collect()
}

/// The TYPE column of `lsns` output, row by row.
/// Does every row of an `lsns -T` tree after the first hang under it? lsns
/// draws the tree with box characters in a UTF-8 locale, `|-` and `` `- ``
/// otherwise.
fn hangs_from_the_first(tree: &str) -> bool {
    tree.lines()
        .skip(2)
        .all(|l| l.starts_with(['├', '└', '│', ' ', '|', '`']))
}

fn lsns_types(lsns: &str) -> Vec<&str> {
    lsns.lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_names_and_lsns_types() {
        let ls = "total 0\nlrwxrwxrwx 1 root root 0 Jan  1 10:00 cgroup -> 'cgroup:[4026531835]'\nlrwxrwxrwx 1 root root 0 Jan  1 10:00 pid_for_children -> 'pid:[4026531836]'\n";
        assert_eq!(link_names(ls), ["cgroup", "pid_for_children"]);
        let lsns = "NS           TYPE   NPROCS PID USER COMMAND\n4026531837   user       79   2 root kthreadd\n├─4026531832 mnt        78   2 root kthreadd\n";
        assert_eq!(lsns_types(lsns), ["user", "mnt"]);
        assert!(hangs_from_the_first(lsns));
        let ascii = "NS TYPE PID COMMAND\n4026531837 user 2 kthreadd\n|-4026531832 mnt 2 kthreadd\n`-4026531833 net 2 kthreadd\n";
        assert!(hangs_from_the_first(ascii));
        assert_eq!(lsns_types(ascii), ["user", "mnt", "net"]);
        assert!(!hangs_from_the_first("NS TYPE\n1 user\n2 mnt\n"));
    }
}
