//! Step-form scenarios: ops are checked in order against the cgroups and worker groups
//! that exist at that point, as the guest will see them.

use std::collections::BTreeSet;

use super::cgroups::{check_path, overlaps_cgroup, parent};
use super::context::{check_hold, Ctx};
use super::file::{CgroupFile, OpFile, StepFile, Value};
use super::suggest::did_you_mean;
use super::{NamedScheduler, Op, ScenarioError, Spawn, Step};
use crate::cpulist;
use schedbox_protocol::cgroup_files::{cgroup_file, CGROUP_FILES};
use schedbox_protocol::vocab::{Until, Word};

/// The file that sets the CPUs a cgroup allows.
const CPUSET_CPUS: &str = "cpuset.cpus";

/// Longest path a `write` op may name: the guest's limit for a path in a plan.
pub use schedbox_protocol::limits::MAX_PATH as MAX_WRITE_PATH;

/// What exists in the guest after the ops so far.
struct State<'a> {
    groups: &'a [Spawn],
    declared: Vec<&'a CgroupFile>,
    cgroups: Vec<String>,
    /// Running worker groups and the cgroup their tasks are in now.
    running: Vec<(String, String)>,
    /// Cgroups whose `cpuset.cpus` an op has set: their declared `cpus` no longer bound
    /// an affinity (the value written is the kernel's to judge).
    cpus_rewritten: Vec<String>,
    spawned: Vec<String>,
    /// A step detached the run's scheduler and none attached it again.
    detached: bool,
    /// The labels of the schedulers the scenario declares.
    labels: Vec<&'a str>,
    /// CPUs taken offline and not brought back.
    offline: BTreeSet<u32>,
}

/// How a scenario's scheduler starts, and the others it declares.
pub struct Lifecycle {
    pub starts_detached: bool,
    pub schedulers: Vec<NamedScheduler>,
}

pub fn lower_steps(
    ctx: &Ctx,
    files: &[StepFile],
    declared: &[CgroupFile],
    setup: Vec<Op>,
    groups: &[Spawn],
    lifecycle: &Lifecycle,
) -> Result<Vec<Step>, ScenarioError> {
    let mut state = State {
        groups,
        declared: declared.iter().collect(),
        cgroups: added_cgroups(&setup),
        running: Vec::new(),
        cpus_rewritten: Vec::new(),
        spawned: Vec::new(),
        detached: lifecycle.starts_detached,
        labels: lifecycle
            .schedulers
            .iter()
            .map(|s| s.label.as_str())
            .collect(),
        offline: BTreeSet::new(),
    };
    let mut steps = Vec::new();
    for (index, file) in files.iter().enumerate() {
        let hold_ms = check_hold(ctx, &format!("[[step]] {index}.hold_ms"), file.hold_ms)?;
        let until_payloads = until(ctx, index, file.until.as_deref())?;
        let mut ops = if index == 0 {
            setup.clone()
        } else {
            Vec::new()
        };
        for (n, op) in file.ops.iter().enumerate() {
            let field = format!("[[step]] {index}.ops[{n}]");
            // None: the op names a worker group whose entry was wrong (and reported).
            ops.extend(state.apply(ctx, &field, op)?);
        }
        steps.push(Step {
            hold_ms,
            until_payloads,
            ops,
        });
    }
    let idle = groups
        .iter()
        .find(|g| !state.spawned.contains(&g.group) && !ctx.is_failed_group(&g.group));
    if let Some(idle) = idle {
        return Err(ctx.err(
            format!("[[workers]] \"{}\"", idle.group),
            format!(
                "never spawned: add {{ op = \"spawn\", group = \"{}\" }} to a step's ops",
                idle.group
            ),
        ));
    }
    Ok(steps)
}

/// `until`: the one word it takes.
fn until(ctx: &Ctx, index: usize, value: Option<&str>) -> Result<bool, ScenarioError> {
    let Some(value) = value else {
        return Ok(false);
    };
    match Until::parse(value.as_bytes()) {
        Some(Until::Payloads) => Ok(true),
        None => Err(ctx.err(
            format!("[[step]] {index}.until"),
            format!(
                "unknown {value:?}: the one value is \"{}\" (the hold ends once \
                 the scenario's payloads have ended; hold_ms stays the limit)",
                Until::Payloads
            ),
        )),
    }
}

/// Every cgroup path any step creates.
pub fn all_cgroups(steps: &[Step]) -> Vec<String> {
    steps.iter().flat_map(|s| added_cgroups(&s.ops)).collect()
}

