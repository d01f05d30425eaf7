//! Where a run's time went: its phases end to end, from the host's clock (preparation,
//! the VM's launch and exit, judging) and the guest's own stamps (`t_ms`, the boot
//! record's `uptime_ms`), placed on the host's clock through the boot record: the host
//! time at which it arrived, less the guest uptime it carries, is the guest's time 0.
//! Time no stamp accounts for is a phase of its own, `unaccounted`.

use std::sync::OnceLock;
use std::time::Instant;

use serde::Serialize;

use crate::protocol::record::Record;
use crate::scenario::Scenario;
use crate::vm::backend::Machine;
use crate::vm::session::{Observed, RunEnd};

const MS_PER_S: f64 = 1e3;

/// The run's phases, in the order they happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Host: options, kernel, scenarios, plan and initramfs, up to the VM's launch.
    Preparation,
    /// The VMM starting, up to the kernel's entry (the guest's time 0).
    VmStart,
    /// `run --host`: schedbox-init started as a process of schedbox's, up to its
    /// start stamp (the boot record's `init_ms`). There is no VM and no boot.
    EngineStart,
    /// The kernel's boot up to PID 1's start (the boot record's `init_ms`; a guest
    /// without it: up to the boot record, PID 1's first mounts included).
    Kernel,
    /// PID 1 from its start to the first scenario: mounts, topology records, the plan
    /// read and checked, the cgroup tree, a scheduler's attach.
    InitStartUp,
    /// A scenario's ops (cgroups, workers, payloads), in all of its steps.
    SetUp,
    /// A scenario's holds, in all of its steps.
    Hold,
    /// A scenario's end: workers stopped, checks, cgroups removed.
    TearDown,
    /// PID 1 after the last scenario: payloads killed, the scheduler stopped.
    InitShutDown,
    /// From the `done` record to the VM's exit, the guest powering off.
    PowerOff,
    /// `run --host`: from the `done` record to schedbox-init's exit, its cgroup
    /// removed and sched_ext back as it was.
    EngineExit,
    /// From the `done` record to the VM's exit, schedbox stopping it there.
    VmStop,
    /// Host: the verdict and the report.
    Judging,
    /// Time between stamps that no phase accounts for.
    Unaccounted,
}

impl Phase {
    pub const ALL: [Phase; 14] = [
        Phase::Preparation,
        Phase::VmStart,
        Phase::EngineStart,
        Phase::Kernel,
        Phase::InitStartUp,
        Phase::SetUp,
        Phase::Hold,
        Phase::TearDown,
        Phase::InitShutDown,
        Phase::PowerOff,
        Phase::EngineExit,
        Phase::VmStop,
        Phase::Judging,
        Phase::Unaccounted,
    ];

    /// Its name in report.json and the summary.
    pub fn word(self) -> &'static str {
        match self {
            Phase::Preparation => "preparation",
            Phase::VmStart => "vm-start",
            Phase::EngineStart => "engine-start",
            Phase::Kernel => "kernel",
            Phase::InitStartUp => "init-start-up",
            Phase::SetUp => "set-up",
            Phase::Hold => "hold",
            Phase::TearDown => "tear-down",
            Phase::InitShutDown => "init-shut-down",
            Phase::PowerOff => "power-off",
            Phase::EngineExit => "engine-exit",
            Phase::VmStop => "vm-stop",
            Phase::Judging => "judging",
            Phase::Unaccounted => "unaccounted",
        }
    }
}

/// One phase: where it starts on the run's clock and how long it took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Span {
    pub phase: Phase,
    /// The scenario it belongs to (set-up, hold, tear-down).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    pub start_ms: u64,
    pub ms: u64,
}

/// The run's phases, back to back from its start (0) to the end of judging (`wall_ms`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Timeline {
    pub wall_ms: u64,
    pub phases: Vec<Span>,
}

/// The host's own marks, in ms from the run's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostMarks {
    /// When preparation ended: the VM's launch, or the decision not to start one.
    pub launch_ms: u64,
    /// When the VM ended; None when none ran.
    pub exit_ms: Option<u64>,
    /// When judging ended: the run's wall time.
    pub judged_ms: u64,
}

/// When this process started, as near as schedbox can tell: the first call.
pub fn process_start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// Milliseconds from `from` to `to` (0 when `to` is earlier).
pub fn ms_between(from: Instant, to: Instant) -> u64 {
    to.saturating_duration_since(from).as_millis() as u64
}

