//! The plan interpreter: executes a validated plan line by line.

use crate::engine::cgroup::{self, Path};
use crate::engine::check::{self, CheckSpec};
use crate::engine::hotplug::Offline;
use crate::engine::monitor::{Monitor, Until};
use crate::engine::plan::{self, Line, MAX_LINE};
use crate::engine::setup::SchedParams;
use crate::engine::worker::{Name, Pool, RelPath, SpawnReq};
use crate::platform::buf::Buf;
use crate::platform::fail::Res;
use crate::platform::record::{Record, RecordKind, ScenarioOutcome};
use crate::platform::table::Table;
use crate::platform::{fail, record, sys};
use crate::sched_ext::scheduler::{Before, Scheduler, DEFAULT_ATTACH_MS};
use crate::topology::cpulist::CpuMask;
use crate::work::Expect;
use crate::work::{self, Params};

use schedbox_protocol::checks::{
    CheckKind, Percentile, DEFAULT_IMBALANCE_WINDOW_MS, DEFAULT_PERCENTILE, KEY_FORWARD,
    KEY_PERCENTILE, KEY_WINDOW_MS,
};
use schedbox_protocol::limits::{MAX_CGROUPS, MAX_CHECKS};
use schedbox_protocol::vocab::{Op, Policy, SchedulerStart, Until as UntilWord, Verb, Word};

#[derive(Default)]
struct Scenario {
    name: Name,
    root: Path,
    steps: u64,
    /// The current step's hold, done when the next step, check or end comes.
    pending_hold_ms: Option<u64>,
    /// The current step's hold ends early once no payload runs.
    until_payloads: bool,
    checks: Table<CheckSpec, MAX_CHECKS>,
    /// Cgroups made by `cgroup-add`, relative to the root, in creation order.
    created: Table<Path, MAX_CGROUPS>,
    /// PID 1's own CPU time when the scenario began: its cost is reported at the end.
    init_cpu_start_ns: u64,
    /// `error` records PID 1 had sent inside scenarios when this one began.
    errors_before: u32,
    /// CPUs its steps took offline, brought back at its end.
    offline: Offline,
}

pub struct Runner<'p> {
    plan: &'p [u8],
    pub pool: Pool,
    mon: Monitor,
    scen: Scenario,
}

impl<'p> Runner<'p> {
    pub fn new(plan: &'p [u8], pool: Pool) -> Self {
        Runner {
            plan,
            pool,
            mon: Monitor::default(),
            scen: Scenario::default(),
        }
    }

    pub fn heartbeat(&mut self) {
        self.mon.heartbeat_if_due();
    }

    /// After the plan (or a failure): kills payloads, stops the scheduler.
    pub fn shutdown(&mut self) {
        self.mon.payloads.kill_all();
        let mut sched = core::mem::take(&mut self.mon.sched);
        sched.stop(&mut || self.mon.heartbeat_if_due());
        self.mon.sched = sched;
    }

    /// Runs every line of the (already validated) plan. A failure inside a scenario
    /// ends that scenario only (`abort_scenario`), and the plan goes on after its
    /// `end`; one outside any scenario ends the run.
    pub fn run(&mut self) -> Res<()> {
        let plan = self.plan;
        let mut scratch = [0u8; MAX_LINE];
        let mut skipping = false;
        for (no, raw) in plan::lines(plan) {
            let line = plan::parse_line(raw, &mut scratch, plan::Values::Text)
                .map_err(|m| fail!(Plan, "line {}: {}", no, m));
            let is_end = matches!(&line, Ok(l) if verb(l) == Some(Verb::End));
            if skipping {
                skipping = !is_end;
                continue;
            }
            if let Err(f) = line.and_then(|l| self.exec(no, &l)) {
                if !self.in_scenario() {
                    return Err(f);
                }
                self.abort_scenario(no, &f);
                skipping = !is_end;
            }
            self.mon.heartbeat_if_due();
        }
        Ok(())
    }