fn added_cgroups(ops: &[Op]) -> Vec<String> {
    ops.iter()
        .filter_map(|op| match op {
            Op::CgroupAdd { path } => Some(path.clone()),
            _ => None,
        })
        .collect()
}

impl State<'_> {
    fn apply(&mut self, ctx: &Ctx, field: &str, op: &OpFile) -> Result<Option<Op>, ScenarioError> {
        let group = match op {
            OpFile::Spawn { group } | OpFile::Stop { group } | OpFile::Affinity { group, .. } => {
                Some(group)
            }
            _ => None,
        };
        if group.is_some_and(|g| ctx.is_failed_group(g)) {
            return Ok(None);
        }
        self.apply_op(ctx, field, op).map(Some)
    }

    fn apply_op(&mut self, ctx: &Ctx, field: &str, op: &OpFile) -> Result<Op, ScenarioError> {
        match op {
            OpFile::CgroupAdd { path } => self.add(ctx, field, path),
            OpFile::CgroupRemove { path } => self.remove(ctx, field, path),
            OpFile::CgroupSet { path, file, value } => {
                let op = self.set(ctx, field, path, file, value)?;
                if file == CPUSET_CPUS {
                    self.cpus_rewritten.push(path.clone());
                }
                Ok(op)
            }
            OpFile::Spawn { group } => self.spawn(ctx, field, group),
            OpFile::Stop { group } => {
                self.running_group(ctx, field, group)?;
                self.running.retain(|(g, _)| g != group);
                Ok(Op::Stop {
                    group: group.clone(),
                })
            }
            OpFile::Move { from, to } => {
                self.existing(ctx, &format!("{field}.from"), from)?;
                self.existing(ctx, &format!("{field}.to"), to)?;
                for (_, cgroup) in self.running.iter_mut().filter(|(_, c)| c == from) {
                    cgroup.clone_from(to);
                }
                Ok(Op::Move {
                    from: from.clone(),
                    to: to.clone(),
                })
            }
            OpFile::Affinity { group, cpus } => {
                self.running_group(ctx, field, group)?;
                let cpus = ctx.cpus(&format!("{field}.cpus"), cpus)?;
                let cgroup = self.running.iter().find(|(g, _)| g == group);
                if let Some((_, cgroup)) = cgroup.filter(|(_, c)| !self.cpus_rewritten_at(c)) {
                    let field = format!("{field}.cpus");
                    overlaps_cgroup(ctx, &field, &cpus, &self.declared, cgroup)?;
                }
                Ok(Op::Affinity {
                    group: group.clone(),
                    cpus,
                })
            }
            OpFile::Write { path, value } => Ok(Op::Write {
                path: write_path(ctx, &format!("{field}.path"), path)?,
                value: one_line(ctx, &format!("{field}.value"), value)?,
            }),
            OpFile::Freeze { path } => self.freeze(ctx, field, path, 1),
            OpFile::Thaw { path } => self.freeze(ctx, field, path, 0),
            OpFile::SchedulerDetach => self.scheduler(ctx, field, Op::SchedulerDetach),
            OpFile::SchedulerAttach { scheduler } => {
                let label = self.label(ctx, field, scheduler.as_deref())?;
                self.scheduler(ctx, field, Op::SchedulerAttach { label })
            }
            OpFile::SchedulerRestart => self.scheduler(ctx, field, Op::SchedulerRestart),
            OpFile::SchedulerReplace { scheduler } => {
                let label = self.label(ctx, field, Some(scheduler))?.unwrap_or_default();
                self.scheduler(ctx, field, Op::SchedulerReplace { label })
            }
            OpFile::CpuOffline { cpus } => self.hotplug(ctx, field, cpus, false),
            OpFile::CpuOnline { cpus } => self.hotplug(ctx, field, cpus, true),
        }
    }

    /// An op's `scheduler`: a label the scenario declares.
    fn label(
        &self,
        ctx: &Ctx,
        field: &str,
        label: Option<&str>,
    ) -> Result<Option<String>, ScenarioError> {
        let Some(label) = label else {
            return Ok(None);
        };
        if self.labels.contains(&label) {
            return Ok(Some(label.to_string()));
        }
        let declared = if self.labels.is_empty() {
            "it declares none".to_string()
        } else {
            format!("it declares {}", self.labels.join(", "))
        };
        Err(ctx.err(
            format!("{field}.scheduler"),
            format!(
                "unknown scheduler {label:?}{}: declare it in the scenario as \
                 [schedulers.{label}] (path = a program, args = [...]; a path may be given \
                 with --extra-scheduler {label}=PATH instead) ({declared})",
                did_you_mean(label, self.labels.iter().copied())
            ),
        ))
    }

    /// A scheduler op in the state it changes: detach and restart need the scheduler
    /// attached, attach needs it detached. Whether the run has a scheduler at all is
    /// known only from the command line (`--scheduler`), checked before the VM starts.
    fn scheduler(&mut self, ctx: &Ctx, field: &str, op: Op) -> Result<Op, ScenarioError> {
        let word = op.transition().map(|w| w.word()).unwrap_or_default();
        match (&op, self.detached) {
            (Op::SchedulerAttach { .. }, false) => Err(ctx.err(
                field,
                format!("{word}: the scheduler is attached at this point: detach it in an earlier step first"),
            )),
            (Op::SchedulerAttach { .. }, true) => {
                self.detached = false;
                Ok(op)
            }
            (_, true) => Err(ctx.err(
                field,
                format!("{word}: the scheduler is detached at this point: use scheduler-attach"),
            )),
            (_, false) => {
                self.detached = matches!(op, Op::SchedulerDetach);
                Ok(op)
            }
        }
    }

    /// `cpu-offline` and `cpu-online`: CPUs the VM has, never CPU 0 (the kernel keeps
    /// it), never every CPU at once, each offline only when online and back only
    /// when offline.
    fn hotplug(
        &mut self,
        ctx: &Ctx,
        field: &str,
        text: &str,
        online: bool,
    ) -> Result<Op, ScenarioError> {
        let field = format!("{field}.cpus");
        let cpus = ctx.cpu_set(&field, text)?;
        let vm_cpus = ctx.vm.cpus();
        let mut after = self.offline.clone();
        if !online {
            after.extend(cpus.iter().copied());
        }
        if !online && after.len() >= vm_cpus as usize {
            return Err(ctx.err(
                &field,
                format!(
                    "{text:?} would take every CPU of the machine ({vm_cpus}) offline: leave CPU 0 \
                     online (give CPUs 1 to {})",
                    vm_cpus.saturating_sub(1)
                ),
            ));
        }
        if cpus.contains(&0) {
            return Err(ctx.err(
                &field,
                format!(
                    "{text:?} names CPU 0, which the kernel never takes offline: give CPUs 1 to {}",
                    vm_cpus.saturating_sub(1)
                ),
            ));
        }
        let (wrong, state) = if online {
            (cpus.difference(&self.offline).next(), "online")
        } else {
            (cpus.intersection(&self.offline).next(), "offline")
        };
        if let Some(cpu) = wrong {
            return Err(ctx.err(&field, format!("CPU {cpu} is {state} at this point")));
        }
        let list = cpulist::format(&cpus);
        if online {
            self.offline.retain(|c| !cpus.contains(c));
            Ok(Op::CpuOnline { cpus: list })
        } else {
            self.offline = after;
            Ok(Op::CpuOffline { cpus: list })
        }
    }

    /// Whether an op set `cpuset.cpus` of `path` or of a cgroup above it.
    fn cpus_rewritten_at(&self, path: &str) -> bool {
        let mut at = Some(path);
        while let Some(path) = at {
            if self.cpus_rewritten.iter().any(|c| c == path) {
                return true;
            }
            at = parent(path);
        }
        false
    }

    /// `freeze` and `thaw` are `cgroup.freeze` writes.
    fn freeze(&self, ctx: &Ctx, field: &str, path: &str, on: u64) -> Result<Op, ScenarioError> {
        let value = Value::Number(on);
        self.set(ctx, field, path, "cgroup.freeze", &value)
    }

    fn add(&mut self, ctx: &Ctx, field: &str, path: &str) -> Result<Op, ScenarioError> {
        check_path(ctx, &format!("{field}.path"), path)?;
        if self.cgroups.iter().any(|c| c == path) {
            return Err(ctx.err(field, format!("cgroup {path:?} already exists here")));
        }
        if let Some(parent) = parent(path) {
            self.existing(ctx, &format!("{field}.path"), parent)?;
        }
        self.cgroups.push(path.to_string());
        Ok(Op::CgroupAdd {
            path: path.to_string(),
        })
    }

    fn remove(&mut self, ctx: &Ctx, field: &str, path: &str) -> Result<Op, ScenarioError> {
        self.existing(ctx, &format!("{field}.path"), path)?;
        let prefix = format!("{path}/");
        if self.cgroups.iter().any(|c| c.starts_with(&prefix)) {
            return Err(ctx.err(
                field,
                format!("cgroup {path:?} still has children: remove them first"),
            ));
        }
        if let Some((group, _)) = self.running.iter().find(|(_, c)| c == path) {
            return Err(ctx.err(
                field,
                format!("workers {group:?} are still in {path:?}: stop or move them first"),
            ));
        }
        self.cgroups.retain(|c| c != path);
        Ok(Op::CgroupRemove {
            path: path.to_string(),
        })
    }

    fn set(
        &self,
        ctx: &Ctx,
        field: &str,
        path: &str,
        file: &str,
        value: &Value,
    ) -> Result<Op, ScenarioError> {
        self.existing(ctx, &format!("{field}.path"), path)?;
        controller_file(ctx, &format!("{field}.file"), file)?;
        let value = one_line(ctx, &format!("{field}.value"), value)?;
        Ok(Op::CgroupSet {
            path: path.to_string(),
            file: file.to_string(),
            value,
        })
    }

    fn spawn(&mut self, ctx: &Ctx, field: &str, group: &str) -> Result<Op, ScenarioError> {
        let spawn = self
            .groups
            .iter()
            .find(|g| g.group == group)
            .ok_or_else(|| {
                let near = did_you_mean(group, self.groups.iter().map(|g| g.group.as_str()));
                ctx.err(field, format!("no [[workers]] group {group:?}{near}"))
            })?;
        if self.spawned.iter().any(|g| g == group) {
            return Err(ctx.err(
                field,
                format!("group {group:?} is spawned twice: declare a second group"),
            ));
        }
        self.existing(
            ctx,
            &format!("[[workers]] \"{group}\".cgroup"),
            &spawn.cgroup,
        )?;
        self.spawned.push(group.to_string());
        self.running.push((group.to_string(), spawn.cgroup.clone()));
        Ok(Op::Spawn(spawn.clone()))
    }

    fn existing(&self, ctx: &Ctx, field: &str, path: &str) -> Result<(), ScenarioError> {
        if self.cgroups.iter().any(|c| c == path) {
            Ok(())
        } else {
            let near = did_you_mean(path, self.cgroups.iter().map(String::as_str));
            Err(ctx.err(
                field,
                format!("no cgroup {path:?} at this point{near}: declare it in [[cgroup]] or add it with a cgroup-add op first"),
            ))
        }
    }

    fn running_group(&self, ctx: &Ctx, field: &str, group: &str) -> Result<(), ScenarioError> {
        if self.running.iter().any(|(g, _)| g == group) {
            Ok(())
        } else {
            Err(ctx.err(
                field,
                format!("group {group:?} is not running at this point"),
            ))
        }
    }
}

