//! The plan validator: syntax, structure, values and resources, line by line. The
//! guest runs it over the whole plan before executing anything, so a bad line 50 never
//! leaves scenarios half run; the host runs it over every plan it compiles, so anything
//! the guest would refuse is refused before a VM starts.

use crate::checks;
use crate::cpulist::CpuMask;
use crate::limits::{
    MAX_CGROUPS, MAX_CGROUP_DEPTH, MAX_CHECKS, MAX_HOLD_MS, MAX_LINE, MAX_NAME, MAX_PATH,
    MAX_PAYLOADS, MAX_SCHEDULERS, MAX_WORKERS, NICE_RANGE, PLAN_VERSION, RT_PRIO_RANGE,
};
use crate::line::{lines, parse_line, Line, Values};
use crate::msg;
use crate::msg::{parse_i64, parse_u64, Lossy, Msg};
use crate::vocab::{Expect, Op, Policy, SchedulerStart, Spec, Until, Verb, Word, REPEATABLE};
use crate::works;

/// Checks keys against a spec (plus `extra` keys, the work keys of a spawn).
fn check_keys(
    line: &Line<'_>,
    spec: &Spec,
    what: Subject,
    extra: &[works::Key],
) -> Result<(), Msg> {
    for (i, f) in line.fields().iter().enumerate() {
        let known = spec.required.contains(&f.key)
            || spec.optional.contains(&f.key)
            || extra.iter().any(|k| k.name == f.key);
        if !known {
            return Err(msg!("unknown key \"{}\" for {}", f.key, what));
        }
        if !REPEATABLE.contains(&f.key) && line.fields()[..i].iter().any(|g| g.key == f.key) {
            return Err(msg!("key \"{}\" given twice", f.key));
        }
    }
    for key in spec.required {
        if line.get(key).is_none() {
            return Err(msg!("{} needs {}=", what, key));
        }
    }
    Ok(())
}

/// A name: one cgroup component, group, scenario, file or payload name.
pub fn is_name(v: &[u8]) -> bool {
    !v.is_empty()
        && v.len() <= MAX_NAME
        && v != b"."
        && v != b".."
        && !v.contains(&b'/')
        && !v.contains(&0)
}

/// A cgroup path relative to the scenario root: `a/b`; empty means the root itself.
pub fn is_rel_path(v: &[u8]) -> bool {
    v.len() <= MAX_PATH
        && (v.is_empty()
            || (v.split(|&c| c == b'/').all(is_name)
                && v.split(|&c| c == b'/').count() <= MAX_CGROUP_DEPTH))
}

/// What a line is about: its verb, or for `op` lines the op.
#[derive(Clone, Copy)]
enum Subject {
    Verb(Verb),
    Op(Op),
}

impl Subject {
    /// Whether its `path=` is a file in the guest (else a cgroup path).
    fn path_is_file(self) -> bool {
        match self {
            Subject::Verb(verb) => verb == Verb::Scheduler,
            Subject::Op(op) => op.path_is_file(),
        }
    }
}

impl core::fmt::Display for Subject {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Subject::Verb(verb) => verb.fmt(f),
            Subject::Op(op) => op.fmt(f),
        }
    }
}

/// Checks the value of one key by what the key means (`path` is a file for the
/// scheduler, payloads and the `write` op, a cgroup for the other ops).
fn check_value(what: Subject, key: &str, val: &[u8]) -> Result<(), Msg> {
    let in_range = |(lo, hi): (u64, u64)| parse_u64(val).is_some_and(|n| (lo..=hi).contains(&n));
    let ok = match key {
        "path" if what.path_is_file() => {
            val.first() == Some(&b'/') && !val.contains(&0) && val.len() <= MAX_PATH
        }
        "arg" => !val.contains(&0),
        "nice" => parse_i64(val).is_some_and(|n| (NICE_RANGE.0..=NICE_RANGE.1).contains(&n)),
        "policy" => Policy::parse(val).is_some(),
        "prio" => parse_u64(val).is_some(),
        "affinity" | "cpus" => CpuMask::parse(val).is_some_and(|m| !m.is_empty()),
        "kmsg" | "forward" | "threads" => val == b"0" || val == b"1",
        "percentile" => checks::Percentile::parse(val).is_some(),
        "work" => works::work(val).is_some(),
        "expect" => Expect::parse(val).is_some(),
        "until" => Until::parse(val).is_some(),
        "scheduler" => SchedulerStart::parse(val).is_some(),
        "group" | "file" | "name" | "label" => is_name(val),
        "cgroup" | "path" | "from" | "to" => is_rel_path(val),
        "count" => in_range((1, MAX_WORKERS as u64)),
        "limit" => parse_u64(val).is_some(),
        "hold_ms" => in_range((1, MAX_HOLD_MS)),
        "heartbeat_ms" | "sample_ms" => in_range((1, u64::MAX)),
        k if k.ends_with("_ms") || k.ends_with("_us") || k.ends_with("_kb") => {
            parse_u64(val).is_some()
        }
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(msg!("bad value {:?} for {}", Lossy(val), key))
    }
}

