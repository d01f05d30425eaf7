//! Work that needs a machine shape: the VM (`--topology`) must have what it pins to or
//! binds to, so a scenario that could only fail in the guest is a usage error.

use super::context::Ctx;
use super::vocabulary::WorkType;
use super::ScenarioError;
use schedbox_protocol::works::{
    CROSS_LLC_PINGPONG, MEMPOLICY_PREFERRED, NUMA_WORKING_SET, SMT_SIBLING_SPIN,
};

/// SMT threads a core needs for `smt-sibling-spin`, LLCs the VM needs for
/// `cross-llc-pingpong`: one for each worker of a pair.
const PAIR: u32 = 2;

/// Whether the VM's shape has what `work` with `params` needs.
pub fn fits(
    ctx: &Ctx,
    work: &WorkType,
    params: &[(&'static str, u64)],
    field: &dyn Fn(&str) -> String,
) -> Result<(), ScenarioError> {
    let machine = ctx.vm.layout();
    let shape = &machine.name;
    let name = work.name;
    if name == SMT_SIBLING_SPIN.name && machine.max_threads() < PAIR {
        return Err(ctx.err(
            field("work"),
            format!(
                "{name} pins pairs to the two threads of a core, and {shape} has \
                 one thread a core: give a --topology with 2t, e.g. 1n1l2c2t"
            ),
        ));
    }
    if name == CROSS_LLC_PINGPONG.name && machine.llcs < PAIR {
        return Err(ctx.err(
            field("work"),
            format!(
                "{name} puts partners in different LLCs, and {shape} has one: \
                 give a --topology with 2 or more LLCs, e.g. 1n2l2c1t"
            ),
        ));
    }
    if name == NUMA_WORKING_SET.name {
        numa_nodes(ctx, work, params, field)?;
    }
    Ok(())
}

/// `node` and `nodes` of `numa-working-set` name nodes the VM has; `preferred` one.
fn numa_nodes(
    ctx: &Ctx,
    work: &WorkType,
    params: &[(&'static str, u64)],
    field: &dyn Fn(&str) -> String,
) -> Result<(), ScenarioError> {
    let get = |key: &str| {
        params
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .or_else(|| work.key(key).map(|k| k.default))
            .unwrap_or(0)
    };
    let (node, nodes, policy) = (get("node"), get("nodes"), get("mempolicy"));
    let machine = ctx.vm.layout();
    if policy == MEMPOLICY_PREFERRED && nodes != 1 {
        return Err(ctx.err(
            field("nodes"),
            "mempolicy \"preferred\" takes one node: set nodes = 1 (or use bind or interleave)",
        ));
    }
    let last = node + nodes - 1;
    let has = |n: u64| u32::try_from(n).is_ok_and(|n| machine.nodes.contains(&n));
    if !(node..=last).all(has) {
        let key = if has(node) { "nodes" } else { "node" };
        return Err(ctx.err(
            field(key),
            format!(
                "nodes {node}-{last} are not all in {}, which has nodes {}: \
                 lower node or nodes, or give a --topology with more nodes (e.g. 2n2l1c1t)",
                machine.name,
                crate::cpulist::format(&machine.nodes)
            ),
        ));
    }
    Ok(())
}
