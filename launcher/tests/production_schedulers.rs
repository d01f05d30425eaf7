//! Production sched_ext schedulers of the scx project, built from crates.io by
//! `schedbox scheduler build` (`make scheduler NAME=...`), run the passing catalog
//! (scenarios/spin.toml, work/, pass/) in one guest each on the test kernel: they attach,
//! the scheduler check holds in every scenario, and each scenario's checks come out as
//! the catalog expects. What they do not support is a property of the scheduler, asserted
//! as failing and listed in docs/schedulers.md: the cgroup controls (cpu.max, weights) of
//! scenarios/cgroup/cpu-max.toml and weight.toml.
//!
//! Opt-in, as each build takes a quarter of an hour: build them, then
//!   make scheduler NAME=scx_bpfland@1.1.4 && make scheduler NAME=scx_flash@1.1.4
//!   set -a; . target/test-inputs.env; set +a
//!   cargo test --test production_schedulers -- --ignored
//! A scheduler that was not built fails its test with the command that builds it.

mod common;

use std::ffi::OsStr;
use std::path::PathBuf;

use common::{os, repo, run_and_report, sched_ext_kernel, Scratch};
use schedbox::scheduler::build;
use serde_json::Value;

/// Seconds a production scheduler gets to attach: the verifier takes its time over their
/// large BPF programs under TCG emulation.
const ATTACH_TIMEOUT_S: &str = "90";

/// A scheduler under test: the crate and version, the start of the ops name it attaches
/// as (they append their version and target: `bpfland_1.1.4_x86_64_unknown_linux_gnu`),
/// and the (scenario, check) pairs it fails for a property of its own.
struct Production {
    spec: &'static str,
    ops: &'static str,
    /// In the passing catalog.
    fails: &'static [(&'static str, &'static str)],
    /// In [`CGROUP_CONTROLS`].
    cgroup_fails: &'static [(&'static str, &'static str)],
}

/// The cgroup scenarios whose checks a scheduler passes only if it honours cpu.max and
/// cgroup weights (EEVDF does; scx_simple honours neither).
const CGROUP_CONTROLS: &[&str] = &[
    "scenarios/cgroup/cpu-max.toml",
    "scenarios/cgroup/weight.toml",
];

const BPFLAND: Production = Production {
    spec: "scx_bpfland@1.1.4",
    ops: "bpfland",
    fails: &[],
    cgroup_fails: &[("cgroup-cpu-max", "bandwidth"), ("cgroup-weight", "weight")],
};

const FLASH: Production = Production {
    spec: "scx_flash@1.1.4",
    ops: "flash",
    fails: &[],
    cgroup_fails: &[("cgroup-cpu-max", "bandwidth")],
};

fn program(p: &Production) -> PathBuf {
    build::find(p.spec, &build::cache_dir()).unwrap_or_else(|| {
        panic!(
            "{} is not built in {}: run `make scheduler NAME={}` (about 15 min) first",
            p.spec,
            build::cache_dir().display(),
            p.spec
        )
    })
}

/// The passing catalog, in the order the files sort.
fn catalog() -> Vec<PathBuf> {
    let mut files = vec![repo().join("scenarios/spin.toml")];
    for dir in ["work", "pass"] {
        let mut found: Vec<PathBuf> = std::fs::read_dir(repo().join("scenarios").join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        found.sort();
        files.extend(found);
    }
    files
}

fn cgroup_controls() -> Vec<PathBuf> {
    CGROUP_CONTROLS.iter().map(|f| repo().join(f)).collect()
}

/// Runs `files` under the scheduler in one guest; the checks in `fails` must fail, all
/// others pass. `batch` names the run's scratch folder: tests of one scheduler run at
/// the same time, and each removes its own folder at its end.
fn run_under(p: &Production, batch: &str, files: &[PathBuf], fails: &[(&str, &str)]) {
    let scheduler = program(p);
    let scratch = Scratch::new(&format!("{}-{batch}", p.ops));
    let kernel = sched_ext_kernel();
    let mut args = os(&["--accel", "tcg", "--cpus", "2", "--kernel"]);
    args.push(kernel.as_os_str());
    args.push(OsStr::new("--scheduler"));
    args.push(scheduler.as_os_str());
    args.extend(os(&["--attach-timeout", ATTACH_TIMEOUT_S]));
    args.extend(files.iter().map(|f| f.as_os_str()));
    let (output, report) = run_and_report(&scratch, &args).unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let why = format!(
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status.code()
    );
    judge(p, &report, files.len(), fails, &why);
    let expected_exit = if fails.is_empty() { 0 } else { 1 };
    assert_eq!(output.status.code(), Some(expected_exit), "{why}");
}

/// Attached once as `ops`, never ejected or exited, and every scenario's checks as
/// expected: the scheduler check passes everywhere, the rest but for `fails`.
fn judge(p: &Production, report: &Value, scenarios: usize, fails: &[(&str, &str)], why: &str) {
    let scheduler = &report["scheduler"];
    let events = scheduler["events"].as_array().expect("no scheduler events");
    assert_eq!(events[0]["event"], "attached", "{why}");
    assert_eq!(events[0]["state"], "enabled", "{why}");
    let ops = events[0]["ops"].as_str().unwrap_or_default();
    assert!(
        ops.starts_with(&format!("{}_", p.ops)),
        "ops {ops:?}: {why}"
    );
    assert_eq!(scheduler["name"], ops, "{why}");
    for e in &events[1..] {
        assert_eq!(
            e["event"], "stopped",
            "only a stop after attaching: {e} {why}"
        );
    }
    let list = report["scenarios"].as_array().expect("no scenarios");
    assert_eq!(list.len(), scenarios, "{why}");
    for scenario in list {
        let name = scenario["name"].as_str().unwrap();
        for check in scenario["checks"].as_array().unwrap() {
            let check_name = check["name"].as_str().unwrap();
            let expected = !fails.contains(&(name, check_name));
            assert_eq!(
                check["passed"], expected,
                "{name}: check {check_name} {check}: {why}"
            );
        }
        let held = scenario["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "scheduler" && c["passed"] == true);
        assert!(held, "{name}: no passing scheduler check: {why}");
    }
}

#[test]
#[ignore = "needs `make scheduler NAME=scx_bpfland@1.1.4` (cargo install, ~15 min); see the top of this file"]
fn scx_bpfland_runs_the_passing_catalog() {
    run_under(&BPFLAND, "catalog", &catalog(), BPFLAND.fails);
}

/// scx_bpfland schedules every task by its own weight and knows nothing of cpu.max.
#[test]
#[ignore = "needs `make scheduler NAME=scx_bpfland@1.1.4`; see the top of this file"]
fn scx_bpfland_honours_neither_cpu_max_nor_cgroup_weights() {
    run_under(&BPFLAND, "cgroup", &cgroup_controls(), BPFLAND.cgroup_fails);
}

#[test]
#[ignore = "needs `make scheduler NAME=scx_flash@1.1.4` (cargo install); see the top of this file"]
fn scx_flash_runs_the_passing_catalog() {
    run_under(&FLASH, "catalog", &catalog(), FLASH.fails);
}

/// scx_flash shares the CPU by cgroup weight, but knows nothing of cpu.max.
#[test]
#[ignore = "needs `make scheduler NAME=scx_flash@1.1.4`; see the top of this file"]
fn scx_flash_honours_cgroup_weights_but_not_cpu_max() {
    run_under(&FLASH, "cgroup", &cgroup_controls(), FLASH.cgroup_fails);
}
