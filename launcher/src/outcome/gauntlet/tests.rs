use super::*;
use crate::outcome::report::{self, Judged, RunInfo};
use crate::outcome::verdict::{ScenarioVerdict, Verdict};
use crate::scenario::{self, VmShape};

/// A report of `outcome` on `shape` whose scenarios went as `scenarios` say.
fn judged(shape: &str, outcome: Outcome, scenarios: &[(&str, ScenarioOutcome)]) -> ShapeReport {
    let vm = VmShape::flat(2, 256);
    let parsed: Vec<_> = scenarios
        .iter()
        .map(|(name, _)| {
            let text = format!("name = \"{name}\"\nduration_ms = 100\n");
            scenario::parse(&text, name, &vm).unwrap()
        })
        .collect();
    let verdict = Verdict {
        outcome,
        reasons: vec![format!("{} happened", outcome.word())],
        notes: Vec::new(),
        scenarios: scenarios
            .iter()
            .map(|(name, o)| ScenarioVerdict {
                name: name.to_string(),
                outcome: o.clone(),
            })
            .collect(),
        checks: Vec::new(),
        payloads: Vec::new(),
    };
    let info = RunInfo {
        backend: "qemu".into(),
        backend_reason: String::new(),
        kernel: "k".into(),
        kernel_release: None,
        cpus: 2,
        shape: "1n1l2c1t".into(),
        memory_mib: 256,
        cmdline: String::new(),
        run_dir: format!("/runs/{shape}"),
    };
    let report = report::build(Judged {
        info,
        scenarios: &parsed,
        scheduler: None,
        observed: None,
        verdict,
    });
    ShapeReport {
        kernel: None,
        shape: shape.into(),
        run_dir: format!("/runs/{shape}"),
        scenario_names: scenarios.iter().map(|(n, _)| n.to_string()).collect(),
        result: ShapeResult::Judged {
            report: Box::new(report),
        },
    }
}

fn other(shape: &str, names: &[&str], result: ShapeResult) -> ShapeReport {
    ShapeReport {
        kernel: None,
        shape: shape.into(),
        run_dir: format!("/runs/{shape}"),
        scenario_names: names.iter().map(|n| n.to_string()).collect(),
        result,
    }
}

fn fail() -> ScenarioOutcome {
    ScenarioOutcome::Fail {
        failed: vec!["stall".into()],
    }
}

#[test]
fn the_outcome_is_fail_over_untestable_over_pass_and_a_signal_over_all() {
    use Outcome::*;
    assert_eq!(combine([Pass, Pass].into_iter()), Pass);
    assert_eq!(combine([Pass, Untestable].into_iter()), Untestable);
    assert_eq!(combine([Untestable, Fail, Pass].into_iter()), Fail);
    assert_eq!(
        combine([Fail, Interrupted(libc::SIGINT)].into_iter()),
        Interrupted(libc::SIGINT)
    );
    assert_eq!(combine(std::iter::empty()), Pass);
}

#[test]
fn the_table_has_a_row_per_shape_and_a_column_per_scenario() {
    let untestable = ScenarioOutcome::Untestable {
        reasons: vec!["mismatch".into()],
    };
    let report = GauntletReport::new(
        "/runs".into(),
        vec![
            judged(
                "1n1l2c1t",
                Outcome::Fail,
                &[("spin", ScenarioOutcome::Pass), ("yield", fail())],
            ),
            judged("1n2l1c1t", Outcome::Untestable, &[("spin", untestable)]),
            other(
                "2n2l2c1t",
                &["spin", "yield"],
                ShapeResult::Error {
                    error: "qemu died".into(),
                },
            ),
        ],
    );
    assert_eq!(
        table(&report),
        "  shape      spin       yield      verdict\n\
         \x20 1n1l2c1t   PASS       FAIL       FAIL\n\
         \x20 1n2l1c1t   UNTESTABLE -          UNTESTABLE\n\
         \x20 2n2l2c1t   ERROR      ERROR      ERROR\n"
    );
    assert_eq!(report.outcome, Outcome::Fail);
    assert_eq!(report.exit_code, 1);
    assert_eq!(
        report.reasons,
        [
            "1n1l2c1t: fail happened",
            "1n2l1c1t: untestable happened",
            "2n2l2c1t: qemu died"
        ]
    );
    let text = human(&report);
    assert!(
        text.starts_with("schedbox: 3 shapes, one VM each\n"),
        "{text}"
    );
    assert!(
        text.ends_with("FAIL (total 0.00 s); run directory /runs\n"),
        "{text}"
    );
}

