//! schedbox: boots a kernel with a test plan and judges how its scheduler behaved.

pub mod backend;
pub mod cpulist;
pub mod plan;
pub mod scenario;
pub mod vmm;
pub mod wire;