/// A spawn with `threads=1` runs its workers as threads of one process: only work
/// that can (`works::THREAD_WORKS`), and without `expect` (the OOM killer ends the whole
/// thread group, and only fork-churn, which forks, can have its forks refused).
fn check_threads(line: &Line<'_>, work: Option<&works::Work>) -> Result<(), Msg> {
    if let Some(work) = work.filter(|w| !w.runs_as_threads()) {
        return Err(msg!(
            "work {} cannot run as threads (threads=1): it forks, moves between cgroups, \
             signals its teammates or shares pipes or per-process state; leave threads= \
             out for it",
            work.name
        ));
    }
    if line.get("expect").is_some() {
        return Err(msg!(
            "threads=1 cannot take expect=: the limit would end the whole thread group"
        ));
    }
    Ok(())
}

/// The keys only one check takes: `percentile` (`latency`) and `window_ms`
/// (`imbalance`, within its bounds).
fn check_check_params(line: &Line<'_>, kind: checks::CheckKind) -> Result<(), Msg> {
    use checks::{CheckKind, KEY_PERCENTILE, KEY_WINDOW_MS};
    if line.get(KEY_PERCENTILE).is_some() && kind != CheckKind::Latency {
        return Err(msg!("only the latency check takes {KEY_PERCENTILE}="));
    }
    if line.get(KEY_WINDOW_MS).is_some() && kind != CheckKind::Imbalance {
        return Err(msg!("only the imbalance check takes {KEY_WINDOW_MS}="));
    }
    let (lo, hi) = (
        checks::MIN_IMBALANCE_WINDOW_MS,
        checks::MAX_IMBALANCE_WINDOW_MS,
    );
    match line.num(KEY_WINDOW_MS) {
        Some(ms) if !(lo..=hi).contains(&ms) => {
            Err(msg!("{KEY_WINDOW_MS} of {ms} is not within {lo}..{hi}"))
        }
        _ => Ok(()),
    }
}

/// A work key's value: one of its words, or a number in its range.
fn check_work_key(work: &works::Work, key: &works::Key, text: &[u8]) -> Result<(), Msg> {
    match key.value_of(text) {
        Some(v) if (key.min..=key.max).contains(&v) => Ok(()),
        _ if !key.words.is_empty() => Err(msg!(
            "{} of {} is {:?}: give one of {}",
            key.name,
            work.name,
            Lossy(text),
            Words(key.words)
        )),
        _ => Err(msg!(
            "{} of {} is out of range: give {} to {}",
            key.name,
            work.name,
            key.min,
            key.max
        )),
    }
}

/// Words joined by ", " for messages.
struct Words(&'static [&'static str]);

impl core::fmt::Display for Words {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (i, w) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(w)?;
        }
        Ok(())
    }
}

/// What a plan holds at most, for the host to size the VM by.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub scenarios: usize,
    /// The most workers one scenario forks.
    pub max_workers: usize,
}

/// What the current scenario has used of the guest's tables.
#[derive(Default)]
struct Used {
    workers: usize,
    checks: usize,
    cgroups: usize,
    payloads: usize,
    /// The run's scheduler was detached by a step and not attached again.
    detached: bool,
    /// CPUs a step took offline and none brought back.
    offline: CpuMask,
}

/// Where the validator is in the plan's structure.
#[derive(Default)]
pub struct Validator {
    seen_version: bool,
    seen_config: bool,
    seen_scheduler: bool,
    /// The labelled `scheduler` lines so far, by [`label_key`], and how many.
    labels: [u64; MAX_SCHEDULERS],
    label_count: usize,
    seen_scenario: bool,
    in_scenario: bool,
    in_step: bool,
    used: Used,
    pub summary: Summary,
}

