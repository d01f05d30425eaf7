//! `schedbox compare` on reports of real booted runs, and `schedbox ab`: a re-run of the
//! same scenarios is no regression; a scenario whose limit fails in B is one; scx_simple
//! against the kernel's own scheduler on the weight scenario shows what the catalog
//! knows (scx_simple ignores cgroup weights: the weight check fails under it and passes
//! under EEVDF).

mod common;

use std::process::Command;

use serde_json::Value;

use common::{Scratch, SCHEDBOX};

/// Two short scenarios; `planted`'s progress limit is `limit` (1 passes; far more
/// iterations than a second of spinning gives fails).
fn scenarios(scratch: &Scratch, limit: u64) -> [String; 2] {
    let steady = scratch.file(
        "steady.toml",
        "name = \"steady\"\nduration_ms = 800\n\n[[workers]]\ngroup = \"spin\"\nwork = \"spin\"\ncount = 2\n",
    );
    let planted = scratch.file(
        "planted.toml",
        &format!(
            "name = \"planted\"\nduration_ms = 800\n\n[[workers]]\ngroup = \"spin\"\n\
             work = \"spin\"\n\n[[check]]\nname = \"progress\"\ngroup = \"spin\"\nlimit = {limit}\n"
        ),
    );
    [steady, planted].map(|p| p.display().to_string())
}

