//! schedbox: boots a kernel with a test plan and judges how its scheduler behaved.
//!
//! The data flows one way, and the folders follow it:
//! - [`cli`]: the command line, parsed into a [`cli::Command`]; [`exit`] the process's
//!   status; [`output`] stdout and stderr that a closed pipe cannot break; [`signals`]
//!   SIGINT and SIGTERM turned into an interrupted run.
//! - [`commands`]: the subcommands (bench and `scheduler build` are in [`bench`] and
//!   [`scheduler`]); `run` drives the pipeline below.
//! - [`scenario`]: scenario TOML files, validated into [`scenario::Scenario`]s;
//!   [`selection`] the files a command names (folders, globs, `--filter`, `--shard`).
//! - [`protocol`]: scenarios compiled into the plan, the line syntax, the guest's records
//!   parsed (the limits and vocabularies are the shared `schedbox-protocol` crate's).
//! - [`guest`]: the init binary, packed programs and the initramfs.
//! - [`kernel`]: the kernel image: locate, inspect, fetch, build.
//! - [`topology`]: machine shapes (NUMA nodes, LLCs, cores, SMT) and where vCPUs sit.
//! - [`scheduler`]: the sched_ext scheduler under test, and building production ones.
//! - [`vm`]: backends (QEMU, the own KVM VMM), selection, and the watchdog session.
//! - [`pipeline`]: what joins the pieces for a run: the checks before boot, the
//!   programs it packs.
//! - [`outcome`]: records judged into a verdict, the report, the run directory.
//! - [`bench`]: `schedbox bench`, measured through the same pieces.

pub mod bench;
pub mod cli;
pub mod commands;
pub mod cpulist;
pub mod exit;
pub mod guest;
pub mod kernel;
pub mod outcome;
pub mod output;
pub mod pipeline;
pub mod progress;
pub mod protocol;
pub mod scenario;
pub mod scheduler;
pub mod selection;
pub mod signals;
pub mod tempdir;
pub mod topology;
pub mod vm;
