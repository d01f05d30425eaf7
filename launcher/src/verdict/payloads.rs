//! Judging payloads: each must end with the status its scenario expects.

use crate::record::{PayloadRecord, Record};
use crate::scenario::payloads::{EXPECT_ANY, KILLED};
use crate::scenario::Scenario;
use crate::session::Observed;

/// Output quoted in a failure reason, at most.
const QUOTED_OUTPUT_CHARS: usize = 200;

/// A payload the plan runs, and the status the run needs from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedPayload {
    pub scenario: String,
    pub name: String,
    /// An exit status, `killed`, `signal:N`, or `any`.
    pub status: String,
    pub timeout_ms: Option<u64>,
}

pub fn expected_payloads(scenarios: &[Scenario]) -> Vec<ExpectedPayload> {
    scenarios
        .iter()
        .flat_map(|s| {
            s.payloads().map(|p| ExpectedPayload {
                scenario: s.name.clone(),
                name: p.name.clone(),
                status: p.expect_status.clone(),
                timeout_ms: p.timeout_ms,
            })
        })
        .collect()
}

/// Whether a payload's reported status is what was expected.
pub fn ends_as_expected(expected: &str, status: &str) -> bool {
    expected == EXPECT_ANY || expected == status
}

fn reported<'a>(observed: &'a Observed, want: &ExpectedPayload) -> Option<&'a PayloadRecord> {
    observed.records.iter().find_map(|r| match r {
        Record::Payload(p) if p.scenario == want.scenario && p.name == want.name => Some(p),
        _ => None,
    })
}

/// One sentence for each payload that did not end as expected.
pub fn failures(observed: &Observed, expected: &[ExpectedPayload]) -> Vec<String> {
    expected
        .iter()
        .filter_map(|want| {
            let got = reported(observed, want)?;
            (!ends_as_expected(&want.status, &got.status)).then(|| failure(want, got))
        })
        .collect()
}

fn failure(want: &ExpectedPayload, got: &PayloadRecord) -> String {
    let mut text = if got.status == KILLED {
        let when = match want.timeout_ms {
            Some(ms) => format!("at its timeout_ms ({ms} ms) or the end of the scenario"),
            None => "at the end of the scenario".to_string(),
        };
        format!(
            "scenario {}: payload {} was still running and was killed {when}, but status {} \
             was expected: make the scenario longer, or set expect_status = \"killed\" for a \
             payload meant to run until stopped",
            want.scenario, want.name, want.status
        )
    } else {
        format!(
            "scenario {}: payload {} ended with status {}, expected {}",
            want.scenario, want.name, got.status, want.status
        )
    };
    let output = got.output.trim();
    if !output.is_empty() {
        let chars = output.chars().count();
        let tail: String = output
            .chars()
            .skip(chars.saturating_sub(QUOTED_OUTPUT_CHARS))
            .map(|c| if c == '\n' { '|' } else { c })
            .collect();
        text.push_str(&format!("; its last output: {tail}"));
    }
    text
}

/// Payloads the guest never reported although it finished.
pub fn missing(observed: &Observed, expected: &[ExpectedPayload]) -> Vec<String> {
    expected
        .iter()
        .filter(|want| reported(observed, want).is_none())
        .map(|want| {
            format!(
                "scenario {}: the guest sent no result for payload {}",
                want.scenario, want.name
            )
        })
        .collect()
}