#[test]
fn a_stopped_run_is_interrupted_with_the_shapes_it_never_ran() {
    let mut report = GauntletReport::new(
        "/runs".into(),
        vec![
            judged(
                "1n1l2c1t",
                Outcome::Interrupted(libc::SIGINT),
                &[("spin", ScenarioOutcome::Pass)],
            ),
            other("1n2l1c1t", &["spin"], ShapeResult::NotRun),
        ],
    );
    assert_eq!(report.exit_code, 130);
    assert!(table(&report).contains("1n2l1c1t   NOT RUN    NOT RUN"));
    assert_eq!(
        report.reasons[1],
        "1n2l1c1t: not run: the run was stopped first"
    );
    report.host_fault("cannot write the report".into());
    assert_eq!(report.exit_code, 130, "a signal stays the run's end");
    assert!(human(&report).contains("  reason: cannot write the report\n"));
}

#[test]
fn the_json_nests_each_shapes_own_report() {
    let report = GauntletReport::new(
        "/runs".into(),
        vec![
            judged(
                "1n1l2c1t",
                Outcome::Pass,
                &[("spin", ScenarioOutcome::Pass)],
            ),
            other("1n2l1c1t", &["spin"], ShapeResult::NotRun),
        ],
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["outcome"], "pass");
    assert_eq!(json["shapes"][0]["shape"], "1n1l2c1t");
    assert_eq!(json["shapes"][0]["status"], "judged");
    assert_eq!(json["shapes"][0]["report"]["outcome"], "pass");
    assert_eq!(json["shapes"][0]["report"]["scenarios"][0]["name"], "spin");
    assert_eq!(
        json["shapes"][0]["report"]["run"]["run_dir"],
        "/runs/1n1l2c1t"
    );
    assert_eq!(json["shapes"][1]["status"], "not-run");
    assert_eq!(json["shapes"][1]["scenario_names"][0], "spin");
}

#[test]
fn a_kernel_matrix_has_a_kernel_column_and_names_its_rows_by_kernel() {
    let on = |label: &str, mut shape: ShapeReport| {
        shape.kernel = Some(MatrixKernel {
            kernel: format!("/k/{label}"),
            kernel_label: label.into(),
        });
        shape
    };
    let untestable = ScenarioOutcome::Untestable {
        reasons: vec!["no sched_ext".into()],
    };
    let report = GauntletReport::new(
        "/runs".into(),
        vec![
            on(
                "bzImage",
                judged(
                    "1n1l2c1t",
                    Outcome::Pass,
                    &[("spin", ScenarioOutcome::Pass)],
                ),
            ),
            on(
                "vmlinuz-6.1",
                judged("1n1l2c1t", Outcome::Untestable, &[("spin", untestable)]),
            ),
        ],
    );
    assert_eq!(
        table(&report),
        "  kernel      shape      spin       verdict\n\
         \x20 bzImage     1n1l2c1t   PASS       PASS\n\
         \x20 vmlinuz-6.1 1n1l2c1t   UNTESTABLE UNTESTABLE\n"
    );
    assert_eq!(report.exit_code, 125);
    assert_eq!(
        report.reasons[1],
        "vmlinuz-6.1/1n1l2c1t: untestable happened"
    );
    let text = human(&report);
    assert!(
        text.starts_with("schedbox: 2 kernels, 2 VMs, one VM each\n"),
        "{text}"
    );
    assert!(
        text.contains("  kernel vmlinuz-6.1: /k/vmlinuz-6.1\n"),
        "{text}"
    );
    assert!(
        !text.contains("reason:"),
        "row reasons are not host reasons: {text}"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["shapes"][1]["kernel"], "/k/vmlinuz-6.1");
    assert_eq!(json["shapes"][1]["kernel_label"], "vmlinuz-6.1");
    let suites = crate::outcome::ci::gauntlet(&report);
    assert_eq!(suites[1].name, "vmlinuz-6.1/1n1l2c1t");
}
