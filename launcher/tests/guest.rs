//! Guest-side behaviours, end to end through the `schedbox` binary with the real kernel
//! and init under QEMU (TCG), asserted on what the guest reported: an error inside one
//! scenario of a batch is contained there, every run ends in a power-off, and a
//! thousand workers run in one scenario.
//!
//! Apart from tests/e2e.rs because these hold the VM lock for long: e2e's tests that
//! bound a run's wall time would otherwise count the wait for it.
//!
//! Needs `make` (the release init) and a kernel, as tests/e2e.rs.

mod common;

use common::{boot, describe, try_boot_with_env, Scratch};
use schedbox::vm::backend::WAIT_POWER_OFF_ENV;

/// Four scenarios in one VM, the second of which cannot be carried out (a `write` op to
/// a file that does not exist): the guest ends that one alone and goes on, and each
/// scenario gets its own outcome. `third` is the third scenario's progress limit.
fn isolated_batch(scratch: &Scratch, third: u64) -> (std::process::Output, serde_json::Value) {
    let spin = |name: &str, limit: u64| {
        format!(
            "name = \"{name}\"\nduration_ms = 300\n[[workers]]\ngroup = \"spin\"\nwork = \"spin\"\n\
             [[check]]\nname = \"progress\"\nlimit = {limit}\n"
        )
    };
    let broken = "name = \"s2\"\n[[workers]]\ngroup = \"spin\"\nwork = \"spin\"\n\
                  [[step]]\nhold_ms = 300\nops = [{ op = \"spawn\", group = \"spin\" }, \
                  { op = \"write\", path = \"/proc/sys/kernel/schedbox-missing\", value = \"1\" }]\n";
    let files = [
        scratch.file("s1.toml", &spin("s1", 1)),
        scratch.file("s2.toml", broken),
        scratch.file("s3.toml", &spin("s3", third)),
        scratch.file("s4.toml", &spin("s4", 1)),
    ];
    let args: Vec<&str> = files.iter().map(|f| f.to_str().unwrap()).collect();
    boot(scratch, &args)
}

fn outcomes(report: &serde_json::Value) -> Vec<String> {
    let scenarios = report["scenarios"].as_array().unwrap();
    scenarios
        .iter()
        .map(|s| s["outcome"].as_str().unwrap_or("none").to_string())
        .collect()
}

#[test]
fn an_error_in_one_scenario_leaves_the_others_their_own_outcome() {
    let scratch = Scratch::new("isolated");
    let (output, report) = isolated_batch(&scratch, 1_000_000_000_000);
    let why = describe(&output, &report);
    assert_eq!(
        outcomes(&report),
        ["pass", "untestable", "fail", "pass"],
        "{why}"
    );
    // A real failure anywhere is exit 1, whatever else was untestable.
    assert_eq!(output.status.code(), Some(1), "{why}");
    let s2 = &report["scenarios"][1];
    assert!(
        s2["reasons"][0]
            .as_str()
            .unwrap()
            .contains("schedbox-missing"),
        "{why}"
    );
    let failed = report["scenarios"][2]["failed"][0].as_str().unwrap();
    assert!(failed.contains("check progress failed"), "{why}");
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{why}");
    assert_eq!(
        (errors[0]["scenario"].as_str(), errors[0]["where"].as_str()),
        (Some("s2"), Some("write")),
        "{why}"
    );
    // The guest stopped s2's workers and went on: s3 and s4 ran workers of their own.
    for i in [2, 3] {
        let workers = report["scenarios"][i]["workers"].as_array().unwrap();
        assert_eq!(workers.len(), 1, "{why}");
        assert!(workers[0]["iterations"].as_u64().unwrap() > 0, "{why}");
    }
    let records = scratch.run_file("records.log");
    assert!(
        records.contains("SBX1 scenario-end name=s2 ") && records.contains(" outcome=error"),
        "{records}"
    );
    assert!(records.contains("SBX1 done status=ok"), "{records}");

    // Without the failure, the untestable scenario makes the run untestable.
    let scratch = Scratch::new("isolated-pass");
    let (output, report) = isolated_batch(&scratch, 1);
    let why = describe(&output, &report);
    assert_eq!(
        outcomes(&report),
        ["pass", "untestable", "pass", "pass"],
        "{why}"
    );
    assert_eq!(output.status.code(), Some(125), "{why}");
}

#[test]
fn the_guest_powers_off_at_the_end_of_every_run() {
    // fork-churn leaves children to reap: none may be taken for the power-off child.
    // schedbox would stop the VM at the done record: here the guest powers it off.
    let wait = [(WAIT_POWER_OFF_ENV, "1")];
    for run in 0..3 {
        let scratch = Scratch::new(&format!("power-off-{run}"));
        let scenario = scratch.file(
            "churn.toml",
            "name = \"churn\"\nduration_ms = 300\n[[workers]]\ngroup = \"f\"\nwork = \"fork-churn\"\ncount = 2\n",
        );
        let (output, report, _) = try_boot_with_env(&scratch, &[scenario.to_str().unwrap()], &wait)
            .unwrap_or_else(|e| panic!("{e}"));
        let why = describe(&output, &report);
        assert_eq!(report["end"], "the VM powered off", "run {run}: {why}");
        let last = report["timeline"]["phases"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .nth(1);
        assert_eq!(
            last.map(|p| &p["phase"]),
            Some(&"power-off".into()),
            "run {run}: {why}"
        );
        assert_eq!(output.status.code(), Some(0), "run {run}: {why}");
    }
}

#[test]
fn a_thousand_spinners_run_in_one_scenario_and_are_reported() {
    const SPINNERS: usize = 1024;
    let scratch = Scratch::new("many");
    // So many spinners on two CPUs each wait seconds for a turn: the stall limit is
    // raised so that only what the guest reported is judged here.
    let scenario = scratch.file(
        "many.toml",
        &format!(
            "name = \"many\"\nduration_ms = 2000\n[[workers]]\ngroup = \"spin\"\nwork = \"spin\"\n\
             count = {SPINNERS}\n[[check]]\nname = \"stall\"\nlimit = 600000\n"
        ),
    );
    let (output, report) = boot(&scratch, &["--timeout", "300", scenario.to_str().unwrap()]);
    let why = describe(&output, &report);
    let scenario = &report["scenarios"][0];
    assert!(
        matches!(scenario["outcome"].as_str(), Some("pass" | "fail")),
        "the scenario was not carried out: {why}"
    );
    assert!(report["errors"].as_array().unwrap().is_empty(), "{why}");
    let workers = scenario["workers"].as_array().unwrap();
    assert_eq!(workers.len(), SPINNERS, "{why}");
    let mut pids: Vec<u64> = workers.iter().map(|w| w["pid"].as_u64().unwrap()).collect();
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(
        pids.len(),
        SPINNERS,
        "every worker a process of its own: {why}"
    );
    let mut indexes: Vec<u64> = workers
        .iter()
        .map(|w| w["index"].as_u64().unwrap())
        .collect();
    indexes.sort_unstable();
    assert_eq!(indexes, (0..SPINNERS as u64).collect::<Vec<_>>(), "{why}");
    for w in workers {
        let comm = format!("sbx-spin-{}", w["index"]);
        assert_eq!(w["comm"], comm.as_str(), "{w}");
    }
    let ran = workers
        .iter()
        .filter(|w| w["cpu_ns"].as_u64().unwrap() > 0)
        .count();
    assert!(
        ran * 10 >= SPINNERS * 9,
        "only {ran} of {SPINNERS} ever ran: {why}"
    );
}