/// Phases laid end to end: each ends where the next begins, never before its start
/// nor past `limit`.
struct Cursor {
    at: u64,
    limit: u64,
    phases: Vec<Span>,
}

impl Cursor {
    fn to(&mut self, phase: Phase, scenario: Option<&str>, end_ms: u64) {
        let end = end_ms.clamp(self.at, self.limit.max(self.at));
        self.phases.push(Span {
            phase,
            scenario: scenario.map(str::to_string),
            start_ms: self.at,
            ms: end - self.at,
        });
        self.at = end;
    }

    /// The time up to `end_ms` that no stamp accounts for, if any.
    fn gap_to(&mut self, end_ms: u64) {
        if end_ms.min(self.limit) > self.at {
            self.to(Phase::Unaccounted, None, end_ms);
        }
    }
}

/// The timeline of a run: the host's marks, and what the guest stamped when it booted.
pub fn build(marks: HostMarks, observed: Option<&Observed>, scenarios: &[Scenario]) -> Timeline {
    let wall_ms = marks.judged_ms;
    let mut cursor = Cursor {
        at: 0,
        limit: wall_ms,
        phases: Vec::new(),
    };
    cursor.to(Phase::Preparation, None, marks.launch_ms);
    if let Some(exit_ms) = marks.exit_ms {
        cursor.limit = exit_ms;
        if let Some(observed) = observed {
            guest_phases(&mut cursor, marks.launch_ms, observed, scenarios);
        }
        cursor.gap_to(exit_ms);
        cursor.limit = wall_ms;
    }
    cursor.to(Phase::Judging, None, wall_ms);
    Timeline {
        wall_ms,
        phases: cursor.phases,
    }
}

/// The guest's time on the run's clock: its time 0 is when the boot record arrived
/// less the uptime it says.
struct GuestClock {
    zero_ms: i64,
    launch_ms: u64,
    arrivals: Vec<u64>,
}

impl GuestClock {
    fn host(&self, t_ms: u64) -> u64 {
        (self.zero_ms + t_ms as i64).max(0) as u64
    }

    /// When the `index`th record arrived on the run's clock.
    fn arrival(&self, index: usize) -> Option<u64> {
        self.arrivals.get(index).map(|ms| self.launch_ms + ms)
    }
}

fn guest_phases(cursor: &mut Cursor, launch_ms: u64, observed: &Observed, scenarios: &[Scenario]) {
    let records = &observed.records;
    let boot = records.iter().find_map(|r| match r {
        Record::Boot {
            uptime_ms, init_ms, ..
        } => Some((*uptime_ms, *init_ms)),
        _ => None,
    });
    let (Some((uptime_ms, init_ms)), Some(arrived)) = (boot, observed.timings.boot_record_ms)
    else {
        return;
    };
    let host = observed.machine == Machine::Host;
    let clock = GuestClock {
        zero_ms: (launch_ms + arrived) as i64 - uptime_ms as i64,
        launch_ms,
        arrivals: observed.arrivals_ms.clone(),
    };
    let init_start = clock.host(init_ms.unwrap_or(uptime_ms));
    if host {
        // The guest's time 0 is this machine's boot, long before the run.
        cursor.to(Phase::EngineStart, None, init_start);
    } else {
        cursor.to(Phase::VmStart, None, clock.host(0));
        cursor.to(Phase::Kernel, None, init_start);
    }
    let first_scenario = records.iter().find_map(|r| match r {
        Record::Scenario { t_ms, .. } => Some(*t_ms),
        _ => None,
    });
    let done = records.iter().find_map(|r| match r {
        Record::Done { t_ms, .. } => Some(*t_ms),
        _ => None,
    });
    let startup_end = first_scenario.or(done).unwrap_or(uptime_ms);
    cursor.to(Phase::InitStartUp, None, clock.host(startup_end));
    for (index, record) in records.iter().enumerate() {
        if let Record::Scenario { name, t_ms } = record {
            let Some(span) = scenario_span(records, index, name, *t_ms) else {
                return;
            };
            cursor.gap_to(clock.host(*t_ms));
            let declared = scenarios.iter().find(|s| &s.name == name);
            scenario_phases(cursor, &clock, &span, declared);
        }
    }
    if let Some(done_ms) = done {
        cursor.to(Phase::InitShutDown, None, clock.host(done_ms));
        let end = if host {
            Phase::EngineExit
        } else if observed.end == RunEnd::StoppedAtDone {
            Phase::VmStop
        } else {
            Phase::PowerOff
        };
        cursor.to(end, None, cursor.limit);
    }
}

