//! Turns a parsed scenario file into a validated [`Scenario`], or every problem found.

use super::context::{check_hold, check_name, Ctx};
use super::file::{CheckFile, ScenarioFile, WorkersFile};
use super::suggest::did_you_mean;
use super::vocabulary::{
    self as catalog, CheckKind, CheckSpec, Expect, Percentile, Policy, Scope, Word,
    DEFAULT_IMBALANCE_WINDOW_MS, DEFAULT_PERCENTILE, KEY_PERCENTILE, KEY_WINDOW_MS,
    MAX_IMBALANCE_WINDOW_MS, MIN_IMBALANCE_WINDOW_MS,
};
use super::{
    cgroups, load, payloads, schedulers, shaped, steps, Check, CheckParams, LogRules, Op, Scenario,
    ScenarioError, Spawn, Step, VmShape,
};
use schedbox_protocol::works::LATENCY_WORKS;
use std::collections::BTreeSet;

use crate::cpulist;

use schedbox_protocol::limits::{memory_needed_mib, MAX_WORKERS, NICE_RANGE, RT_PRIO_RANGE};

/// Workers one scenario may run in all: the guest keeps a slot for each.
const MAX_SCENARIO_WORKERS: u64 = MAX_WORKERS as u64;
/// The check every scenario with workers that `expect` a limit gets.
const EXPECT_CHECK: CheckKind = CheckKind::Expect;
/// The work the `numa-locality` check measures.
const NUMA_WORK: &str = schedbox_protocol::works::NUMA_WORKING_SET.name;

/// The scenario, or every problem found in it (at least one).
pub fn lower(
    file: &ScenarioFile,
    source: &str,
    vm: &VmShape,
) -> Result<Scenario, Vec<ScenarioError>> {
    let ctx = Ctx::new(source, vm);
    let scenario = lower_sections(&ctx, file);
    let (problems, warnings) = ctx.finish();
    match scenario {
        Some(scenario) if problems.is_empty() => Ok(Scenario {
            warnings,
            ..scenario
        }),
        _ => Err(problems),
    }
}

/// Each section in turn, each entry on its own, so that one mistake does not hide the
/// next; None once something was wrong (recorded in `ctx`).
fn lower_sections(ctx: &Ctx, file: &ScenarioFile) -> Option<Scenario> {
    ctx.keep(check_name(ctx, "name", &file.name));
    let mut groups = Vec::new();
    for w in &file.workers {
        match ctx.keep(lower_workers(ctx, w)) {
            Some(group) => groups.push(group),
            None => ctx.group_failed(&w.group),
        }
    }
    ctx.keep(check_groups(ctx, &groups));
    let setup = cgroups::setup_ops(ctx, &file.cgroup, &groups);
    let lifecycle = steps::Lifecycle {
        starts_detached: schedulers::starts_detached(ctx, file),
        schedulers: schedulers::declared(ctx, file),
    };
    let mut steps = ctx.keep(lower_steps(ctx, file, setup, &groups, &lifecycle))?;
    let before = ctx.problems();
    payloads::lower(ctx, &file.payload, &mut steps);
    // A payload left out for its own mistake would make `until` look unmet too.
    if ctx.problems() == before {
        ctx.keep(payloads::check_until(ctx, &steps));
    }
    let cgroup_paths = steps::all_cgroups(&steps);
    ctx.keep(cgroups::check_churn(ctx, &groups, &cgroup_paths));
    let cgroup_cpus = cgroups::declared_cpus(&file.cgroup);
    let load = Load {
        groups: &groups,
        cgroup_cpus: &cgroup_cpus,
        steps: &steps,
    };
    let checks = lower_checks(ctx, &file.check, &load, &cgroup_paths);
    cgroups::warn_unused(ctx, file, &groups);
    if ctx.failed() {
        return None;
    }
    Some(Scenario {
        name: file.name.clone(),
        description: file.description.clone(),
        source: ctx.source.to_string(),
        topology: None,
        host_debugfs: file.host_debugfs,
        steps,
        checks,
        warnings: Vec::new(),
        starts_detached: lifecycle.starts_detached,
        schedulers: lifecycle.schedulers,
    })
}

