//! Judges a run from what the guest reported: pass, fail or untestable (exit 0, 1, 125).

use serde::Serialize;

use crate::console::panic_hint;
use crate::record::{CheckRecord, Record};
use crate::scenario::{catalog, Scenario};
use crate::scheduler;
use crate::session::{Observed, RunEnd};

mod payloads;
pub use payloads::{ends_as_expected, expected_payloads, ExpectedPayload};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Untestable,
}

impl Outcome {
    /// Exit status for `git bisect run`: 0 good, 1 bad, 125 skip.
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Pass => 0,
            Outcome::Fail => 1,
            Outcome::Untestable => 125,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub outcome: Outcome,
    /// Why, one sentence each: failed checks, or what made the run untestable.
    pub reasons: Vec<String>,
    /// Things worth knowing that did not decide the outcome.
    pub notes: Vec<String>,
}

/// A check the plan asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedCheck {
    pub scenario: String,
    pub name: String,
}

pub fn expected_checks(scenarios: &[Scenario]) -> Vec<ExpectedCheck> {
    scenarios
        .iter()
        .flat_map(|s| {
            s.checks.iter().map(|c| ExpectedCheck {
                scenario: s.name.clone(),
                name: c.name.clone(),
            })
        })
        .collect()
}

/// Judges a run from its records: the checks the plan asked for, and the payloads it
/// started, each expected to end with a status.
pub fn judge(
    observed: &Observed,
    expected: &[ExpectedCheck],
    expected_payloads: &[ExpectedPayload],
) -> Verdict {
    let notes = notes(observed);
    let booted = observed
        .records
        .iter()
        .any(|r| matches!(r, Record::Boot { .. }));
    if !booted {
        let reason = format!("init never reported: {}", end_story(observed));
        return untestable(vec![reason], notes);
    }
    let failed_checks: Vec<String> = checks(observed)
        .filter(|c| !c.passed && !unsupported(c))
        .filter(|c| !scheduler::repeats_attach_failure(&c.name, &observed.records))
        .map(describe_failure)
        .collect();
    let mut held_up = scheduler::failures(&observed.records);
    held_up.extend(payloads::failures(observed, expected_payloads));
    // A guest that could not carry out the plan (a worker could not fork, was killed)
    // measured something else than the scenario asked for: its failed checks are
    // listed but do not judge the kernel. What the scheduler under test or a payload
    // did still does.
    let errors = guest_errors(observed);
    if !errors.is_empty() && held_up.is_empty() {
        return untestable(errors.into_iter().chain(failed_checks).collect(), notes);
    }
    let mut failed = failed_checks;
    failed.extend(held_up);
    if !failed.is_empty() {
        return Verdict {
            outcome: Outcome::Fail,
            reasons: failed,
            notes,
        };
    }
    let mut problems = problems(observed, expected);
    if done_at_all(observed) {
        problems.extend(payloads::missing(observed, expected_payloads));
    }
    if problems.is_empty() {
        Verdict {
            outcome: Outcome::Pass,
            reasons: Vec::new(),
            notes,
        }
    } else {
        untestable(problems, notes)
    }
}

fn untestable(reasons: Vec<String>, notes: Vec<String>) -> Verdict {
    Verdict {
        outcome: Outcome::Untestable,
        reasons,
        notes,
    }
}

fn checks(observed: &Observed) -> impl Iterator<Item = &CheckRecord> {
    observed.records.iter().filter_map(|r| match r {
        Record::Check(c) => Some(c),
        _ => None,
    })
}

/// The guest's way of saying it cannot evaluate a check: a missing feature, not a failure.
const UNSUPPORTED: &str = "unsupported";

fn unsupported(check: &CheckRecord) -> bool {
    check.detail.as_deref() == Some(UNSUPPORTED)
}

