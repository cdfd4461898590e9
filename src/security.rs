//! The layers that make a container hard to break out of, on top of its
//! namespaces: fewer capabilities, `no_new_privs`, and a seccomp filter.
//! Namespaces change what a process sees; these change what it may do.

use std::collections::BTreeMap;

use caps::{CapSet, Capability, CapsHashSet};
use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, TargetArch};

use crate::error::{Error, Result};

/// Which layers a container's first process puts on before it runs the
/// command. They are inherited by everything it starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Layers {
    /// Keep only [`KEPT`] capabilities, also in the bounding set.
    pub drop_caps: bool,
    /// `prctl(PR_SET_NO_NEW_PRIVS)`: exec can never grant more privilege.
    pub no_new_privs: bool,
    /// Refuse the system calls in [`BLOCKED`] with EPERM.
    pub seccomp: bool,
}

impl Layers {
    pub fn is_empty(&self) -> bool {
        *self == Layers::default()
    }

    /// The `learnns run` flags that put on these layers.
    pub fn flags(&self) -> String {
        let mut words = Vec::new();
        if self.drop_caps {
            words.push("--drop-caps");
        }
        if self.no_new_privs {
            words.push("--no-new-privs");
        }
        if self.seccomp {
            words.push("--seccomp");
        }
        words.join(" ")
    }
}

/// The capabilities Docker leaves a container by default; all others go.
/// CAP_SYS_ADMIN (mount, most namespace work, and much more), CAP_NET_ADMIN,
/// CAP_SYS_MODULE, CAP_SYS_PTRACE, CAP_SYS_TIME are among those dropped.
pub const KEPT: [Capability; 14] = [
    Capability::CAP_CHOWN,
    Capability::CAP_DAC_OVERRIDE,
    Capability::CAP_FSETID,
    Capability::CAP_FOWNER,
    Capability::CAP_MKNOD,
    Capability::CAP_NET_RAW,
    Capability::CAP_SETGID,
    Capability::CAP_SETUID,
    Capability::CAP_SETFCAP,
    Capability::CAP_SETPCAP,
    Capability::CAP_NET_BIND_SERVICE,
    Capability::CAP_SYS_CHROOT,
    Capability::CAP_KILL,
    Capability::CAP_AUDIT_WRITE,
];

// ANCHOR: blocked
/// The system calls learnns's filter refuses: a short version of Docker's
/// default profile (mounts, new namespaces, kernel modules, keyrings,
/// reboot, clocks), plus device nodes, which Docker leaves to its device
/// cgroup instead.
pub const BLOCKED: &[(&str, i64)] = &[
    ("mount", libc::SYS_mount),
    ("umount2", libc::SYS_umount2),
    ("fsopen", libc::SYS_fsopen),
    ("fsmount", libc::SYS_fsmount),
    ("move_mount", libc::SYS_move_mount),
    ("open_tree", libc::SYS_open_tree),
    ("pivot_root", libc::SYS_pivot_root),
    ("unshare", libc::SYS_unshare),
    ("setns", libc::SYS_setns),
    ("mknodat", libc::SYS_mknodat),
    #[cfg(target_arch = "x86_64")]
    ("mknod", libc::SYS_mknod),
    ("init_module", libc::SYS_init_module),
    ("finit_module", libc::SYS_finit_module),
    ("delete_module", libc::SYS_delete_module),
    ("kexec_load", libc::SYS_kexec_load),
    ("reboot", libc::SYS_reboot),
    ("swapon", libc::SYS_swapon),
    ("swapoff", libc::SYS_swapoff),
    ("keyctl", libc::SYS_keyctl),
    ("add_key", libc::SYS_add_key),
    ("request_key", libc::SYS_request_key),
    ("bpf", libc::SYS_bpf),
    ("perf_event_open", libc::SYS_perf_event_open),
    ("open_by_handle_at", libc::SYS_open_by_handle_at),
    ("clock_settime", libc::SYS_clock_settime),
    ("settimeofday", libc::SYS_settimeofday),
    ("acct", libc::SYS_acct),
];

