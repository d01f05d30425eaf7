//! The machine as the guest's kernel sees it: CPU sets, where each CPU sits (core, LLC,
//! node), and the topology reported at boot for the host to check against its shape.

pub mod cpulist;
pub mod places;
pub mod report;
