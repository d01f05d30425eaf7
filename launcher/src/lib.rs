//! schedbox: boots a kernel with a test plan and judges how its scheduler behaved.

pub mod backend;
pub mod vmm;
