//! Topology as code: the machine shape a scenario asks for (NUMA nodes, last-level
//! caches, cores, SMT threads), where each vCPU sits in it, and the named presets.

pub mod placement;
pub mod qemu;
pub mod shape;
pub mod verify;

pub use shape::{CpuPlace, Shape, ShapeError, PRESETS};
pub use verify::{verify, Mismatch};