    fn in_scenario(&self) -> bool {
        !self.scen.name.is_empty()
    }

    /// Contains a failure inside a scenario: reports it (the `error` record names the
    /// scenario), kills its payloads and workers, removes its cgroups and ends it with
    /// `outcome=error`. `no`: the plan line that failed.
    fn abort_scenario(&mut self, no: usize, f: &fail::Fail) {
        Record::new(RecordKind::Error)
            .word("where", f.place)
            .str("msg", f.msg.as_bytes())
            .send();
        let name = self.scen.name.clone();
        self.mon.payloads.end(name.as_bytes());
        self.pool.kill_all();
        self.pool.done.clear();
        self.mon.kmsg.end();
        let restored = self.restore(no);
        let destroyed = cgroup::destroy_scenario(&self.scen.root, self.scen.created.as_slice());
        for f in [restored, destroyed]
            .iter()
            .filter_map(|r| r.as_ref().err())
        {
            Record::new(RecordKind::Error)
                .word("where", f.place)
                .str("msg", f.msg.as_bytes())
                .send();
        }
        self.close_scenario(ScenarioOutcome::Error);
    }

    /// The `scenario-end` record, and back to no scenario.
    fn close_scenario(&mut self, outcome: ScenarioOutcome) {
        Record::new(RecordKind::ScenarioEnd)
            .str("name", self.scen.name.as_bytes())
            .num("t_ms", sys::now_ms())
            .num(
                "init_cpu_ns",
                sys::own_cpu_ns().saturating_sub(self.scen.init_cpu_start_ns),
            )
            .num("hold_ms", self.mon.held_ns / sys::NS_PER_MS)
            .num("hold_cpu_ns", self.mon.held_cpu_ns)
            .word("outcome", outcome)
            .send();
        self.scen = Scenario::default();
        self.mon.stall_limit_ms = None;
        record::set_scenario(b"");
    }

    fn exec(&mut self, no: usize, line: &Line<'_>) -> Res<()> {
        let Some(verb) = verb(line) else {
            return Err(fail!(Plan, "line {}: unknown verb {:?}", no, line.verb));
        };
        match verb {
            Verb::Config => self.mon.configure(
                line.num("heartbeat_ms"),
                line.num("sample_ms"),
                line.get("kmsg") != Some(b"0"),
            ),
            Verb::Scenario => self.begin_scenario(no, line)?,
            Verb::Step => {
                self.finish_hold();
                Record::new(RecordKind::Step)
                    .str("scenario", self.scen.name.as_bytes())
                    .num("index", self.scen.steps)
                    .num("t_ms", sys::now_ms())
                    .send();
                self.scen.steps += 1;
                self.scen.pending_hold_ms = line.num("hold_ms");
                self.scen.until_payloads =
                    line.get("until").and_then(UntilWord::parse) == Some(UntilWord::Payloads);
            }
            Verb::Op => self.op(line)?,
            Verb::Check => {
                self.finish_hold();
                let name = line.get("name").unwrap_or_default();
                let Some(kind) = CheckKind::parse(name) else {
                    return Err(fail!(
                        Plan,
                        "line {}: unknown check {:?}",
                        no,
                        plan::Lossy(name)
                    ));
                };
                let spec = CheckSpec {
                    kind,
                    limit: line.num("limit").unwrap_or(0),
                    group: line.get("group").map(Name::from_bytes),
                    cgroup: line.get("cgroup").map(RelPath::from_bytes),
                    forward: line.get(KEY_FORWARD) == Some(b"1"),
                    percentile: line
                        .get(KEY_PERCENTILE)
                        .and_then(Percentile::parse)
                        .unwrap_or(DEFAULT_PERCENTILE),
                };
                if self.scen.checks.push(spec).is_err() {
                    return Err(fail!(
                        Plan,
                        "line {}: more than {} checks in one scenario",
                        no,
                        MAX_CHECKS
                    ));
                }
            }
            Verb::End => self.end_scenario(no)?,
            // A labelled scheduler line only names a program that scheduler ops start.
            Verb::Scheduler if line.get("label").is_some() => {}
            Verb::Scheduler => {
                let detached = next_starts_detached(self.plan, no);
                self.mon.sched =
                    Scheduler::start(line, detached, &mut || self.mon.heartbeat_if_due())?;
            }
            Verb::Version => {}
        }
        Ok(())
    }

