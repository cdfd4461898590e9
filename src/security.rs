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
    /// Refuse the system calls in [`BLOCKED`], and new namespaces by every
    /// call that makes them (see [`filters`]).
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
/// The system calls learnns's filter refuses whatever their arguments: a
/// short version of Docker's default profile (mounts, entering other
/// namespaces, kernel modules, keyrings, reboot, clocks), plus device
/// nodes, which Docker leaves to its device cgroup instead. The mount calls
/// include the newer mount API, which does mount(2)'s work in steps.
pub const BLOCKED: &[(&str, i64)] = &[
    ("mount", libc::SYS_mount),
    ("umount2", libc::SYS_umount2),
    ("fsopen", libc::SYS_fsopen),
    ("fsconfig", libc::SYS_fsconfig),
    ("fsmount", libc::SYS_fsmount),
    ("fspick", libc::SYS_fspick),
    ("move_mount", libc::SYS_move_mount),
    ("open_tree", libc::SYS_open_tree),
    ("open_tree_attr", SYS_OPEN_TREE_ATTR),
    ("mount_setattr", libc::SYS_mount_setattr),
    ("pivot_root", libc::SYS_pivot_root),
    // Its flags may be 0 ("any kind"), and which namespace the descriptor
    // names is not in an argument a filter can read: refused whole.
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

/// open_tree_attr(2), Linux 6.15: open_tree and mount_setattr in one call.
/// Calls from 424 on have one number on every architecture; the libc crate
/// does not name this one yet.
const SYS_OPEN_TREE_ATTR: i64 = 467;

/// The flags of clone(2) that make a new namespace. CLONE_NEWTIME is not
/// among them: clone(2) has no room for it (its bit is part of the exit
/// signal there); unshare(2) and clone3(2) take it.
pub const CLONE_NAMESPACES: [(&str, u64); 7] = [
    ("CLONE_NEWNS", libc::CLONE_NEWNS as u64),
    ("CLONE_NEWCGROUP", libc::CLONE_NEWCGROUP as u64),
    ("CLONE_NEWUTS", libc::CLONE_NEWUTS as u64),
    ("CLONE_NEWIPC", libc::CLONE_NEWIPC as u64),
    ("CLONE_NEWUSER", libc::CLONE_NEWUSER as u64),
    ("CLONE_NEWPID", libc::CLONE_NEWPID as u64),
    ("CLONE_NEWNET", libc::CLONE_NEWNET as u64),
];

/// The calls every program needs to start processes and threads, and that
/// also make namespaces: refused only when their flags ask for one. Docker's
/// profile does the same for clone.
pub const BY_FLAGS: [(&str, i64); 2] = [("clone", libc::SYS_clone), ("unshare", libc::SYS_unshare)];

/// The calls that fail with ENOSYS, as on a kernel without them. clone3
/// passes its flags in a structure in memory, and a filter sees only the
/// arguments themselves, never memory behind a pointer: so it cannot tell a
/// thread from a new namespace. A C library that gets ENOSYS falls back to
/// clone, whose flags the filter reads (EPERM would be an error instead).
pub const MISSING: [(&str, i64); 1] = [("clone3", libc::SYS_clone3)];

/// The namespace flags `call` (one of [`BY_FLAGS`]) is refused with.
pub fn namespace_flags(call: &str) -> Vec<u64> {
    let mut flags: Vec<u64> = CLONE_NAMESPACES.iter().map(|(_, f)| *f).collect();
    if call == "unshare" {
        flags.push(libc::CLONE_NEWTIME as u64);
    }
    flags
}

/// The architecture the filter is for, the one learnns runs on, or why
/// there is none.
fn target() -> Result<TargetArch> {
    TargetArch::try_from(std::env::consts::ARCH).map_err(|_| {
        Error::Setup(
            format!(
                "seccomp: learnns builds filters for x86_64, aarch64 and riscv64 only, not {}",
                std::env::consts::ARCH
            )
            .into(),
        )
    })
}

/// Compile the filter: the calls in [`BLOCKED`], and those in [`BY_FLAGS`]
/// with a namespace flag, fail with EPERM; those in [`MISSING`] with ENOSYS;
/// every other call is allowed. One filter returns one errno, so these are
/// two programs; the kernel runs both on each system call the process
/// makes, from now on and in all its children, and the stricter answer wins.
pub fn filters() -> Result<Vec<BpfProgram>> {
    use seccompiler::{SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompRule};
    let arch = target()?;
    let fail = |e: seccompiler::BackendError| Error::Setup(format!("seccomp filter: {e}").into());
    // An empty rule list matches the call whatever its arguments.
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        BLOCKED.iter().map(|(_, nr)| (*nr, Vec::new())).collect();
    for (call, nr) in BY_FLAGS {
        // The flags are the first argument on every architecture seccompiler
        // knows (s390 puts clone's second). The kernel reads only their low
        // 32 bits. Rules of one call are OR'ed: one rule per flag refuses
        // the call when any of them is set.
        let each = namespace_flags(call)
            .into_iter()
            .map(|flag| {
                SeccompCondition::new(
                    0,
                    SeccompCmpArgLen::Dword,
                    SeccompCmpOp::MaskedEq(flag),
                    flag,
                )
                .and_then(|c| SeccompRule::new(vec![c]))
                .map_err(fail)
            })
            .collect::<Result<Vec<_>>>()?;
        rules.insert(nr, each);
    }
    let refuse = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(fail)?;
    Ok(vec![refuse.try_into().map_err(fail)?, missing(arch)])
}

/// The second program: the calls in [`MISSING`] fail with ENOSYS, and on
/// x86_64 so does every call made through the x32 ABI. Those carry the
/// native architecture but numbers with bit 30 set, which no rule above
/// names, so they would reach clone or mount past it; learnns runs no x32
/// programs. (Calls of other architectures, such as 32-bit x86, the first
/// program ends with SIGSYS.) Written by hand: seccompiler matches exact
/// numbers only.
fn missing(arch: TargetArch) -> BpfProgram {
    use seccompiler::sock_filter;
    const LD_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const JEQ: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const JGE: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
    const RET: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    const X32_BIT: u32 = 0x4000_0000;
    let op = |code, jt, jf, k| sock_filter { code, jt, jf, k };
    let (audit, x32) = match arch {
        TargetArch::x86_64 => (0xC000_003E, true),
        TargetArch::aarch64 => (0xC000_00B7, false),
        TargetArch::riscv64 => (0xC000_00F3, false),
    };
    let calls: Vec<u32> = MISSING.iter().map(|(_, nr)| *nr as u32).collect();
    // seccomp_data: the call's number at offset 0, its architecture at 4.
    let mut program = vec![op(LD_ABS, 0, 0, 4)];
    // Not native: skip to "allow" (the other program deals with it).
    let tests = calls.len() + usize::from(x32);
    program.push(op(JEQ, 0, (tests + 1) as u8, audit));
    program.push(op(LD_ABS, 0, 0, 0));
    for (i, nr) in calls.iter().enumerate() {
        // A match jumps over the remaining tests and "allow" to ENOSYS.
        program.push(op(JEQ, (tests - i) as u8, 0, *nr));
    }
    if x32 {
        program.push(op(JGE, 1, 0, X32_BIT));
    }
    program.push(op(RET, 0, 0, libc::SECCOMP_RET_ALLOW));
    program.push(op(RET, 0, 0, libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32));
    program
}
// ANCHOR_END: blocked

/// A filter for a command that gets the caller's terminal (`learnns run`
/// on a terminal): the ioctls that push characters into a terminal's input
/// (TIOCSTI) or its console (TIOCLINUX) fail with EPERM, so a program of a
/// tree nobody vetted cannot type a command into the caller's shell, to run
/// as the caller once the container has ended. bubblewrap does the same;
/// kernels from 6.2 can also turn TIOCSTI off for everyone
/// (`dev.tty.legacy_tiocsti=0`).
pub fn terminal_filter() -> Result<BpfProgram> {
    use seccompiler::{SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompRule};
    let arch = target()?;
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
        for program in filters()? {
            crate::sys::install_seccomp(&program)?;
        }
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

    /// What the kernel answers a call with these filters installed: each
    /// program run on `data` by a small classic-BPF interpreter (the
    /// instructions seccompiler and [`missing`] emit), the strictest answer
    /// kept; on a tie the newest program's, as the kernel does.
    fn verdict(programs: &[BpfProgram], nr: i64, arch: u32, args: [u64; 6]) -> u32 {
        let mut data = Vec::new();
        data.extend((nr as i32).to_ne_bytes());
        data.extend(arch.to_ne_bytes());
        data.extend(0u64.to_ne_bytes());
        for arg in args {
            data.extend(arg.to_ne_bytes());
        }
        let word =
            |at: u32| u32::from_ne_bytes(data[at as usize..at as usize + 4].try_into().unwrap());
        let run = |program: &BpfProgram| -> u32 {
            let (mut pc, mut acc) = (0usize, 0u32);
            loop {
                let i = &program[pc];
                pc += 1;
                match i.code as u32 {
                    c if c == libc::BPF_LD | libc::BPF_W | libc::BPF_ABS => acc = word(i.k),
                    c if c == libc::BPF_ALU | libc::BPF_AND | libc::BPF_K => acc &= i.k,
                    c if c == libc::BPF_JMP | libc::BPF_JA => pc += i.k as usize,
                    c if c & 0x07 == libc::BPF_JMP => {
                        let taken = match c & 0xf0 {
                            x if x == libc::BPF_JEQ => acc == i.k,
                            x if x == libc::BPF_JGE => acc >= i.k,
                            x if x == libc::BPF_JGT => acc > i.k,
                            other => panic!("jump {other:#x}"),
                        };
                        pc += if taken { i.jt } else { i.jf } as usize;
                    }
                    c if c == libc::BPF_RET | libc::BPF_K => return i.k,
                    other => panic!("instruction {other:#x}"),
                }
            }
        };
        programs
            .iter()
            .rev()
            .map(run)
            .reduce(|strictest, next| {
                let action = |v: u32| (v & libc::SECCOMP_RET_ACTION_FULL) as i32;
                if action(next) < action(strictest) {
                    next
                } else {
                    strictest
                }
            })
            .unwrap()
    }

    const NATIVE: u32 = if cfg!(target_arch = "x86_64") {
        0xC000_003E
    } else if cfg!(target_arch = "aarch64") {
        0xC000_00B7
    } else {
        0xC000_00F3
    };
    const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
    const EPERM: u32 = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
    const ENOSYS: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;

    fn call(nr: i64, arg0: u64) -> u32 {
        verdict(&filters().unwrap(), nr, NATIVE, [arg0, 0, 0, 0, 0, 0])
    }

    #[test]
    fn the_filter_refuses_new_namespaces_by_every_call() {
        for (name, flag) in CLONE_NAMESPACES {
            // As fork would ask, plus one namespace flag.
            let fork =
                (libc::SIGCHLD | libc::CLONE_CHILD_SETTID | libc::CLONE_CHILD_CLEARTID) as u64;
            assert_eq!(call(libc::SYS_clone, fork | flag), EPERM, "clone {name}");
            assert_eq!(call(libc::SYS_unshare, flag), EPERM, "unshare {name}");
        }
        let user_net = (libc::CLONE_NEWUSER | libc::CLONE_NEWNET) as u64;
        assert_eq!(call(libc::SYS_clone, user_net), EPERM);
        assert_eq!(call(libc::SYS_unshare, libc::CLONE_NEWTIME as u64), EPERM);
        // Whatever clone3's structure holds, and setns whatever its flags.
        assert_eq!(call(libc::SYS_clone3, 0), ENOSYS);
        assert_eq!(call(libc::SYS_setns, 0), EPERM);
        for (name, nr) in BLOCKED {
            assert_eq!(call(*nr, 0), EPERM, "{name}");
        }
    }

    #[test]
    fn the_filter_lets_processes_and_threads_start() {
        // glibc's fork, its thread fallback after clone3's ENOSYS, and vfork.
        let fork = libc::SIGCHLD | libc::CLONE_CHILD_SETTID | libc::CLONE_CHILD_CLEARTID;
        let thread = libc::CLONE_VM
            | libc::CLONE_FS
            | libc::CLONE_FILES
            | libc::CLONE_SIGHAND
            | libc::CLONE_THREAD
            | libc::CLONE_SYSVSEM
            | libc::CLONE_SETTLS
            | libc::CLONE_PARENT_SETTID
            | libc::CLONE_CHILD_CLEARTID;
        let vfork = libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD;
        for flags in [fork, thread, vfork] {
            assert_eq!(call(libc::SYS_clone, flags as u64), ALLOW, "{flags:#x}");
        }
        // unshare without a namespace flag: its own file table, or fs info.
        assert_eq!(call(libc::SYS_unshare, libc::CLONE_FILES as u64), ALLOW);
        assert_eq!(call(libc::SYS_unshare, libc::CLONE_FS as u64), ALLOW);
        for nr in [libc::SYS_read, libc::SYS_execve, libc::SYS_chroot] {
            assert_eq!(call(nr, 0), ALLOW, "{nr}");
        }
    }

    #[test]
    fn the_filter_has_no_way_around_it() {
        let programs = filters().unwrap();
        // Another architecture's numbers (32-bit x86 on x86_64): killed.
        let foreign = verdict(&programs, libc::SYS_read, 0x4000_0003, [0; 6]);
        assert_eq!(foreign, libc::SECCOMP_RET_KILL_PROCESS);
        if cfg!(target_arch = "x86_64") {
            // clone through the x32 ABI: the same call, another number.
            let x32_clone = libc::SYS_clone | 0x4000_0000;
            let user = libc::CLONE_NEWUSER as u64;
            assert_eq!(
                verdict(&programs, x32_clone, NATIVE, [user, 0, 0, 0, 0, 0]),
                ENOSYS
            );
        }
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