/// The simple form (one step of every group) or the step form.
fn lower_steps(
    ctx: &Ctx,
    file: &ScenarioFile,
    setup: Vec<Op>,
    groups: &[Spawn],
    lifecycle: &steps::Lifecycle,
) -> Result<Vec<Step>, ScenarioError> {
    match (file.duration_ms, file.step.is_empty()) {
        (Some(hold), true) => {
            let hold_ms = check_hold(ctx, "duration_ms", hold)?;
            let mut ops = setup;
            ops.extend(groups.iter().cloned().map(Op::Spawn));
            Ok(vec![Step {
                hold_ms,
                until_payloads: false,
                ops,
            }])
        }
        (None, false) => {
            steps::lower_steps(ctx, &file.step, &file.cgroup, setup, groups, lifecycle)
        }
        (Some(_), false) => Err(ctx.err(
            "duration_ms",
            "give either duration_ms (one step running every worker group) or [[step]] \
             entries, not both",
        )),
        (None, true) => Err(ctx.err(
            "duration_ms",
            "missing: add e.g. `duration_ms = 2000`, or [[step]] entries",
        )),
    }
}

fn lower_workers(ctx: &Ctx, w: &WorkersFile) -> Result<Spawn, ScenarioError> {
    let field = |key: &str| format!("[[workers]] \"{}\".{key}", w.group);
    check_name(ctx, &field("group"), &w.group)?;
    let work = catalog::work_type(&w.work).ok_or_else(|| {
        let known = catalog::names(catalog::WORK_TYPES, |t| t.name);
        let near = did_you_mean(&w.work, catalog::WORK_TYPES.iter().map(|t| t.name));
        ctx.err(
            field("work"),
            format!("unknown work {:?}{near}: use one of {known}", w.work),
        )
    })?;
    let count = w.count.unwrap_or(1);
    if count == 0 || count > MAX_SCENARIO_WORKERS {
        return Err(ctx.err(
            field("count"),
            format!("{count} is out of range: give 1 to {MAX_SCENARIO_WORKERS}"),
        ));
    }
    if work.paired && !count.is_multiple_of(2) {
        return Err(ctx.err(
            field("count"),
            format!(
                "{} workers pair up: give an even count, not {count}",
                work.name
            ),
        ));
    }
    let nice = w.nice.unwrap_or(0);
    if nice < NICE_RANGE.0 || nice > NICE_RANGE.1 {
        return Err(ctx.err(
            field("nice"),
            format!(
                "{nice} is out of range: give {} to {}",
                NICE_RANGE.0, NICE_RANGE.1
            ),
        ));
    }
    let (policy, prio) = lower_policy(ctx, w, &field)?;
    let affinity = match &w.affinity {
        Some(list) => Some(ctx.cpus(&field("affinity"), list)?),
        None => None,
    };
    let mut params = lower_params(ctx, w, work, &field)?;
    params.extend(lower_words(ctx, w, work, &field)?);
    shaped::fits(ctx, work, &params, &field)?;
    let expect = lower_expect(ctx, w, &field)?;
    let threads = lower_threads(ctx, w, work, &field)?;
    Ok(Spawn {
        group: w.group.clone(),
        cgroup: w.cgroup.clone().unwrap_or_else(|| w.group.clone()),
        work: work.name.to_string(),
        count,
        nice,
        policy,
        prio,
        affinity,
        expect,
        threads,
        params,
    })
}

