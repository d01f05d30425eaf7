//! schedbox's own KVM VMM booting Linux to init, inside a QEMU/TCG guest whose CPU
//! offers AMD-V (`--qemu-cpu EPYC,+svm`): the outer guest's kernel (the project's, with
//! KVM_AMD) gives it /dev/kvm, and a payload runs `schedbox run --backend kvm` there with
//! the inner kernel and init packed beside it, then another runs `--backend qemu --accel
//! kvm` on the same /dev/kvm. Each inner run's JSON report comes back in its payload's
//! output; the test asserts on what the inner guests reported.
//!
//! Opt-in (minutes of emulation): `make nested`, or
//! `SCHEDBOX_TEST_NESTED=1 cargo test --release -p schedbox --test nested -- --include-ignored`.
//! Needs `make` (init and launcher) and the project's kernel (`make test-inputs`).

mod common;

use common::{describe, kernel, os, repo, run_and_report, Scratch};
use schedbox::bench::nested::{
    inner_report, outer_scenario, Inner, InnerBackend, INNER_VCPUS, OUTER_CPU, OUTER_MEMORY_MIB,
};

const NESTED_ENV: &str = "SCHEDBOX_TEST_NESTED";

#[test]
#[ignore = "opt-in, minutes of emulation: SCHEDBOX_TEST_NESTED=1, --include-ignored (make nested)"]
fn the_own_vmm_boots_linux_to_init_inside_a_tcg_guest_with_nested_svm() {
    assert!(
        std::env::var_os(NESTED_ENV).is_some(),
        "opt-in: set {NESTED_ENV}=1 (make nested)"
    );
    let scratch = Scratch::new("nested");
    let kernel = kernel();
    let init = repo().join("init/target/release/schedbox-init");
    let inner = Inner {
        launcher: std::path::Path::new(env!("CARGO_BIN_EXE_schedbox")),
        init: &init,
        kernel: &kernel,
    };
    let scenario = scratch.file(
        "nested.toml",
        &outer_scenario(
            &inner,
            &[(InnerBackend::Vmm, 1), (InnerBackend::QemuKvm, 1)],
        )
        .unwrap(),
    );
    let (vcpus, memory) = (INNER_VCPUS.to_string(), OUTER_MEMORY_MIB.to_string());
    let args = [
        "--backend",
        "qemu",
        "--accel",
        "tcg",
        "--qemu-cpu",
        OUTER_CPU,
        "--cpus",
        &vcpus,
        "--memory",
        &memory,
        "--kernel",
        kernel.to_str().unwrap(),
        scenario.to_str().unwrap(),
    ];
    let (output, outer) = run_and_report(&scratch, &os(&args)).unwrap_or_else(|e| panic!("{e}"));
    for (name, backend) in [("kvm-1", "kvm"), ("qemu-kvm-1", "qemu-kvm")] {
        let log = scratch.run_file(&format!("payload-nested-{name}.log"));
        let why = format!("{}\n{name} output:\n{log}", describe(&output, &outer));
        let inner = inner_report(&log).unwrap_or_else(|| panic!("no inner report:\n{why}"));
        assert_eq!(inner["run"]["backend"], backend, "{why}");
        assert_eq!(
            inner["records_channels"],
            serde_json::json!(["virtio"]),
            "the inner guest's records did not come on the virtio console: {why}"
        );
        assert_eq!(inner["outcome"], "pass", "{why}");
        assert_eq!(
            inner["release"], outer["release"],
            "the inner guest booted the same kernel to init: {why}"
        );
        assert_eq!(
            inner["end"], "schedbox stopped the VM after its done record",
            "{why}"
        );
        let workers = inner["scenarios"][0]["workers"].as_array().unwrap();
        assert!(!workers.is_empty(), "{why}");
        for w in workers {
            assert!(
                w["iterations"].as_u64().unwrap() > 0,
                "{w} made no progress: {why}"
            );
        }
        eprintln!(
            "nested {name}: inner boot record {} ms, inner total {} ms",
            inner["timings"]["boot_record_ms"], inner["timings"]["total_ms"],
        );
    }
    let why = describe(&output, &outer);
    assert_eq!(outer["exit_code"], 0, "{why}");
    eprintln!(
        "nested: outer boot record {} ms, outer total {} ms",
        outer["timings"]["boot_record_ms"], outer["timings"]["total_ms"]
    );
}
