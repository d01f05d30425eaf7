//! The machine's limits, each marked a policy (schedbox's choice) or a hard bound (what
//! the hardware model, the own VMM or the guest can describe). The help text, README
//! and docs quote these numbers; a test below checks that they still do.

/// Most vCPUs a run may ask for (`--cpus`, a `--topology` shape). Policy: the guest
/// kernels schedbox builds and fetches are tested up to this many.
pub const MAX_VCPUS: u32 = 64;
/// Most vCPUs a shape can describe at all. Hard bound: the own VMM lists xAPIC IDs below
/// 255 (the broadcast ID), packed per LLC and core, and the guest's CPU masks name CPUs
/// below the protocol's `MAX_CPUS` (256).
pub const MAX_SHAPE_VCPUS: u32 = 252;
/// Smallest guest memory (MiB). Hard bound: below it the kernel cannot unpack itself and
/// the initramfs, with its page tables.
pub const MIN_MEMORY_MIB: u32 = 64;
/// Smallest memory (MiB) of one NUMA node. Hard bound: below it a node cannot hold the
/// kernel's own per-node memory.
pub const MIN_NODE_MEMORY_MIB: u32 = 64;
/// Largest guest memory (MiB) the own VMM maps. Hard bound of its design: it keeps the
/// identity map and the e820 table simple.
pub const MAX_MEMORY_MIB: u32 = 64 * 1024;

const _: () = assert!(MAX_VCPUS <= MAX_SHAPE_VCPUS);
const _: () = assert!(MAX_SHAPE_VCPUS as usize <= schedbox_protocol::limits::MAX_CPUS);

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(name: &str) -> String {
        let path = format!("{}/../{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn help_readme_and_docs_quote_the_limits() {
        let vcpus = format!("1-{MAX_VCPUS}");
        assert!(crate::cli::USAGE.contains(&format!("vCPUs (default 2, {vcpus})")));
        let readme = doc("README.md");
        assert!(readme.contains(&format!("`--cpus` is {vcpus} vCPUs")));
        assert!(readme.contains(&format!("`--memory` at least\n  {MIN_MEMORY_MIB} MiB")));
        let node = format!("at\nleast {MIN_NODE_MEMORY_MIB} MiB of `--memory`");
        assert!(readme.contains(&node), "README: {node:?}");
        let node = format!("a node of a pinned shape needs {MIN_NODE_MEMORY_MIB} MiB");
        assert!(
            doc("docs/scenarios.md").contains(&node),
            "docs/scenarios.md: {node:?}"
        );
        let line = schedbox_protocol::limits::MAX_LINE;
        let docs = doc("docs/protocol.md");
        assert!(docs.contains(&format!("| `MAX_LINE` | {line} |")));
        assert!(docs.contains(&format!("A line is at most {line} bytes.")));
        let cpus = schedbox_protocol::limits::MAX_CPUS;
        assert!(docs.contains(&format!(
            "| `MAX_CPUS` | {cpus} | CPUs a CPU list may name (`0`..`{}`) |",
            cpus - 1
        )));
    }
}
