//! The run's report: a human summary for stdout and the full JSON document.

use std::path::Path;

use serde::Serialize;

use crate::outcome::evidence::{self, Evidence};
use crate::outcome::rundir;
use crate::outcome::timeline::{self, Timeline};
use crate::outcome::verdict::tap::Tap;
use crate::outcome::verdict::{Outcome, PayloadVerdict, ScenarioOutcome, Verdict};
use crate::protocol::record::{
    CheckRecord, CpuStateRecord, PayloadRecord, Record, StallRecord, WorkerRecord,
};
use crate::scenario::Scenario;
use crate::scheduler::windows::{self, Window};
use crate::scheduler::{self, SchedulerInfo, SchedulerReport};
use crate::vm::backend::RecordsChannel;
use crate::vm::session::{Observed, Timings};
use schedbox_protocol::limits::PAYLOAD_OUTPUT_BYTES;

/// Console lines shown on stdout for an untestable run (the JSON keeps the whole tail).
const HUMAN_CONSOLE_LINES: usize = 15;
/// Output lines of each payload shown on stdout (its log has them all).
const HUMAN_PAYLOAD_LINES: usize = 5;
const NS_PER_S: f64 = 1e9;
const NS_PER_MS: f64 = 1e6;
const MS_PER_S: f64 = 1e3;
/// `expect_status` of a payload record the plan did not list (the verdict judged none).
const NOT_IN_PLAN: &str = "not in the plan";
/// `RunInfo::backend` of a run for which no backend could be chosen.
pub const NO_BACKEND: &str = "none";
/// The version of report.json's layout (docs/report.md, docs/report.schema.json):
/// raised when a field is removed or changes meaning, not when one is added.
pub const SCHEMA_VERSION: u32 = 1;

/// What the run was, independent of how it went.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    pub backend: String,
    /// Why this backend ran (what `--backend`/`--accel` asked, what the KVM probe said),
    /// or why none could.
    pub backend_reason: String,
    pub kernel: String,
    /// The release the kernel image says it is.
    pub kernel_release: Option<String>,
    pub cpus: u32,
    /// The machine's shape, `NnLlCcTt` (`1n1l2c1t` for `--cpus 2`).
    pub shape: String,
    pub memory_mib: u32,
    pub cmdline: String,
    pub run_dir: String,
}

/// What the report is built from: the run, its scenarios and scheduler under test, what
/// the guest reported (None when it never booted), and the verdict judged from it.
pub struct Judged<'a> {
    pub info: RunInfo,
    pub scenarios: &'a [Scenario],
    pub scheduler: Option<&'a SchedulerInfo>,
    pub observed: Option<&'a Observed>,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    pub name: String,
    pub source: String,
    pub duration_ms: u64,
    /// Guest time from the scenario's start to its end, as the guest's records say
    /// (longer than `duration_ms` by setup and stop, and by vCPU delays on a busy host).
    pub guest_ms: Option<u64>,
    pub workers: Vec<WorkerRecord>,
    pub checks: Vec<CheckRecord>,
    pub stalls: Vec<StallRecord>,
    pub payloads: Vec<PayloadReport>,
    /// CPUs its steps took offline or brought back (docs/protocol.md, `cpu-state`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpu_states: Vec<CpuStateRecord>,
    /// Which sched_ext scheduler was attached from when to when (none without one).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scheduler_windows: Vec<Window>,
    /// This scenario's own outcome (`outcome`: pass, fail with `failed`, untestable
    /// with `reasons`); the run's follows from all of them (README, "Exit status").
    #[serde(flatten)]
    pub verdict: ScenarioOutcome,
}

