use super::*;
use crate::protocol::examples::{self, text as example};
use crate::vm::backend::VmExit;
use crate::vm::session::Timings;
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
    assert_eq!(verdict.outcome.exit().code(), 0);
}

#[test]
fn a_failed_check_fails_the_run() {
    let records = example("spin.records").replace(
        "name=stall result=pass value=12",
        "name=stall result=fail value=1500 detail=worker%20spin/1",
    );
    let verdict = judge(&observed(&records, POWER_OFF), &spin_expected(), &[]);
    assert_eq!(verdict.outcome, Outcome::Fail);
    assert_eq!(verdict.outcome.exit().code(), 1);
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
    assert_eq!(verdict.outcome.exit().code(), 125);
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
fn host_side_ends_never_fail_the_kernel() {
    let records = example("spin.records").replace(
        "name=stall result=pass value=12",
        "name=stall result=fail value=1500",
    );
    let crashed = RunEnd::Exited(VmExit::Crashed("QEMU was killed by signal 9".into()));
    for end in [crashed, RunEnd::HostFault("disk full".into())] {
        let verdict = judge(&observed(&records, end.clone()), &spin_expected(), &[]);
        assert_eq!(verdict.outcome, Outcome::Untestable, "{end:?}: {verdict:?}");
    }
    let full = RunEnd::HostFault("cannot write the console log: disk full".into());
    let passed = judge(
        &observed(&example("spin.records"), full),
        &spin_expected(),
        &[],
    );
    assert_eq!(passed.outcome, Outcome::Untestable, "{passed:?}");
    assert!(passed.reasons[0].contains("disk full"), "{passed:?}");
}

#[test]
fn an_interrupted_run_is_neither_pass_nor_fail() {
    let end = RunEnd::Interrupted(libc::SIGTERM);
    let verdict = judge(
        &observed(&example("spin.records"), end),
        &spin_expected(),
        &[],
    );
    assert_eq!(verdict.outcome, Outcome::Interrupted(libc::SIGTERM));
    assert_eq!(verdict.outcome.exit().code(), 143);
    assert_eq!(
        serde_json::to_value(verdict.outcome).unwrap(),
        serde_json::json!("interrupted")
    );
    assert!(verdict.reasons[0].contains("SIGTERM"), "{verdict:?}");
}