/// `threads = true`: the group runs as one process with `count` threads, which only
/// work that keeps to its own thread can do (`THREAD_WORKS`: work that forks, moves
/// itself between cgroups, signals its teammates or shares pipes would act on the
/// whole thread group), and never with `expect`.
fn lower_threads(
    ctx: &Ctx,
    w: &WorkersFile,
    work: &catalog::WorkType,
    field: &dyn Fn(&str) -> String,
) -> Result<bool, ScenarioError> {
    if w.threads != Some(true) {
        return Ok(false);
    }
    if !work.runs_as_threads() {
        return Err(ctx.err(
            field("threads"),
            format!(
                "{} workers cannot run as threads (it forks, moves between cgroups, \
                 signals its teammates or shares pipes or per-process state): threads = \
                 true takes one of {}, or leave threads out to run them as processes",
                work.name,
                catalog::names(catalog::THREAD_WORKS, |t| t.name)
            ),
        ));
    }
    if w.expect.is_some() {
        return Err(ctx.err(
            field("threads"),
            "threads = true cannot take expect: the limit would end the whole thread group; \
             remove one of them",
        ));
    }
    Ok(true)
}

/// `expect`: a limit the workers are meant to meet; forks can be refused only to work
/// that forks.
fn lower_expect(
    ctx: &Ctx,
    w: &WorkersFile,
    field: &dyn Fn(&str) -> String,
) -> Result<Option<String>, ScenarioError> {
    let Some(expect) = &w.expect else {
        return Ok(None);
    };
    let Some(effect) = Expect::parse(expect.as_bytes()) else {
        return Err(ctx.err(
            field("expect"),
            format!(
                "unknown effect {expect:?}{}: use one of {}",
                did_you_mean(expect, Expect::ALL.iter().map(|w| w.word())),
                catalog::words::<Expect>()
            ),
        ));
    };
    if effect == Expect::ForkRefused && w.work != "fork-churn" {
        return Err(ctx.err(
            field("expect"),
            "only fork-churn workers fork: use work = \"fork-churn\" to expect refused forks",
        ));
    }
    Ok(Some(expect.clone()))
}

fn lower_policy(
    ctx: &Ctx,
    w: &WorkersFile,
    field: &dyn Fn(&str) -> String,
) -> Result<(String, Option<u64>), ScenarioError> {
    let policy = w
        .policy
        .clone()
        .unwrap_or_else(|| Policy::Other.word().to_string());
    let Some(known) = Policy::parse(policy.as_bytes()) else {
        return Err(ctx.err(
            field("policy"),
            format!(
                "unknown policy {policy:?}{}: use one of {}",
                did_you_mean(&policy, Policy::ALL.iter().map(|w| w.word())),
                catalog::words::<Policy>()
            ),
        ));
    };
    let realtime = known.is_realtime();
    let prio = match (realtime, w.prio) {
        (true, None) => Some(RT_PRIO_RANGE.0),
        (true, Some(p)) if (RT_PRIO_RANGE.0..=RT_PRIO_RANGE.1).contains(&p) => Some(p),
        (true, Some(p)) => {
            return Err(ctx.err(
                field("prio"),
                format!(
                    "{p} is out of range: give {} to {} (higher is kept for the guest's PID 1, \
                     which must always be able to stop workers)",
                    RT_PRIO_RANGE.0, RT_PRIO_RANGE.1
                ),
            ))
        }
        (false, None) => None,
        (false, Some(_)) => {
            return Err(ctx.err(
                field("prio"),
                format!("prio applies to policy \"fifo\" or \"rr\" only, not {policy:?}"),
            ))
        }
    };
    Ok((policy, prio))
}

