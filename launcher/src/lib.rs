//! schedbox: boots a kernel with a test plan and judges how its scheduler behaved.

pub mod backend;
pub mod bench;
pub mod cli;
pub mod console;
pub mod cpulist;
pub mod elfdeps;
#[cfg(test)]
mod examples;
pub mod fetch;
pub mod init_binary;
pub mod initrd;
pub mod kbuild;
pub mod kconfig;
pub mod kernel;
pub mod kimage;
pub mod ldcache;
pub mod pack;
pub mod plan;
pub mod programs;
pub mod qemu;
pub mod record;
pub mod report;
pub mod run;
pub mod rundir;
pub mod scenario;
pub mod schedbuild;
pub mod scheduler;
pub mod select;
pub mod session;
pub mod soak;
pub mod tempdir;
pub mod verdict;
pub mod vmm;
pub mod wire;
