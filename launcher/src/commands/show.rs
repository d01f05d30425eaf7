//! `schedbox show NAME|FILE`: one scenario as the guest will run it: every default
//! filled in (work parameters, check limits, nice and policy), on the machine it runs
//! on, and the plan the guest gets.

use std::path::{Path, PathBuf};

use crate::cli::VmOptions;
use crate::exit::{Exit, Stop};
use crate::output;
use crate::protocol::plan;
use crate::scenario::catalog::{self, Key};
use crate::scenario::{Op, Scenario, Spawn};
use crate::selection;

pub fn show(target: &str, vm: &VmOptions) -> Result<Exit, Stop> {
    let path = find(target).map_err(Stop::Usage)?;
    let scenario = selection::load(std::slice::from_ref(&path), vm)
        .map_err(Stop::Usage)?
        .remove(0)
        .scenario;
    let scenarios = std::slice::from_ref(&scenario);
    let (plan, _) = plan::compile_checked(scenarios, &plan::config_for_checking(scenarios))
        .map_err(|e| Stop::Usage(e.to_string()))?;
    output::print(&render(&scenario, vm));
    output::print("plan (what the guest reads):\n");
    output::print(&indent(&plan));
    Ok(Exit::Pass)
}

/// A file, or the catalog scenario of that name.
fn find(target: &str) -> Result<PathBuf, String> {
    let path = Path::new(target);
    if path.exists() {
        return Ok(path.to_path_buf());
    }
    let catalog = selection::default_catalog().ok_or_else(|| {
        format!(
            "{target}: no such file, and no ./{} catalog here to look the name up in",
            selection::CATALOG_DIR
        )
    })?;
    for file in selection::expand(&[catalog])? {
        if crate::scenario::read(&file).is_ok_and(|s| s.name() == target) {
            return Ok(file);
        }
    }
    Err(format!(
        "{target}: no such file, and no scenario of that name in ./{}: `schedbox list` \
         shows the names",
        selection::CATALOG_DIR
    ))
}

fn render(s: &Scenario, vm: &VmOptions) -> String {
    let shape = match s.topology {
        Some(own) => format!("{own} (its own topology)"),
        None => format!("{} (the command line's)", vm.shape()),
    };
    let mut out = format!("name: {}\nfile: {}\n", s.name, s.source);
    if let Some(d) = &s.description {
        out += &format!("description: {d}\n");
    }
    out += &format!(
        "machine: {shape}, {} MiB\nduration: {} ms\n",
        vm.memory_mib,
        s.duration_ms()
    );
    if s.starts_detached {
        out += "starts detached: the run's scheduler attaches when a step attaches it\n";
    }
    for l in &s.schedulers {
        let program = l
            .program
            .as_deref()
            .unwrap_or("(given by --extra-scheduler)");
        let line = format!("scheduler {}: {program} {}", l.label, l.args.join(" "));
        out += line.trim_end();
        out += "\n";
    }
    for (i, step) in s.steps.iter().enumerate() {
        let until = if step.until_payloads {
            ", or until its payloads end"
        } else {
            ""
        };
        out += &format!("step {}: hold {} ms{until}\n", i + 1, step.hold_ms);
        for op in &step.ops {
            out += &format!("  {}\n", op_line(op));
        }
    }
    out += "checks:\n";
    for c in &s.checks {
        let mut line = format!("  {} limit {}", c.name, c.limit);
        if let Some(unit) = catalog::check_kind(&c.name).map(|k| k.unit) {
            line += &format!(" {unit}");
        }
        for (word, value) in [("group", &c.group), ("cgroup", &c.cgroup)] {
            if let Some(v) = value {
                line += &format!(" {word}={v}");
            }
        }
        if let Some(p) = c.params.percentile {
            line += &format!(" {}={p}", catalog::KEY_PERCENTILE);
        }
        if let Some(ms) = c.params.window_ms {
            line += &format!(" {}={ms}", catalog::KEY_WINDOW_MS);
        }
        out += &(line.trim_end().to_string() + "\n");
    }
    out
}

fn op_line(op: &Op) -> String {
    match op {
        Op::CgroupAdd { path } => format!("cgroup add {path}"),
        Op::CgroupRemove { path } => format!("cgroup remove {path}"),
        Op::CgroupSet { path, file, value } => format!("cgroup {path}: {file} = {value}"),
        Op::Spawn(spawn) => spawn_line(spawn),
        Op::Stop { group } => format!("stop {group}"),
        Op::Move { from, to } => format!("move {from} -> {to}"),
        Op::Affinity { group, cpus } => format!("affinity {group}: CPUs {cpus}"),
        Op::Write { path, value } => format!("write {path} = {value}"),
        Op::SchedulerDetach => "scheduler detach".to_string(),
        Op::SchedulerAttach { label: None } => "scheduler attach".to_string(),
        Op::SchedulerAttach { label: Some(l) } => format!("scheduler attach {l}"),
        Op::SchedulerRestart => "scheduler restart".to_string(),
        Op::SchedulerReplace { label } => format!("scheduler replace by {label}"),
        Op::CpuOffline { cpus } => format!("CPUs {cpus} offline"),
        Op::CpuOnline { cpus } => format!("CPUs {cpus} online"),
        Op::Payload(p) => format!(
            "payload {}: {} {} (expect status {})",
            p.name,
            p.host_path.display(),
            p.args.join(" "),
            p.expect_status
        ),
    }
}

/// A worker group with every work parameter: given ones as given, the rest at their
/// defaults (marked so).
fn spawn_line(s: &Spawn) -> String {
    let mut line = format!(
        "spawn {} x {} {} in {}: nice {}, policy {}",
        s.count, s.work, s.group, s.cgroup, s.nice, s.policy
    );
    if let Some(prio) = s.prio {
        line += &format!(", prio {prio}");
    }
    if let Some(cpus) = &s.affinity {
        line += &format!(", CPUs {cpus}");
    }
    if let Some(expect) = &s.expect {
        line += &format!(", expect {expect}");
    }
    if s.threads {
        line += ", as threads of one process";
    }
    let keys: &[Key] = catalog::work_type(&s.work).map_or(&[], |w| w.keys);
    for key in keys {
        let given = s.params.iter().find(|(k, _)| *k == key.name);
        let (value, mark) = match given {
            Some((_, v)) => (*v, ""),
            None => (key.default, " (default)"),
        };
        let shown = key
            .words
            .get(value as usize)
            .map_or(value.to_string(), |w| (*w).to_string());
        line += &format!(", {}={shown}{mark}", key.name);
    }
    line
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}
