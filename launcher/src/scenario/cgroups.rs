//! Declared cgroups (`[[cgroup]]`) → the ops that create and configure them, parents first.

use std::collections::BTreeSet;

use super::context::{Ctx, MAX_NAME};
use super::file::{CgroupFile, OpFile, ScenarioFile, Value};
use super::suggest::did_you_mean;
use super::{Op, ScenarioError, Spawn};
use crate::cpulist;
use crate::topology::placement;
use schedbox_protocol::limits::{MAX_CGROUP_DEPTH as MAX_DEPTH, MAX_PATH};
use schedbox_protocol::works::CGROUP_CHURN;

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
/// parents created first. A declaration or group that is wrong is recorded in `ctx` and
/// left out.
pub fn setup_ops(ctx: &Ctx, declared: &[CgroupFile], groups: &[Spawn]) -> Vec<Op> {
    let mut valid: Vec<&CgroupFile> = Vec::new();
    for (i, cg) in declared.iter().enumerate() {
        let field = format!("[[cgroup]] \"{}\"", cg.path);
        if ctx
            .keep(check_path(ctx, &format!("{field}.path"), &cg.path))
            .is_none()
        {
            continue;
        }
        if declared[..i].iter().any(|c| c.path == cg.path) {
            ctx.report(ctx.err(field, "declared twice: merge the two entries"));
            continue;
        }
        valid.push(cg);
    }
    let mut paths: Vec<&str> = valid.iter().map(|c| c.path.as_str()).collect();
    for group in groups {
        match ctx.keep(group_cgroup(ctx, &valid, group)) {
            Some(()) => paths.push(&group.cgroup),
            None => ctx.group_failed(&group.group),
        }
    }
    let mut ops = Vec::new();
    let mut created: Vec<String> = Vec::new();
    for path in paths {
        create_with_parents(ctx, &valid, path, &mut created, &mut ops);
    }
    ops
}

/// A worker group's cgroup: one that is declared, or the group's own name (at the
/// scenario's root or under a declared cgroup), so that a typo in `cgroup` never creates
/// a new, unlimited cgroup; and its `affinity` must leave it CPUs that cgroup allows.
fn group_cgroup(ctx: &Ctx, declared: &[&CgroupFile], group: &Spawn) -> Result<(), ScenarioError> {
    let field = format!("[[workers]] \"{}\".cgroup", group.group);
    check_path(ctx, &field, &group.cgroup)?;
    let is_declared = |path: &str| declared.iter().any(|c| c.path == path);
    let own_name = match group.cgroup.rsplit_once('/') {
        None => group.cgroup == group.group,
        Some((parent, name)) => name == group.group && is_declared(parent),
    };
    if !own_name && !is_declared(&group.cgroup) {
        let near = did_you_mean(&group.cgroup, declared.iter().map(|c| c.path.as_str()));
        return Err(ctx.err(
            field,
            format!(
                "no [[cgroup]] {:?}{near}: declare it with [[cgroup]] path = {:?}, or drop \
                 `cgroup` to run the workers in their own cgroup {:?}",
                group.cgroup, group.cgroup, group.group
            ),
        ));
    }
    if let Some(affinity) = &group.affinity {
        let field = format!("[[workers]] \"{}\".affinity", group.group);
        overlaps_cgroup(ctx, &field, affinity, declared, &group.cgroup)?;
    }
    Ok(())
}

/// The CPUs of `affinity` (a CPU list) must include one the cgroup at `path` allows
/// (its `cpus`, or those of the nearest ancestor that sets them): the kernel refuses an
/// affinity with none, and the workers would never run where the scenario means.
pub fn overlaps_cgroup(
    ctx: &Ctx,
    field: &str,
    affinity: &str,
    declared: &[&CgroupFile],
    path: &str,
) -> Result<(), ScenarioError> {
    let Some((owner, allowed)) = allowed_cpus(ctx, declared, path) else {
        return Ok(());
    };
    let wanted = cpulist::parse(affinity).unwrap_or_default();
    if wanted.is_disjoint(&allowed) {
        return Err(ctx.err(
            field,
            format!(
                "CPUs {affinity} are none of the CPUs {} that cgroup {owner:?} allows (its \
                 `cpus`): give an affinity that includes some of them, or change the \
                 cgroup's cpus",
                cpulist::format(&allowed)
            ),
        ));
    }
    Ok(())
}

/// The CPUs a cgroup allows, and the declared cgroup that sets them: its own `cpus`, or
/// its nearest ancestor's; None when none sets them (or they are wrong, which is
/// reported where they are declared).
fn allowed_cpus<'c>(
    ctx: &Ctx,
    declared: &[&'c CgroupFile],
    path: &str,
) -> Option<(&'c str, BTreeSet<u32>)> {
    let mut at = Some(path);
    while let Some(path) = at {
        let setting = declared
            .iter()
            .find(|c| c.path == path)
            .and_then(|c| Some((c.path.as_str(), c.cpus.as_deref()?)));
        if let Some((owner, text)) = setting {
            let set = placement::resolve(text, &ctx.vm.layout()).ok()?;
            return Some((owner, set));
        }
        at = parent(path);
    }
    None
}