fn lower_params(
    ctx: &Ctx,
    w: &WorkersFile,
    work: &catalog::WorkType,
    field: &dyn Fn(&str) -> String,
) -> Result<Vec<(&'static str, u64)>, ScenarioError> {
    let params = w.params();
    let mut memory_kb = 0;
    for &(key, value) in &params {
        let Some(range) = work.key(key) else {
            let takes = match work.keys {
                [] => "takes no parameters".to_string(),
                some => format!("takes {}", catalog::names(some, |k| k.name)),
            };
            return Err(ctx.err(
                field(key),
                format!("work \"{}\" {takes}; remove {key}", work.name),
            ));
        };
        let (min, max) = (range.min, range.max);
        if value < min || value > max {
            return Err(ctx.err(
                field(key),
                format!("{value} is out of range: give {min} to {max}"),
            ));
        }
        if key == "size_kb" {
            memory_kb = value.saturating_mul(w.count.unwrap_or(1));
        }
    }
    let vm_kb = u64::from(ctx.vm.memory_mib) * 1024;
    if memory_kb > vm_kb / 2 {
        return Err(ctx.err(
            field("size_kb"),
            format!(
                "{} workers × size_kb need {memory_kb} KiB, more than half the VM's {} MiB: \
                 lower size_kb or count, or raise --memory",
                w.count.unwrap_or(1),
                ctx.vm.memory_mib
            ),
        ));
    }
    Ok(params)
}

/// Work keys whose value is a word: each must be one the key takes; the plan carries
/// the word, the spawn its index.
fn lower_words(
    ctx: &Ctx,
    w: &WorkersFile,
    work: &catalog::WorkType,
    field: &dyn Fn(&str) -> String,
) -> Result<Vec<(&'static str, u64)>, ScenarioError> {
    let mut out = Vec::new();
    for (key, text) in w.word_params() {
        let Some(k) = work.key(key) else {
            return Err(ctx.err(
                field(key),
                format!("work \"{}\" does not take {key}; remove it", work.name),
            ));
        };
        let Some(value) = k.value_of(text.as_bytes()) else {
            return Err(ctx.err(
                field(key),
                format!(
                    "unknown {key} {text:?}{}: use one of {}",
                    did_you_mean(text, k.words.iter().copied()),
                    k.words.join(", ")
                ),
            ));
        };
        out.push((key, value));
    }
    Ok(out)
}

fn check_groups(ctx: &Ctx, groups: &[Spawn]) -> Result<(), ScenarioError> {
    let mut total = 0;
    for (i, group) in groups.iter().enumerate() {
        if groups[..i].iter().any(|g| g.group == group.group) {
            return Err(ctx.err(
                format!("[[workers]] \"{}\"", group.group),
                "this group name is used twice: give each [[workers]] entry its own group",
            ));
        }
        total += group.count;
    }
    if total > MAX_SCENARIO_WORKERS {
        return Err(ctx.err(
            "[[workers]]",
            format!("{total} workers in all, more than {MAX_SCENARIO_WORKERS}: lower the counts"),
        ));
    }
    let needed = memory_needed_mib(total);
    if u64::from(ctx.vm.memory_mib) < needed {
        return Err(ctx.err(
            "[[workers]]",
            format!(
                "{total} workers need at least {needed} MiB of guest memory, more than the \
                 VM's {} MiB: raise --memory to {needed} or lower the counts",
                ctx.vm.memory_mib
            ),
        ));
    }
    Ok(())
}

/// What default limits depend on: the workers, the cgroups' CPUs, and the steps
/// (the scheduler and CPU transitions they ask for).
struct Load<'a> {
    groups: &'a [Spawn],
    cgroup_cpus: &'a [(String, String)],
    steps: &'a [Step],
}

impl Load<'_> {
    /// The most switches between the fair class and sched_ext one step asks for.
    fn class_switches(&self) -> u64 {
        let step_switches = |step: &Step| -> u64 {
            step.ops
                .iter()
                .filter_map(Op::transition)
                .map(|op| op.class_switches())
                .sum()
        };
        self.steps.iter().map(step_switches).max().unwrap_or(0)
    }

    /// Every CPU a step takes offline.
    fn offline(&self) -> BTreeSet<u32> {
        self.steps
            .iter()
            .flat_map(|s| &s.ops)
            .filter_map(|op| match op {
                Op::CpuOffline { cpus } => cpulist::parse(cpus).ok(),
                _ => None,
            })
            .flatten()
            .collect()
    }
}

