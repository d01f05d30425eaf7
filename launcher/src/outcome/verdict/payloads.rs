//! Judging payloads: each must end with the status its scenario expects, and its output
//! must say what the scenario asks (`fail_on`, `pass_on`, TAP results).

use regex::Regex;
use serde::Serialize;

use super::tap::{self, Tap};
use crate::protocol::record::{OutputSource, PayloadRecord, Record};
use crate::scenario::payloads::{EXPECT_ANY, KILLED};
use crate::scenario::{OutputRules, Scenario};
use crate::scheduler::quote;
use crate::vm::session::Observed;
use schedbox_protocol::limits::PAYLOAD_OUTPUT_BYTES;

/// A payload the plan runs, and the status the run needs from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedPayload {
    pub scenario: String,
    pub name: String,
    /// An exit status, `killed`, `signal:N`, or `any`.
    pub status: String,
    pub timeout_ms: Option<u64>,
    pub output: OutputRules,
}

/// How a payload the guest reported was judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PayloadVerdict {
    pub scenario: String,
    pub name: String,
    pub passed: bool,
    /// Why it failed, one sentence each (the run's reasons carry them too).
    pub problems: Vec<String>,
    /// Its TAP results, when its output is TAP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tap: Option<Tap>,
    /// Output lines the guest could not keep (beyond its output cap).
    pub lines_not_kept: u64,
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
                output: p.output.clone(),
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

/// Judges each payload the guest reported: its status, then its output.
pub fn judge(observed: &Observed, expected: &[ExpectedPayload]) -> Vec<PayloadVerdict> {
    expected
        .iter()
        .filter_map(|want| {
            let got = reported(observed, want)?;
            let mut problems = Vec::new();
            if !ends_as_expected(&want.status, &got.status) {
                problems.push(failure(want, got));
            }
            let lines = output_lines(observed, want);
            let tap = want.output.tap.then(|| tap::parse(lines.iter().copied()));
            let not_kept = got.dropped.unwrap_or(0);
            let mut output = output_problems(&want.output, &lines, tap.as_ref());
            if !want.output.is_empty() && output.is_empty() {
                output.extend(incomplete(got, lines.len() as u64));
            }
            let who = format!("scenario {}: payload {}", want.scenario, want.name);
            problems.extend(output.into_iter().map(|p| format!("{who}: {p}")));
            Some(PayloadVerdict {
                scenario: want.scenario.clone(),
                name: want.name.clone(),
                passed: problems.is_empty(),
                problems,
                tap,
                lines_not_kept: not_kept,
            })
        })
        .collect()
}

/// Why output that passed its rules cannot be trusted to be all of it: lines the guest
/// kept back (over its cap) or sent but that never arrived.
fn incomplete(got: &PayloadRecord, received: u64) -> Option<String> {
    let not_kept = got.dropped.unwrap_or(0);
    let lost = got.lines.map_or(0, |sent| sent.saturating_sub(received));
    if not_kept > 0 {
        Some(format!(
            "its output was cut ({not_kept} line(s) beyond the first {} MiB not kept), so it \
             cannot be judged on all of it",
            PAYLOAD_OUTPUT_BYTES >> 20
        ))
    } else if lost > 0 {
        Some(format!(
            "{lost} of the {} output line(s) the guest sent did not arrive, so its output \
             cannot be judged on all of it",
            got.lines.unwrap_or(0)
        ))
    } else {
        None
    }
}

/// One sentence for each way a payload failed.
pub fn failures(verdicts: &[PayloadVerdict]) -> Vec<String> {
    verdicts
        .iter()
        .flat_map(|v| v.problems.iter().cloned())
        .collect()
}

/// The lines the guest forwarded of a payload's output, in order.
fn output_lines<'a>(observed: &'a Observed, want: &ExpectedPayload) -> Vec<&'a str> {
    observed
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Output(o)
                if o.source == OutputSource::Payload
                    && o.name == want.name
                    && o.scenario.as_deref() == Some(want.scenario.as_str()) =>
            {
                Some(o.text.as_str())
            }
            _ => None,
        })
        .collect()
}

