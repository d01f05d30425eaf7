//! Declared cgroups (`[[cgroup]]`) → the ops that create and configure them, parents first.

use super::file::{CgroupFile, Value};
use super::validate::{Ctx, MAX_NAME};
use super::{Op, ScenarioError, Spawn};
use crate::cpulist;
use crate::topology::placement;
use schedbox_protocol::limits::{MAX_CGROUP_DEPTH as MAX_DEPTH, MAX_PATH};

const WEIGHT_RANGE: (u64, u64) = (1, 10_000);
/// cpu.max quota and period limits enforced by the kernel, in µs.
const MIN_QUOTA_US: u64 = 1_000;
const PERIOD_RANGE_US: (u64, u64) = (1_000, 1_000_000);
/// A memory limit below this cannot hold even one worker.
const MIN_MEMORY_BYTES: u64 = 1 << 20;

/// Checks a cgroup path relative to the scenario's root cgroup.
pub fn check_path(ctx: &Ctx, field: &str, path: &str) -> Result<(), ScenarioError> {
    let parts: Vec<&str> = path.split('/').collect();
    let part_ok = |p: &&str| {
        !p.is_empty()
            && p.len() <= MAX_NAME
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if parts.len() > MAX_DEPTH || path.len() > MAX_PATH || !parts.iter().all(part_ok) {
        return Err(ctx.err(
            field,
            format!(
                "{path:?} is not a valid cgroup path: use names of a-z, A-Z, 0-9, '-', '_' \
                 joined by '/', relative to the scenario (e.g. \"work\" or \"work/fast\"), at \
                 most {MAX_DEPTH} deep and {MAX_PATH} bytes long"
            ),
        ));
    }
    Ok(())
}

/// Parent path of a cgroup, if it is not at the scenario's root.
pub fn parent(path: &str) -> Option<&str> {
    path.rsplit_once('/').map(|(p, _)| p)
}

/// Ops creating every declared cgroup and every worker group's cgroup, with missing
/// parents created first.
pub fn setup_ops(
    ctx: &Ctx,
    declared: &[CgroupFile],
    groups: &[Spawn],
) -> Result<Vec<Op>, ScenarioError> {
    for (i, cg) in declared.iter().enumerate() {
        check_path(ctx, "[[cgroup]].path", &cg.path)?;
        if declared[..i].iter().any(|c| c.path == cg.path) {
            return Err(ctx.err(
                format!("[[cgroup]] \"{}\"", cg.path),
                "declared twice: merge the two entries",
            ));
        }
    }
    let mut paths: Vec<&str> = declared.iter().map(|c| c.path.as_str()).collect();
    for group in groups {
        let field = format!("[[workers]] \"{}\".cgroup", group.group);
        check_path(ctx, &field, &group.cgroup)?;
        paths.push(&group.cgroup);
    }
    let mut ops = Vec::new();
    let mut created: Vec<String> = Vec::new();
    for path in paths {
        create_with_parents(ctx, declared, path, &mut created, &mut ops)?;
    }
    Ok(ops)
}

fn create_with_parents(
    ctx: &Ctx,
    declared: &[CgroupFile],
    path: &str,
    created: &mut Vec<String>,
    ops: &mut Vec<Op>,
) -> Result<(), ScenarioError> {
    if created.iter().any(|c| c == path) {
        return Ok(());
    }
    if let Some(parent) = parent(path) {
        create_with_parents(ctx, declared, parent, created, ops)?;
    }
    created.push(path.to_string());
    ops.push(Op::CgroupAdd {
        path: path.to_string(),
    });
    if let Some(cg) = declared.iter().find(|c| c.path == path) {
        for (file, value) in settings(ctx, cg)? {
            ops.push(Op::CgroupSet {
                path: path.to_string(),
                file: file.to_string(),
                value,
            });
        }
    }
    Ok(())
}

/// The controller files a declaration sets, in a fixed order.
fn settings(ctx: &Ctx, cg: &CgroupFile) -> Result<Vec<(&'static str, String)>, ScenarioError> {
    let field = |key: &str| format!("[[cgroup]] \"{}\".{key}", cg.path);
    let mut out = Vec::new();
    if let Some(cpus) = &cg.cpus {
        out.push(("cpuset.cpus", ctx.cpus(&field("cpus"), cpus)?));
    }
    if let Some(mems) = &cg.mems {
        let nodes = placement::nodes(mems, &ctx.vm.topology)
            .map_err(|e| ctx.err(field("mems"), format!("{e}: raise --topology's nodes")))?;
        out.push(("cpuset.mems", cpulist::format(&nodes)));
    }
    if let Some(weight) = cg.weight {
        if weight < WEIGHT_RANGE.0 || weight > WEIGHT_RANGE.1 {
            return Err(ctx.err(
                field("weight"),
                format!("{weight} is out of range: give 1 to 10000"),
            ));
        }
        out.push(("cpu.weight", weight.to_string()));
    }
    if let Some(max) = &cg.max {
        out.push((
            "cpu.max",
            cpu_max(max).map_err(|m| ctx.err(field("max"), m))?,
        ));
    }
    if let Some(idle) = cg.idle {
        out.push(("cpu.idle", u8::from(idle).to_string()));
    }
    for (key, file, value) in [
        ("memory_max", "memory.max", &cg.memory_max),
        ("memory_high", "memory.high", &cg.memory_high),
    ] {
        if let Some(value) = value {
            out.push((file, memory(value).map_err(|m| ctx.err(field(key), m))?));
        }
    }
    if let Some(value) = &cg.pids_max {
        out.push((
            "pids.max",
            pids_max(value).map_err(|m| ctx.err(field("pids_max"), m))?,
        ));
    }
    Ok(out)
}

/// `cpu.max`: "QUOTA PERIOD", "QUOTA", "max" or "max PERIOD" (µs).
fn cpu_max(text: &str) -> Result<String, String> {
    let help = "use \"QUOTA_US PERIOD_US\" like \"50000 100000\" (half a CPU), or \"max\"";
    let parts: Vec<&str> = text.split_whitespace().collect();
    let (quota, period) = match parts.as_slice() {
        [q] => (*q, None),
        [q, p] => (*q, Some(*p)),
        _ => return Err(format!("{text:?}: {help}")),
    };
    if quota != "max" {
        let q: u64 = quota.parse().map_err(|_| format!("{text:?}: {help}"))?;
        if q < MIN_QUOTA_US {
            return Err(format!(
                "quota {q} µs is below the kernel's minimum of {MIN_QUOTA_US}"
            ));
        }
    }
    if let Some(p) = period {
        let p: u64 = p.parse().map_err(|_| format!("{text:?}: {help}"))?;
        if p < PERIOD_RANGE_US.0 || p > PERIOD_RANGE_US.1 {
            return Err(format!(
                "period {p} µs is out of range: give 1000 to 1000000"
            ));
        }
    }
    Ok(parts.join(" "))
}

/// Memory limits: bytes, a size with K/M/G suffix, or "max".
fn memory(value: &Value) -> Result<String, String> {
    let bytes = match value {
        Value::Number(n) => *n,
        Value::Negative(_) => {
            return Err("give bytes ≥ 1M, a size like \"256M\", or \"max\"".into())
        }
        Value::Text(t) if t == "max" => return Ok("max".to_string()),
        Value::Text(t) => parse_size(t).ok_or_else(|| {
            format!("{t:?}: give bytes, a size like \"256M\" or \"1G\", or \"max\"")
        })?,
    };
    if bytes < MIN_MEMORY_BYTES {
        return Err(format!(
            "{bytes} bytes cannot hold a worker: give at least 1M"
        ));
    }
    Ok(bytes.to_string())
}

fn parse_size(text: &str) -> Option<u64> {
    let (digits, shift) = match text.as_bytes().last()? {
        b'K' | b'k' => (&text[..text.len() - 1], 10),
        b'M' | b'm' => (&text[..text.len() - 1], 20),
        b'G' | b'g' => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

fn pids_max(value: &Value) -> Result<String, String> {
    match value {
        Value::Text(t) if t == "max" => Ok("max".to_string()),
        Value::Number(n) if *n >= 1 => Ok(n.to_string()),
        _ => Err("give a number of tasks ≥ 1, or \"max\"".to_string()),
    }
}
