use super::*;
use crate::protocol::examples::{self, text as example};
use crate::scenario::Step;
use crate::vm::backend::VmExit;
use crate::vm::session::{RunEnd, Timings};

const LAUNCH_MS: u64 = 50;

fn scenario(name: &str, holds: &[u64]) -> Scenario {
    Scenario {
        name: name.to_string(),
        description: None,
        source: "test".to_string(),
        topology: None,
        host_debugfs: false,
        steps: holds
            .iter()
            .map(|&hold_ms| Step {
                hold_ms,
                until_payloads: false,
                ops: Vec::new(),
            })
            .collect(),
        checks: Vec::new(),
        warnings: Vec::new(),
        starts_detached: false,
        schedulers: Vec::new(),
    }
}

/// `records` as they would arrive: each `lag_ms` after the guest time it stamps (the
/// last stamp before it, for records without one), the boot record at `boot_ms` from
/// launch.
fn observed(records: &str, boot_ms: u64, total_ms: u64, arrivals_ms: Vec<u64>) -> Observed {
    let records = examples::records(records);
    assert_eq!(records.len(), arrivals_ms.len(), "one arrival per record");
    Observed {
        records,
        arrivals_ms,
        malformed: Default::default(),
        console_tail: Vec::new(),
        panic: None,
        records_channels: Vec::new(),
        end: RunEnd::Exited(VmExit::PowerOff),
        machine: crate::vm::backend::Machine::Vm,
        timings: Timings {
            first_console_ms: Some(boot_ms / 2),
            boot_record_ms: Some(boot_ms),
            done_record_ms: None,
            total_ms,
        },
    }
}

fn phases(timeline: &Timeline) -> Vec<(Phase, Option<&str>, u64, u64)> {
    timeline
        .phases
        .iter()
        .map(|s| (s.phase, s.scenario.as_deref(), s.start_ms, s.ms))
        .collect()
}

/// Back to back from 0 to the wall time.
fn assert_contiguous(timeline: &Timeline) {
    let mut at = 0;
    for span in &timeline.phases {
        assert_eq!(span.start_ms, at, "{timeline:?}");
        at += span.ms;
    }
    assert_eq!(at, timeline.wall_ms, "{timeline:?}");
}

/// spin.records: boot record at 1000 ms from launch with uptime 751, so the guest's
/// time 0 is 299 ms on the run's clock; the workers' records arrive 3012 ms from launch.
fn spin_run() -> Observed {
    let arrivals = vec![
        1000, 1001, 1009, 1010, 1201, 3012, 3013, 3014, 3015, 3016, 3019, 3024,
    ];
    observed(&example("spin.records"), 1000, 3100, arrivals)
}

#[test]
fn the_spin_example_is_placed_on_the_host_clock() {
    let marks = HostMarks {
        launch_ms: LAUNCH_MS,
        exit_ms: Some(LAUNCH_MS + 3100),
        judged_ms: 3160,
    };
    let timeline = build(marks, Some(&spin_run()), &[scenario("spin-basic", &[2000])]);
    let spin = Some("spin-basic");
    assert_eq!(
        phases(&timeline),
        vec![
            (Phase::Preparation, None, 0, 50),
            (Phase::VmStart, None, 50, 249),
            (Phase::Kernel, None, 299, 738),
            (Phase::InitStartUp, None, 1037, 22),
            (Phase::SetUp, spin, 1059, 3),
            (Phase::Hold, spin, 1062, 2000),
            (Phase::TearDown, spin, 3062, 7),
            (Phase::InitShutDown, None, 3069, 5),
            (Phase::PowerOff, None, 3074, 76),
            (Phase::Judging, None, 3150, 10),
        ]
    );
    assert_contiguous(&timeline);
    let line = line(&timeline);
    assert!(
        line.contains("spin-basic (set-up 0.00 + hold 2.00 + tear-down 0.01)"),
        "{line}"
    );
    assert!(
        line.starts_with("timeline (s, of 3.16): preparation 0.05"),
        "{line}"
    );
}

#[test]
fn a_host_run_has_no_vm_start_kernel_or_power_off() {
    // The boot record's uptime is the machine's: its time 0 is long before the run.
    let records =
        "SBX1 boot release=6.12.117 cpus=2 uptime_ms=90000500 init_ms=90000490 sched_ext=disabled
SBX1 scenario name=one t_ms=90000600
SBX1 scenario-end name=one t_ms=90001600 init_cpu_ns=1 outcome=pass
SBX1 done status=ok t_ms=90001610
";
    let run = Observed {
        machine: crate::vm::backend::Machine::Host,
        ..observed(records, 20, 1200, vec![20, 120, 1120, 1130])
    };
    let marks = HostMarks {
        launch_ms: LAUNCH_MS,
        exit_ms: Some(LAUNCH_MS + 1200),
        judged_ms: 1260,
    };
    let timeline = build(marks, Some(&run), &[scenario("one", &[1000])]);
    let words: Vec<&str> = timeline.phases.iter().map(|s| s.phase.word()).collect();
    assert_eq!(
        words,
        [
            "preparation",
            "engine-start",
            "init-start-up",
            "set-up",
            "hold",
            "tear-down",
            "init-shut-down",
            "engine-exit",
            "judging"
        ]
    );
    assert_eq!(phases(&timeline)[1], (Phase::EngineStart, None, 50, 10));
    assert_contiguous(&timeline);
}

