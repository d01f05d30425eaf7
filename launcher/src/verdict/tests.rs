use super::*;
use crate::backend::VmExit;
use crate::examples::{self, text as example};
use crate::session::Timings;
use std::time::Duration;

fn observed(records: &str, end: RunEnd) -> Observed {
    Observed {
        records: examples::records(records),
        malformed: Vec::new(),
        console_tail: Vec::new(),
        panic: None,
        end,
        timings: Timings::default(),
    }
}

fn spin_expected() -> Vec<ExpectedCheck> {
    ["progress", "stall"]
        .iter()
        .map(|n| ExpectedCheck {
            scenario: "spin-basic".into(),
            name: n.to_string(),
            log: Default::default(),
        })
        .collect()
}

const POWER_OFF: RunEnd = RunEnd::Exited(VmExit::PowerOff);

#[test]
fn spin_example_passes() {
    let verdict = judge(
        &observed(&example("spin.records"), POWER_OFF),
        &spin_expected(),
        &[],
    );
    assert_eq!(verdict.outcome, Outcome::Pass, "{verdict:?}");
    assert_eq!(verdict.outcome.exit_code(), 0);
}

#[test]
fn a_failed_check_fails_the_run() {
    let records = example("spin.records").replace(
        "name=stall result=pass value=12",
        "name=stall result=fail value=1500 detail=worker%20spin/1",
    );
    let verdict = judge(&observed(&records, POWER_OFF), &spin_expected(), &[]);
    assert_eq!(verdict.outcome, Outcome::Fail);
    assert_eq!(verdict.outcome.exit_code(), 1);
    assert_eq!(
        verdict.reasons,
        ["scenario spin-basic: check stall failed: 1500 ms is above the limit 1000 ms (worker spin/1)"]
    );
}

#[test]
fn a_guest_error_makes_failed_checks_untestable() {
    let records = example("spin.records")
        .replace(
            "name=stall result=pass value=12",
            "name=stall result=fail value=1500",
        )
        .replace(
            "SBX1 done status=ok",
            "SBX1 error where=worker msg=fork:%20EAGAIN\nSBX1 done status=error",
        );
    let verdict = judge(&observed(&records, POWER_OFF), &spin_expected(), &[]);
    assert_eq!(verdict.outcome, Outcome::Untestable, "{verdict:?}");
    assert!(verdict.reasons[0].contains("fork: EAGAIN"), "{verdict:?}");
    assert!(
        verdict.reasons[1].contains("check stall failed"),
        "{verdict:?}"
    );
}

#[test]
fn a_guest_error_does_not_hide_an_ejected_scheduler() {
    // A scheduler that stalls tasks can keep a worker from starting: still its failure.
    let records = example("scheduler-ejected.records").replace(
        "SBX1 done status=ok",
        "SBX1 error where=spawn msg=worker%20not%20ready\nSBX1 done status=error",
    );
    let verdict = judge(&observed(&records, POWER_OFF), &[], &[]);
    assert_eq!(verdict.outcome, Outcome::Fail, "{verdict:?}");
}

#[test]
fn error_example_is_untestable() {
    let verdict = judge(
        &observed(&example("error.records"), POWER_OFF),
        &spin_expected(),
        &[],
    );
    assert_eq!(verdict.outcome, Outcome::Untestable);
    assert!(
        verdict.reasons[0].contains("init never reported"),
        "{verdict:?}"
    );
    let booted = format!(
        "SBX1 boot release=1 cpus=1 uptime_ms=1 sched_ext=absent\n{}",
        example("error.records")
    );
    let verdict = judge(&observed(&booted, POWER_OFF), &spin_expected(), &[]);
    assert_eq!(verdict.outcome.exit_code(), 125);
    assert!(
        verdict.reasons[0].contains("unknown verb \"frobnicate\""),
        "{verdict:?}"
    );
}