    fn begin_scenario(&mut self, no: usize, line: &Line<'_>) -> Res<()> {
        let name = line.get("name").unwrap_or_default();
        self.scen = Scenario {
            name: Name::from_bytes(name),
            init_cpu_start_ns: sys::own_cpu_ns(),
            errors_before: record::contained_errors(),
            ..Scenario::default()
        };
        self.mon.stall_limit_ms = stall_limit(self.plan, no);
        let forward = forwards_kmsg(self.plan, no).then_some(name);
        self.mon.begin_scenario(forward);
        if starts_detached(line) && self.mon.sched.is_enabled() {
            self.with_watched_scheduler(|sched, tick| sched.detach(None, tick));
        }
        self.mon.runqueues.begin(imbalance_window(self.plan, no));
        self.mon.sched.begin_scenario();
        self.pool.done.clear();
        Record::new(RecordKind::Scenario)
            .str("name", name)
            .num("t_ms", sys::now_ms())
            .send();
        record::set_scenario(name);
        self.scen.root = cgroup::create_scenario_root(name)?;
        Ok(())
    }

    fn finish_hold(&mut self) {
        if let Some(ms) = self.scen.pending_hold_ms.take() {
            let until = if self.scen.until_payloads {
                Until::PayloadsEnded
            } else {
                Until::Time
            };
            self.mon
                .hold(&mut self.pool, self.scen.name.as_bytes(), ms, until);
        }
    }

    fn end_scenario(&mut self, no: usize) -> Res<()> {
        self.finish_hold();
        let name = self.scen.name.clone();
        self.mon.payloads.end(name.as_bytes());
        // Take a last sample so a gap still open at the end counts.
        self.mon
            .sample(&mut self.pool, name.as_bytes(), sys::now_ns());
        self.mon.mark_usage(&self.pool, &self.scen.root);
        self.mon
            .close_stalls(&mut self.pool, name.as_bytes(), |_| true);
        self.pool.stop(name.as_bytes(), &self.scen.root, |_| true)?;
        self.mon.kmsg.end();
        let kmsg = match self.mon.kmsg.off {
            Some(why) => Err(why),
            None => Ok(check::KernelLog {
                count: self.mon.kmsg.count,
                first: self.mon.kmsg.first.as_bytes(),
                forwarded: self.mon.kmsg.forwarded,
                dropped: self.mon.kmsg.forward_dropped,
            }),
        };
        let scene = check::Scene {
            outcomes: self.pool.done.as_slice(),
            root: self.scen.root.as_bytes(),
            usage: self.mon.usage.as_slice(),
            kmsg,
            runqueues: &self.mon.runqueues,
        };
        let mut passed = true;
        for spec in self.scen.checks.as_slice() {
            if spec.kind == CheckKind::Scheduler {
                passed &= self.mon.sched.check(name.as_bytes(), spec);
                continue;
            }
            let verdict = check::evaluate(spec, &scene);
            match scene.kmsg {
                Ok(log) if spec.forward && spec.kind == CheckKind::KernelLog => {
                    check::report_forwarded(name.as_bytes(), spec, &verdict, &log)
                }
                _ => check::report(name.as_bytes(), spec, &verdict),
            }
            passed &= verdict.pass;
        }
        self.mon.kmsg.stop_forwarding();
        self.restore(no)?;
        cgroup::destroy_scenario(&self.scen.root, self.scen.created.as_slice())?;
        // A worker that ended before it was stopped (an error record) leaves the
        // scenario not carried out, whatever its checks say.
        let outcome = if record::contained_errors() != self.scen.errors_before {
            ScenarioOutcome::Error
        } else if passed {
            ScenarioOutcome::Pass
        } else {
            ScenarioOutcome::Fail
        };
        self.close_scenario(outcome);
        Ok(())
    }