#[test]
fn steps_hold_their_declared_time_and_the_rest_is_set_up() {
    let records = "SBX1 boot release=6.12.117 cpus=2 uptime_ms=500 sched_ext=disabled
SBX1 scenario name=two t_ms=600
SBX1 step scenario=two index=0 t_ms=601
SBX1 step scenario=two index=1 t_ms=1141
SBX1 check scenario=two name=progress result=pass value=1 limit=1
SBX1 scenario-end name=two t_ms=2200 init_cpu_ns=1 outcome=pass
SBX1 done status=ok t_ms=2210
";
    // Guest time 0 at launch + 100: each record arrives as it is stamped.
    let arrivals = [500, 600, 601, 1141, 2190, 2200, 2210];
    let run = observed(
        records,
        600,
        2300,
        arrivals.iter().map(|a| a + 100).collect(),
    );
    let marks = HostMarks {
        launch_ms: 0,
        exit_ms: Some(2300),
        judged_ms: 2305,
    };
    let timeline = build(marks, Some(&run), &[scenario("two", &[500, 1000])]);
    let two = Some("two");
    let mine: Vec<_> = phases(&timeline)
        .into_iter()
        .filter(|p| p.1 == two)
        .collect();
    // Steps from 700 to the check at 2290: 1590 ms, 1500 of them held.
    assert_eq!(
        mine,
        vec![
            (Phase::SetUp, two, 700, 90),
            (Phase::Hold, two, 790, 1500),
            (Phase::TearDown, two, 2290, 10),
        ]
    );
    assert_contiguous(&timeline);
}

#[test]
fn a_guest_that_never_booted_leaves_its_time_unaccounted() {
    let run = Observed {
        timings: Timings {
            total_ms: 900,
            ..Timings::default()
        },
        ..observed("", 0, 900, Vec::new())
    };
    let marks = HostMarks {
        launch_ms: 40,
        exit_ms: Some(940),
        judged_ms: 945,
    };
    let timeline = build(marks, Some(&run), &[]);
    assert_eq!(
        phases(&timeline),
        vec![
            (Phase::Preparation, None, 0, 40),
            (Phase::Unaccounted, None, 40, 900),
            (Phase::Judging, None, 940, 5),
        ]
    );
}

#[test]
fn a_scenario_without_its_end_leaves_the_rest_of_the_vm_unaccounted() {
    let text = example("spin.records");
    let cut: Vec<&str> = text.lines().take(5).collect();
    let run = observed(
        &cut.join("\n"),
        1000,
        3100,
        vec![1000, 1001, 1009, 1010, 1201],
    );
    let marks = HostMarks {
        launch_ms: LAUNCH_MS,
        exit_ms: Some(LAUNCH_MS + 3100),
        judged_ms: 3160,
    };
    let timeline = build(marks, Some(&run), &[scenario("spin-basic", &[2000])]);
    let tail: Vec<_> = phases(&timeline).into_iter().rev().take(2).collect();
    assert_eq!(
        tail,
        vec![
            (Phase::Judging, None, 3150, 10),
            (Phase::Unaccounted, None, 1059, 2091),
        ]
    );
    assert_contiguous(&timeline);
}

#[test]
fn stamps_past_the_vm_exit_are_held_to_it() {
    // The VM's exit came before the guest's last stamps, mapped: nothing runs past it.
    let marks = HostMarks {
        launch_ms: LAUNCH_MS,
        exit_ms: Some(LAUNCH_MS + 2000),
        judged_ms: 2060,
    };
    let timeline = build(marks, Some(&spin_run()), &[scenario("spin-basic", &[2000])]);
    assert_contiguous(&timeline);
    let power_off = timeline.phases.iter().find(|s| s.phase == Phase::PowerOff);
    assert_eq!(power_off.map(|s| (s.start_ms, s.ms)), Some((2050, 0)));
}

#[test]
fn a_vm_stopped_at_done_names_its_last_phase_so() {
    let marks = HostMarks {
        launch_ms: LAUNCH_MS,
        exit_ms: Some(LAUNCH_MS + 3100),
        judged_ms: 3160,
    };
    let mut run = spin_run();
    run.end = RunEnd::StoppedAtDone;
    let timeline = build(marks, Some(&run), &[scenario("spin-basic", &[2000])]);
    assert_contiguous(&timeline);
    let last_guest = &timeline.phases[timeline.phases.len() - 2];
    assert_eq!(
        (last_guest.phase, last_guest.start_ms, last_guest.ms),
        (Phase::VmStop, 3074, 76)
    );
    assert!(timeline.phases.iter().all(|s| s.phase != Phase::PowerOff));
    assert!(
        line(&timeline).contains("vm-stop 0.08"),
        "{}",
        line(&timeline)
    );
}

#[test]
fn a_run_without_a_vm_is_preparation_and_judging() {
    let marks = HostMarks {
        launch_ms: 30,
        exit_ms: None,
        judged_ms: 32,
    };
    let timeline = build(marks, None, &[]);
    assert_eq!(
        phases(&timeline),
        vec![
            (Phase::Preparation, None, 0, 30),
            (Phase::Judging, None, 30, 2),
        ]
    );
}

#[test]
fn each_phase_is_named_once_alike_in_the_report_and_its_schema() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/report.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let listed = &schema["$defs"]["phase"]["properties"]["phase"]["enum"];
    let words: Vec<&str> = Phase::ALL.iter().map(|p| p.word()).collect();
    assert_eq!(listed, &serde_json::json!(words));
    for phase in Phase::ALL {
        assert_eq!(serde_json::to_value(phase).unwrap(), phase.word());
    }
}