impl Validator {
    /// Validates one parsed line in context.
    pub fn line(&mut self, line: &Line<'_>) -> Result<(), Msg> {
        let Some(verb) = Verb::parse(line.verb.as_bytes()) else {
            return Err(msg!("unknown verb \"{}\"", line.verb));
        };
        self.order_of_version(verb)?;
        let what = match verb {
            Verb::Version => {
                self.version(line)?;
                Subject::Verb(verb)
            }
            Verb::Op => Subject::Op(self.op(line)?),
            Verb::Check => {
                self.check(line)?;
                Subject::Verb(verb)
            }
            Verb::Scheduler => {
                check_keys(line, &verb.spec(), Subject::Verb(verb), &[])?;
                self.scheduler_line(line)?;
                Subject::Verb(verb)
            }
            Verb::Scenario => {
                check_keys(line, &verb.spec(), Subject::Verb(verb), &[])?;
                self.structure(verb)?;
                self.scenario_start(line)?;
                Subject::Verb(verb)
            }
            _ => {
                check_keys(line, &verb.spec(), Subject::Verb(verb), &[])?;
                self.structure(verb)?;
                Subject::Verb(verb)
            }
        };
        if line.bare.is_some() && !verb.takes_bare() {
            return Err(msg!("{verb} takes only key=value fields"));
        }
        for f in line.fields() {
            check_value(what, f.key, f.val)?;
        }
        Ok(())
    }

    fn order_of_version(&self, verb: Verb) -> Result<(), Msg> {
        let is_version = verb == Verb::Version;
        match (self.seen_version, is_version) {
            (false, false) => Err(msg!(
                "plan must start with \"schedbox-plan {PLAN_VERSION}\""
            )),
            (true, true) => Err(msg!("schedbox-plan given twice")),
            _ => Ok(()),
        }
    }

    fn version(&mut self, line: &Line<'_>) -> Result<(), Msg> {
        if line.bare != Some(PLAN_VERSION) || !line.fields().is_empty() {
            return Err(msg!(
                "unsupported plan version (this init reads \"schedbox-plan {PLAN_VERSION}\")"
            ));
        }
        self.seen_version = true;
        Ok(())
    }

    fn need_scenario(&self, what: Verb) -> Result<(), Msg> {
        if self.in_scenario {
            Ok(())
        } else {
            Err(msg!("{what} outside a scenario"))
        }
    }

    fn check(&mut self, line: &Line<'_>) -> Result<(), Msg> {
        check_keys(line, &Verb::Check.spec(), Subject::Verb(Verb::Check), &[])?;
        self.need_scenario(Verb::Check)?;
        let name = line.get("name").unwrap_or_default();
        let Some(kind) = checks::check(name) else {
            return Err(msg!("unknown check {:?}", Lossy(name)));
        };
        if line.num("limit").is_some_and(|l| l > kind.max_limit) {
            return Err(msg!(
                "limit of {} above {}, where it could never fail",
                kind.name(),
                kind.max_limit
            ));
        }
        if line.get(checks::KEY_FORWARD).is_some() && kind.kind != checks::CheckKind::KernelLog {
            return Err(msg!("only the kernel-log check takes forward="));
        }
        check_check_params(line, kind.kind)?;
        self.used.checks += 1;
        if self.used.checks > MAX_CHECKS {
            return Err(msg!("more than {MAX_CHECKS} checks in one scenario"));
        }
        Ok(())
    }

    /// The ordering rules of the verbs other than op and check.
    fn structure(&mut self, verb: Verb) -> Result<(), Msg> {
        match verb {
            Verb::Config => {
                if core::mem::replace(&mut self.seen_config, true) {
                    return Err(msg!("{verb} given twice"));
                }
                self.before_scenarios(verb)?;
            }
            Verb::Scenario => {
                if self.in_scenario {
                    return Err(msg!("scenario inside a scenario (missing end)"));
                }
                self.in_scenario = true;
                self.seen_scenario = true;
                self.in_step = false;
                self.used = Used::default();
                self.summary.scenarios += 1;
            }
            Verb::Step => {
                self.need_scenario(verb)?;
                self.in_step = true;
            }
            Verb::End => {
                self.need_scenario(verb)?;
                self.in_scenario = false;
                self.in_step = false;
            }
            _ => {}
        }
        Ok(())
    }

