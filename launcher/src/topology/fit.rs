//! Whether a machine shape can be booted: the vCPU and per-node memory bounds that the
//! command line and a scenario's own `topology` are both checked against.

use super::limits::{MAX_VCPUS as MAX_CPUS, MIN_NODE_MEMORY_MIB};
use super::Shape;

/// A shape the guest kernel can boot: at most [`MAX_CPUS`] vCPUs.
pub fn fits_vcpus(shape: &Shape) -> Result<(), String> {
    if shape.vcpus() > MAX_CPUS {
        return Err(format!(
            "{shape} has {} vCPUs, more than the {MAX_CPUS} a guest kernel here is built \
             for: choose a smaller shape",
            shape.vcpus()
        ));
    }
    Ok(())
}

/// Each node of `shape` needs its share of `memory_mib` to hold the kernel's own memory.
pub fn fits_memory(shape: &Shape, memory_mib: u32) -> Result<(), String> {
    let per_node = memory_mib / shape.nodes;
    if per_node < MIN_NODE_MEMORY_MIB {
        return Err(format!(
            "--memory {memory_mib} split over the {} nodes of {shape} leaves {per_node} MiB \
             a node, less than {MIN_NODE_MEMORY_MIB}: raise --memory to at least {}",
            shape.nodes,
            MIN_NODE_MEMORY_MIB * shape.nodes
        ));
    }
    Ok(())
}
