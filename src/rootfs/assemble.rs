//! Building the container's root inside its own mount namespace: the
//! skeleton in a tmpfs with the host's programs bound read-only, or a
//! user's tree, then the kernel's file systems, then the switch.

use std::path::{Path, PathBuf};

use super::{Root, STAGE, Switch};
use crate::error::Result;
use crate::sys::{Call, HostEntry, Sys};

/// One entry of the embedded skeleton.
pub enum Entry {
    Dir(&'static str),
    File(&'static str, &'static [u8]),
}

include!(concat!(env!("OUT_DIR"), "/skeleton.rs"));

/// Host directories that hold programs and what they need to run.
const PROGRAMS: [&str; 11] = [
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
];

/// Device nodes a program can expect; bound from the host's /dev.
const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

// ANCHOR: assemble
/// Build the new root and switch into it. Runs inside the container, after
/// its mounts were made private, so none of this reaches the host.
pub fn assemble(
    sys: &mut dyn Sys,
    root: &Root,
    hostname: &str,
    fresh_proc: bool,
    sysfs: bool,
    switch: Switch,
    binds: &[(PathBuf, PathBuf)],
) -> Result<()> {
    let new_root = match root {
        Root::Host => return Ok(()),
        Root::Skeleton => {
            let stage = PathBuf::from(STAGE);
            sys.apply(Call::MountTmpfs {
                name: "learnns-root".into(),
                target: stage.clone(),
                options: "mode=0755".into(),
            })?;
            write_skeleton(sys, &stage, hostname)?;
            bind_programs(sys, &stage)?;
            for (host, inside) in binds {
                let target = stage.join(inside.strip_prefix("/").unwrap_or(inside));
                sys.apply(empty_file(&target))?;
                sys.apply(Call::Attach {
                    source: host.clone(),
                    target,
                })?;
            }
            stage
        }
        Root::Dir(tree) => {
            // pivot_root needs the new root to be a mount point: the tree,
            // as opened on the host, is mounted at the stage.
            let stage = PathBuf::from(STAGE);
            sys.apply(Call::Attach {
                source: tree.path.clone(),
                target: stage.clone(),
            })?;
            stage
        }
    };
    let inside = |p: &str| new_root.join(p);
    // The skeleton has every mount point; a user's tree may lack some.
    let mut has =
        |p: &str| matches!(root, Root::Skeleton) || sys.host_entry(&inside(p)) == HostEntry::Dir;
    let (proc_dir, sys_dir, dev_dir) = (has("proc"), has("sys"), has("dev"));
    if proc_dir && fresh_proc {
        sys.apply(Call::MountProc(inside("proc")))?;
    } else if proc_dir {
        sys.apply(Call::Bind {
            source: "/proc".into(),
            target: inside("proc"),
            read_only: false,
        })?;
    }
    if sys_dir && sysfs {
        sys.apply(Call::MountSysfs(inside("sys")))?;
    }
    if dev_dir {
        sys.apply(Call::MountTmpfs {
            name: "learnns-dev".into(),
            target: inside("dev"),
            options: "mode=0755".into(),
        })?;
        for name in DEVICES {
            let host = Path::new("/dev").join(name);
            if sys.host_entry(&host) != HostEntry::Missing {
                let target = inside("dev").join(name);
                sys.apply(empty_file(&target))?;
                sys.apply(Call::Bind {
                    source: host,
                    target,
                    read_only: false,
                })?;
            }
        }
        sys.apply(Call::Symlink {
            target: "/proc/self/fd".into(),
            link: inside("dev/fd"),
        })?;
    }
    sys.apply(match switch {
        Switch::Pivot => Call::PivotRoot(new_root),
        Switch::Chroot => Call::Chroot(new_root),
    })
}
// ANCHOR_END: assemble

fn write_skeleton(sys: &mut dyn Sys, stage: &Path, hostname: &str) -> Result<()> {
    for entry in SKELETON {
        match entry {
            Entry::Dir(path) => sys.apply(Call::Mkdir(stage.join(path)))?,
            Entry::File("etc/hostname", _) => sys.apply(Call::WriteFile {
                path: stage.join("etc/hostname"),
                bytes: format!("{hostname}\n").into_bytes(),
            })?,
            Entry::File(path, bytes) => sys.apply(Call::WriteFile {
                path: stage.join(path),
                bytes: bytes.to_vec(),
            })?,
        }
    }
    Ok(())
}

/// Recreate the host's program directories: symlinks as symlinks (merged
/// /usr), directories and files as read-only bind mounts.
fn bind_programs(sys: &mut dyn Sys, stage: &Path) -> Result<()> {
    for host in PROGRAMS {
        let target = stage.join(host.trim_start_matches('/'));
        match sys.host_entry(Path::new(host)) {
            HostEntry::Missing => {}
            HostEntry::Symlink(to) => sys.apply(Call::Symlink {
                target: to,
                link: target,
            })?,
            HostEntry::Dir => {
                sys.apply(Call::Mkdir(target.clone()))?;
                sys.apply(read_only_bind(host, target))?;
            }
            HostEntry::File => {
                sys.apply(empty_file(&target))?;
                sys.apply(read_only_bind(host, target))?;
            }
        }
    }
    Ok(())
}

/// An empty file to mount a file on.
fn empty_file(path: &Path) -> Call {
    Call::WriteFile {
        path: path.to_path_buf(),
        bytes: Vec::new(),
    }
}

fn read_only_bind(host: &str, target: PathBuf) -> Call {
    Call::Bind {
        source: host.into(),
        target,
        read_only: true,
    }
}

/// The text of the skeleton's `/etc/motd`.
pub fn motd() -> &'static str {
    SKELETON
        .iter()
        .find_map(|e| match e {
            Entry::File("etc/motd", bytes) => std::str::from_utf8(bytes).ok(),
            _ => None,
        })
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::UserTree;
    use crate::sys::Recorder;

