//! The subcommands: `run` (and plan, initramfs, kernel), `soak`.

pub mod run;
pub mod soak;