/// How a payload ended, against what its scenario expected.
#[derive(Debug, Clone, Serialize)]
pub struct PayloadReport {
    #[serde(flatten)]
    pub record: PayloadRecord,
    pub expect_status: String,
    /// As the verdict judged it: its status and its output.
    pub passed: bool,
    /// Why it failed, as the verdict says.
    pub problems: Vec<String>,
    /// Its TAP results, when its output is TAP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tap: Option<Tap>,
    /// Its output, in the run directory: whole up to the cap, else its head and tail.
    pub log: String,
    /// Output lines beyond the cap that the log does not have.
    pub lines_not_kept: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct GuestError {
    /// The scenario it ended; none for an error outside the scenarios (it ended the run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    #[serde(rename = "where")]
    pub place: String,
    pub msg: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub outcome: Outcome,
    pub exit_code: i32,
    pub reasons: Vec<String>,
    pub notes: Vec<String>,
    pub run: RunInfo,
    /// The release the guest reported in its boot record.
    pub release: Option<String>,
    pub sched_ext: Option<String>,
    /// Which scheduler ran: the kernel's default (EEVDF, or CFS before 6.6), or the
    /// sched_ext scheduler under test and its fate.
    pub scheduler: SchedulerReport,
    pub scenarios: Vec<ScenarioReport>,
    /// What the guest gathered on each stall and ejection, with the failure it explains
    /// (docs/report.md, "Evidence").
    pub evidence: Vec<Evidence>,
    pub errors: Vec<GuestError>,
    pub timings: Timings,
    /// Where the run's time went, phase by phase (docs/report.md, "The timeline").
    pub timeline: Timeline,
    /// How the VM ended, in words.
    pub end: Option<String>,
    /// The channels that carried the guest's records (`virtio`, else the `serial`
    /// fallback), in the order their first records came; empty when none came.
    pub records_channels: Vec<RecordsChannel>,
    /// The last console lines, for runs that were not judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_tail: Option<Vec<String>>,
    /// The command that reproduces a run that failed or was untestable.
    pub repro: Option<String>,
}

pub fn build(judged: Judged) -> Report {
    let Judged {
        info,
        scenarios,
        scheduler,
        observed,
        verdict,
    } = judged;
    let records: &[Record] = observed.map_or(&[], |o| &o.records);
    let (release, sched_ext) = records
        .iter()
        .find_map(|r| match r {
            Record::Boot {
                release, sched_ext, ..
            } => Some((Some(release.clone()), Some(sched_ext.clone()))),
            _ => None,
        })
        .unwrap_or_default();
    let errors = records
        .iter()
        .filter_map(|r| match r {
            Record::Error {
                scenario,
                place,
                msg,
            } => Some(GuestError {
                scenario: scenario.clone(),
                place: place.word().to_string(),
                msg: msg.clone(),
            }),
            _ => None,
        })
        .collect();
    let console_tail = observed
        .filter(|_| verdict.outcome == Outcome::Untestable)
        .map(|o| o.console_tail.clone());
    let run_dir = Path::new(&info.run_dir);
    let scheduler = scheduler::report(
        scheduler,
        release.as_deref().or(info.kernel_release.as_deref()),
        records,
        &run_dir.join(rundir::SCHEDULER_LOG),
    );
    let outcomes = scenario_outcomes(scenarios, &verdict);
    let scenarios = scenarios
        .iter()
        .zip(outcomes)
        .map(|(s, o)| scenario_report(s, records, &verdict, o, run_dir))
        .collect();
    Report {
        schema_version: SCHEMA_VERSION,
        outcome: verdict.outcome,
        exit_code: verdict.outcome.exit().code(),
        reasons: verdict.reasons,
        notes: verdict.notes,
        run: info,
        release,
        sched_ext,
        scheduler,
        scenarios,
        evidence: evidence::collect(records),
        errors,
        timings: observed.map(|o| o.timings.clone()).unwrap_or_default(),
        timeline: Timeline::default(),
        end: observed.map(Observed::end_text),
        records_channels: observed.map_or(Vec::new(), |o| o.records_channels.clone()),
        console_tail,
        repro: None,
    }
}

impl Report {
    /// The host could not finish or record the run: whatever the guest said, it cannot
    /// be judged (an interrupted run stays interrupted).
    pub fn host_fault(&mut self, reason: String) {
        if !matches!(self.outcome, Outcome::Interrupted(_)) {
            self.outcome = Outcome::Untestable;
        }
        self.exit_code = self.outcome.exit().code();
        self.reasons.insert(0, reason);
    }
}

/// Each scenario's outcome as the verdict judged it, in the order of `scenarios`; the
/// run's reasons for a scenario the verdict has none for (the guest never ran it).
fn scenario_outcomes(scenarios: &[Scenario], verdict: &Verdict) -> Vec<ScenarioOutcome> {
    scenarios
        .iter()
        .map(|s| {
            let judged = verdict.scenarios.iter().find(|j| j.name == s.name);
            judged.map_or_else(
                || ScenarioOutcome::Untestable {
                    reasons: verdict.reasons.clone(),
                },
                |j| j.outcome.clone(),
            )
        })
        .collect()
}

fn scenario_report(
    scenario: &Scenario,
    records: &[Record],
    verdict: &Verdict,
    outcome: ScenarioOutcome,
    run_dir: &Path,
) -> ScenarioReport {
    let name = &scenario.name;
    let mut report = ScenarioReport {
        name: name.clone(),
        source: scenario.source.clone(),
        duration_ms: scenario.duration_ms(),
        guest_ms: None,
        workers: Vec::new(),
        checks: Vec::new(),
        stalls: Vec::new(),
        payloads: Vec::new(),
        cpu_states: Vec::new(),
        scheduler_windows: windows::of_scenario(name, records),
        verdict: outcome,
    };
    let mut started_ms = None;
    for record in records {
        match record {
            Record::Scenario { name: n, t_ms } if n == name => started_ms = Some(*t_ms),
            Record::ScenarioEnd { name: n, t_ms, .. } if n == name => {
                report.guest_ms = started_ms.map(|start| t_ms.saturating_sub(start));
            }
            Record::Worker(w) if &w.scenario == name => report.workers.push((**w).clone()),
            Record::Stall(s) if &s.scenario == name => report.stalls.push(s.clone()),
            Record::CpuState(c) if &c.scenario == name => report.cpu_states.push(c.clone()),
            Record::Payload(p) if &p.scenario == name => report
                .payloads
                .push(payload_report(scenario, p, verdict, run_dir)),
            _ => {}
        }
    }
    // As judged: a kernel-log check with patterns is the host's judgement.
    report.checks = verdict
        .checks
        .iter()
        .filter(|c| &c.scenario == name)
        .cloned()
        .collect();
    report
}

fn payload_report(
    scenario: &Scenario,
    record: &PayloadRecord,
    verdict: &Verdict,
    run_dir: &Path,
) -> PayloadReport {
    // The plan lists every payload the guest runs; one it did not is shown, not passed.
    let expect_status = scenario
        .payloads()
        .find(|p| p.name == record.name)
        .map_or_else(|| NOT_IN_PLAN.to_string(), |p| p.expect_status.clone());
    let log = run_dir.join(rundir::payload_log(&scenario.name, &record.name));
    let judged: Option<&PayloadVerdict> = verdict
        .payloads
        .iter()
        .find(|p| p.scenario == scenario.name && p.name == record.name);
    PayloadReport {
        passed: judged.is_some_and(|j| j.passed),
        problems: judged.map_or_else(Vec::new, |j| j.problems.clone()),
        tap: judged.and_then(|j| j.tap.clone()),
        lines_not_kept: record.dropped.unwrap_or(0),
        expect_status,
        log: log.display().to_string(),
        record: record.clone(),
    }
}

/// The summary printed on stdout.
pub fn human(report: &Report) -> String {
    let run = &report.run;
    let release = report
        .release
        .as_deref()
        .or(run.kernel_release.as_deref())
        .unwrap_or("unknown release");
    let mut out = vec![format!(
        "schedbox: {} on {}, kernel {release} ({}), {} CPUs ({}), {} MiB",
        names(report),
        run.backend,
        run.kernel,
        run.cpus,
        run.shape,
        run.memory_mib
    )];
    if run.backend != NO_BACKEND {
        // Otherwise the reasons below say why none ran.
        out.push(format!("  backend: {}", run.backend_reason));
    }
    if !report.records_channels.is_empty() {
        let channels: Vec<&str> = report
            .records_channels
            .iter()
            .map(|c| c.describe())
            .collect();
        out.push(format!(
            "  records: over the {}",
            channels.join(", then the ")
        ));
    }
    out.push(format!("  scheduler: {}", report.scheduler.summary));
    for scenario in &report.scenarios {
        out.extend(human_scenario(scenario, report.scheduler.never_attached()));
    }
    out.extend(report.reasons.iter().map(|r| format!("  reason: {r}")));
    out.extend(
        report
            .evidence
            .iter()
            .enumerate()
            .map(|(i, e)| format!("  {}", e.summary(i))),
    );
    out.extend(report.notes.iter().map(|n| format!("  note: {n}")));
    out.extend(report.repro.iter().map(|r| format!("  reproduce: {r}")));
    if let Some(tail) = &report.console_tail {
        out.push("  last console lines:".to_string());
        let skip = tail.len().saturating_sub(HUMAN_CONSOLE_LINES);
        out.extend(tail[skip..].iter().map(|l| format!("    | {l}")));
    }
    if !report.timeline.phases.is_empty() {
        out.push(format!("  {}", timeline::line(&report.timeline)));
    }
    out.push(format!(
        "{} {}",
        verdict_word(report.outcome),
        timing_line(report)
    ));
    out.join("\n") + "\n"
}

/// A scenario's lines: its workers, checks and payloads; not the `scheduler` check of a
/// scheduler that never attached, which the scheduler line and a reason say once.
fn human_scenario(scenario: &ScenarioReport, scheduler_never_attached: bool) -> Vec<String> {
    let outcome = match &scenario.verdict {
        ScenarioOutcome::Pass => "pass",
        ScenarioOutcome::Fail { .. } => "FAIL",
        ScenarioOutcome::Untestable { .. } => "untestable",
    };
    let mut lines = vec![format!(
        "  scenario {} ({} ms): {outcome}",
        scenario.name, scenario.duration_ms
    )];
    for w in &scenario.workers {
        let mut line = format!(
            "    worker {}/{} pid {}: {} iterations, {:.3} s CPU, {:.1} ms waiting, {} slices, CPUs {}",
            w.group,
            w.index,
            w.pid,
            w.iterations,
            w.cpu_ns as f64 / NS_PER_S,
            w.wait_ns as f64 / NS_PER_MS,
            w.slices,
            w.cpus
        );
        line.push_str(&wake_latencies(w));
        lines.push(line);
    }
    let shown = scenario
        .checks
        .iter()
        .filter(|c| !(scheduler_never_attached && c.name == scheduler::CHECK));
    for c in shown {
        let result = if c.passed { "pass" } else { "FAIL" };
        lines.push(format!(
            "    check {:<12} {result}: value {} limit {}",
            c.name, c.value, c.limit
        ));
    }
    // One window is the run's scheduler throughout, which the scheduler line says.
    if scenario.scheduler_windows.len() > 1 {
        lines.push(format!(
            "    scheduler windows: {}",
            windows::describe(&scenario.scheduler_windows)
        ));
    }
    for c in &scenario.cpu_states {
        let state = if c.online { "online" } else { "offline" };
        let mut line = format!("    cpu {} {state} (took {} ms)", c.cpu, c.took_ms);
        if let (Some(n), Some(names)) = (c.moved, &c.workers) {
            line.push_str(&format!(", the kernel moved {n} pinned worker(s): {names}"));
        }
        lines.push(line);
    }
    for p in &scenario.payloads {
        lines.extend(human_payload(p));
    }
    lines
}

/// A worker's wake-up percentiles, for the summary line: empty for work that never
/// timed a wake-up (or a guest that did not send them all).
fn wake_latencies(w: &WorkerRecord) -> String {
    match (
        w.wake_p50_us,
        w.wake_p90_us,
        w.wake_p99_us,
        w.wake_max_us,
        w.wake_samples,
    ) {
        (Some(p50), Some(p90), Some(p99), Some(max), Some(n)) => {
            format!(", wake-ups p50/p90/p99/max {p50}/{p90}/{p99}/{max} µs of {n}")
        }
        _ => String::new(),
    }
}

fn human_payload(p: &PayloadReport) -> Vec<String> {
    let result = if p.passed { "pass" } else { "FAIL" };
    let mut lines = vec![format!(
        "    payload {} {result}: status {} (expected {})",
        p.record.name, p.record.status, p.expect_status
    )];
    if let Some(tap) = &p.tap {
        lines.extend(tap.results.iter().map(|r| {
            let word = if r.ok { "ok" } else { "not ok" };
            let directive = r
                .directive
                .as_deref()
                .map(|d| format!(" # {}", d.to_uppercase()));
            format!(
                "      {word} {} {}{}",
                r.number,
                r.name,
                directive.unwrap_or_default()
            )
        }));
    }
    if p.lines_not_kept > 0 {
        lines.push(format!(
            "      output cut: {} line(s) beyond the first {} MiB not kept; {} has its head \
             and its last lines",
            p.lines_not_kept,
            PAYLOAD_OUTPUT_BYTES >> 20,
            p.log
        ));
    }
    let output: Vec<&str> = p.record.output.lines().collect();
    let skip = output.len().saturating_sub(HUMAN_PAYLOAD_LINES);
    lines.extend(output[skip..].iter().map(|l| format!("      | {l}")));
    lines
}

fn names(report: &Report) -> String {
    let names: Vec<&str> = report.scenarios.iter().map(|s| s.name.as_str()).collect();
    names.join(", ")
}

fn verdict_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "PASS",
        Outcome::Fail => "FAIL",
        Outcome::Untestable => "UNTESTABLE",
        Outcome::Interrupted(_) => "INTERRUPTED",
    }
}

