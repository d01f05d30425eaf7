//! schedbox: boots a kernel with a test plan and judges how its scheduler behaved.

pub mod backend;
pub mod cli;
pub mod console;
pub mod cpulist;
pub mod fetch;
pub mod init_binary;
pub mod initrd;
pub mod kernel;
pub mod plan;
pub mod qemu;
pub mod record;
pub mod report;
pub mod run;
pub mod rundir;
pub mod scenario;
pub mod select;
pub mod session;
pub mod tempdir;
pub mod verdict;
pub mod vmm;
pub mod wire;