    fn op(&mut self, line: &Line<'_>) -> Res<()> {
        let name = line.bare.unwrap_or("");
        let Some(op) = Op::parse(name.as_bytes()) else {
            return Err(fail!(Plan, "unknown op {}", name));
        };
        if matches!(op, Op::Stop | Op::Move) {
            self.mon.mark_usage(&self.pool, &self.scen.root);
        }
        self.exec_op(op, line)?;
        if op != Op::Stop {
            self.mon.after_change(&mut self.pool, &self.scen.root);
        }
        Ok(())
    }

    fn exec_op(&mut self, op: Op, line: &Line<'_>) -> Res<()> {
        let root = &self.scen.root;
        let path = line.get("path").unwrap_or_default();
        match op {
            Op::CgroupAdd => {
                cgroup::add(root, path)?;
                if self.scen.created.push(Path::from_bytes(path)).is_err() {
                    return Err(fail!(
                        Cgroup,
                        "more than {} cgroups in one scenario",
                        MAX_CGROUPS
                    ));
                }
            }
            Op::CgroupRemove => cgroup::remove(root, path)?,
            Op::CgroupSet => cgroup::set(
                root,
                path,
                line.get("file").unwrap_or_default(),
                line.get("value").unwrap_or_default(),
            )?,
            Op::Spawn => self.spawn(line)?,
            Op::Write => write(path, line.get("value").unwrap_or_default())?,
            Op::Payload => self.mon.payloads.start(root, line)?,
            Op::Stop => {
                let group = line.get("group").unwrap_or_default();
                let name = self.scen.name.as_bytes();
                self.mon.sample(&mut self.pool, name, sys::now_ns());
                self.mon
                    .close_stalls(&mut self.pool, name, |w| w.group.eq_bytes(group));
                self.pool
                    .stop(self.scen.name.as_bytes(), &self.scen.root, |w| {
                        w.group.eq_bytes(group)
                    })?;
            }
            Op::Move => {
                let (from, to) = (
                    line.get("from").unwrap_or_default(),
                    line.get("to").unwrap_or_default(),
                );
                cgroup::move_all(root, from, to)?;
                self.pool.moved(from, to);
            }
            Op::Affinity => {
                let cpus = CpuMask::parse(line.get("cpus").unwrap_or_default()).unwrap_or_default();
                self.pool
                    .set_affinity(line.get("group").unwrap_or_default(), &cpus)?;
            }
            Op::SchedulerDetach
            | Op::SchedulerAttach
            | Op::SchedulerRestart
            | Op::SchedulerReplace => self.scheduler_op(op, line.get("label"))?,
            Op::CpuOffline | Op::CpuOnline => {
                let cpus = CpuMask::parse(line.get("cpus").unwrap_or_default()).unwrap_or_default();
                let name = self.scen.name.as_bytes();
                let online = op == Op::CpuOnline;
                let before = self.mon.sched.before(Some(op));
                self.scen.offline.change(name, &self.pool, &cpus, online)?;
                self.scheduler_after_hotplug(before);
            }
        }
        Ok(())
    }