fn timing_line(report: &Report) -> String {
    let t = &report.timings;
    let boot = t
        .boot_record_ms
        .map(|ms| format!("init up at {:.2} s, ", ms as f64 / MS_PER_S))
        .unwrap_or_default();
    format!(
        "({boot}total {:.2} s); run directory {}",
        t.total_ms as f64 / MS_PER_S,
        report.run.run_dir
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::record::{decode, Line};

    fn worker(line: &str) -> WorkerRecord {
        match decode(line) {
            Line::Record(Record::Worker(w)) => *w,
            other => panic!("not a worker record: {other:?}"),
        }
    }

    #[test]
    fn a_worker_line_shows_its_wake_percentiles_with_their_count() {
        // A worker record as a guest sent it.
        let w = worker(
            "SBX1 worker scenario=work-bursty group=bursty index=0 pid=40 work=bursty \
             iterations=36855 cpu_ns=280106990 wait_ns=55165037 slices=35 cpus=0 \
             wake_p50_us=897 wake_p90_us=1155 wake_p99_us=2114 wake_max_us=2129 \
             wake_samples=26 comm=sbx-bursty-0",
        );
        assert_eq!(
            wake_latencies(&w),
            ", wake-ups p50/p90/p99/max 897/1155/2114/2129 µs of 26"
        );
        let spin = worker(
            "SBX1 worker scenario=s group=spin index=0 pid=41 work=spin iterations=9 \
             cpu_ns=1 wait_ns=1 slices=1 cpus=0",
        );
        assert_eq!(wake_latencies(&spin), "");
    }
}