/// What the output says against the rules: a `fail_on` line, a `pass_on` pattern no
/// line matches, TAP results that fail.
fn output_problems(rules: &OutputRules, lines: &[&str], tap: Option<&Tap>) -> Vec<String> {
    let compile = |patterns: &[String]| -> Vec<(String, Regex)> {
        // Validated when the scenario was loaded.
        patterns
            .iter()
            .filter_map(|p| Some((p.clone(), Regex::new(p).ok()?)))
            .collect()
    };
    let mut problems = Vec::new();
    for (pattern, re) in compile(&rules.fail_on) {
        if let Some((i, line)) = lines.iter().enumerate().find(|(_, l)| re.is_match(l)) {
            problems.push(format!(
                "output line {} matches fail_on {pattern:?}: {line}",
                i + 1
            ));
        }
    }
    for (pattern, re) in compile(&rules.pass_on) {
        if !lines.iter().any(|l| re.is_match(l)) {
            problems.push(format!("no output line matches pass_on {pattern:?}"));
        }
    }
    if let Some(tap) = tap {
        problems.extend(tap.problems());
    }
    problems
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
            arrivals_ms: Vec::new(),
            malformed: Default::default(),
            console_tail: Vec::new(),
            panic: None,
            records_channels: Vec::new(),
            end: RunEnd::Exited(VmExit::PowerOff),
            machine: crate::vm::backend::Machine::Vm,
            timings: Timings::default(),
        }
    }

    fn checks(scenario: &str, names: &[&str]) -> Vec<ExpectedCheck> {
        names
            .iter()
            .map(|n| ExpectedCheck {
                scenario: scenario.into(),
                name: n.to_string(),
                log: Default::default(),
            })
            .collect()
    }

    fn help(status: &str) -> Vec<ExpectedPayload> {
        vec![ExpectedPayload {
            scenario: "spin-simple".into(),
            name: "help".into(),
            status: status.into(),
            timeout_ms: None,
            output: OutputRules::default(),
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

    /// The scheduler example with the help payload's output replaced by `lines`.
    fn with_output(lines: &[&str], dropped: Option<u64>) -> Observed {
        let mut text = String::new();
        for line in example("scheduler.records").lines() {
            if line.starts_with("SBX1 output source=payload ") {
                continue;
            }
            if line.starts_with("SBX1 payload ") {
                for l in lines {
                    text.push_str(&format!(
                        "SBX1 output source=payload scenario=spin-simple name=help text={}\n",
                        crate::protocol::wire::encode_value(l)
                    ));
                }
                let dropped = dropped.map(|n| format!(" dropped={n}")).unwrap_or_default();
                text.push_str(&format!("{line}{dropped}\n"));
                continue;
            }
            text.push_str(line);
            text.push('\n');
        }
        observed(&text)
    }

    fn judged(run: &Observed, output: OutputRules) -> crate::outcome::verdict::Verdict {
        let mut want = help("0");
        want[0].output = output;
        judge(run, &checks("spin-simple", SIMPLE_CHECKS), &want)
    }

    fn tap() -> OutputRules {
        OutputRules {
            tap: true,
            ..OutputRules::default()
        }
    }

    #[test]
    fn a_payload_that_exits_0_but_prints_not_ok_fails_the_run() {
        let good = with_output(
            &["TAP version 13", "1..2", "ok 1 a", "ok 2 b # SKIP no"],
            None,
        );
        let verdict = judged(&good, tap());
        assert_eq!(verdict.outcome, Outcome::Pass, "{verdict:?}");
        let results = &verdict.payloads[0].tap.as_ref().unwrap().results;
        assert_eq!(results.len(), 2);
        let bad = with_output(&["1..2", "ok 1 a", "not ok 2 b"], None);
        let verdict = judged(&bad, tap());
        assert_eq!(verdict.outcome, Outcome::Fail);
        assert_eq!(
            verdict.reasons,
            ["scenario spin-simple: payload help: TAP test 2 b is not ok"]
        );
        assert!(!verdict.payloads[0].passed);
        let short = with_output(&["1..3", "ok 1 a"], None);
        let verdict = judged(&short, tap());
        assert_eq!(verdict.outcome, Outcome::Fail);
        assert!(
            verdict.reasons[0].contains("TAP incomplete: the plan 1..3"),
            "{verdict:?}"
        );
    }

    #[test]
    fn fail_on_and_pass_on_judge_the_output() {
        let run = with_output(&["starting", "BUG: oh no", "done"], None);
        let rules = |fail_on: &[&str], pass_on: &[&str]| OutputRules {
            fail_on: fail_on.iter().map(|s| s.to_string()).collect(),
            pass_on: pass_on.iter().map(|s| s.to_string()).collect(),
            tap: false,
        };
        assert_eq!(judged(&run, rules(&[], &["^done$"])).outcome, Outcome::Pass);
        let verdict = judged(&run, rules(&["^BUG:"], &[]));
        assert_eq!(verdict.outcome, Outcome::Fail);
        assert_eq!(
            verdict.reasons,
            ["scenario spin-simple: payload help: output line 2 matches fail_on \"^BUG:\": BUG: oh no"]
        );
        let verdict = judged(&run, rules(&[], &["finished"]));
        assert_eq!(
            verdict.reasons,
            ["scenario spin-simple: payload help: no output line matches pass_on \"finished\""]
        );
        // Lines left out could hold anything: a pass would rest on missing data.
        let cut = with_output(&["starting", "done"], Some(40));
        let verdict = judged(&cut, rules(&["BUG"], &["done"]));
        assert_eq!(verdict.outcome, Outcome::Fail);
        assert!(
            verdict.reasons[0].contains("its output was cut (40 line(s)"),
            "{verdict:?}"
        );
        assert_eq!(judged(&cut, OutputRules::default()).outcome, Outcome::Pass);
        // A line the guest sent but the host never got could be the failing one.
        let mut lost = with_output(&["starting", "done"], None);
        for r in &mut lost.records {
            if let Record::Payload(p) = r {
                p.lines = Some(3);
            }
        }
        let verdict = judged(&lost, rules(&["BUG"], &["done"]));
        assert_eq!(verdict.outcome, Outcome::Fail);
        assert_eq!(
            verdict.reasons,
            [
                "scenario spin-simple: payload help: 1 of the 3 output line(s) the guest sent did \
              not arrive, so its output cannot be judged on all of it"
            ]
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