/// What the guest stamped of one scenario, and where its records are.
struct ScenarioSpan<'a> {
    name: &'a str,
    start_ms: u64,
    end_ms: u64,
    /// Each step's start.
    steps: Vec<u64>,
    /// The records of its end (workers stopped, checks): their indices.
    ending: Vec<usize>,
}

fn scenario_span<'a>(
    records: &[Record],
    start: usize,
    name: &'a str,
    start_ms: u64,
) -> Option<ScenarioSpan<'a>> {
    let mut span = ScenarioSpan {
        name,
        start_ms,
        end_ms: start_ms,
        steps: Vec::new(),
        ending: Vec::new(),
    };
    for (index, record) in records.iter().enumerate().skip(start + 1) {
        match record {
            Record::Step { scenario, t_ms, .. } if scenario == name => {
                span.steps.push(*t_ms);
                span.ending.clear();
            }
            Record::Worker(w) if w.scenario == name => span.ending.push(index),
            Record::Check(c) if c.scenario == name => span.ending.push(index),
            Record::ScenarioEnd { name: n, t_ms, .. } if n == name => {
                span.end_ms = *t_ms;
                span.ending.push(index);
                return Some(span);
            }
            _ => {}
        }
    }
    None
}

/// Set-up, hold and tear-down of one scenario. The guest stamps each step's start and
/// the scenario's end; the holds are the steps' declared ones (an earlier step's cut
/// short by the next step's stamp), the last ending when its first end record (a
/// worker stopped, a check) arrives after it; the rest of the steps is their ops.
fn scenario_phases(
    cursor: &mut Cursor,
    clock: &GuestClock,
    span: &ScenarioSpan,
    declared: Option<&Scenario>,
) {
    let start = clock.host(span.start_ms);
    let end = clock.host(span.end_ms).max(start);
    let hold_of = |i: usize| {
        declared
            .and_then(|s| s.steps.get(i))
            .map_or(0, |s| s.hold_ms)
    };
    let mut hold = 0;
    let mut tear_down_at = end;
    for (i, t_ms) in span.steps.iter().enumerate() {
        match span.steps.get(i + 1) {
            Some(next_ms) => hold += hold_of(i).min(next_ms.saturating_sub(*t_ms)),
            None => {
                let step_start = clock.host(*t_ms).clamp(start, end);
                let held_until = step_start + hold_of(i);
                tear_down_at = span
                    .ending
                    .iter()
                    .filter_map(|&r| clock.arrival(r))
                    .find(|&at| at >= held_until)
                    .unwrap_or(end)
                    .clamp(step_start, end);
                hold += hold_of(i).min(tear_down_at - step_start);
            }
        }
    }
    let steps_ms = tear_down_at.saturating_sub(start);
    let hold = hold.min(steps_ms);
    let name = Some(span.name);
    cursor.to(Phase::SetUp, name, start + (steps_ms - hold));
    cursor.to(Phase::Hold, name, tear_down_at);
    cursor.to(Phase::TearDown, name, end);
}

/// The timeline in one line: each phase's seconds, a scenario's three together.
pub fn line(timeline: &Timeline) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut phases = timeline.phases.iter().peekable();
    while let Some(span) = phases.next() {
        let seconds = |ms: u64| format!("{:.2}", ms as f64 / MS_PER_S);
        let Some(name) = &span.scenario else {
            parts.push(format!("{} {}", span.phase.word(), seconds(span.ms)));
            continue;
        };
        let mut own = vec![format!("{} {}", span.phase.word(), seconds(span.ms))];
        while let Some(next) = phases.next_if(|n| n.scenario.as_ref() == Some(name)) {
            own.push(format!("{} {}", next.phase.word(), seconds(next.ms)));
        }
        parts.push(format!("{name} ({})", own.join(" + ")));
    }
    format!(
        "timeline (s, of {:.2}): {}",
        timeline.wall_ms as f64 / MS_PER_S,
        parts.join(", ")
    )
}

#[cfg(test)]
mod tests;
