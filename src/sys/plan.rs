//! The set-up of a container as a plan: each step one [`Call`] value, which
//! the kernel applies ([`super::Kernel`]), the [`Recorder`] writes down, and
//! [`Call::commands`] shows as what a learner would type in a shell.

use std::path::{Path, PathBuf};

use super::setup::{HostEntry, Kernel, Sys};
use crate::error::Result;
use crate::ns::KindSet;

/// One change the set-up of a container asks of the kernel, from inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// Take the IDs of root in the caller's (new) user namespace: the IDs
    /// it was born with may not be mapped there at all.
    BecomeRoot {
        /// The user namespace allows setgroups, so the groups are cleared
        /// too (without root, learnns's map needs it denied).
        groups: bool,
    },
    /// New namespaces of these kinds for the calling process itself.
    Unshare(KindSet),
    /// Only the UTS namespace of the caller sees the new name.
    Sethostname(String),
    /// Stop mount events flowing back to the host; comes before any mount.
    MakeMountsPrivate,
    /// A `/proc` for the caller's PID namespace.
    MountProc(PathBuf),
    /// A read-only sysfs.
    MountSysfs(PathBuf),
    /// A fresh tmpfs; `options` as `key=value,...`.
    MountTmpfs {
        name: String,
        target: PathBuf,
        options: String,
    },
    /// A tree of the host (with its submounts), seen at `target` too.
    Bind {
        source: PathBuf,
        target: PathBuf,
        read_only: bool,
    },
    /// Like [`Call::Bind`], for a source that learnns opened on the host
    /// before the container existed ([`super::Outside`]): a user's root
    /// tree, or a host file the container cannot reach by name.
    Attach {
        source: PathBuf,
        target: PathBuf,
    },
    /// Make `new_root` the root, stacking the old root on it and detaching
    /// it there: no directory is needed for it, and no path leads back.
    PivotRoot(PathBuf),
    /// The weaker way, for the lesson's demonstration.
    Chroot(PathBuf),
    /// Move the caller into the time namespace it created for its children.
    EnterTimeForChildren,
    /// Shift the monotonic and boot-time clocks of the time namespace the
    /// caller created for its children, before any process is in it.
    SetTimeOffsets(i64),
    Mkdir(PathBuf),
    /// A new file with these bytes.
    WriteFile {
        path: PathBuf,
        bytes: Vec<u8>,
    },
    Symlink {
        target: PathBuf,
        link: PathBuf,
    },
}

impl Call {
    /// Does this call change what the container sees (a mount, a root
    /// switch, a name), rather than fill in files?
    pub fn is_mount_or_switch(&self) -> bool {
        !matches!(
            self,
            Call::Mkdir(_) | Call::WriteFile { .. } | Call::Symlink { .. }
        )
    }