    fn before_scenarios(&self, verb: Verb) -> Result<(), Msg> {
        if self.seen_scenario {
            return Err(msg!("{verb} must come before the first scenario"));
        }
        Ok(())
    }

    /// A `scheduler` line: the run's (no `label=`, at most one) or a labelled one that
    /// scheduler ops name, each label once, all before the first scenario.
    fn scheduler_line(&mut self, line: &Line<'_>) -> Result<(), Msg> {
        self.before_scenarios(Verb::Scheduler)?;
        let Some(label) = line.get("label") else {
            if core::mem::replace(&mut self.seen_scheduler, true) {
                return Err(msg!(
                    "the run's scheduler (a scheduler line without label=) given twice"
                ));
            }
            return Ok(());
        };
        if self.has_label(label) {
            return Err(msg!("scheduler label={:?} given twice", Lossy(label)));
        }
        if self.label_count == MAX_SCHEDULERS {
            return Err(msg!("more than {MAX_SCHEDULERS} labelled schedulers"));
        }
        self.labels[self.label_count] = label_key(label);
        self.label_count += 1;
        Ok(())
    }

    fn has_label(&self, label: &[u8]) -> bool {
        self.labels[..self.label_count].contains(&label_key(label))
    }

    /// `scenario scheduler=detached`: the run's scheduler is not attached when the
    /// scenario's first step begins.
    fn scenario_start(&mut self, line: &Line<'_>) -> Result<(), Msg> {
        let start = line.get("scheduler").and_then(SchedulerStart::parse);
        if start == Some(SchedulerStart::Detached) {
            if !self.seen_scheduler {
                return Err(msg!(
                    "scenario scheduler=detached needs a scheduler line before the first scenario"
                ));
            }
            self.used.detached = true;
        }
        Ok(())
    }

    /// Validates an `op` line; the op it names.
    fn op(&mut self, line: &Line<'_>) -> Result<Op, Msg> {
        let Some(name) = line.bare else {
            return Err(msg!("op needs an op name: op <name> key=value ..."));
        };
        let Some(op) = Op::parse(name.as_bytes()) else {
            return Err(msg!("unknown op \"{name}\""));
        };
        let work = line.get("work").and_then(works::work);
        let work_keys = match work {
            Some(w) if op == Op::Spawn => w.keys,
            _ => &[],
        };
        check_keys(line, &op.spec(), Subject::Op(op), work_keys)?;
        if !self.in_step {
            return Err(msg!("op outside a step"));
        }
        match op {
            Op::Spawn => self.spawn(line, work)?,
            Op::CgroupAdd => self.count_use(UsedKind::Cgroup)?,
            Op::Payload => self.count_use(UsedKind::Payload)?,
            op if op.is_scheduler_op() => self.scheduler_op(op, line.get("label"))?,
            op if op.is_hotplug() => self.hotplug(op, line)?,
            _ => {}
        }
        Ok(op)
    }