/// The declared cgroups that set `cpus`: (path, cpus as written).
pub fn declared_cpus(declared: &[CgroupFile]) -> Vec<(String, String)> {
    declared
        .iter()
        .filter_map(|c| Some((c.path.clone(), c.cpus.clone()?)))
        .collect()
}

/// A declared cgroup that no worker group, op, payload or check uses, itself or through
/// a cgroup under it, is likely a name mistyped where it was meant to be used.
pub fn warn_unused(ctx: &Ctx, file: &ScenarioFile, groups: &[Spawn]) {
    let mut used: Vec<&str> = groups.iter().map(|g| g.cgroup.as_str()).collect();
    for op in file.step.iter().flat_map(|s| &s.ops) {
        match op {
            OpFile::CgroupAdd { path }
            | OpFile::CgroupRemove { path }
            | OpFile::CgroupSet { path, .. }
            | OpFile::Freeze { path }
            | OpFile::Thaw { path } => used.push(path),
            OpFile::Move { from, to } => used.extend([from.as_str(), to.as_str()]),
            OpFile::Spawn { .. }
            | OpFile::Stop { .. }
            | OpFile::Affinity { .. }
            | OpFile::Write { .. }
            | OpFile::SchedulerDetach
            | OpFile::SchedulerAttach { .. }
            | OpFile::SchedulerRestart
            | OpFile::SchedulerReplace { .. }
            | OpFile::CpuOffline { .. }
            | OpFile::CpuOnline { .. } => {}
        }
    }
    used.extend(file.payload.iter().filter_map(|p| p.cgroup.as_deref()));
    used.extend(file.check.iter().filter_map(|c| c.cgroup.as_deref()));
    for cg in &file.cgroup {
        let prefix = format!("{}/", cg.path);
        if !used.iter().any(|u| *u == cg.path || u.starts_with(&prefix)) {
            ctx.warn(format!(
                "[[cgroup]] {:?} is declared but no worker group, op, payload or check uses \
                 it: is a `cgroup` misspelled, or is the declaration left over?",
                cg.path
            ));
        }
    }
}

/// A `cgroup-churn` group moves its workers among the cgroups at the top of its
/// scenario's tree: with fewer than two it would have nowhere to go, which the guest
/// could only report once the VM runs.
pub fn check_churn(ctx: &Ctx, groups: &[Spawn], all: &[String]) -> Result<(), ScenarioError> {
    let Some(group) = groups.iter().find(|g| g.work == CGROUP_CHURN.name) else {
        return Ok(());
    };
    let top: BTreeSet<&str> = all
        .iter()
        .filter(|p| parent(p).is_none())
        .map(String::as_str)
        .collect();
    if top.len() >= 2 {
        return Ok(());
    }
    Err(ctx.err(
        format!("[[workers]] \"{}\".work", group.group),
        format!(
            "{} moves its workers among the cgroups at the top of the scenario, which has \
             {} of the 2 it needs: declare another, e.g. [[cgroup]] path = \"other\"",
            CGROUP_CHURN.name,
            top.len()
        ),
    ))
}

fn create_with_parents(
    ctx: &Ctx,
    declared: &[&CgroupFile],
    path: &str,
    created: &mut Vec<String>,
    ops: &mut Vec<Op>,
) {
    if created.iter().any(|c| c == path) {
        return;
    }
    if let Some(parent) = parent(path) {
        create_with_parents(ctx, declared, parent, created, ops);
    }
    created.push(path.to_string());
    ops.push(Op::CgroupAdd {
        path: path.to_string(),
    });
    let settings = declared
        .iter()
        .find(|c| c.path == path)
        .and_then(|cg| ctx.keep(settings(ctx, cg)));
    for (file, value) in settings.unwrap_or_default() {
        ops.push(Op::CgroupSet {
            path: path.to_string(),
            file: file.to_string(),
            value,
        });
    }
}

/// The controller files a declaration sets, in a fixed order.
fn settings(ctx: &Ctx, cg: &CgroupFile) -> Result<Vec<(&'static str, String)>, ScenarioError> {
    let field = |key: &str| format!("[[cgroup]] \"{}\".{key}", cg.path);
    let mut out = Vec::new();
    if let Some(cpus) = &cg.cpus {
        out.push(("cpuset.cpus", ctx.cpus(&field("cpus"), cpus)?));
    }
    if let Some(mems) = &cg.mems {
        let nodes = placement::nodes(mems, &ctx.vm.layout())
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
