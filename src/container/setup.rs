//! What the container's first process does to its new namespaces before
//! anything else runs there, as calls to a [`Sys`]: the kernel for real, a
//! recorder to show or test it.

use super::spec::{DEFAULT_HOSTNAME, Spec};
use crate::error::Result;
use crate::ns::{Kind, KindSet};
use crate::rootfs::{self, Root};
use crate::sys::{Call, Sys};

// ANCHOR: setup
/// What the container's first process does to its new namespaces before
/// anything else runs there. It runs inside the child, so it can only change
/// the container, never the host.
pub fn setup_inside(sys: &mut dyn Sys, spec: &Spec) -> Result<()> {
    if spec.kinds.contains(Kind::User) {
        sys.apply(Call::BecomeRoot {
            groups: spec.by_root,
        })?;
    }
    if spec.kinds.contains(Kind::Cgroup) {
        // The new namespace is rooted at the cgroup we are in right now,
        // which is why the parent moved us into ours before saying "go".
        sys.apply(Call::Unshare(KindSet::new().with(Kind::Cgroup)))?;
    }
    if let (true, Some(name)) = (spec.kinds.contains(Kind::Uts), &spec.hostname) {
        sys.apply(Call::Sethostname(name.clone()))?;
    }
    if spec.kinds.contains(Kind::Mnt) {
        // Mounts start out shared with the host's; make them private first,
        // or every mount below would appear on the host too.
        sys.apply(Call::MakeMountsPrivate)?;
        let fresh_proc = spec.kinds.contains(Kind::Pid);
        if spec.root == Root::Host {
            if fresh_proc {
                // The inherited /proc shows the host's PID namespace.
                sys.apply(Call::MountProc("/proc".into()))?;
            }
        } else {
            let hostname = spec.hostname.as_deref().unwrap_or(DEFAULT_HOSTNAME);
            let sysfs = rootfs::wants_sysfs(spec.kinds);
            rootfs::assemble(
                sys,
                &spec.root,
                hostname,
                fresh_proc,
                sysfs,
                spec.switch,
                &spec.binds,
            )?;
        }
    }
    if spec.kinds.contains(Kind::Time) {
        // clone() cannot create a time namespace: unshare makes one for our
        // future children. Its clocks can be shifted only while it is still
        // empty, so the offsets go in now, then we step in ourselves.
        sys.apply(Call::Unshare(KindSet::new().with(Kind::Time)))?;
        if let Some(seconds) = spec.time_offset {
            sys.apply(Call::SetTimeOffsets(seconds))?;
        }
        sys.apply(Call::EnterTimeForChildren)?;
    }
    Ok(())
}
// ANCHOR_END: setup

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::Recorder;

    fn calls(spec: &Spec) -> Vec<Call> {
        let mut fake = Recorder::default();
        setup_inside(&mut fake, spec).unwrap();
        fake.calls
    }

    #[test]
    fn uts_sets_the_hostname_only_when_asked() {
        let uts = KindSet::new().with(Kind::Uts);
        assert_eq!(calls(&Spec::new(uts)), vec![]);
        assert_eq!(
            calls(&Spec::new(uts).hostname("box")),
            vec![Call::Sethostname("box".into())]
        );
        // A hostname without a UTS namespace would rename the host: never.
        assert_eq!(calls(&Spec::new(KindSet::new()).hostname("box")), vec![]);
    }

    #[test]
    fn mounts_are_made_private_before_proc_is_mounted() {
        let kinds = KindSet::new().with(Kind::Mnt).with(Kind::Pid);
        assert_eq!(
            calls(&Spec::new(kinds)),
            vec![Call::MakeMountsPrivate, Call::MountProc("/proc".into())]
        );
        // Without a PID namespace the host's /proc is still right.
        assert_eq!(
            calls(&Spec::new(KindSet::new().with(Kind::Mnt))),
            vec![Call::MakeMountsPrivate]
        );
        // Without a mount namespace, mounting /proc would change the host.
        assert_eq!(calls(&Spec::new(KindSet::new().with(Kind::Pid))), vec![]);
    }

    #[test]
    fn cgroup_namespace_is_made_inside_after_root_and_before_mounts() {
        let kinds = KindSet::new()
            .with(Kind::User)
            .with(Kind::Cgroup)
            .with(Kind::Mnt);
        let calls = calls(&Spec::new(kinds));
        assert_eq!(
            &calls[..3],
            &[
                Call::BecomeRoot {
                    groups: nix::unistd::geteuid().is_root()
                },
                Call::Unshare(KindSet::new().with(Kind::Cgroup)),
                Call::MakeMountsPrivate
            ]
        );
    }

    #[test]
    fn time_namespace_is_made_then_entered() {
        let kinds = KindSet::new().with(Kind::Time);
        assert_eq!(
            calls(&Spec::new(kinds)),
            vec![Call::Unshare(kinds), Call::EnterTimeForChildren]
        );
    }

    #[test]
    fn time_offsets_are_written_before_anyone_enters() {
        let kinds = KindSet::new().with(Kind::Time);
        let mut spec = Spec::new(kinds);
        spec.time_offset = Some(86400);
        assert_eq!(
            calls(&spec),
            vec![
                Call::Unshare(kinds),
                Call::SetTimeOffsets(86400),
                Call::EnterTimeForChildren
            ]
        );
    }
}