    /// A scheduler op, with the workers watched while it waits on the kernel. An
    /// attach or a replacement starts the line `label` names (the run's without one);
    /// a restart starts again the one that ran.
    fn scheduler_op(&mut self, op: Op, label: Option<&[u8]>) -> Res<()> {
        let plan = self.plan;
        self.with_watched_scheduler(|sched, tick| {
            let label = match op {
                Op::SchedulerRestart => sched.line_label().map(Label::from_bytes),
                _ => label.map(Label::from_bytes),
            };
            if op != Op::SchedulerAttach {
                sched.detach(Some(op), tick);
            }
            if op == Op::SchedulerDetach {
                return Ok(());
            }
            let label = label.as_ref().map(Label::as_bytes);
            with_scheduler_line(plan, label, |line| sched.attach(line, Some(op), tick))
        })
    }

    /// After a CPU hotplug: the scheduler may be exited by the kernel and attach again.
    fn scheduler_after_hotplug(&mut self, before: Before) {
        let attach_ms = scheduler_attach_ms(self.plan);
        self.with_watched_scheduler(|sched, tick| sched.after_hotplug(before, attach_ms, tick));
    }

    /// Runs `f` on the scheduler with a `tick` that keeps sampling the scenario's
    /// workers, so that a transition's wait on the kernel is watched like a hold.
    fn with_watched_scheduler<R>(
        &mut self,
        f: impl FnOnce(&mut Scheduler, &mut dyn FnMut()) -> R,
    ) -> R {
        let mut sched = core::mem::take(&mut self.mon.sched);
        let name = self.scen.name.clone();
        let (mon, pool) = (&mut self.mon, &mut self.pool);
        let mut next = sys::now_ns();
        let mut tick = || mon.watch_due(pool, name.as_bytes(), &mut next);
        let result = f(&mut sched, &mut tick);
        self.mon.sched = sched;
        result
    }

    /// The scenario's end (`no`: a line of it): every CPU it took offline comes back,
    /// a scheduler that replaced the run's leaves (failed or not), and the run's
    /// scheduler is attached
    /// again if a step left it detached, unless the next scenario starts detached; so
    /// that the next scenario starts as the plan says.
    fn restore(&mut self, no: usize) -> Res<()> {
        let name = self.scen.name.clone();
        if !self.scen.offline.is_empty() {
            let before = self.mon.sched.before(Some(Op::CpuOnline));
            self.scen.offline.restore(name.as_bytes(), &self.pool)?;
            self.scheduler_after_hotplug(before);
        }
        // A replacement leaves whatever became of it: its failure was this scenario's,
        // and the run's scheduler, detached on request, comes back for the next.
        if self.mon.sched.line_label().is_some() && !self.mon.sched.is_detached() {
            let mut sched = core::mem::take(&mut self.mon.sched);
            sched.detach(None, &mut || self.mon.heartbeat_if_due());
            self.mon.sched = sched;
        }
        if self.mon.sched.is_detached() && !next_starts_detached(self.plan, no) {
            let plan = self.plan;
            let mut sched = core::mem::take(&mut self.mon.sched);
            let mon = &mut self.mon;
            let res = with_scheduler_line(plan, None, |line| {
                sched.attach(line, None, &mut || mon.heartbeat_if_due())
            });
            self.mon.sched = sched;
            res?;
        }
        Ok(())
    }

    fn spawn(&mut self, line: &Line<'_>) -> Res<()> {
        let work_name = line.get("work").unwrap_or_default();
        let Some(spec) = work::spec(work_name) else {
            return Err(fail!(Spawn, "unknown work {:?}", plan::Lossy(work_name)));
        };
        let sched = SchedParams {
            policy: policy(line.get("policy").and_then(Policy::parse)),
            prio: line.num("prio").unwrap_or(0) as u32,
            nice: line.int("nice").unwrap_or(0) as i32,
            affinity: line.get("affinity").and_then(CpuMask::parse),
        };
        let req = SpawnReq {
            group: line.get("group").unwrap_or_default(),
            cgroup: line.get("cgroup").unwrap_or_default(),
            work: spec,
            count: line.num("count").unwrap_or(1) as u32,
            sched,
            params: Params::from_fn(spec, |k| line.get(k)),
            expect: line
                .get("expect")
                .and_then(Expect::parse)
                .unwrap_or_default(),
            threads: line.get("threads") == Some(b"1"),
        };
        let first = self.pool.spawn(&self.scen.root, &req)?;
        self.mon
            .wait_ready(&mut self.pool, self.scen.name.as_bytes(), first)
    }
}