/// The default checks and the listed ones; a listed one that is wrong is recorded in
/// `ctx` and left out.
fn lower_checks(
    ctx: &Ctx,
    listed: &[CheckFile],
    load: &Load,
    cgroup_paths: &[String],
) -> Vec<Check> {
    let groups = load.groups;
    let mut checks: Vec<Check> = catalog::DEFAULT_CHECKS
        .iter()
        .filter(|kind| !listed.iter().any(|c| c.name == kind.word()))
        // Progress judges workers: a scenario without any (payloads only) has none to judge.
        .filter(|kind| !(**kind == CheckKind::Progress && groups.is_empty()))
        .map(|kind| Check {
            name: kind.word().to_string(),
            limit: default_limit(ctx, kind.word(), load),
            group: None,
            cgroup: None,
            log: LogRules::default(),
            params: CheckParams::default(),
        })
        .collect();
    // Workers that expect a limit are judged by whether they met it.
    let expecting = groups.iter().any(|g| g.expect.is_some());
    if expecting && !listed.iter().any(|c| c.name == EXPECT_CHECK.word()) {
        checks.push(Check {
            name: EXPECT_CHECK.word().to_string(),
            limit: 0,
            group: None,
            cgroup: None,
            log: LogRules::default(),
            params: CheckParams::default(),
        });
    }
    // The guest samples the run queues with one window a scenario.
    let imbalance = CheckKind::Imbalance.word();
    if let Some(second) = listed.iter().filter(|c| c.name == imbalance).nth(1) {
        ctx.report(ctx.err(
            format!("[[check]] \"{}\".name", second.name),
            "a second imbalance check: a scenario has one (its window is sampled once)",
        ));
    }
    // Defaults first, in catalog order, then the scenario's own in file order.
    for check in listed {
        let Some(mut lowered) = ctx.keep(lower_check(ctx, check, groups, cgroup_paths)) else {
            continue;
        };
        if check.limit.is_none() && check.limit_ms.is_none() {
            lowered.limit = default_limit(ctx, &lowered.name, load);
        }
        checks.push(lowered);
    }
    checks
}

fn lower_check(
    ctx: &Ctx,
    check: &CheckFile,
    groups: &[Spawn],
    cgroup_paths: &[String],
) -> Result<Check, ScenarioError> {
    let field = |key: &str| format!("[[check]] \"{}\".{key}", check.name);
    let kind = catalog::check_kind(&check.name).ok_or_else(|| {
        let known = catalog::words::<CheckKind>();
        let near = did_you_mean(&check.name, CheckKind::ALL.iter().map(|w| w.word()));
        ctx.err(
            field("name"),
            format!("unknown check {:?}{near}: use one of {known}", check.name),
        )
    })?;
    if kind.kind == CheckKind::Progress && groups.is_empty() {
        return Err(ctx.err(
            field("name"),
            format!(
                "{} judges workers and this scenario has no [[workers]] group: \
                 add one or drop the check",
                CheckKind::Progress.word()
            ),
        ));
    }
    let limit = check_limit(ctx, check, kind)?;
    if limit > kind.max_limit {
        return Err(ctx.err(
            field("limit"),
            format!(
                "{limit} is above {}, where the check could never fail",
                kind.max_limit
            ),
        ));
    }
    if let Some(group) = &check.group {
        if !matches!(kind.scope, Scope::Group | Scope::SameWork) {
            return Err(ctx.err(field("group"), "this check does not take a group"));
        }
        if !groups.iter().any(|g| &g.group == group) && !ctx.is_failed_group(group) {
            let near = did_you_mean(group, groups.iter().map(|g| g.group.as_str()));
            return Err(ctx.err(
                field("group"),
                format!("no [[workers]] group {group:?}{near}"),
            ));
        }
    }
    match (&check.cgroup, kind.scope) {
        (Some(cg), Scope::Cgroup) if !cgroup_paths.contains(cg) => {
            let near = did_you_mean(cg, cgroup_paths.iter().map(String::as_str));
            return Err(ctx.err(
                field("cgroup"),
                format!("no cgroup {cg:?} in this scenario{near}"),
            ));
        }
        (Some(_), Scope::Cgroup) => {}
        (Some(_), _) => return Err(ctx.err(field("cgroup"), "this check does not take a cgroup")),
        (None, Scope::Cgroup) => {
            return Err(ctx.err(field("cgroup"), "missing: name the cgroup to check"))
        }
        (None, _) => {}
    }
    if kind.kind == EXPECT_CHECK && !groups.iter().any(|g| g.expect.is_some()) {
        return Err(ctx.err(
            field("name"),
            "expect judges workers that expect a limit: set expect on a [[workers]] entry",
        ));
    }
    if kind.kind == CheckKind::NumaLocality && !groups.iter().any(|g| g.work == NUMA_WORK) {
        return Err(ctx.err(
            field("name"),
            format!(
                "numa-locality measures {NUMA_WORK} workers: add a group with work = \"{NUMA_WORK}\""
            ),
        ));
    }
    if kind.kind == CheckKind::WakeLatency && !groups.iter().any(|g| g.work == "sleep-wake") {
        return Err(ctx.err(
            field("name"),
            "wake-latency measures sleep-wake workers: add a group with work = \"sleep-wake\"",
        ));
    }
    compared_workers(ctx, check, kind, groups)?;
    Ok(Check {
        name: kind.name().to_string(),
        limit,
        group: check.group.clone(),
        cgroup: check.cgroup.clone(),
        log: log_rules(ctx, check, kind.kind)?,
        params: check_params(ctx, check, kind.kind)?,
    })
}

