//! `schedbox run` and the KVM backend: which backend runs is decided by the KVM probe and
//! said in the report; `--backend kvm` on a host whose KVM cannot run Linux is refused at
//! once (untestable, 125) with the probe's reason; on a host whose KVM can, the default
//! scenario passes on schedbox's own VMM. Each host runs the tests of its kind and says
//! which: the native ones are ignored by default (run them there with
//! `SCHEDBOX_TEST_KVM_NATIVE=1 cargo test --test kvm_backend -- --include-ignored`).
//!
//! Needs `make` (the release init) and a kernel, like the end-to-end tests.

mod common;

use std::process::Output;

use common::{describe, kernel, os, run_and_report, Scratch};
use serde_json::Value;

/// Set on hosts whose KVM runs guests natively (as in the VMM's tests).
const NATIVE_KVM_ENV: &str = "SCHEDBOX_TEST_KVM_NATIVE";

fn native_kvm() -> bool {
    std::env::var_os(NATIVE_KVM_ENV).is_some()
}

/// Runs `schedbox run` with `extra` options on the test kernel (the backend left to the
/// options); returns the output and the JSON report.
fn run(scratch: &Scratch, extra: &[&str]) -> (Output, Value) {
    let kernel = kernel();
    let mut args = vec!["--kernel", kernel.to_str().unwrap()];
    args.extend_from_slice(extra);
    run_and_report(scratch, &os(&args)).unwrap_or_else(|e| panic!("{e}"))
}

/// Where the host's KVM really runs Linux, the refusal test's premise is false: it fails
/// saying so rather than passing without testing anything.
fn expect_emulating_kvm() {
    assert!(
        !native_kvm(),
        "{NATIVE_KVM_ENV} says this host's KVM runs Linux: run this file with \
         --include-ignored --skip backend_kvm_is_refused"
    );
}

fn expect_native_kvm() {
    assert!(
        native_kvm(),
        "needs a host whose KVM runs Linux natively: set {NATIVE_KVM_ENV}=1 there"
    );
}

#[test]
fn backend_kvm_is_refused_at_once_where_kvm_cannot_run_linux() {
    expect_emulating_kvm();
    let scratch = Scratch::new("refused");
    let (output, report) = run(&scratch, &["--backend", "kvm"]);
    let why = describe(&output, &report);
    assert_eq!(output.status.code(), Some(125), "{why}");
    assert_eq!(report["outcome"], "untestable", "{why}");
    let reason = report["reasons"][0].as_str().unwrap();
    assert!(reason.contains("--backend kvm: "), "{why}");
    assert!(
        reason.contains("KVM is not usable on this host")
            || reason.contains("cannot open /dev/kvm"),
        "the probe's reason is missing: {why}"
    );
    assert!(reason.contains("use --backend qemu"), "{why}");
    assert!(reason.contains("SCHEDBOX_SKIP_KVM_PROBE"), "{why}");
    assert_eq!(report["run"]["backend"], "none", "{why}");
    assert_eq!(report["run"]["backend_reason"], reason, "{why}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("use --backend qemu"), "{why}");
    // Refused before any VM started: nothing was booted, no console was opened.
    assert!(report["timings"]["first_console_ms"].is_null(), "{why}");
    assert!(!scratch.0.join("run/console.log").exists(), "{why}");
}

#[test]
fn the_report_says_which_backend_auto_chose_and_why() {
    let scratch = Scratch::new("auto");
    let short = scratch.0.join("short.toml");
    std::fs::write(
        &short,
        "name = \"short\"\nduration_ms = 200\n[[workers]]\ngroup = \"spin\"\nwork = \"spin\"\n",
    )
    .unwrap();
    let (output, report) = run(&scratch, &[short.to_str().unwrap()]);
    let why = describe(&output, &report);
    assert_eq!(output.status.code(), Some(0), "{why}");
    let (backend, reason) = (
        report["run"]["backend"].as_str().unwrap(),
        report["run"]["backend_reason"].as_str().unwrap(),
    );
    if native_kvm() {
        assert_eq!(backend, "kvm", "{why}");
        assert!(reason.contains("probe passed"), "{why}");
    } else {
        assert_eq!(backend, "qemu-tcg", "{why}");
        assert!(
            reason.contains("KVM is not usable") || reason.contains("/dev/kvm"),
            "{why}"
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(&format!("  backend: {reason}")), "{why}");
}

#[test]
#[ignore = "needs a host whose KVM runs Linux natively (SCHEDBOX_TEST_KVM_NATIVE=1, --include-ignored)"]
fn default_scenario_passes_on_the_own_vmm() {
    expect_native_kvm();
    let scratch = Scratch::new("vmm");
    let (output, report) = run(&scratch, &["--backend", "kvm", "--cpus", "2"]);
    let why = describe(&output, &report);
    assert_eq!(output.status.code(), Some(0), "{why}");
    assert_eq!(report["outcome"], "pass", "{why}");
    assert_eq!(report["run"]["backend"], "kvm", "{why}");
    assert!(report["release"].is_string(), "no boot record: {why}");
    let scenario = &report["scenarios"][0];
    let workers = scenario["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 2, "{why}");
    for w in workers {
        assert!(w["iterations"].as_u64().unwrap() > 0, "no progress: {why}");
    }
    // Two spinners on two vCPUs for the whole hold: about duration × CPUs of CPU time.
    let cpu_ns: u64 = workers.iter().map(|w| w["cpu_ns"].as_u64().unwrap()).sum();
    let budget_ns = scenario["duration_ms"].as_u64().unwrap() * 2_000_000;
    assert!(
        cpu_ns > budget_ns / 2 && cpu_ns < budget_ns * 11 / 10,
        "CPU time {cpu_ns} ns is not about {budget_ns} ns: {why}"
    );
    let records = std::fs::read_to_string(scratch.0.join("run/records.log")).unwrap();
    assert!(records.contains("SBX1 done status=ok"), "{records}");
}