fn describe_failure(check: &CheckRecord) -> String {
    let kind = catalog::check_kind(&check.name);
    let (relation, unit) = match kind {
        Some(k) if k.at_least => ("below the minimum", k.unit),
        Some(k) => ("above the limit", k.unit),
        None => ("outside the limit", ""),
    };
    let unit = if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    };
    let mut text = format!(
        "scenario {}: check {} failed: {}{unit} is {relation} {}{unit}",
        check.scenario, check.name, check.value, check.limit
    );
    if let Some(detail) = &check.detail {
        text.push_str(&format!(" ({detail})"));
    }
    text
}

fn guest_errors(observed: &Observed) -> Vec<String> {
    observed
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Error { place, msg } => {
                let hint = scheduler::error_hint(place, &observed.records)
                    .map(|h| format!(" ({h})"))
                    .unwrap_or_default();
                Some(format!(
                    "the guest reported an error in {place}: {msg}{hint}"
                ))
            }
            _ => None,
        })
        .collect()
}

/// What keeps a run whose checks all passed from being a pass.
fn problems(observed: &Observed, expected: &[ExpectedCheck]) -> Vec<String> {
    let mut problems = Vec::new();
    for check in checks(observed) {
        if unsupported(check) {
            problems.push(format!(
                "scenario {}: this guest init cannot evaluate check {} (unsupported)",
                check.scenario, check.name
            ));
        }
        // A failure may have reasons beyond the value (its detail says), a pass may not.
        let holds = catalog::check_kind(&check.name).is_none_or(|kind| {
            if kind.at_least {
                check.value >= check.limit
            } else {
                check.value <= check.limit
            }
        });
        if check.passed && !holds {
            problems.push(format!(
                "scenario {}: the guest passed check {} but value {} is outside limit {}",
                check.scenario, check.name, check.value, check.limit
            ));
        }
    }
    let done = observed.records.iter().find_map(|r| match r {
        Record::Done { ok, .. } => Some(*ok),
        _ => None,
    });
    match done {
        None => problems.push(format!("the guest did not finish: {}", end_story(observed))),
        Some(false) => problems.push("the guest finished with done status=error".to_string()),
        Some(true) => {}
    }
    for want in expected {
        let reported = checks(observed).any(|c| c.scenario == want.scenario && c.name == want.name);
        if !reported && done.is_some() {
            problems.push(format!(
                "scenario {}: the guest sent no result for check {}",
                want.scenario, want.name
            ));
        }
    }
    problems
}

fn done_at_all(observed: &Observed) -> bool {
    observed
        .records
        .iter()
        .any(|r| matches!(r, Record::Done { .. }))
}

/// How the VM ended, in words, with the panic message if there was one.
fn end_story(observed: &Observed) -> String {
    let mut story = observed.end.to_string();
    if let Some(panic) = &observed.panic {
        story.push_str(&format!("; the kernel panicked: \"{panic}\""));
        if let Some(hint) = panic_hint(panic) {
            story.push_str(&format!(" ({hint})"));
        }
    }
    story
}

fn notes(observed: &Observed) -> Vec<String> {
    let mut notes: Vec<String> = observed
        .malformed
        .iter()
        .map(|m| format!("ignored a malformed record: {m}"))
        .collect();
    for record in &observed.records {
        match record {
            Record::Unknown { kind } => {
                notes.push(format!("ignored an unknown record kind {kind:?}"))
            }
            Record::Stall(s) => notes.push(format!(
                "scenario {}: worker {}/{} (pid {}) stalled {} ms on CPU {}",
                s.scenario, s.group, s.index, s.pid, s.gap_ms, s.cpu
            )),
            Record::Kmsg { level, text } => notes.push(format!("kernel log <{level}>: {text}")),
            _ => {}
        }
    }
    if observed.end == RunEnd::NoPowerOff {
        notes.push("the guest did not power off after its done record; it was killed".to_string());
    }
    notes
}

#[cfg(test)]
mod tests;
