//! schedbox's own KVM VMM booting Linux to init, inside a QEMU/TCG guest whose CPU
//! offers AMD-V (`--qemu-cpu EPYC,+svm`): the outer guest's kernel (the project's, with
//! KVM_AMD) gives it /dev/kvm, and a payload runs `schedbox run --backend kvm` there with
//! the inner kernel and init packed beside it. The inner run's JSON report comes back in
//! the payload's output; the test asserts on what the inner guest reported.
//!
//! Opt-in (minutes of emulation): `make nested`, or
//! `SCHEDBOX_TEST_NESTED=1 cargo test --release -p schedbox --test nested -- --include-ignored`.
//! Needs `make` (init and launcher) and the project's kernel (`make test-inputs`).

mod common;

use std::path::Path;

use common::{describe, kernel, os, repo, run_and_report, Scratch};
use serde_json::Value;

const NESTED_ENV: &str = "SCHEDBOX_TEST_NESTED";
/// QEMU CPU model for the outer guest: EPYC gives kvm_amd nested paging under TCG, where
/// the default model offers no SVM and `qemu64,+svm` no NPT.
const OUTER_CPU: &str = "EPYC,+svm";
/// The outer guest holds the launcher, its libraries, the inner kernel and initramfs,
/// and the inner VM's memory.
const OUTER_MEMORY_MIB: &str = "1536";
/// vCPUs of each guest: the inner VM's two run as threads of the outer's.
const VCPUS: &str = "2";
/// Limits for the inner run and for the outer step that waits for it (it ends with it).
const INNER_TIMEOUT_S: u64 = 540;
const OUTER_HOLD_MS: u64 = 570_000;

/// The outer scenario: one payload, the launcher, with the inner kernel and init beside
/// it, writing its JSON report to its stdout.
fn outer_scenario(kernel: &Path) -> String {
    let launcher = env!("CARGO_BIN_EXE_schedbox");
    let init = repo().join("init/target/release/schedbox-init");
    let kernel_name = kernel.file_name().unwrap().to_str().unwrap();
    format!(
        r#"name = "nested-own-vmm"
description = "schedbox run --backend kvm inside a TCG guest with nested SVM"

# A light sleeper: the outer guest's own tasks still run beside the inner VM.
[[workers]]
group = "beside"
work = "sleep-wake"
sleep_us = 100000

[[step]]
hold_ms = {OUTER_HOLD_MS}
until = "payloads"
ops = [{{ op = "spawn", group = "beside" }}]

[[payload]]
name = "vmm"
path = "{launcher}"
files = ["{init}", "{kernel}"]
args = ["run", "--backend", "kvm", "--kernel", "/payload/vmm/{kernel_name}", "--cpus", "{VCPUS}",
        "--timeout", "{INNER_TIMEOUT_S}", "--verbose", "--json", "/proc/self/fd/1"]
"#,
        init = init.display(),
        kernel = kernel.display(),
    )
}

/// The inner report: the pretty JSON object that starts and ends at column 0 in the
/// payload's output (the console echo and notes go around it).
fn inner_report(log: &str) -> Option<Value> {
    let start = log.find("\n{\n")? + 1;
    let end = start + log[start..].find("\n}\n")? + 2;
    serde_json::from_str(&log[start..end]).ok()
}

#[test]
#[ignore = "opt-in, minutes of emulation: SCHEDBOX_TEST_NESTED=1, --include-ignored (make nested)"]
fn the_own_vmm_boots_linux_to_init_inside_a_tcg_guest_with_nested_svm() {
    assert!(
        std::env::var_os(NESTED_ENV).is_some(),
        "opt-in: set {NESTED_ENV}=1 (make nested)"
    );
    let scratch = Scratch::new("nested");
    let kernel = kernel();
    let scenario = scratch.file("nested.toml", &outer_scenario(&kernel));
    let args = [
        "--backend",
        "qemu",
        "--accel",
        "tcg",
        "--qemu-cpu",
        OUTER_CPU,
        "--cpus",
        VCPUS,
        "--memory",
        OUTER_MEMORY_MIB,
        "--kernel",
        kernel.to_str().unwrap(),
        scenario.to_str().unwrap(),
    ];
    let (output, outer) = run_and_report(&scratch, &os(&args)).unwrap_or_else(|e| panic!("{e}"));
    let log = scratch.run_file("payload-nested-own-vmm-vmm.log");
    let why = format!("{}\ninner output:\n{log}", describe(&output, &outer));
    let inner = inner_report(&log).unwrap_or_else(|| panic!("no inner report:\n{why}"));
    assert_eq!(inner["run"]["backend"], "kvm", "{why}");
    assert_eq!(inner["outcome"], "pass", "{why}");
    assert_eq!(
        inner["release"], outer["release"],
        "the inner guest booted the same kernel to init: {why}"
    );
    assert_eq!(inner["end"], "the VM powered off", "{why}");
    let workers = inner["scenarios"][0]["workers"].as_array().unwrap();
    assert!(!workers.is_empty(), "{why}");
    for w in workers {
        assert!(
            w["iterations"].as_u64().unwrap() > 0,
            "{w} made no progress: {why}"
        );
    }
    assert_eq!(outer["exit_code"], 0, "{why}");
    eprintln!(
        "nested: outer boot record {} ms, inner boot record {} ms, inner total {} ms, outer total {} ms",
        outer["timings"]["boot_record_ms"],
        inner["timings"]["boot_record_ms"],
        inner["timings"]["total_ms"],
        outer["timings"]["total_ms"]
    );
}
