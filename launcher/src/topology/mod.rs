//! Topology as code: the machine shape a scenario asks for (NUMA nodes, last-level
//! caches, cores, SMT threads), where each vCPU sits in it, and the named presets.

pub mod fit;
pub mod layout;
pub mod limits;
pub mod placement;
pub mod qemu;
pub mod sets;
pub mod shape;
pub mod sysfs;
pub mod verify;

pub use layout::Layout;
pub use shape::{CpuPlace, Shape, ShapeError, PRESETS};
pub use verify::{verify, verify_host, Mismatch};

/// The presets as a table (name, shape, vCPUs, nodes, LLCs), then the sets of them.
pub fn preset_table() -> String {
    let mut out = format!(
        "{:<14} {:<11} {:>5} {:>5} {:>5}\n",
        "preset", "shape", "vCPUs", "nodes", "LLCs"
    );
    for (name, spec) in PRESETS {
        if let Ok(s) = Shape::parse(spec) {
            out += &format!(
                "{name:<14} {spec:<11} {:>5} {:>5} {:>5}\n",
                s.vcpus(),
                s.nodes,
                s.llcs
            );
        }
    }
    out + "\n" + &sets::table()
}