/// `schedbox run --repeat 2` of the two scenarios; the path of its report.
fn repeated(name: &str, limit: u64) -> (Scratch, String) {
    let scratch = Scratch::new(name);
    let [a, b] = scenarios(&scratch, limit);
    let (output, report) = common::boot(&scratch, &["--repeat", "2", &a, &b]);
    let json = scratch.0.join("report.json").display().to_string();
    let says = common::describe(&output, &report);
    let repeats = report["repeats"].as_array().expect("a --repeat report");
    assert_eq!(repeats.len(), 2, "{says}");
    // Each repeat judged both scenarios: compare has two values a side.
    for repeat in repeats {
        let judged = repeat["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["checks"].as_array().is_some_and(|c| !c.is_empty()))
            .count();
        assert_eq!(judged, 2, "{says}");
    }
    (scratch, json)
}

fn compare(a: &str, b: &str, out: &Scratch) -> (i32, Value, String) {
    let json = out.0.join("comparison.json");
    let output = common::schedbox(&["compare", "--json", json.to_str().unwrap(), a, b]);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let text = std::fs::read_to_string(&json).unwrap_or_else(|e| {
        panic!(
            "no comparison ({e}): {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (
        output.status.code().unwrap(),
        serde_json::from_str(&text).unwrap(),
        stdout,
    )
}

fn row<'a>(comparison: &'a Value, scenario: &str, check: &str) -> &'a Value {
    comparison["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["scenario"] == scenario && r["check"] == check)
        .unwrap_or_else(|| panic!("no row {scenario} {check}: {comparison:#}"))
}

#[test]
fn compare_flags_a_planted_regression_and_not_a_rerun() {
    let (base, a) = repeated("compare-a", 1);
    let (again, rerun) = repeated("compare-rerun", 1);
    let (planted, b) = repeated("compare-planted", 1 << 40);

    let (code, same, table) = compare(&a, &rerun, &again);
    assert_eq!(code, 0, "{table}");
    assert_eq!(same["regressions"], 0, "{table}");
    assert!(table.contains("NO REGRESSION"), "{table}");
    // Every check of both scenarios is compared, each with a p-value (two runs a side).
    let rows = same["rows"].as_array().unwrap();
    assert!(rows.len() >= 6, "{table}");
    assert!(rows.iter().all(|r| r["p_value"].is_number()), "{table}");

    let (code, worse, table) = compare(&a, &b, &planted);
    assert_eq!(code, 1, "{table}");
    assert_eq!(worse["regressions"], 1, "{table}");
    let progress = row(&worse, "planted", "progress");
    assert_eq!(progress["regression"], true, "{table}");
    assert_eq!(
        (&progress["a"]["passed"], &progress["b"]["passed"]),
        (&2.into(), &0.into())
    );
    assert!(
        table.contains("REGRESSION: passed in all 2 runs of A, failed in 2 of 2 of B"),
        "{table}"
    );
    drop(base);
}

#[test]
fn compare_refuses_what_is_not_a_report() {
    let scratch = Scratch::new("compare-bad");
    let junk = scratch.file("junk.json", "{\"scenarios\": 1");
    let output = common::schedbox(&["compare", junk.to_str().unwrap(), junk.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not JSON"), "{stderr}");
}

#[test]
fn ab_of_scx_simple_against_eevdf_shows_that_it_ignores_weights() {
    let scratch = Scratch::new("ab-weight");
    let kernel = common::kernel();
    let _simple = common::tree_scheduler("scx_simple");
    let manifest = common::repo().join("schedulers.toml");
    let weight = common::repo().join("scenarios/cgroup/weight.toml");
    let json = scratch.0.join("ab.json");
    let output = {
        let _turn = common::one_vm_at_a_time();
        Command::new(SCHEDBOX)
            .args([
                "ab",
                "--scheduler-a",
                "scx_simple",
                "--scheduler-b",
                "eevdf",
            ])
            .arg("--manifest")
            .arg(&manifest)
            .args(["--repeat", "3"])
            .args(["--accel", "tcg", "--cpus", "2", "--kernel"])
            .arg(&kernel)
            .arg("--out")
            .arg(scratch.0.join("run"))
            .arg("--json")
            .arg(&json)
            .arg(&weight)
            .env_remove("SCHEDBOX_SKIP_KVM_PROBE")
            .output()
            .unwrap()
    };
    let says = format!(
        "exit {:?}\n{}\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let comparison: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    // Exit 1 exactly when a row is a regression. Which rows are depends on the host: with
    // weights honoured, EEVDF's low-weight worker makes far fewer iterations than under
    // scx_simple, which `progress` can count as a regression on an idle host.
    let regressions = comparison["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["regression"] == true)
        .count();
    let expected = if regressions > 0 { 1 } else { 0 };
    assert_eq!(output.status.code(), Some(expected), "{says}");
    let weight = row(&comparison, "cgroup-weight", "weight");
    let limit = weight["limit"].as_u64().unwrap();
    let (a, b) = (&weight["a"], &weight["b"]);
    assert_eq!(
        (a["runs"].as_u64(), b["runs"].as_u64()),
        (Some(3), Some(3)),
        "{says}"
    );
    // The catalog's finding: under scx_simple the weight check fails, far past its limit
    // (tests/catalog.rs); under EEVDF it stays near it. On a loaded TCG host EEVDF's
    // value can pass the limit too (a starved vCPU blurs the split), so B is held to
    // "far below A", not to passing.
    assert_eq!(a["passed"], 0, "{says}");
    let (a_median, b_median) = (a["median"].as_u64().unwrap(), b["median"].as_u64().unwrap());
    assert!(a_median > limit * 2, "{says}");
    assert!(b_median < limit * 2 && b_median * 2 < a_median, "{says}");
    assert!(
        weight["delta"].as_i64().unwrap() < -(limit as i64),
        "{says}"
    );
    assert_eq!(weight["beyond_noise"], true, "{says}");
    assert_eq!(
        (&weight["worse"], &weight["regression"]),
        (&false.into(), &false.into()),
        "{says}"
    );
    // The sides ran interleaved, each in its own folder, and their reports are kept.
    for dir in ["a-001", "b-001", "a-003", "b-003"] {
        assert!(
            scratch
                .0
                .join("run")
                .join(dir)
                .join("report.json")
                .is_file(),
            "{dir}: {says}"
        );
    }
    for side in ["a.json", "b.json"] {
        assert!(scratch.0.join("run").join(side).is_file(), "{side}: {says}");
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let order: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("== "))
        .map(|l| &l[3..4])
        .collect();
    assert_eq!(order, ["A", "B", "B", "A", "A", "B"], "{says}");
}