/// The limit a check file gives: `limit`, or for `latency` `limit_ms` in its place
/// (the check's unit is µs); the catalog's default without either.
fn check_limit(ctx: &Ctx, check: &CheckFile, kind: &CheckSpec) -> Result<u64, ScenarioError> {
    let field = |key: &str| format!("[[check]] \"{}\".{key}", check.name);
    let Some(ms) = check.limit_ms else {
        return Ok(check.limit.unwrap_or(kind.default_limit));
    };
    if kind.kind != CheckKind::Latency {
        return Err(ctx.err(
            field("limit_ms"),
            "only the latency check takes limit_ms: give limit, in the check's unit",
        ));
    }
    if check.limit.is_some() {
        return Err(ctx.err(field("limit_ms"), "give limit (µs) or limit_ms, not both"));
    }
    Ok(ms.saturating_mul(US_PER_MS))
}

const US_PER_MS: u64 = 1000;

/// The workers a check selects must be comparable (`throughput-cv`, `min-rate`: of one
/// work type) or measure what it judges (`latency`: a work type that times its
/// wake-ups).
fn compared_workers(
    ctx: &Ctx,
    check: &CheckFile,
    kind: &CheckSpec,
    groups: &[Spawn],
) -> Result<(), ScenarioError> {
    let field = |key: &str| format!("[[check]] \"{}\".{key}", check.name);
    if check.group.as_ref().is_some_and(|g| ctx.is_failed_group(g)) {
        return Ok(());
    }
    let picked: Vec<&Spawn> = groups
        .iter()
        .filter(|g| check.group.as_ref().is_none_or(|n| &g.group == n))
        .collect();
    if kind.scope == Scope::SameWork && check.group.is_none() {
        let works: BTreeSet<&str> = picked.iter().map(|g| g.work.as_str()).collect();
        if works.len() > 1 {
            let works: Vec<&str> = works.into_iter().collect();
            return Err(ctx.err(
                field("group"),
                format!(
                    "missing: {} compares workers of one work type, and this scenario runs {}: \
                     name a group",
                    kind.name(),
                    works.join(", ")
                ),
            ));
        }
    }
    let times_wakes =
        |g: &&Spawn| catalog::work_type(&g.work).is_some_and(|w| w.measures_latency());
    if kind.kind == CheckKind::Latency && !picked.iter().any(times_wakes) {
        let works: Vec<&str> = LATENCY_WORKS.iter().map(|w| w.name).collect();
        let what = match &check.group {
            Some(g) => format!("group {g:?} runs no such work"),
            None => "no group runs such work".to_string(),
        };
        return Err(ctx.err(
            field(if check.group.is_some() {
                "group"
            } else {
                "name"
            }),
            format!(
                "latency judges workers that time their wake-ups ({}), and {what}",
                works.join(", ")
            ),
        ));
    }
    Ok(())
}