    #[test]
    fn skeleton_has_the_files_and_mount_points() {
        let files: Vec<&str> = SKELETON
            .iter()
            .filter_map(|e| match e {
                Entry::File(p, _) => Some(*p),
                Entry::Dir(_) => None,
            })
            .collect();
        for f in [
            "etc/hostname",
            "etc/passwd",
            "etc/group",
            "etc/hosts",
            "etc/motd",
        ] {
            assert!(files.contains(&f), "{f}");
        }
        let dirs: Vec<&str> = SKELETON
            .iter()
            .filter_map(|e| match e {
                Entry::Dir(p) => Some(*p),
                Entry::File(..) => None,
            })
            .collect();
        for d in ["proc", "sys", "dev", "tmp", "usr"] {
            assert!(dirs.contains(&d), "{d}");
        }
        assert!(motd().contains("inside a learnns container"));
    }

    #[test]
    fn skeleton_root_binds_programs_read_only_and_pivots_last() {
        let mut fake = Recorder::default();
        let binds = [(
            PathBuf::from("/run/learnns/1-2-host-file"),
            PathBuf::from("/host-file"),
        )];
        assemble(
            &mut fake,
            &Root::Skeleton,
            "box",
            true,
            false,
            Switch::Pivot,
            &binds,
        )
        .unwrap();
        assert!(fake.calls.contains(&Call::Attach {
            source: "/run/learnns/1-2-host-file".into(),
            target: PathBuf::from(STAGE).join("host-file"),
        }));
        let stage = PathBuf::from(STAGE);
        let mounts = fake.mounts();
        assert_eq!(
            mounts[0],
            Call::MountTmpfs {
                name: "learnns-root".into(),
                target: stage.clone(),
                options: "mode=0755".into(),
            }
        );
        assert!(mounts.contains(&Call::Bind {
            source: "/usr".into(),
            target: stage.join("usr"),
            read_only: true,
        }));
        assert!(mounts.contains(&Call::MountProc(stage.join("proc"))));
        assert!(mounts.contains(&Call::Attach {
            source: "/run/learnns/1-2-host-file".into(),
            target: stage.join("host-file"),
        }));
        assert_eq!(mounts.last(), Some(&Call::PivotRoot(stage.clone())));
        // merged /usr: /bin is a symlink, not a mount
        assert!(fake.calls.contains(&Call::Symlink {
            target: "usr/bin".into(),
            link: stage.join("bin"),
        }));
        assert!(fake.calls.contains(&Call::WriteFile {
            path: stage.join("etc/hostname"),
            bytes: b"box\n".to_vec(),
        }));
        // every host directory is bound read-only
        assert!(
            mounts
                .iter()
                .all(|c| !matches!(c, Call::Bind { source, read_only: false, .. } if source.starts_with("/usr")))
        );
    }

    #[test]
    fn without_a_pid_namespace_the_hosts_proc_is_bound() {
        let mut fake = Recorder::default();
        let dir = PathBuf::from(STAGE);
        assemble(
            &mut fake,
            &Root::Dir(UserTree::pretend("/srv/alpine")),
            "box",
            false,
            true,
            Switch::Chroot,
            &[],
        )
        .unwrap();
        let mounts = fake.mounts();
        assert_eq!(
            mounts[0],
            Call::Attach {
                source: "/srv/alpine".into(),
                target: dir.clone(),
            }
        );
        assert!(mounts.contains(&Call::Bind {
            source: "/proc".into(),
            target: dir.join("proc"),
            read_only: false,
        }));
        assert!(mounts.contains(&Call::MountSysfs(dir.join("sys"))));
        assert_eq!(mounts.last(), Some(&Call::Chroot(dir)));
    }

    #[test]
    fn the_host_root_needs_no_assembly() {
        let mut fake = Recorder::default();
        assemble(
            &mut fake,
            &Root::Host,
            "box",
            true,
            true,
            Switch::Pivot,
            &[],
        )
        .unwrap();
        assert!(fake.calls.is_empty());
    }
}
