//! CPU sets in the kernel's list syntax (`0-3,6,8-9`): the protocol crate's, since plans
//! carry them too.

pub use schedbox_protocol::cpulist::CpuMask;
pub use schedbox_protocol::limits::MAX_CPUS;
