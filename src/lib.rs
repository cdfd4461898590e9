//! learnns: build a Linux container by hand, one namespace at a time.
//!
//! The modules behind the `learnns` binary, also used by its integration
//! tests and fuzz targets.

// Only `sys` talks to the kernel below what nix offers; every `unsafe`
// block is there, each with its reason.
#![deny(unsafe_code)]

/// `println!` that never panics: when stdout is closed (`learnns | head`),
/// learnns stops at its next step and cleans up, as on Ctrl-C.
#[macro_export]
macro_rules! outln {
    () => {
        $crate::ui::write_out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::ui::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprintln!` that never panics: when stderr cannot be written (`2>/dev/full`)
/// the message is lost, and learnns goes on to its exit code.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// `print!` that never panics; see [`outln`].
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::ui::write_out(format_args!($($arg)*))
    };
}

pub mod cgroup;
pub mod challenge;
pub mod cleanup;
pub mod cli;
pub mod coach;
pub mod container;
pub mod doctor;
pub mod error;
pub mod events;
pub mod failpoint;
pub mod fuzzing;
pub mod host_tools;
pub mod icmp;
pub mod ids;
pub mod inspect;
pub mod lessons;
pub mod manpage;
pub mod network;
pub mod ns;
pub mod observe;
pub mod progress;
pub mod prose;
pub mod quiz;
pub mod render;
pub mod rootfs;
pub mod security;
pub mod shell;
#[allow(unsafe_code)]
pub mod sys;
pub mod sysvipc;
pub mod ui;
