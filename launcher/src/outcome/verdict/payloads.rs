//! Judging payloads: each must end with the status its scenario expects.

use crate::protocol::record::{PayloadRecord, Record};
use crate::scenario::payloads::{EXPECT_ANY, KILLED};
use crate::scenario::Scenario;
use crate::scheduler::quote;
use crate::vm::session::Observed;

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
    let output = quote(&got.output, true);
    if !output.is_empty() {
        text.push_str(&format!("; its output: {output}"));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::verdict::{judge, ExpectedCheck, Outcome};
    use crate::protocol::examples::{self, text as example};
    use crate::vm::backend::VmExit;
    use crate::vm::session::{RunEnd, Timings};

    fn observed(records: &str) -> Observed {
        Observed {
            records: examples::records(records),
            malformed: Vec::new(),
            console_tail: Vec::new(),
            panic: None,
            end: RunEnd::Exited(VmExit::PowerOff),
            timings: Timings::default(),
        }
    }

    fn checks(scenario: &str, names: &[&str]) -> Vec<ExpectedCheck> {
        names
            .iter()
            .map(|n| ExpectedCheck {
                scenario: scenario.into(),
                name: n.to_string(),
            })
            .collect()
    }

    fn help(status: &str) -> Vec<ExpectedPayload> {
        vec![ExpectedPayload {
            scenario: "spin-simple".into(),
            name: "help".into(),
            status: status.into(),
            timeout_ms: None,
        }]
    }

    const SIMPLE_CHECKS: &[&str] = &["progress", "stall", "scheduler"];

    #[test]
    fn a_scheduler_run_with_its_payload_passes() {
        let run = observed(&example("scheduler.records"));
        let verdict = judge(&run, &checks("spin-simple", SIMPLE_CHECKS), &help("0"));
        assert_eq!(verdict.outcome, Outcome::Pass, "{verdict:?}");
        let verdict = judge(&run, &checks("spin-simple", SIMPLE_CHECKS), &help("any"));
        assert_eq!(verdict.outcome, Outcome::Pass, "{verdict:?}");
    }

    #[test]
    fn a_payload_with_another_status_fails_the_run() {
        let run = observed(&example("scheduler.records"));
        let verdict = judge(&run, &checks("spin-simple", SIMPLE_CHECKS), &help("3"));
        assert_eq!(verdict.outcome, Outcome::Fail);
        assert_eq!(verdict.reasons.len(), 1, "{verdict:?}");
        assert_eq!(
            verdict.reasons[0],
            "scenario spin-simple: payload help ended with status 0, expected 3; its output: \
             A simple sched_ext scheduler. | … | -v            Print libbpf debug messages | \
             -h            Display this help and exit"
        );
        let killed = example("scheduler.records").replace(
            "name=help pid=42 status=0",
            "name=help pid=42 status=killed",
        );
        let verdict = judge(
            &observed(&killed),
            &checks("spin-simple", SIMPLE_CHECKS),
            &help("0"),
        );
        assert_eq!(verdict.outcome, Outcome::Fail);
        assert!(
            verdict.reasons[0].contains("was still running and was killed at the end of"),
            "{verdict:?}"
        );
    }

    #[test]
    fn a_payload_never_reported_is_untestable() {
        let records: String = example("scheduler.records")
            .lines()
            .filter(|l| !l.starts_with("SBX1 payload "))
            .map(|l| format!("{l}\n"))
            .collect();
        let verdict = judge(
            &observed(&records),
            &checks("spin-simple", SIMPLE_CHECKS),
            &help("0"),
        );
        assert_eq!(verdict.outcome, Outcome::Untestable);
        assert_eq!(
            verdict.reasons,
            ["scenario spin-simple: the guest sent no result for payload help"]
        );
    }

    #[test]
    fn an_ejected_scheduler_fails_the_run() {
        let run = observed(&example("scheduler-ejected.records"));
        let verdict = judge(&run, &checks("spin-qmap", SIMPLE_CHECKS), &[]);
        assert_eq!(verdict.outcome, Outcome::Fail);
        assert!(
            verdict
                .reasons
                .iter()
                .any(|r| r.starts_with("the kernel ejected scheduler qmap during scenario")),
            "{verdict:?}"
        );
    }

    #[test]
    fn a_kernel_without_sched_ext_says_what_to_do() {
        let records = "SBX1 boot release=6.1 cpus=2 uptime_ms=1 sched_ext=absent\n\
                       SBX1 error where=scheduler msg=no%20sched_ext\n\
                       SBX1 done status=error t_ms=2\n";
        let verdict = judge(&observed(records), &[], &[]);
        assert_eq!(verdict.outcome, Outcome::Untestable);
        assert!(verdict.reasons[0].contains("`make kernel`"), "{verdict:?}");
    }
}
