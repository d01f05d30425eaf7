//! Judges a run from what the guest reported: pass, fail or untestable (exit 0, 1, 125).

use serde::Serialize;

use crate::exit::Exit;
use crate::protocol::record::{CheckRecord, ProtocolErrors, Record};
use crate::scenario::catalog::CheckKind;
use crate::scenario::LogRules;
use crate::scheduler;
use crate::vm::backend::Machine;
use crate::vm::console::panic_hint;
use crate::vm::session::{Observed, RunEnd};

mod checks;
mod kernel_log;
mod payloads;
mod scenarios;
pub mod tap;
use checks::error_text;
pub use checks::{expected_checks, ExpectedCheck};
pub use payloads::{ends_as_expected, expected_payloads, ExpectedPayload, PayloadVerdict};
pub use scenarios::{ScenarioOutcome, ScenarioVerdict};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    Untestable,
    /// schedbox got this signal (SIGINT, SIGTERM) and stopped the run.
    Interrupted(i32),
}

impl Outcome {
    /// The word reports use: pass, fail, untestable, interrupted.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Untestable => "untestable",
            Outcome::Interrupted(_) => "interrupted",
        }
    }

    /// Exit status for `git bisect run`: 0 good, 1 bad, 125 skip, 128 + signal.
    pub fn exit(self) -> Exit {
        match self {
            Outcome::Pass => Exit::Pass,
            Outcome::Fail => Exit::Fail,
            Outcome::Untestable => Exit::Untestable,
            Outcome::Interrupted(signal) => Exit::Interrupted(signal),
        }
    }
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.word())
    }
}

/// What the run was judged to be; the report presents it (the verdict is never written
/// out as it is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub outcome: Outcome,
    /// Why, one sentence each: failed checks, or what made the run untestable.
    pub reasons: Vec<String>,
    /// Things worth knowing that did not decide the outcome.
    pub notes: Vec<String>,
    /// Each scenario's own outcome, judged here once; empty when the guest never ran
    /// its plan (the report then gives each scenario the run's reasons).
    pub scenarios: Vec<ScenarioVerdict>,
    /// The check results the outcome rests on: the guest's, with `kernel-log` checks
    /// that have patterns judged here. The report presents these.
    pub checks: Vec<CheckRecord>,
    /// How each payload the guest reported was judged.
    pub payloads: Vec<PayloadVerdict>,
}

/// Judges a run from its records: the checks the plan asked for, and the payloads it
/// started, each expected to end with a status.
///
/// Each scenario is judged on its own (`scenarios::judge`), and the run by one rule: a
/// real failure anywhere (a scenario failed, or the scheduler under test did not hold)
/// is a fail (exit 1); else anything untestable (a scenario, or the run itself: no
/// boot, an error outside the scenarios, no `done`) is untestable (125); else a pass.
pub fn judge(
    observed: &Observed,
    expected: &[ExpectedCheck],
    expected_payloads: &[ExpectedPayload],
) -> Verdict {
    let mut notes = notes(observed);
    if let RunEnd::Interrupted(signal) = observed.end {
        let reasons = vec![format!("the run was interrupted: {}", observed.end_text())];
        return untestable(reasons, notes).with_outcome(Outcome::Interrupted(signal));
    }
    if let RunEnd::HostFault(_) = observed.end {
        return untestable(vec![observed.end_text()], notes);
    }
    // A stream the host could not read in full cannot be judged: what it lost may be
    // the very record that would have failed or passed a check.
    if !observed.malformed.is_empty() {
        return untestable(protocol_errors(&observed.malformed), notes);
    }
    let booted = observed
        .records
        .iter()
        .any(|r| matches!(r, Record::Boot { .. }));
    if !booted {
        let reason = format!("init never reported: {}", end_story(observed));
        return untestable(vec![reason], notes);
    }
    let checks = judged_checks(observed, expected);
    notes.extend(log_notes(observed, expected));
    let payload_verdicts = payloads::judge(observed, expected_payloads);
    let mut failed = scheduler::failures(&observed.records);
    let mut unjudged = run_problems(observed);
    let judged = scenarios::judge(
        observed,
        &[],
        expected,
        expected_payloads,
        (&checks, &payload_verdicts),
    );
    for s in &judged {
        match &s.outcome {
            ScenarioOutcome::Pass => {}
            ScenarioOutcome::Fail { failed: f } => failed.extend(f.iter().cloned()),
            ScenarioOutcome::Untestable { reasons } => unjudged.extend(reasons.iter().cloned()),
        }
    }
    let (outcome, reasons) = if !failed.is_empty() && observed.end.is_host_side() {
        // Checks may have failed because the host did not let the run finish.
        let reason = format!("the run did not finish: {}", end_story(observed));
        (
            Outcome::Untestable,
            std::iter::once(reason).chain(failed).collect(),
        )
    } else if !failed.is_empty() {
        notes.extend(unjudged);
        (Outcome::Fail, failed)
    } else if unjudged.is_empty() {
        (Outcome::Pass, Vec::new())
    } else {
        (Outcome::Untestable, unjudged)
    };
    Verdict {
        outcome,
        reasons,
        notes,
        scenarios: judged,
        checks,
        payloads: payload_verdicts,
    }
}

