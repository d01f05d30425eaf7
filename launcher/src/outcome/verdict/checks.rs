//! The checks a run expects, and a check's failure or a guest error put in words.

use crate::protocol::record::{CheckRecord, ErrorPlace, Record};
use crate::scenario::{catalog, LogRules, Scenario};
use crate::scheduler;

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

/// The guest's way of saying it cannot evaluate a check: a missing feature, not a failure.
const UNSUPPORTED: &str = "unsupported";

pub(super) fn unsupported(check: &CheckRecord) -> bool {
    check.detail.as_deref() == Some(UNSUPPORTED)
}

pub(super) fn describe_failure(check: &CheckRecord) -> String {
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

/// A guest error in words, with a hint where there is one.
pub(super) fn error_text(place: ErrorPlace, msg: &str, records: &[Record]) -> String {
    let hint = scheduler::error_hint(place, records)
        .map(|h| format!(" ({h})"))
        .unwrap_or_default();
    format!("the guest reported an error in {place}: {msg}{hint}")
}
