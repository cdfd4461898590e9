//! An interactive shell inside a running container: what `s` at a pause,
//! `lesson --shell` and `learnns shell` all open.

use crate::container::Container;
use crate::error::{Error, Result};
use crate::sys;

// ANCHOR: shell
/// Run a shell inside `container` until it exits; return its status. The
/// environment is a container's, not the host's ([`base_env`]), with a
/// prompt that says where you are.
///
/// [`base_env`]: crate::container::base_env
pub fn run(container: &Container, label: &str) -> Result<i32> {
    let argv: Vec<String> = if std::path::Path::new("/bin/bash").exists() {
        vec!["bash".into(), "--norc".into(), "--noprofile".into()]
    } else {
        vec!["sh".into()]
    };
    crate::events::command(crate::events::Where::Inside, container.nsenter_line(&argv));
    let mut command = container.command(&argv)?;
    command
        .env_clear()
        .envs(crate::container::base_env())
        .env("PS1", format!("[{label} · inside] \\w # "))
        .env("LEARNNS_INSIDE", "1");
    let status = command.status();
    sys::reclaim_terminal();
    // A Ctrl-C typed in the shell was for the shell, not for learnns.
    sys::forget_interrupt();
    let status = status.map_err(|e| Error::io("start a shell inside the container", e))?;
    Ok(status.code().unwrap_or(1))
}
// ANCHOR_END: shell