    /// A scheduler op needs the run's scheduler, attached (detach, restart, replace)
    /// or detached (attach) at that point, and the scheduler line its `label=` names.
    fn scheduler_op(&mut self, op: Op, label: Option<&[u8]>) -> Result<(), Msg> {
        if !self.seen_scheduler {
            return Err(msg!(
                "{op} needs a scheduler line before the first scenario"
            ));
        }
        if let Some(label) = label.filter(|l| !self.has_label(l)) {
            return Err(msg!(
                "{op}: no scheduler line with label={:?} before the first scenario",
                Lossy(label)
            ));
        }
        let detached = &mut self.used.detached;
        match (op, *detached) {
            (Op::SchedulerAttach, false) => Err(msg!("{op}: the scheduler is attached here")),
            (Op::SchedulerAttach, true) => {
                *detached = false;
                Ok(())
            }
            (_, true) => Err(msg!("{op}: the scheduler is detached here")),
            (Op::SchedulerDetach, false) => {
                *detached = true;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// CPU 0 never goes offline (the kernel keeps it); a CPU goes offline only when
    /// online and comes back only when offline.
    fn hotplug(&mut self, op: Op, line: &Line<'_>) -> Result<(), Msg> {
        let cpus = line
            .get("cpus")
            .and_then(CpuMask::parse)
            .unwrap_or_default();
        if cpus.has(0) {
            return Err(msg!("{op}: CPU 0 cannot be taken offline or brought back"));
        }
        let offline = &mut self.used.offline;
        for (i, (want, now)) in cpus.0.iter().zip(offline.0.iter_mut()).enumerate() {
            let clash = if op == Op::CpuOffline {
                want & *now
            } else {
                want & !*now
            };
            if clash != 0 {
                let cpu = i * 64 + clash.trailing_zeros() as usize;
                let state = if op == Op::CpuOffline {
                    "offline"
                } else {
                    "online"
                };
                return Err(msg!("{op}: CPU {cpu} is {state} here"));
            }
            if op == Op::CpuOffline {
                *now |= want;
            } else {
                *now &= !want;
            }
        }
        Ok(())
    }

    fn count_use(&mut self, kind: UsedKind) -> Result<(), Msg> {
        let (used, max, what) = match kind {
            UsedKind::Cgroup => (&mut self.used.cgroups, MAX_CGROUPS, "cgroups"),
            UsedKind::Payload => (&mut self.used.payloads, MAX_PAYLOADS, "payloads"),
        };
        *used += 1;
        if *used > max {
            return Err(msg!("more than {max} {what} in one scenario"));
        }
        Ok(())
    }

    /// A spawn's count, work keys and scheduling settings, and the scenario's workers.
    fn spawn(&mut self, line: &Line<'_>, work: Option<&works::Work>) -> Result<(), Msg> {
        let count = line.num("count").unwrap_or(1) as usize;
        if let Some(work) = work {
            if work.paired && !count.is_multiple_of(2) {
                return Err(msg!("{} pairs workers up: give an even count", work.name));
            }
            for key in work.keys {
                if let Some(text) = line.get(key.name) {
                    check_work_key(work, key, text)?;
                }
            }
        }
        if line.get("threads") == Some(b"1") {
            check_threads(line, work)?;
        }
        let rt = line
            .get("policy")
            .and_then(Policy::parse)
            .is_some_and(Policy::is_realtime);
        match (rt, line.num("prio")) {
            (true, Some(p)) if (RT_PRIO_RANGE.0..=RT_PRIO_RANGE.1).contains(&p) => {}
            (true, _) => {
                return Err(msg!(
                    "fifo and rr need prio={}..{}",
                    RT_PRIO_RANGE.0,
                    RT_PRIO_RANGE.1
                ))
            }
            (false, Some(p)) if p != 0 => return Err(msg!("prio is for fifo and rr only")),
            (false, _) => {}
        }
        self.used.workers += count;
        if self.used.workers > MAX_WORKERS {
            return Err(msg!("more than {MAX_WORKERS} workers in one scenario"));
        }
        self.summary.max_workers = self.summary.max_workers.max(self.used.workers);
        Ok(())
    }

    /// Checks what can only be known at the end of the plan.
    pub fn finish(&self) -> Result<Summary, Msg> {
        if !self.seen_version {
            return Err(msg!(
                "empty plan (expected \"schedbox-plan {PLAN_VERSION}\")"
            ));
        }
        if self.in_scenario {
            return Err(msg!("last scenario has no end"));
        }
        Ok(self.summary)
    }
}

enum UsedKind {
    Cgroup,
    Payload,
}

/// What the validator keeps of a scheduler label: its FNV-1a hash (it has no
/// allocator; two labels of one plan that collide are refused as given twice).
fn label_key(label: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;
    label
        .iter()
        .fold(OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

/// A plan error: the line number (0 for end of plan) and the message.
#[derive(Debug)]
pub struct PlanError {
    pub line: usize,
    pub msg: Msg,
}

impl core::fmt::Display for PlanError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.line {
            0 => write!(f, "end of plan: {}", self.msg),
            n => write!(f, "line {n}: {}", self.msg),
        }
    }
}

/// Validates a whole plan.
pub fn validate(plan: &[u8]) -> Result<Summary, PlanError> {
    let mut v = Validator::default();
    let mut scratch = [0u8; MAX_LINE];
    for (no, raw) in lines(plan) {
        let line = parse_line(raw, &mut scratch, Values::Text)
            .map_err(|msg| PlanError { line: no, msg })?;
        v.line(&line).map_err(|msg| PlanError { line: no, msg })?;
    }
    v.finish().map_err(|msg| PlanError { line: 0, msg })
}

#[cfg(test)]
mod tests;