/// `percentile` (`latency`) and `window_ms` (`imbalance`): only for their check, in
/// their vocabulary or range, and the default for their check where not given.
fn check_params(
    ctx: &Ctx,
    check: &CheckFile,
    kind: CheckKind,
) -> Result<CheckParams, ScenarioError> {
    let field = |key: &str| format!("[[check]] \"{}\".{key}", check.name);
    if check.percentile.is_some() && kind != CheckKind::Latency {
        return Err(ctx.err(
            field(KEY_PERCENTILE),
            "only the latency check takes a percentile",
        ));
    }
    if check.window_ms.is_some() && kind != CheckKind::Imbalance {
        return Err(ctx.err(
            field(KEY_WINDOW_MS),
            "only the imbalance check takes a window",
        ));
    }
    let percentile = match &check.percentile {
        Some(p) => Some(Percentile::parse(p.as_bytes()).ok_or_else(|| {
            ctx.err(
                field(KEY_PERCENTILE),
                format!(
                    "unknown percentile {p:?}: use one of {}",
                    catalog::words::<Percentile>()
                ),
            )
        })?),
        None => (kind == CheckKind::Latency).then_some(DEFAULT_PERCENTILE),
    };
    let (lo, hi) = (MIN_IMBALANCE_WINDOW_MS, MAX_IMBALANCE_WINDOW_MS);
    let window_ms = match check.window_ms {
        Some(ms) if !(lo..=hi).contains(&ms) => {
            return Err(ctx.err(
                field(KEY_WINDOW_MS),
                format!("{ms} ms is not within {lo}..{hi} ms"),
            ))
        }
        Some(ms) => Some(ms),
        None => (kind == CheckKind::Imbalance).then_some(DEFAULT_IMBALANCE_WINDOW_MS),
    };
    Ok(CheckParams {
        percentile,
        window_ms,
    })
}

/// `allow` and `expect` of a `kernel-log` check, each a regular expression that compiles.
fn log_rules(ctx: &Ctx, check: &CheckFile, kind: CheckKind) -> Result<LogRules, ScenarioError> {
    let field = |key: &str| format!("[[check]] \"{}\".{key}", check.name);
    for (key, patterns) in [("allow", &check.allow), ("expect", &check.expect)] {
        if patterns.is_empty() {
            continue;
        }
        if kind != CheckKind::KernelLog {
            return Err(ctx.err(
                field(key),
                "only the kernel-log check takes allow and expect patterns",
            ));
        }
        for (i, pattern) in patterns.iter().enumerate() {
            if let Err(e) = regex::Regex::new(pattern) {
                return Err(ctx.err(
                    format!("{}[{i}]", field(key)),
                    format!("{pattern:?} is not a regular expression (Rust regex syntax): {e}"),
                ));
            }
        }
    }
    Ok(LogRules {
        allow: check.allow.clone(),
        expect: check.expect.clone(),
    })
}

/// A check's limit when the scenario gives none: the catalog's, but for `stall` grown
/// with the workers that may be runnable on the busiest CPU (with the CPUs steps take
/// offline gone) and with the class switches of the busiest step.
fn default_limit(ctx: &Ctx, name: &str, l: &Load) -> u64 {
    let Some(kind) = catalog::check_kind(name) else {
        return 0;
    };
    if kind.kind != CheckKind::Stall {
        return kind.default_limit;
    }
    let machine = ctx.vm.layout().cpus().collect();
    let per_cpu = load::runnable_per_cpu(&machine, l.groups, l.cgroup_cpus, &l.offline());
    catalog::default_stall_limit_ms(per_cpu, l.class_switches())
}
