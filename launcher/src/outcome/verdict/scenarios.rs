//! Each scenario of a run judged on its own: pass, fail (with what failed), or
//! untestable (with why). An error inside one scenario ends only that one in the guest,
//! so it makes only that scenario untestable.

use serde::Serialize;

use super::checks::{describe_failure, error_text, unsupported, ExpectedCheck};
use super::payloads::{self, ExpectedPayload, PayloadVerdict};
use crate::protocol::record::{self, CheckRecord, Record};
use crate::scenario::catalog;
use crate::scheduler;
use crate::vm::session::Observed;

/// How one scenario went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
pub enum ScenarioOutcome {
    Pass,
    /// The kernel or scheduler failed it: the checks and payloads that failed.
    Fail {
        failed: Vec<String>,
    },
    /// It could not be judged: why (a guest error in it, a missing result, ...).
    Untestable {
        reasons: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScenarioVerdict {
    pub name: String,
    #[serde(flatten)]
    pub outcome: ScenarioOutcome,
}

/// What the records say about one scenario.
#[derive(Default)]
struct Seen<'a> {
    started: bool,
    ended: bool,
    guest_error: bool,
    errors: Vec<String>,
    checks: Vec<&'a CheckRecord>,
}

/// The scenarios of a run, in the order first named by `names` (the plan's), the
/// records, or the expected checks and payloads, each judged on its own.
/// `results` are the check results and payload verdicts the run judged (the guest's
/// checks, with host-judged ones where a check has patterns).
pub fn judge(
    observed: &Observed,
    names: &[String],
    checks: &[ExpectedCheck],
    expected_payloads: &[ExpectedPayload],
    results: (&[CheckRecord], &[PayloadVerdict]),
) -> Vec<ScenarioVerdict> {
    let mut all: Vec<&str> = names.iter().map(String::as_str).collect();
    let recorded = observed.records.iter().filter_map(|r| match r {
        Record::Scenario { name, .. } => Some(name.as_str()),
        _ => None,
    });
    let expected = checks.iter().map(|c| c.scenario.as_str());
    let paid = expected_payloads.iter().map(|p| p.scenario.as_str());
    // The guest runs scenarios in plan order: those it started come first, as it did.
    for name in recorded.chain(expected).chain(paid) {
        if !all.contains(&name) {
            all.push(name);
        }
    }
    let finished = observed
        .records
        .iter()
        .any(|r| matches!(r, Record::Done { .. }));
    all.into_iter()
        .map(|name| {
            let want: Vec<&ExpectedCheck> = checks.iter().filter(|c| c.scenario == name).collect();
            let pays: Vec<ExpectedPayload> = expected_payloads
                .iter()
                .filter(|p| p.scenario == name)
                .cloned()
                .collect();
            ScenarioVerdict {
                name: name.to_string(),
                outcome: outcome(observed, name, (&want, &pays), results, finished),
            }
        })
        .collect()
}

fn outcome(
    observed: &Observed,
    name: &str,
    (want, pays): (&[&ExpectedCheck], &[ExpectedPayload]),
    (checks, payload_verdicts): (&[CheckRecord], &[PayloadVerdict]),
    finished: bool,
) -> ScenarioOutcome {
    let mut seen = seen(observed, name);
    seen.checks = checks.iter().filter(|c| c.scenario == name).collect();
    let mine: Vec<PayloadVerdict> = payload_verdicts
        .iter()
        .filter(|v| v.scenario == name)
        .cloned()
        .collect();
    let failed_checks = seen
        .checks
        .iter()
        .filter(|c| !c.passed && !unsupported(c))
        .filter(|c| !scheduler::repeats_attach_failure(&c.name, &observed.records))
        .map(|c| describe_failure(c));
    let payload_failures = payloads::failures(&mine).into_iter();
    if !seen.errors.is_empty() || seen.guest_error {
        // It measured something else than it asked for: what failed is listed, not judged.
        let mut reasons = seen.errors.clone();
        if reasons.is_empty() {
            reasons.push(format!("scenario {name}: the guest could not carry it out"));
        }
        let listed = failed_checks.chain(payload_failures);
        reasons.extend(listed.map(|f| format!("{f} (not judged: the scenario had an error)")));
        return ScenarioOutcome::Untestable { reasons };
    }
    let failed: Vec<String> = failed_checks.chain(payload_failures).collect();
    if !failed.is_empty() {
        return ScenarioOutcome::Fail { failed };
    }
    let reasons = problems(observed, name, &seen, want, pays, finished);
    if reasons.is_empty() {
        ScenarioOutcome::Pass
    } else {
        ScenarioOutcome::Untestable { reasons }
    }
}

/// Walks the records for what concerns scenario `name`. An error record without
/// `scenario=` (an older guest) belongs to the scenario running when it came.
fn seen<'a>(observed: &'a Observed, name: &str) -> Seen<'a> {
    let mut seen = Seen::default();
    let mut running: Option<&str> = None;
    for record in &observed.records {
        match record {
            Record::Scenario { name: n, .. } => {
                running = Some(n);
                seen.started |= n == name;
            }
            Record::ScenarioEnd {
                name: n, outcome, ..
            } => {
                running = None;
                if n == name {
                    seen.ended = true;
                    seen.guest_error |= *outcome == Some(record::ScenarioOutcome::Error);
                }
            }
            Record::Error {
                scenario,
                place,
                msg,
            } if scenario.as_deref().or(running) == Some(name) => {
                let text = error_text(*place, msg, &observed.records);
                seen.errors.push(format!("scenario {name}: {text}"));
            }
            _ => {}
        }
    }
    seen
}

/// What keeps a scenario whose checks all passed from being a pass.
fn problems(
    observed: &Observed,
    name: &str,
    seen: &Seen,
    want: &[&ExpectedCheck],
    pays: &[ExpectedPayload],
    finished: bool,
) -> Vec<String> {
    if !seen.started {
        return vec![format!("scenario {name}: the guest never started it")];
    }
    if !seen.ended {
        return vec![format!("scenario {name}: the guest never finished it")];
    }
    let mut problems = Vec::new();
    for check in &seen.checks {
        if unsupported(check) {
            problems.push(format!(
                "scenario {name}: this guest init cannot evaluate check {} (unsupported)",
                check.name
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
                "scenario {name}: the guest passed check {} but value {} is outside limit {}",
                check.name, check.value, check.limit
            ));
        }
    }
    for w in want {
        if !seen.checks.iter().any(|c| c.name == w.name) {
            problems.push(format!(
                "scenario {name}: the guest sent no result for check {}",
                w.name
            ));
        }
    }
    if finished {
        problems.extend(payloads::missing(observed, pays));
    }
    problems
}
