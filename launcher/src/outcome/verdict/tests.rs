use super::*;
use crate::protocol::examples::{self, text as example};
use crate::protocol::record::{self, Line};
use crate::vm::backend::VmExit;
use crate::vm::session::Timings;
use std::time::Duration;

fn observed(records: &str, end: RunEnd) -> Observed {
    Observed {
        records: examples::records(records),
        arrivals_ms: Vec::new(),
        malformed: Default::default(),
        console_tail: Vec::new(),
        panic: None,
        records_channels: Vec::new(),
        end,
        machine: crate::vm::backend::Machine::Vm,
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
    assert_eq!(verdict.outcome.exit().code(), 0);
}

#[test]
fn a_malformed_record_makes_a_passing_run_untestable() {
    let mut seen = observed(&example("spin.records"), POWER_OFF);
    seen.malformed
        .push("missing t_ms= in record \"SBX1 heartbeat\"".to_string());
    let verdict = judge(&seen, &spin_expected(), &[]);
    assert_eq!(verdict.outcome, Outcome::Untestable, "{verdict:?}");
    assert_eq!(
        verdict.reasons,
        ["protocol error: the guest sent a record this host cannot read: missing t_ms= in record \"SBX1 heartbeat\""]
    );
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
fn a_guest_error_makes_its_scenarios_failed_checks_untestable() {
    // An older guest's error has no scenario=: it belongs to the scenario running.
    let records = example("spin.records")
        .replace(
            "name=stall result=pass value=12",
            "name=stall result=fail value=1500",
        )
        .replace(
            "SBX1 check scenario=spin-basic name=progress",
            "SBX1 error where=worker msg=fork:%20EAGAIN\nSBX1 check scenario=spin-basic name=progress",
        );
    let verdict = judge(&observed(&records, POWER_OFF), &spin_expected(), &[]);
    assert_eq!(verdict.outcome, Outcome::Untestable, "{verdict:?}");
    assert!(verdict.reasons[0].contains("fork: EAGAIN"), "{verdict:?}");
    assert!(
        verdict.reasons[1].contains("check stall failed")
            && verdict.reasons[1].contains("not judged"),
        "{verdict:?}"
    );
}

/// Four scenarios of which the second could not be carried out (its `write` op failed):
/// the guest ended it alone and went on.
fn batch(third_stall: &str) -> String {
    let mut text = String::from("SBX1 boot release=6.12 cpus=2 uptime_ms=1 sched_ext=disabled\n");
    for (i, name) in ["s1", "s2", "s3", "s4"].iter().enumerate() {
        text.push_str(&format!("SBX1 scenario name={name} t_ms={i}\n"));
        if *name == "s2" {
            text.push_str(
                "SBX1 error scenario=s2 where=write msg=write%201%20to%20/x:%20ENOENT%20(2)\n\
                 SBX1 scenario-end name=s2 t_ms=9 outcome=error\n",
            );
            continue;
        }
        let value = if *name == "s3" { third_stall } else { "1" };
        let result = if value == "1" { "pass" } else { "fail" };
        text.push_str(&format!(
            "SBX1 check scenario={name} name=stall result={result} value={value} limit=1000\n\
             SBX1 scenario-end name={name} t_ms=9 outcome={result}\n"
        ));
    }
    text + "SBX1 done status=ok t_ms=10\n"
}

fn stall_checks() -> Vec<ExpectedCheck> {
    ["s1", "s3", "s4"]
        .iter()
        .map(|s| ExpectedCheck {
            scenario: s.to_string(),
            name: "stall".into(),
            log: LogRules::default(),
        })
        .collect()
}

#[test]
fn an_error_in_one_scenario_leaves_the_others_their_own_outcome() {
    let run = observed(&batch("1"), POWER_OFF);
    let each = judge(&run, &stall_checks(), &[]).scenarios;
    let names: Vec<&str> = each.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["s1", "s2", "s3", "s4"],
        "judged once, in the plan's order"
    );
    let outcomes: Vec<&ScenarioOutcome> = each.iter().map(|s| &s.outcome).collect();
    assert_eq!(outcomes[0], &ScenarioOutcome::Pass);
    assert!(
        matches!(outcomes[1], ScenarioOutcome::Untestable { reasons } if reasons[0].contains("ENOENT")),
        "{each:?}"
    );
    assert_eq!(
        (outcomes[2], outcomes[3]),
        (&ScenarioOutcome::Pass, &ScenarioOutcome::Pass)
    );
    let verdict = judge(&run, &stall_checks(), &[]);
    assert_eq!(
        verdict.outcome.exit().code(),
        125,
        "untestable beats pass: {verdict:?}"
    );

    let run = observed(&batch("5000"), POWER_OFF);
    let each = judge(&run, &stall_checks(), &[]).scenarios;
    assert!(
        matches!(&each[2].outcome, ScenarioOutcome::Fail { failed } if failed[0].contains("check stall failed")),
        "{each:?}"
    );
    let verdict = judge(&run, &stall_checks(), &[]);
    assert_eq!(
        verdict.outcome.exit().code(),
        1,
        "a real failure beats untestable: {verdict:?}"
    );
    assert!(
        verdict.notes.iter().any(|n| n.contains("ENOENT")),
        "{verdict:?}"
    );
}

#[test]
fn an_error_outside_the_scenarios_makes_the_run_untestable() {
    let records = example("spin.records").replace(
        "SBX1 done status=ok",
        "SBX1 error where=cgroup msg=rmdir%20failed\nSBX1 done status=error",
    );
    let verdict = judge(&observed(&records, POWER_OFF), &spin_expected(), &[]);
    assert_eq!(verdict.outcome, Outcome::Untestable, "{verdict:?}");
    assert_eq!(
        verdict.reasons,
        ["the guest reported an error in cgroup: rmdir failed"]
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

#[test]
fn an_unreadable_record_makes_the_run_untestable_even_beside_a_failure() {
    let records = example("spin.records").replace(
        "name=stall result=pass value=12",
        "name=stall result=fail value=1500",
    );
    let mut seen = observed(&records, POWER_OFF);
    let Line::Malformed(why) = record::decode("SBX1 teleport to=mars") else {
        panic!("an unknown kind was read")
    };
    seen.malformed.push(why);
    let verdict = judge(&seen, &spin_expected(), &[]);
    assert_eq!(verdict.outcome, Outcome::Untestable, "{verdict:?}");
    assert_eq!(verdict.outcome.exit().code(), 125);
    assert!(
        verdict.reasons[0].contains("protocol error") && verdict.reasons[0].contains("teleport"),
        "{:?}",
        verdict.reasons
    );
}
