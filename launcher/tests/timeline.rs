//! The report's timeline of a booted run: every phase present, in order, back to back,
//! adding up to the run's wall time as measured from outside within 5 %.
//!
//! Needs `make` (the release init) and a kernel, as tests/e2e.rs.

mod common;

use serde_json::Value;

use common::{boot_timed, describe, Scratch};

/// How far the timeline's total may be from the process's wall time, in per mille: the
/// process's start-up, the report's writing and its exit are outside the timeline.
const WALL_TOLERANCE_PER_MILLE: u64 = 50;

const ONE_STEP: &str = r#"
name = "tl-one"
duration_ms = 600

[[workers]]
group = "spin"
work = "spin"
"#;

const TWO_STEPS: &str = r#"
name = "tl-two"

[[workers]]
group = "a"
work = "spin"

[[workers]]
group = "b"
work = "sleep-wake"

[[step]]
hold_ms = 300
ops = [{ op = "spawn", group = "a" }]

[[step]]
hold_ms = 400
ops = [{ op = "spawn", group = "b" }]
"#;

/// (phase, scenario, ms) of each phase, in order.
fn phases(report: &Value) -> Vec<(String, Option<String>, u64)> {
    let phases = report["timeline"]["phases"].as_array().expect("phases");
    phases
        .iter()
        .map(|p| {
            (
                p["phase"].as_str().unwrap().to_string(),
                p["scenario"].as_str().map(str::to_string),
                p["ms"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_timeline_accounts_for_the_whole_run_in_order() {
    let scratch = Scratch::new("timeline");
    let one = scratch.file("one.toml", ONE_STEP);
    let two = scratch.file("two.toml", TWO_STEPS);
    let (output, report, took) =
        boot_timed(&scratch, &[one.to_str().unwrap(), two.to_str().unwrap()]);
    let why = describe(&output, &report);
    assert_eq!(output.status.code(), Some(0), "{why}");

    // Present and in order; unaccounted time may fall between them.
    let all = phases(&report);
    let named: Vec<(&str, Option<&str>)> = all
        .iter()
        .filter(|(phase, ..)| phase != "unaccounted")
        .map(|(phase, scenario, _)| (phase.as_str(), scenario.as_deref()))
        .collect();
    let mut want = vec![
        ("preparation", None),
        ("vm-start", None),
        ("kernel", None),
        ("init-start-up", None),
    ];
    for scenario in ["tl-one", "tl-two"] {
        for phase in ["set-up", "hold", "tear-down"] {
            want.push((phase, Some(scenario)));
        }
    }
    want.extend([
        ("init-shut-down", None),
        ("vm-stop", None),
        ("judging", None),
    ]);
    assert_eq!(named, want, "{why}");

    // Back to back from 0 to the wall time.
    let timeline = &report["timeline"];
    let wall_ms = timeline["wall_ms"].as_u64().unwrap();
    let mut at = 0;
    for phase in timeline["phases"].as_array().unwrap() {
        assert_eq!(phase["start_ms"].as_u64(), Some(at), "{timeline:#}");
        at += phase["ms"].as_u64().unwrap();
    }
    assert_eq!(at, wall_ms, "{timeline:#}");

    // The wall time is the run's, as measured from outside.
    let took_ms = took.as_millis() as u64;
    let off = took_ms.abs_diff(wall_ms);
    assert!(
        off * 1000 <= took_ms * WALL_TOLERANCE_PER_MILLE,
        "the timeline says {wall_ms} ms, the run took {took_ms} ms: {timeline:#}"
    );

    // The guest's phases hold what they should: the kernel boots, the holds are the
    // declared ones (at most), and the stamps leave little to nobody.
    let ms_of = |phase: &str, scenario: Option<&str>| {
        all.iter()
            .filter(|(p, s, _)| p == phase && s.as_deref() == scenario)
            .map(|(.., ms)| ms)
            .sum::<u64>()
    };
    assert!(ms_of("kernel", None) > 0, "{timeline:#}");
    for (scenario, declared) in [("tl-one", 600), ("tl-two", 700)] {
        let hold = ms_of("hold", Some(scenario));
        assert!(
            hold <= declared && hold * 10 >= declared * 9,
            "{scenario} held {hold} ms of {declared}: {timeline:#}"
        );
    }
    let unaccounted = ms_of("unaccounted", None);
    assert!(
        unaccounted * 1000 <= wall_ms * WALL_TOLERANCE_PER_MILLE,
        "{unaccounted} ms unaccounted: {timeline:#}"
    );

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("timeline (s, of ") && stdout.contains("tl-two (set-up "),
        "{why}"
    );
}
