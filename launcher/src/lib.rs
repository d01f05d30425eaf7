//! schedbox: boots a kernel with a test plan and judges how its scheduler behaved.

pub mod backend;
pub mod console;
pub mod cpulist;
pub mod plan;
pub mod record;
pub mod scenario;
pub mod session;
pub mod verdict;
pub mod vmm;
pub mod wire;