/// A `cgroup-set` file: one the kernel has for a controller schedbox enables, and one
/// that takes writes.
fn controller_file(ctx: &Ctx, field: &str, file: &str) -> Result<(), ScenarioError> {
    match cgroup_file(file) {
        Some(known) if known.writable => Ok(()),
        Some(_) => Err(ctx.err(
            field,
            format!("{file:?} only reports: the kernel refuses writes to it; set a file that takes them"),
        )),
        None => {
            let writable = CGROUP_FILES.iter().filter(|f| f.writable).map(|f| f.name);
            let near = did_you_mean(file, writable);
            Err(ctx.err(
                field,
                format!(
                    "{file:?} is not a cgroup file of the cpu, cpuset, memory, pids or io \
                     controllers{near}: name one such as \"cpu.weight\" or \"cpu.max\" \
                     (docs/scenarios.md)"
                ),
            ))
        }
    }
}

/// A value as the guest writes it: a number, or one line of text.
fn one_line(ctx: &Ctx, field: &str, value: &Value) -> Result<String, ScenarioError> {
    match value {
        Value::Number(n) => Ok(n.to_string()),
        Value::Negative(n) => Ok(n.to_string()),
        Value::Text(t) if !t.is_empty() && !t.contains('\n') => Ok(t.clone()),
        Value::Text(_) => Err(ctx.err(field, "give a one-line, non-empty value")),
    }
}

/// The file a `write` op names: an absolute path without `.` or `..` steps, short
/// enough for the plan.
fn write_path(ctx: &Ctx, field: &str, path: &str) -> Result<String, ScenarioError> {
    let steps_ok = path
        .split('/')
        .skip(1)
        .all(|p| !p.is_empty() && p != "." && p != "..");
    let bytes_ok = path.bytes().all(|b| b.is_ascii_graphic());
    if !path.starts_with('/') || !steps_ok || !bytes_ok || path.len() > MAX_WRITE_PATH {
        return Err(ctx.err(
            field,
            format!(
                "{path:?} is not a file to write: give an absolute path such as \
                 \"/proc/sys/kernel/sched_rt_runtime_us\", without '.', '..' or empty \
                 steps, at most {MAX_WRITE_PATH} bytes"
            ),
        ));
    }
    Ok(path.to_string())
}