#[test]
fn no_boot_record_explains_the_panic() {
    let mut seen = observed("", RunEnd::Exited(VmExit::Reset));
    seen.panic = Some("No working init found.".into());
    let verdict = judge(&seen, &[], &[]);
    assert_eq!(verdict.outcome, Outcome::Untestable);
    assert!(
        verdict.reasons[0].contains("No working init found"),
        "{verdict:?}"
    );
    assert!(
        verdict.reasons[0].contains("could not run /init"),
        "{verdict:?}"
    );
}

#[test]
fn a_hung_guest_is_untestable() {
    let records: String = example("spin.records")
        .lines()
        .take(4)
        .map(|l| format!("{l}\n"))
        .collect();
    let verdict = judge(
        &observed(&records, RunEnd::Silent(Duration::from_secs(10))),
        &spin_expected(),
        &[],
    );
    assert_eq!(verdict.outcome, Outcome::Untestable);
    assert!(
        verdict.reasons[0].contains("no record for 10 s"),
        "{verdict:?}"
    );
}

#[test]
fn missing_and_inconsistent_checks_are_untestable() {
    let records = example("spin.records").replace(
        "SBX1 check scenario=spin-basic name=stall result=pass value=12 limit=1000\n",
        "",
    );
    let verdict = judge(&observed(&records, POWER_OFF), &spin_expected(), &[]);
    assert_eq!(verdict.outcome, Outcome::Untestable);
    assert!(
        verdict.reasons[0].contains("no result for check stall"),
        "{verdict:?}"
    );
    let records = example("spin.records").replace("value=12 limit=1000", "value=2000 limit=1000");
    let verdict = judge(&observed(&records, POWER_OFF), &spin_expected(), &[]);
    assert_eq!(verdict.outcome, Outcome::Untestable);
    assert!(verdict.reasons[0].contains("outside limit"), "{verdict:?}");
}

#[test]
fn unsupported_checks_are_untestable_not_failures() {
    let records = example("spin.records").replace(
        "name=stall result=pass value=12 limit=1000",
        "name=stall result=fail value=0 limit=1000 detail=unsupported",
    );
    let verdict = judge(&observed(&records, POWER_OFF), &spin_expected(), &[]);
    assert_eq!(verdict.outcome, Outcome::Untestable, "{verdict:?}");
    assert!(
        verdict.reasons[0].contains("cannot evaluate check stall"),
        "{verdict:?}"
    );
}

#[test]
fn a_kernel_log_check_judged_on_its_patterns_is_what_the_verdict_and_report_use() {
    let records = example("spin.records").replace(
        "SBX1 check scenario=spin-basic name=kernel-log result=pass value=0 limit=0",
        "SBX1 kmsg level=6 text=lkdtm:%20Performing%20direct%20entry%20WARNING scenario=spin-basic\n\
         SBX1 kmsg level=4 text=WARNING:%20CPU:%200%20PID:%201%20at%20x%20lkdtm_WARNING scenario=spin-basic\n\
         SBX1 check scenario=spin-basic name=kernel-log result=fail value=1 limit=0 forwarded=2 dropped=0",
    );
    let run = observed(&records, POWER_OFF);
    let mut expected = spin_expected();
    expected.push(ExpectedCheck {
        scenario: "spin-basic".into(),
        name: "kernel-log".into(),
        log: LogRules {
            allow: vec!["lkdtm_WARNING".into()],
            expect: vec!["Performing direct entry".into()],
        },
    });
    let verdict = judge(&run, &expected, &[]);
    assert_eq!(verdict.outcome, Outcome::Pass, "{verdict:?}");
    let judged = verdict
        .checks
        .iter()
        .find(|c| c.name == "kernel-log")
        .unwrap();
    assert!(judged.passed && judged.value == 0, "{judged:?}");
    expected[2].log.expect = vec!["never logged".into()];
    let verdict = judge(&run, &expected, &[]);
    assert_eq!(verdict.outcome, Outcome::Fail);
    assert_eq!(
        verdict.reasons,
        [
            "scenario spin-basic: check kernel-log failed: no kernel log line matched expect \
          \"never logged\" (value 0 lines, limit 0 lines)"
        ]
    );
}