/// A filter for a command that gets the caller's terminal (`learnns run`
/// on a terminal): the ioctls that push characters into a terminal's input
/// (TIOCSTI) or its console (TIOCLINUX) fail with EPERM, so a program of a
/// tree nobody vetted cannot type a command into the caller's shell, to run
/// as the caller once the container has ended. bubblewrap does the same;
/// kernels from 6.2 can also turn TIOCSTI off for everyone
/// (`dev.tty.legacy_tiocsti=0`).
pub fn terminal_filter() -> Result<BpfProgram> {
    use seccompiler::{SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompRule};
    let arch = TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|e| Error::Setup(format!("seccomp on this CPU: {e}").into()))?;
    let fail = |e: seccompiler::BackendError| Error::Setup(format!("seccomp filter: {e}").into());
    // The request is an unsigned int to the kernel: compare its low 32 bits.
    let request = |value: libc::c_ulong| {
        SeccompCondition::new(1, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, value)
            .and_then(|c| SeccompRule::new(vec![c]))
            .map_err(fail)
    };
    let rules = BTreeMap::from([(
        libc::SYS_ioctl,
        vec![request(libc::TIOCSTI)?, request(libc::TIOCLINUX)?],
    )]);
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(fail)?;
    filter.try_into().map_err(fail)
}

/// Compile the filter: every call in [`BLOCKED`] fails with EPERM, every
/// other call is allowed. The kernel runs this BPF program on each system
/// call the process makes, from now on and in all its children.
pub fn filter() -> Result<BpfProgram> {
    let arch = TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|e| Error::Setup(format!("seccomp on this CPU: {e}").into()))?;
    // An empty rule list matches the call whatever its arguments.
    let rules: BTreeMap<i64, Vec<seccompiler::SeccompRule>> =
        BLOCKED.iter().map(|(_, nr)| (*nr, Vec::new())).collect();
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(|e| Error::Setup(format!("seccomp filter: {e}").into()))?;
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| Error::Setup(format!("seccomp filter: {e}").into()))
}
// ANCHOR_END: blocked

// ANCHOR: apply
/// Put on the layers, in the calling process, after the container is set up
/// and before the command runs. Order matters: the filter goes on while we
/// still hold CAP_SYS_ADMIN (without it, the kernel accepts a filter only
/// after no_new_privs), and the capabilities go last.
pub fn apply(layers: &Layers) -> Result<()> {
    if layers.no_new_privs {
        nix::sys::prctl::set_no_new_privs()
            .map_err(|e| Error::sys("prctl(PR_SET_NO_NEW_PRIVS)", e))?;
    }
    if layers.seccomp {
        crate::sys::install_seccomp(&filter()?)?;
    }
    if layers.drop_caps {
        let kept: CapsHashSet = KEPT.into_iter().collect();
        // The bounding set is what exec may ever grant again (root regains
        // its whole bounding set at every exec), so it must shrink too.
        for cap in caps::runtime::thread_all_supported() {
            if !kept.contains(&cap) {
                caps::drop(None, CapSet::Bounding, cap).map_err(caps_error)?;
            }
        }
        caps::clear(None, CapSet::Ambient).map_err(caps_error)?;
        for set in [CapSet::Inheritable, CapSet::Effective, CapSet::Permitted] {
            let now = caps::read(None, set).map_err(caps_error)?;
            let keep: CapsHashSet = now.intersection(&kept).copied().collect();
            caps::set(None, set, &keep).map_err(caps_error)?;
        }
    }
    Ok(())
}
// ANCHOR_END: apply

fn caps_error(e: caps::errors::CapsError) -> Error {
    Error::Setup(format!("dropping capabilities: {e}").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_compiles_for_this_machine() {
        let program = filter().unwrap();
        // At least one check per blocked call, plus the architecture check.
        assert!(program.len() > BLOCKED.len(), "{}", program.len());
    }

    #[test]
    fn the_kept_set_has_no_admin_powers() {
        for cap in [
            Capability::CAP_SYS_ADMIN,
            Capability::CAP_NET_ADMIN,
            Capability::CAP_SYS_MODULE,
            Capability::CAP_SYS_PTRACE,
        ] {
            assert!(!KEPT.contains(&cap), "{cap}");
        }
    }

    #[test]
    fn flags_name_the_layers() {
        assert_eq!(Layers::default().flags(), "");
        let all = Layers {
            drop_caps: true,
            no_new_privs: true,
            seccomp: true,
        };
        assert_eq!(all.flags(), "--drop-caps --no-new-privs --seccomp");
        assert!(!all.is_empty());
    }
}
