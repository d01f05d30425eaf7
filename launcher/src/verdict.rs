//! Judges a run from what the guest reported: pass, fail or untestable (exit 0, 1, 125).

use serde::Serialize;

use crate::console::panic_hint;
use crate::record::{CheckRecord, Record};
use crate::scenario::{catalog, LogRules, Scenario};
use crate::scheduler;
use crate::session::{Observed, RunEnd};

mod kernel_log;
mod payloads;
pub mod tap;
pub use payloads::{ends_as_expected, expected_payloads, ExpectedPayload, PayloadVerdict};

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
    /// The check results the outcome rests on: the guest's, with `kernel-log` checks
    /// that have patterns judged here. The report presents these.
    #[serde(skip)]
    pub checks: Vec<CheckRecord>,
    /// How each payload the guest reported was judged.
    #[serde(skip)]
    pub payloads: Vec<PayloadVerdict>,
}

/// A check the plan asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedCheck {
    pub scenario: String,
    pub name: String,
    /// `kernel-log`: the patterns the host judges the forwarded lines by.
    pub log: LogRules,
}

pub fn expected_checks(scenarios: &[Scenario]) -> Vec<ExpectedCheck> {
    scenarios
        .iter()
        .flat_map(|s| {
            s.checks.iter().map(|c| ExpectedCheck {
                scenario: s.name.clone(),
                name: c.name.clone(),
                log: c.log.clone(),
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
    let mut notes = notes(observed);
    let checks = judged_checks(observed, expected);
    notes.extend(log_notes(observed, expected));
    let payload_verdicts = payloads::judge(observed, expected_payloads);
    let verdict = |outcome, reasons, notes| Verdict {
        outcome,
        reasons,
        notes,
        checks: checks.clone(),
        payloads: payload_verdicts.clone(),
    };
    let booted = observed
        .records
        .iter()
        .any(|r| matches!(r, Record::Boot { .. }));
    if !booted {
        let reason = format!("init never reported: {}", end_story(observed));
        return verdict(Outcome::Untestable, vec![reason], notes);
    }
    let failed_checks: Vec<String> = checks
        .iter()
        .filter(|c| !c.passed && !unsupported(c))
        .map(describe_failure)
        .collect();
    let mut held_up = scheduler::failures(&observed.records);
    held_up.extend(payloads::failures(&payload_verdicts));
    // A guest that could not carry out the plan (a worker could not fork, was killed)
    // measured something else than the scenario asked for: its failed checks are
    // listed but do not judge the kernel. What the scheduler under test or a payload
    // did still does.
    let errors = guest_errors(observed);
    if !errors.is_empty() && held_up.is_empty() {
        let reasons = errors.into_iter().chain(failed_checks).collect();
        return verdict(Outcome::Untestable, reasons, notes);
    }
    let mut failed = failed_checks;
    failed.extend(held_up);
    if !failed.is_empty() {
        return verdict(Outcome::Fail, failed, notes);
    }
    let mut problems = problems(observed, &checks, expected);
    if done_at_all(observed) {
        problems.extend(payloads::missing(observed, expected_payloads));
    }
    if problems.is_empty() {
        verdict(Outcome::Pass, Vec::new(), notes)
    } else {
        verdict(Outcome::Untestable, problems, notes)
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
        .filter(|rules| check.name == catalog::KERNEL_LOG && !rules.is_empty())
}

fn log_notes(observed: &Observed, expected: &[ExpectedCheck]) -> Vec<String> {
    expected
        .iter()
        .filter(|e| e.name == catalog::KERNEL_LOG && !e.log.is_empty())
        .flat_map(|e| kernel_log::notes(&e.log, &e.scenario, &observed.records))
        .collect()
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
    let within = kind.is_some_and(|k| {
        if k.at_least {
            check.value >= check.limit
        } else {
            check.value <= check.limit
        }
    });
    match &check.detail {
        // Failed for another reason than its value (kernel-log's expect, lines that
        // were not forwarded): the detail is the reason.
        Some(detail) if within => format!(
            "scenario {}: check {} failed: {detail} (value {}{unit}, limit {}{unit})",
            check.scenario, check.name, check.value, check.limit
        ),
        detail => {
            let mut text = format!(
                "scenario {}: check {} failed: {}{unit} is {relation} {}{unit}",
                check.scenario, check.name, check.value, check.limit
            );
            if let Some(detail) = detail {
                text.push_str(&format!(" ({detail})"));
            }
            text
        }
    }
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
fn problems(
    observed: &Observed,
    checks: &[CheckRecord],
    expected: &[ExpectedCheck],
) -> Vec<String> {
    let mut problems = Vec::new();
    for check in checks {
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
        let reported = checks
            .iter()
            .any(|c| c.scenario == want.scenario && c.name == want.name);
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
            Record::Kmsg {
                level,
                text,
                scenario: None,
            } => notes.push(format!("kernel log <{level}>: {text}")),
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
