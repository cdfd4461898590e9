//! Failpoints for the fault-injection tests. In a debug build (what `cargo
//! test` runs), `LEARNNS_FAILPOINT=NAME` makes learnns SIGKILL itself right
//! after step NAME: the worst instant for its clean-up, since nothing of
//! learnns runs after a SIGKILL. Release builds contain none of this.

/// Die here if the tests asked for it.
pub fn hit(_name: &str) {
    #[cfg(debug_assertions)]
    if std::env::var_os("LEARNNS_FAILPOINT").is_some_and(|v| v == _name) {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}
