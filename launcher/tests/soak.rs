//! `schedbox soak` with real guests: each run's verdicts are compared with the first's.

mod common;

use std::process::Command;

use common::{kernel, one_vm_at_a_time, Scratch, SCHEDBOX};

#[test]
fn two_runs_of_a_passing_scenario_agree() {
    let scratch = Scratch::new("soak");
    let short = scratch.file(
        "short.toml",
        "name = \"short\"\nduration_ms = 300\n[[workers]]\ngroup = \"spin\"\nwork = \"spin\"\ncount = 2\n",
    );
    let out = scratch.0.join("soak");
    let kernel = kernel();
    let _turn = one_vm_at_a_time();
    let output = Command::new(SCHEDBOX)
        .args(["soak", "--runs", "2", "--accel", "tcg", "--kernel"])
        .arg(&kernel)
        .arg("--out")
        .arg(&out)
        .arg(&short)
        .output()
        .expect("cannot run schedbox");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let why = format!("exit {:?}\n{stdout}\n{stderr}", output.status.code());
    assert_eq!(output.status.code(), Some(0), "{why}");
    assert!(
        stdout.contains("soak: 2 runs: 2 pass, 0 fail, 0 untestable; 0 of 1 differed"),
        "{why}"
    );
    for check in ["short/progress", "short/stall", "short/kernel-log"] {
        let row = stdout.lines().find(|l| l.trim_start().starts_with(check));
        let row = row.unwrap_or_else(|| panic!("no row for {check}: {why}"));
        assert!(row.split_whitespace().nth(1) == Some("0"), "{row}");
    }
    // Each run has its own directory with the guest's records and a report.
    for run in ["run-001", "run-002"] {
        let report = std::fs::read_to_string(out.join(run).join("report.json")).unwrap();
        assert!(report.contains("\"outcome\": \"pass\""), "{run}: {report}");
        let records = std::fs::read_to_string(out.join(run).join("records.log")).unwrap();
        assert!(records.contains("SBX1 done status=ok"), "{run}");
    }
}

#[test]
fn soak_refuses_json_and_bad_runs_before_any_vm() {
    for (args, want) in [
        (&["soak", "--json", "x.json"][..], "drop --json"),
        (&["soak", "--runs", "0"][..], "--runs 0 is out of range"),
    ] {
        let output = Command::new(SCHEDBOX).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
}
