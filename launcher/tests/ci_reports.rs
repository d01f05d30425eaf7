//! What CI reads, from real runs: report.json validates against docs/report.schema.json
//! (with a JSON Schema library), the `--junit` file parses with a JUnit library and has
//! exactly the one failure the run had, the `--summary` file (and
//! `$GITHUB_STEP_SUMMARY`) is a Markdown table, and a run that did not pass names the
//! command that reproduces it. One booted VM (the project's kernel under TCG, about 2 s
//! of scenarios); the run on several shapes is judged before any boot.
//!
//! Needs `make` (the release init) and a kernel, as tests/e2e.rs.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use junit_parser::TestStatus;
use serde_json::Value;

use common::{describe, one_vm_at_a_time, repo, Scratch, SCHEDBOX};
use schedbox::outcome::ci::CONSOLE_TAIL_LINES;

const FAILING: &str = "scenarios/fail/weight.toml";
const PASSING: &str = "scenarios/pass/progress.toml";

fn validate(report: &Value) {
    let text = std::fs::read_to_string(repo().join("docs/report.schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    let validator = jsonschema::draft202012::new(&schema).expect("the schema is valid");
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\nreport: {report:#}");
}

/// `schedbox run ARGS` from the repository's root, with `$GITHUB_STEP_SUMMARY` set.
fn run(args: &[&str], step_summary: &Path) -> Output {
    Command::new(SCHEDBOX)
        .arg("run")
        .args(args)
        .current_dir(repo())
        .env("GITHUB_STEP_SUMMARY", step_summary)
        .env_remove("SCHEDBOX_SKIP_KVM_PROBE")
        .output()
        .expect("cannot run schedbox")
}

#[test]
fn a_booted_run_with_one_failure_gives_ci_its_files() {
    let scratch = Scratch::new("ci-files");
    let kernel = common::kernel();
    let file = |name: &str| scratch.0.join(name).display().to_string();
    let step_summary = scratch.file("step-summary.md", "earlier step\n");
    let (json, junit, summary, out) = (file("r.json"), file("j.xml"), file("s.md"), file("run"));
    let output = {
        let _turn = one_vm_at_a_time();
        run(
            &[
                "--accel",
                "tcg",
                "--cpus",
                "2",
                "--kernel",
                kernel.to_str().unwrap(),
                "--out",
                &out,
                "--json",
                &json,
                "--junit",
                &junit,
                "--summary",
                &summary,
                FAILING,
                PASSING,
            ],
            &step_summary,
        )
    };
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let why = describe(&output, &report);
    assert_eq!(output.status.code(), Some(1), "{why}");
    validate(&report);
    assert_eq!(report["schema_version"], 1, "{why}");

    // The command that reproduces it names the kernel, its hash, the shape and the
    // failing file only; the summary on stdout prints it.
    let repro = report["repro"].as_str().expect("a failed run has repro");
    for want in [
        format!(
            "schedbox run --kernel {}",
            std::fs::canonicalize(&kernel).unwrap().display()
        ),
        "--topology 1n1l2c1t --memory 256 --accel tcg scenarios/fail/weight.toml  # kernel sha256:"
            .into(),
    ] {
        assert!(repro.contains(&want), "{want:?} not in {repro}");
    }
    assert!(!repro.contains(PASSING), "{repro}");
    assert!(String::from_utf8_lossy(&output.stdout).contains(&format!("reproduce: {repro}")));

    // JUnit, read by a JUnit library: one suite, the failing case with its check.
    let suites = junit_parser::from_reader(std::io::BufReader::new(
        std::fs::File::open(&junit).unwrap(),
    ))
    .expect("the JUnit file parses");
    assert_eq!(suites.suites.len(), 1, "{suites:#?}");
    let suite = &suites.suites[0];
    assert_eq!(
        (
            suite.name.as_str(),
            suite.tests,
            suite.failures,
            suite.errors
        ),
        ("1n1l2c1t", 2, 1, 0)
    );
    let case = |name: &str| {
        let found = suite.cases.iter().find(|c| c.original_name == name);
        found.unwrap_or_else(|| panic!("no case {name}: {suite:#?}"))
    };
    let TestStatus::Failure(failure) = &case("fail-weight").status else {
        panic!("fail-weight did not fail: {suite:#?}")
    };
    assert!(
        failure.message.starts_with("check weight: value ")
            && failure.message.ends_with(", limit 150"),
        "{failure:?}"
    );
    assert!(failure.text.contains("check weight failed"), "{failure:?}");
    assert_eq!(case("fail-weight").file.as_deref(), Some(FAILING));
    // The console's tail, where the kernel wrote any (a quiet one may write nothing
    // before the run stops the VM at done).
    let console = std::fs::read_to_string(scratch.0.join("run/console.log")).unwrap();
    let lines: Vec<&str> = console.lines().collect();
    let tail = lines[lines.len().saturating_sub(CONSOLE_TAIL_LINES)..].join("\n");
    let expected = (!tail.is_empty()).then_some(tail);
    assert_eq!(case("fail-weight").system_out, expected, "{why}");
    assert!(case("pass-progress").status.is_success(), "{suite:#?}");

    // The summary: a Markdown table with a row per scenario, and the same text appended
    // after what the step summary had.
    let md = std::fs::read_to_string(&summary).unwrap();
    let table: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
    assert_eq!(table.len(), 4, "{md}");
    assert_eq!(
        table[0],
        "| scenario | shape | outcome | time | what failed |"
    );
    assert_eq!(table[1], "| --- | --- | --- | --- | --- |");
    assert!(
        table[2].starts_with("| fail-weight | 1n1l2c1t | **FAIL** | ")
            && table[2].contains("check weight: value"),
        "{md}"
    );
    assert!(
        table[3].starts_with("| pass-progress | 1n1l2c1t | pass | "),
        "{md}"
    );
    assert!(
        md.starts_with("### schedbox: FAIL") && md.contains(repro),
        "{md}"
    );
    assert_eq!(
        std::fs::read_to_string(&step_summary).unwrap(),
        format!("earlier step\n{md}")
    );
}

#[test]
fn a_run_on_several_shapes_that_cannot_attach_is_a_valid_untestable_report() {
    // A scheduler on a kernel without sched_ext is untestable on each shape before any
    // VM: no boot needed to get the report of a gauntlet.
    let scratch = Scratch::new("ci-gauntlet");
    let kernel = common::plain_kernel();
    let scheduler = common::tree_scheduler("scx_simple");
    let json = scratch.0.join("r.json").display().to_string();
    let junit = scratch.0.join("j.xml").display().to_string();
    let out = scratch.0.join("run").display().to_string();
    let output = run(
        &[
            "--kernel",
            kernel.to_str().unwrap(),
            "--scheduler",
            scheduler.to_str().unwrap(),
            "--topology",
            "1n1l1c1t,1n1l2c1t",
            "--out",
            &out,
            "--json",
            &json,
            "--junit",
            &junit,
            PASSING,
        ],
        &scratch.0.join("step.md"),
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let why = describe(&output, &report);
    assert_eq!(output.status.code(), Some(125), "{why}");
    validate(&report);
    assert_eq!(report["shapes"].as_array().map(Vec::len), Some(2), "{why}");
    let repro = report["repro"].as_str().expect("repro");
    assert!(
        repro.contains("--topology 1n1l1c1t,1n1l2c1t") && repro.contains("--scheduler "),
        "{repro}"
    );
    let suites = junit_parser::from_reader(std::io::BufReader::new(
        std::fs::File::open(&junit).unwrap(),
    ))
    .expect("the JUnit file parses");
    assert_eq!(suites.suites.len(), 2);
    assert!(
        suites
            .suites
            .iter()
            .all(|s| s.errors == 1 && s.cases[0].status.is_error()),
        "{suites:#?}"
    );
}

#[test]
fn the_schema_refuses_a_report_that_breaks_it() {
    let text = std::fs::read_to_string(repo().join("docs/report.schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    // Valid in form, but a pass must exit 0 and have no repro.
    let bad = serde_json::json!({
        "schema_version": 1, "outcome": "pass", "exit_code": 1, "reasons": [], "notes": [],
        "run": {"backend": "qemu-tcg", "backend_reason": "", "kernel": "k", "kernel_release": null,
                "cpus": 2, "shape": "1n1l2c1t", "memory_mib": 256, "cmdline": "", "run_dir": "d"},
        "release": null, "sched_ext": null,
        "scheduler": {"summary": "EEVDF", "name": null, "path": null, "args": [], "attached_ms": null,
                      "events": [], "output_lines": 0, "output_tail": [], "log": null},
        "scenarios": [], "evidence": [], "errors": [],
        "timings": {"first_console_ms": null, "boot_record_ms": null, "done_record_ms": null, "total_ms": 0},
        "timeline": {"wall_ms": 3, "phases": [{"phase": "preparation", "start_ms": 0, "ms": 2},
                                              {"phase": "judging", "start_ms": 2, "ms": 1}]},
        "end": null, "records_channels": [], "repro": null
    });
    assert!(!validator.is_valid(&bad));
    let mut good = bad.clone();
    good["exit_code"] = 0.into();
    assert!(
        validator.is_valid(&good),
        "{:?}",
        validator
            .iter_errors(&good)
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
    );
}

#[test]
fn repeats_pass_together_and_report_each_checks_spread() {
    let scratch = Scratch::new("ci-repeat");
    let kernel = common::kernel();
    let json = scratch.0.join("r.json").display().to_string();
    let out = scratch.0.join("run");
    let output = {
        let _turn = one_vm_at_a_time();
        run(
            &[
                "--accel",
                "tcg",
                "--kernel",
                kernel.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--json",
                &json,
                "--repeat",
                "2",
                "--filter",
                "pass-progress",
                "scenarios/pass",
            ],
            &scratch.0.join("step.md"),
        )
    };
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let why = describe(&output, &report);
    assert_eq!(output.status.code(), Some(0), "{why}");
    validate(&report);
    let repeats = report["repeats"].as_array().unwrap();
    assert_eq!(repeats.len(), 2, "{why}");
    for (i, r) in repeats.iter().enumerate() {
        let names: Vec<&Value> = r["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| &s["name"])
            .collect();
        assert_eq!(names, ["pass-progress"], "{why}");
        assert!(out
            .join(format!("repeat-{:03}/report.json", i + 1))
            .is_file());
    }
    let progress = report["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["check"] == "progress")
        .unwrap_or_else(|| panic!("{why}"));
    let values: Vec<u64> = progress["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let (min, max) = (*values.iter().min().unwrap(), *values.iter().max().unwrap());
    assert_eq!(values.len(), 2, "{why}");
    assert_eq!(
        (progress["min"].as_u64(), progress["max"].as_u64()),
        (Some(min), Some(max))
    );
    assert_eq!(
        progress["median"].as_u64(),
        Some(min),
        "the lower middle of two"
    );
    assert_eq!(progress["spread"].as_u64(), Some(max - min));
    assert_eq!(progress["passed"], 2);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("PASS (repeats: pass, pass)"),
        "{why}"
    );
}

/// A short sched_ext scenario: one spinner for a second (the run's --scheduler adds the
/// `scheduler` check).
const SHORT_SPIN: &str = "name = \"matrix-spin\"\nduration_ms = 1000\n\n[[workers]]\ngroup = \"spin\"\nwork = \"spin\"\n";

#[test]
fn a_kernel_matrix_passes_where_sched_ext_is_and_is_untestable_where_not() {
    // The same scenario under scx_simple on the project's kernel (sched_ext: it boots and
    // passes) and Debian's (no sched_ext: untestable before any boot): exit 125 by the
    // combined rule, a kernel × scenario table, a valid report.
    let scratch = Scratch::new("ci-kernel-matrix");
    let (scx, plain) = (common::sched_ext_kernel(), common::plain_kernel());
    let scheduler = common::tree_scheduler("scx_simple");
    let scenario = scratch.file("spin.toml", SHORT_SPIN);
    let file = |name: &str| scratch.0.join(name).display().to_string();
    let (json, junit, summary, out) = (file("r.json"), file("j.xml"), file("s.md"), file("run"));
    let kernels = format!("{},{}", scx.display(), plain.display());
    let output = {
        let _turn = one_vm_at_a_time();
        run(
            &[
                "--accel",
                "tcg",
                "--kernel",
                &kernels,
                "--scheduler",
                scheduler.to_str().unwrap(),
                "--out",
                &out,
                "--json",
                &json,
                "--junit",
                &junit,
                "--summary",
                &summary,
                scenario.to_str().unwrap(),
            ],
            &scratch.0.join("step.md"),
        )
    };
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let why = describe(&output, &report);
    assert_eq!(output.status.code(), Some(125), "{why}");
    validate(&report);
    let label = |k: &Path| k.file_name().unwrap().to_string_lossy().into_owned();
    let (scx_label, plain_label) = (label(&scx), label(&plain));
    let vms = report["shapes"].as_array().unwrap();
    assert_eq!(vms.len(), 2, "{why}");
    for (vm, kernel, name, outcome) in [
        (&vms[0], &scx, &scx_label, "pass"),
        (&vms[1], &plain, &plain_label, "untestable"),
    ] {
        assert_eq!(vm["kernel"], kernel.display().to_string(), "{why}");
        assert_eq!(vm["kernel_label"], name.as_str(), "{why}");
        assert_eq!(vm["report"]["outcome"], outcome, "{why}");
        assert_eq!(vm["report"]["scenarios"][0]["name"], "matrix-spin", "{why}");
        let own = Path::new(&out).join(name).join("1n1l2c1t/report.json");
        assert!(own.is_file(), "{} missing: {why}", own.display());
    }
    assert_eq!(
        vms[0]["report"]["scenarios"][0]["outcome"], "pass",
        "the scheduler attached and the scenario passed: {why}"
    );

    // The table on stdout: a row per kernel, the scenario's verdict on each.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let row = |name: &str| {
        let found = stdout.lines().find(|l| l.trim_start().starts_with(name));
        let line = found.unwrap_or_else(|| panic!("no row {name}: {why}"));
        line.split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert!(
        stdout.contains("schedbox: 2 kernels, 2 VMs, one VM each"),
        "{why}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["kernel", "shape", "matrix-spin", "verdict"]),
        "{why}"
    );
    assert_eq!(row(&scx_label)[1..], ["1n1l2c1t", "PASS", "PASS"], "{why}");
    assert_eq!(
        row(&plain_label)[1..],
        ["1n1l2c1t", "UNTESTABLE", "UNTESTABLE"],
        "{why}"
    );
    let repro = report["repro"]
        .as_str()
        .expect("an untestable run has repro");
    assert!(
        repro.contains(&format!(
            "--kernel {}",
            std::fs::canonicalize(&plain).unwrap().display()
        )),
        "{repro}"
    );

    // CI's files: a JUnit suite per kernel, a summary row per kernel.
    let suites = junit_parser::from_reader(std::io::BufReader::new(
        std::fs::File::open(&junit).unwrap(),
    ))
    .expect("the JUnit file parses");
    let names: Vec<&str> = suites.suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            format!("{scx_label}/1n1l2c1t"),
            format!("{plain_label}/1n1l2c1t")
        ]
    );
    assert_eq!((suites.suites[0].failures, suites.suites[0].errors), (0, 0));
    assert_eq!(suites.suites[1].errors, 1);
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.contains("| scenario | kernel/shape | outcome | time | what failed |")
            && md.contains(&format!("| matrix-spin | {scx_label}/1n1l2c1t | pass |"))
            && md.contains(&format!(
                "| matrix-spin | {plain_label}/1n1l2c1t | UNTESTABLE |"
            )),
        "{md}"
    );
}
