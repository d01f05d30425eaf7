//! End-to-end: the `schedbox` binary boots a real kernel under QEMU (TCG) with the real
//! guest init, and the assertions are on what the guest reported.
//!
//! Needs `make` (the release init) and a kernel: $SCHEDBOX_KERNEL, else the newest cached
//! one, as `schedbox run` picks it (`make test` points it at schedbox's own kernel).

mod common;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use common::{boot, describe, kernel, schedbox, Scratch, CPUS, NO_INITRAMFS};

#[test]
fn default_scenario_passes_on_what_the_guest_measured() {
    let scratch = Scratch::new("pass");
    let (output, report) = boot(&scratch, &[]);
    let why = describe(&output, &report);
    assert_eq!(output.status.code(), Some(0), "{why}");
    assert_eq!(report["outcome"], "pass", "{why}");

    let expected = schedbox::kernel::inspect(&kernel(), schedbox::kernel::KernelSource::Flag)
        .unwrap()
        .release
        .expect("the kernel image carries no version string");
    assert_eq!(
        report["release"],
        expected.as_str(),
        "guest release vs image: {why}"
    );

    let scenario = &report["scenarios"][0];
    let workers = scenario["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 2, "{why}");
    for w in workers {
        assert!(
            w["iterations"].as_u64().unwrap() > 0,
            "a worker made no progress: {w}"
        );
        // The guest read each worker's task name from /proc before stopping it.
        let comm = format!("sbx-spin-{}", w["index"]);
        assert_eq!(w["comm"], comm.as_str(), "{why}");
    }
    assert_eq!(
        report["end"], "schedbox stopped the VM after its done record",
        "{why}"
    );
    // Two spinners on two CPUs for the whole hold: together at least about duration ×
    // CPUs, and never more than the CPUs had in the guest time the scenario took (a
    // busy host delays the vCPUs, so the scenario can take longer than its hold).
    let cpu_ns: u64 = workers.iter().map(|w| w["cpu_ns"].as_u64().unwrap()).sum();
    let cpus = u64::from(CPUS);
    let budget_ns = scenario["duration_ms"].as_u64().unwrap() * 1_000_000 * cpus;
    let guest_ns = scenario["guest_ms"].as_u64().unwrap() * 1_000_000 * cpus;
    assert!(
        cpu_ns > budget_ns / 2 && cpu_ns <= guest_ns,
        "CPU time {cpu_ns} ns is not about {budget_ns} ns (at most {guest_ns}): {why}"
    );
    let checks: Vec<&str> = scenario["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(checks, ["progress", "stall", "kernel-log"], "{why}");

    let records = std::fs::read_to_string(scratch.0.join("run/records.log")).unwrap();
    assert!(records.starts_with("SBX1 boot "), "{records}");
    assert!(records.contains("SBX1 done status=ok"), "{records}");
    assert!(scratch.0.join("run/console.log").exists());
    assert!(std::fs::read_to_string(scratch.0.join("run/plan"))
        .unwrap()
        .starts_with("schedbox-plan 1\n"));
}

#[test]
fn an_impossible_limit_fails_the_run() {
    let scratch = Scratch::new("fail");
    let scenario = scratch.file(
        "greedy.toml",
        "name = \"greedy\"\nduration_ms = 500\n\
         [[workers]]\ngroup = \"spin\"\nwork = \"spin\"\n\
         [[check]]\nname = \"progress\"\nlimit = 1000000000000\n",
    );
    let (output, report) = boot(&scratch, &[scenario.to_str().unwrap()]);
    let why = describe(&output, &report);
    assert_eq!(output.status.code(), Some(1), "{why}");
    assert_eq!(report["outcome"], "fail", "{why}");
    let checks = report["scenarios"][0]["checks"].as_array().unwrap();
    let check = checks
        .iter()
        .find(|c| c["name"] == "progress")
        .expect("no progress check");
    assert_eq!(check["passed"], false, "{why}");
    assert!(
        check["value"].as_u64().unwrap() > 0,
        "the worker ran but reported no iterations: {why}"
    );
    let reasons = report["reasons"].as_array().unwrap();
    let named = reasons
        .iter()
        .any(|r| r.as_str().unwrap().contains("check progress failed"));
    assert!(named, "{why}");
}

/// The run's own time, launch to end, as schedbox measured it: a bound on it does not
/// count the wait for the machine-wide VM turn that other test runs may hold.
fn run_took(report: &Value) -> Duration {
    Duration::from_millis(report["timings"]["total_ms"].as_u64().expect("total_ms"))
}

#[test]
fn a_kernel_that_cannot_run_init_is_untestable_with_its_console() {
    let scratch = Scratch::new("panic");
    let (output, report) = boot(&scratch, &["--timeout", "60", "--append", NO_INITRAMFS]);
    let why = describe(&output, &report);
    assert_eq!(output.status.code(), Some(125), "{why}");
    assert_eq!(report["outcome"], "untestable", "{why}");
    assert!(run_took(&report) < Duration::from_secs(60), "{why}");
    let reason = report["reasons"][0].as_str().unwrap();
    assert!(reason.contains("kernel panicked"), "{why}");
    let tail = report["console_tail"].as_array().expect("no console tail");
    assert!(
        tail.iter()
            .any(|l| l.as_str().unwrap().contains("Kernel panic")),
        "{why}"
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("Kernel panic"),
        "{why}"
    );
}

#[test]
fn a_guest_that_overruns_is_killed_and_untestable() {
    let scratch = Scratch::new("hang");
    // The guest keeps sending heartbeats, so only the run's timeout can end this.
    let scenario = scratch.file(
        "long.toml",
        "name = \"long\"\nduration_ms = 600000\n[[workers]]\ngroup = \"spin\"\nwork = \"spin\"\n",
    );
    let (output, report) = boot(&scratch, &["--timeout", "15", scenario.to_str().unwrap()]);
    let why = describe(&output, &report);
    assert_eq!(output.status.code(), Some(125), "{why}");
    assert!(run_took(&report) < Duration::from_secs(40), "{why}");
    assert!(
        report["end"]
            .as_str()
            .unwrap()
            .contains("timed out after 15 s"),
        "{why}"
    );
    assert!(
        report["timings"]["boot_record_ms"].is_u64(),
        "init never came up: {why}"
    );
}

/// A file that passes the kernel check, so that scenario errors are what is tested.
fn fake_kernel(scratch: &Scratch) -> PathBuf {
    let mut bytes = vec![0u8; 0x400];
    bytes[0x202..0x206].copy_from_slice(b"HdrS");
    let path = scratch.0.join("bzImage");
    std::fs::write(&path, bytes).unwrap();
    path
}

fn assert_usage_error(args: &[&str], hint: &str) {
    let output = schedbox(args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(
        stderr.contains(hint),
        "{args:?}: stderr lacks {hint:?}: {stderr}"
    );
}

#[test]
fn bad_input_is_a_usage_error() {
    let scratch = Scratch::new("bad");
    let kernel = fake_kernel(&scratch);
    let kernel = kernel.to_str().unwrap();
    let not_kernel = scratch.file("notes.txt", "hello");
    let malformed = scratch.file("malformed.toml", "name = \n");
    let unknown = scratch.file(
        "unknown.toml",
        "name = \"x\"\nduration_ms = 10\ncolour = \"red\"\n",
    );
    let wide = scratch.file(
        "wide.toml",
        "name = \"x\"\nduration_ms = 10\n[[workers]]\ngroup = \"g\"\nwork = \"spin\"\naffinity = \"3\"\n",
    );
    assert_usage_error(&["run", "--kernel", "/nonexistent/bzImage"], "no such file");
    assert_usage_error(
        &["run", "--kernel", not_kernel.to_str().unwrap()],
        "not a kernel image",
    );
    assert_usage_error(
        &["run", "--kernel", kernel, malformed.to_str().unwrap()],
        "malformed.toml",
    );
    assert_usage_error(
        &["run", "--kernel", kernel, unknown.to_str().unwrap()],
        "colour",
    );
    assert_usage_error(
        &["run", "--kernel", kernel, wide.to_str().unwrap()],
        "raise --cpus",
    );
    assert_usage_error(
        &["run", "--kernel", kernel, "/nonexistent.toml"],
        "cannot read the scenario",
    );
    assert_usage_error(&["run", "--kernel", kernel, "--cpus", "0"], "--cpus 0");
    assert_usage_error(
        &["run", "--kernel", kernel, "--memory", "99999999"],
        "--memory",
    );
    assert_usage_error(&["run", "--bogus"], "bogus");
}