    /// The same step as commands a learner could type in a shell.
    pub fn commands(&self) -> Vec<String> {
        let d = |p: &PathBuf| p.display().to_string();
        match self {
            Call::BecomeRoot { groups: true } => {
                vec!["setpriv --reuid 0 --regid 0 --clear-groups".into()]
            }
            Call::BecomeRoot { groups: false } => {
                vec!["setpriv --reuid 0 --regid 0 --keep-groups".into()]
            }
            Call::Unshare(kinds) => vec![format!("unshare {}", kinds.util_flags())],
            Call::Sethostname(name) => vec![format!("hostname {name}")],
            Call::MakeMountsPrivate => vec!["mount --make-rprivate /".into()],
            Call::MountProc(t) => vec![format!("mount -t proc proc {}", d(t))],
            Call::MountSysfs(t) => vec![format!("mount -t sysfs -o ro sysfs {}", d(t))],
            Call::MountTmpfs {
                name,
                target,
                options,
            } if options.is_empty() => vec![format!("mount -t tmpfs {name} {}", d(target))],
            Call::MountTmpfs {
                name,
                target,
                options,
            } => vec![format!("mount -t tmpfs -o {options} {name} {}", d(target))],
            Call::Bind {
                source,
                target,
                read_only,
            } => {
                let mut lines = vec![format!("mount --rbind {} {}", d(source), d(target))];
                if *read_only {
                    lines.push(format!("mount -o remount,bind,ro {}", d(target)));
                }
                lines
            }
            Call::Attach { source, target } => {
                vec![format!("mount --rbind {} {}", d(source), d(target))]
            }
            Call::PivotRoot(r) => vec![
                format!("cd {}", d(r)),
                "pivot_root . .".into(),
                "umount -l .".into(),
                "cd /".into(),
            ],
            Call::Chroot(r) => vec![format!("chroot {}", d(r)), "cd /".into()],
            Call::EnterTimeForChildren => {
                vec!["nsenter --time=/proc/self/ns/time_for_children".into()]
            }
            Call::SetTimeOffsets(s) => vec![format!(
                "printf 'monotonic {s} 0\\nboottime {s} 0\\n' > /proc/self/timens_offsets"
            )],
            Call::Mkdir(p) => vec![format!("mkdir -p {}", d(p))],
            Call::WriteFile { path, .. } => vec![format!("cat > {}", d(path))],
            Call::Symlink { target, link } => vec![format!("ln -s {} {}", d(target), d(link))],
        }
    }
}

/// A stand-in kernel that only writes down what it was asked. It answers
/// questions about the host truthfully ([`Recorder::on_this_host`]), so a
/// lesson can show the exact steps its container will take, or from a fixed
/// pretend host with merged /usr ([`Recorder::default`]), for unit tests.
#[derive(Debug, Default)]
pub struct Recorder {
    pub calls: Vec<Call>,
    real_host: bool,
}

impl Recorder {
    pub fn on_this_host() -> Recorder {
        Recorder {
            calls: Vec::new(),
            real_host: true,
        }
    }

    /// Only the mounts and root switches, in order: what changes the view.
    #[cfg(test)]
    pub fn mounts(&self) -> Vec<Call> {
        self.calls
            .iter()
            .filter(|c| c.is_mount_or_switch())
            .cloned()
            .collect()
    }
}

impl Sys for Recorder {
    fn apply(&mut self, call: Call) -> Result<()> {
        self.calls.push(call);
        Ok(())
    }

    fn host_entry(&mut self, path: &Path) -> HostEntry {
        if self.real_host {
            return Kernel::default().host_entry(path);
        }
        match path.to_str().unwrap_or("") {
            "/usr" | "/etc/alternatives" => HostEntry::Dir,
            "/etc/ld.so.cache" | "/dev/null" | "/dev/zero" | "/dev/urandom" => HostEntry::File,
            "/bin" => HostEntry::Symlink("usr/bin".into()),
            "/lib" => HostEntry::Symlink("usr/lib".into()),
            // A pretend user root, staged at /mnt, has every mount point.
            p if p.starts_with("/mnt/") => HostEntry::Dir,
            _ => HostEntry::Missing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorder_keeps_calls_in_order() {
        let mut fake = Recorder::default();
        fake.apply(Call::Sethostname("box".into())).unwrap();
        fake.apply(Call::MakeMountsPrivate).unwrap();
        assert_eq!(
            fake.calls,
            vec![Call::Sethostname("box".into()), Call::MakeMountsPrivate]
        );
    }

    #[test]
    fn tmpfs_options_reach_the_commands() {
        let call = |options: &str| Call::MountTmpfs {
            name: "learnns-root".into(),
            target: "/mnt".into(),
            options: options.into(),
        };
        assert_eq!(
            call("mode=0755").commands(),
            vec!["mount -t tmpfs -o mode=0755 learnns-root /mnt"]
        );
        assert_eq!(
            call("").commands(),
            vec!["mount -t tmpfs learnns-root /mnt"]
        );
    }
}
