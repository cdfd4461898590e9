//! The one place that talks to the kernel about namespaces, mounts and
//! processes. Every `unsafe` block in learnns lives here, each with its reason.
//!
//! Set-up code inside a new container describes each change it wants as a
//! [`Call`] and hands it to a [`Sys`]: the [`Kernel`] applies it, the
//! [`Recorder`] writes it down, so unit tests run the set-up without
//! privilege and a lesson shows it as the shell commands that do the same.

mod acl;
mod demos;
mod keeper;
mod mount_api;
mod plan;
mod process;
mod setup;
mod signals;

pub use acl::access_acl;
pub use demos::{chroot_escape, clone_raw, fork_sleepers, msg_queue_create, msg_queue_remove};
pub use keeper::{become_subreaper, enter_on_spawn, kill_adopted};
pub use plan::{Call, Recorder};
pub use process::{
    clone_into, exec, exit_now, fork_into, install_seccomp, kill_if_in_cgroup, reap_children,
    wait_child,
};
pub use setup::{HostEntry, Kernel, Outside, Sys};
pub use signals::{
    catch_interrupts, forget_interrupt, interrupted, interrupted_by_ctrl_c, output_closed,
    reclaim_terminal, stdout_closed,
};