/// A scheduler line's `label=`, kept while the plan is read again.
type Label = Buf<{ schedbox_protocol::limits::MAX_NAME }>;

/// Calls `f` with the plan's `scheduler` line that has `label` (the run's, without
/// `label=`, for None; the validator lets scheduler ops into a plan only with it).
fn with_scheduler_line(
    plan: &[u8],
    label: Option<&[u8]>,
    f: impl FnOnce(&Line<'_>) -> Res<()>,
) -> Res<()> {
    let mut scratch = [0u8; MAX_LINE];
    for (_, raw) in plan::lines(plan) {
        let Ok(line) = plan::parse_line(raw, &mut scratch, plan::Values::Text) else {
            continue;
        };
        if verb(&line) == Some(Verb::Scheduler) && line.get("label") == label {
            return f(&line);
        }
    }
    Err(fail!(
        Plan,
        "a scheduler op in a plan without its scheduler line"
    ))
}

/// Whether a `scenario` line says its scheduler starts detached.
fn starts_detached(line: &Line<'_>) -> bool {
    line.get("scheduler").and_then(SchedulerStart::parse) == Some(SchedulerStart::Detached)
}

/// Whether the first scenario after plan line `no` starts detached.
fn next_starts_detached(plan: &[u8], no: usize) -> bool {
    let mut scratch = [0u8; MAX_LINE];
    for (_, raw) in plan::lines(plan).skip_while(|(n, _)| *n <= no) {
        let Ok(line) = plan::parse_line(raw, &mut scratch, plan::Values::Text) else {
            continue;
        };
        if verb(&line) == Some(Verb::Scenario) {
            return starts_detached(&line);
        }
    }
    false
}

/// How long the plan's scheduler gets to attach; the default without a scheduler line.
fn scheduler_attach_ms(plan: &[u8]) -> u64 {
    let mut ms = DEFAULT_ATTACH_MS;
    let _ = with_scheduler_line(plan, None, |line| {
        ms = line.num("attach_ms").unwrap_or(DEFAULT_ATTACH_MS);
        Ok(())
    });
    ms
}

/// The `write` op: `value` to a file named by its absolute path.
fn write(path: &[u8], value: &[u8]) -> Res<()> {
    let file: Buf<{ plan::MAX_PATH + 1 }> = Buf::from_bytes(path);
    sys::write_file(file.as_cstr(), value).map_err(|e| {
        fail!(
            Write,
            "write {:?} to {}: {}",
            plan::Lossy(value),
            file,
            fail::Errno(e)
        )
    })
}

/// The kernel's number for a policy; none given is `other`.
fn policy(policy: Option<Policy>) -> u32 {
    match policy {
        Some(Policy::Batch) => sys::SCHED_BATCH,
        Some(Policy::Idle) => sys::SCHED_IDLE,
        Some(Policy::Fifo) => sys::SCHED_FIFO,
        Some(Policy::Rr) => sys::SCHED_RR,
        Some(Policy::Other) | None => sys::SCHED_OTHER,
    }
}

/// A plan line's verb; the plan was validated, so None only for a line it refused.
fn verb(line: &Line<'_>) -> Option<Verb> {
    Verb::parse(line.verb.as_bytes())
}

/// Whether a plan line is `check name=<kind>`.
fn is_check(line: &Line<'_>, kind: CheckKind) -> bool {
    verb(line) == Some(Verb::Check) && line.get("name") == Some(kind.word().as_bytes())
}

/// Calls `f` with each `check` line of `kind` in the scenario starting at line `start`.
fn each_check(plan: &[u8], start: usize, kind: CheckKind, mut f: impl FnMut(&Line<'_>)) {
    let mut scratch = [0u8; MAX_LINE];
    for (_, raw) in plan::lines(plan).skip_while(|(no, _)| *no <= start) {
        let Ok(line) = plan::parse_line(raw, &mut scratch, plan::Values::Text) else {
            continue;
        };
        if verb(&line) == Some(Verb::End) {
            break;
        }
        if is_check(&line, kind) {
            f(&line);
        }
    }
}

/// The tightest `check name=stall` limit of the scenario starting at line `start`, so
/// the monitor knows it while holding steps that come before the check lines.
fn stall_limit(plan: &[u8], start: usize) -> Option<u64> {
    let mut limit: Option<u64> = None;
    each_check(plan, start, CheckKind::Stall, |line| {
        let l = line.num("limit").unwrap_or(u64::MAX);
        limit = Some(limit.map_or(l, |m| m.min(l)));
    });
    limit
}

/// The window of the scenario starting at line `start`'s `imbalance` check (the
/// shortest, if it has several); None without one.
fn imbalance_window(plan: &[u8], start: usize) -> Option<u64> {
    let mut window: Option<u64> = None;
    each_check(plan, start, CheckKind::Imbalance, |line| {
        let w = line
            .num(KEY_WINDOW_MS)
            .unwrap_or(DEFAULT_IMBALANCE_WINDOW_MS);
        window = Some(window.map_or(w, |m| m.min(w)));
    });
    window
}

/// Whether the scenario starting at line `start` has a `kernel-log` check that asks
/// for every kernel log line (`forward=1`).
fn forwards_kmsg(plan: &[u8], start: usize) -> bool {
    let mut forward = false;
    each_check(plan, start, CheckKind::KernelLog, |line| {
        forward |= line.get(KEY_FORWARD) == Some(b"1");
    });
    forward
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_scenarios_that_forward_the_kernel_log() {
        let plan = b"schedbox-plan 1\nscenario name=a\ncheck name=kernel-log limit=0\nend\nscenario name=b\ncheck name=kernel-log limit=0 forward=1\nend\n";
        assert!(!forwards_kmsg(plan, 2));
        assert!(forwards_kmsg(plan, 5));
    }

    #[test]
    fn finds_labelled_scheduler_lines_and_scenarios_that_start_detached() {
        let plan = b"schedbox-plan 1\nscheduler path=/s/simple\nscheduler path=/s/qmap label=q arg=-S\nscenario name=a\nend\nscenario name=b scheduler=detached\nend\n";
        assert!(!next_starts_detached(plan, 2), "a is the next after line 2");
        assert!(
            next_starts_detached(plan, 4),
            "b is the next after a's line"
        );
        assert!(!next_starts_detached(plan, 6), "none after b");
        let path = |label: Option<&[u8]>| {
            let mut found = Buf::<64>::new();
            with_scheduler_line(plan, label, |line| {
                found = Buf::from_bytes(line.get("path").unwrap_or_default());
                Ok(())
            })
            .ok()
            .map(|()| found)
        };
        assert_eq!(path(None).unwrap().as_bytes(), b"/s/simple");
        assert_eq!(path(Some(b"q")).unwrap().as_bytes(), b"/s/qmap");
        assert!(path(Some(b"x")).is_none());
    }

    #[test]
    fn finds_the_stall_limit_of_each_scenario() {
        let plan = include_str!("../../../docs/examples/spin.plan");
        assert_eq!(stall_limit(plan.as_bytes(), 3), Some(1000));
        let two = b"schedbox-plan 1\nscenario name=a\nend\nscenario name=b\ncheck name=stall limit=5\ncheck name=stall limit=3\nend\n";
        assert_eq!(stall_limit(two, 2), None);
        assert_eq!(stall_limit(two, 4), Some(3));
    }
}