/// One scenario judged as soon as its records are in (the run may go on): by the same
/// rules as [`judge`], on what was observed so far. The run's own verdict still comes
/// from [`judge`] at its end, which also weighs what only the whole run shows.
pub fn judge_scenario(
    observed: &Observed,
    name: &str,
    expected: &[ExpectedCheck],
    expected_payloads: &[ExpectedPayload],
) -> ScenarioOutcome {
    let expected: Vec<ExpectedCheck> = expected
        .iter()
        .filter(|c| c.scenario == name)
        .cloned()
        .collect();
    let pays: Vec<ExpectedPayload> = expected_payloads
        .iter()
        .filter(|p| p.scenario == name)
        .cloned()
        .collect();
    let checks = judged_checks(observed, &expected);
    let payload_verdicts = payloads::judge(observed, &pays);
    let names = [name.to_string()];
    scenarios::judge(
        observed,
        &names,
        &expected,
        &pays,
        (&checks, &payload_verdicts),
    )
    .into_iter()
    .find(|s| s.name == name)
    .map_or(
        ScenarioOutcome::Untestable {
            reasons: vec![format!("scenario {name}: not judged")],
        },
        |s| s.outcome,
    )
}

fn untestable(reasons: Vec<String>, notes: Vec<String>) -> Verdict {
    Verdict {
        outcome: Outcome::Untestable,
        reasons,
        notes,
        scenarios: Vec::new(),
        checks: Vec::new(),
        payloads: Vec::new(),
    }
}

impl Verdict {
    fn with_outcome(self, outcome: Outcome) -> Verdict {
        Verdict { outcome, ..self }
    }
}

/// The guest's check records, with each `kernel-log` check that has patterns judged
/// on the lines the guest forwarded.
fn judged_checks(observed: &Observed, expected: &[ExpectedCheck]) -> Vec<CheckRecord> {
    observed
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Check(c) => Some(c),
            _ => None,
        })
        .map(|c| match rules_for(expected, c) {
            Some(rules) => kernel_log::judge(c, rules, &observed.records),
            None => c.clone(),
        })
        .collect()
}

fn rules_for<'a>(expected: &'a [ExpectedCheck], check: &CheckRecord) -> Option<&'a LogRules> {
    expected
        .iter()
        .find(|e| e.scenario == check.scenario && e.name == check.name)
        .map(|e| &e.log)
        .filter(|rules| check.name == CheckKind::KernelLog.word() && !rules.is_empty())
}

fn log_notes(observed: &Observed, expected: &[ExpectedCheck]) -> Vec<String> {
    expected
        .iter()
        .filter(|e| e.name == CheckKind::KernelLog.word() && !e.log.is_empty())
        .flat_map(|e| kernel_log::notes(&e.log, &e.scenario, &observed.records))
        .collect()
}

/// The records the host could not read, one reason each, and how many more.
fn protocol_errors(errors: &ProtocolErrors) -> Vec<String> {
    let mut reasons: Vec<String> = errors
        .first
        .iter()
        .map(|why| format!("protocol error: the guest sent a record this host cannot read: {why}"))
        .collect();
    let more = errors.total - errors.first.len() as u64;
    if more > 0 {
        reasons.push(format!("protocol error: {more} more unreadable records"));
    }
    reasons
}

/// What makes the run as a whole untestable: errors outside any scenario (the plan, a
/// mount, the scheduler's start: they end the run), and a guest that did not finish.
fn run_problems(observed: &Observed) -> Vec<String> {
    let mut running = false;
    let mut problems = Vec::new();
    for r in &observed.records {
        match r {
            Record::Scenario { .. } => running = true,
            Record::ScenarioEnd { .. } => running = false,
            Record::Error {
                scenario: None,
                place,
                msg,
            } if !running => problems.push(error_text(*place, msg, &observed.records)),
            _ => {}
        }
    }
    let done = observed.records.iter().find_map(|r| match r {
        Record::Done { ok, .. } => Some(*ok),
        _ => None,
    });
    match done {
        None => problems.push(format!(
            "{} did not finish: {}",
            observed.machine.engine(),
            end_story(observed)
        )),
        Some(false) if problems.is_empty() => problems.push(format!(
            "{} finished with done status=error",
            observed.machine.engine()
        )),
        _ => {}
    }
    problems
}

/// How the run ended, in words, with the panic message if there was one.
fn end_story(observed: &Observed) -> String {
    let mut story = observed.end_text();
    if let Some(panic) = &observed.panic {
        story.push_str(&format!("; the kernel panicked: \"{panic}\""));
        if let Some(hint) = panic_hint(panic) {
            story.push_str(&format!(" ({hint})"));
        }
    }
    story
}

fn notes(observed: &Observed) -> Vec<String> {
    let mut notes = Vec::new();
    for record in &observed.records {
        match record {
            Record::Stall(s) => notes.push(format!(
                "scenario {}: worker {}/{} (pid {}) stalled {} ms on CPU {}",
                s.scenario, s.group, s.index, s.pid, s.gap_ms, s.cpu
            )),
            Record::Kmsg {
                level,
                text,
                scenario: None,
            } => notes.push(format!("kernel log <{level}>: {text}")),
            _ => {}
        }
    }
    if observed.end == RunEnd::NoPowerOff {
        let engine = observed.machine.engine();
        notes.push(match observed.machine {
            Machine::Vm => {
                format!("{engine} did not power off after its done record; it was killed")
            }
            Machine::Host => format!("{engine} did not exit after its done record; it was killed"),
        });
    }
    notes
}

#[cfg(test)]
mod tests;
