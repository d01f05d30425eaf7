use serde_json::json;

use schedbox_protocol::checks::CheckKind;

use super::*;

/// A report of `--repeat` with one scenario: each run's values of (check, value, limit,
/// passed).
fn repeats(runs: &[&[(&str, u64, u64, bool)]]) -> Side {
    let repeats: Vec<Value> = runs
        .iter()
        .map(|checks| {
            let checks: Vec<Value> = checks
                .iter()
                .map(|(name, value, limit, passed)| {
                    json!({"name": name, "value": value, "limit": limit, "passed": passed})
                })
                .collect();
            json!({"scenarios": [{"name": "s", "checks": checks}]})
        })
        .collect();
    Side::of(&json!({"schema_version": SCHEMA_VERSION, "repeats": repeats})).unwrap()
}

fn base() -> Side {
    repeats(&[
        &[
            (CheckKind::Weight.word(), 30, 250, true),
            (CheckKind::Stall.word(), 20, 1000, true),
            (CheckKind::Progress.word(), 400_000, 1, true),
        ],
        &[
            (CheckKind::Weight.word(), 34, 250, true),
            (CheckKind::Stall.word(), 25, 1000, true),
            (CheckKind::Progress.word(), 410_000, 1, true),
        ],
        &[
            (CheckKind::Weight.word(), 32, 250, true),
            (CheckKind::Stall.word(), 22, 1000, true),
            (CheckKind::Progress.word(), 405_000, 1, true),
        ],
    ])
}

#[test]
fn a_rerun_is_no_regression() {
    let again = repeats(&[
        &[
            (CheckKind::Weight.word(), 33, 250, true),
            (CheckKind::Stall.word(), 27, 1000, true),
            (CheckKind::Progress.word(), 390_000, 1, true),
        ],
        &[
            (CheckKind::Weight.word(), 29, 250, true),
            (CheckKind::Stall.word(), 19, 1000, true),
            (CheckKind::Progress.word(), 396_000, 1, true),
        ],
        &[
            (CheckKind::Weight.word(), 31, 250, true),
            (CheckKind::Stall.word(), 23, 1000, true),
            (CheckKind::Progress.word(), 392_000, 1, true),
        ],
    ]);
    let c = compare(&base(), &again, DEFAULT_THRESHOLD_PERCENT).unwrap();
    assert_eq!(c.rows.len(), 3);
    assert_eq!(c.regressions, 0, "{c:?}");
    assert_eq!(c.exit(), Exit::Pass);
}

#[test]
fn a_limit_failing_in_b_and_a_shift_toward_the_limit_are_regressions() {
    let worse = repeats(&[
        &[
            (CheckKind::Weight.word(), 600, 250, false),
            (CheckKind::Stall.word(), 600, 1000, true),
            (CheckKind::Progress.word(), 400_000, 1, true),
        ],
        &[
            (CheckKind::Weight.word(), 610, 250, false),
            (CheckKind::Stall.word(), 620, 1000, true),
            (CheckKind::Progress.word(), 410_000, 1, true),
        ],
        &[
            (CheckKind::Weight.word(), 590, 250, false),
            (CheckKind::Stall.word(), 610, 1000, true),
            (CheckKind::Progress.word(), 405_000, 1, true),
        ],
    ]);
    let c = compare(&base(), &worse, DEFAULT_THRESHOLD_PERCENT).unwrap();
    let flagged: Vec<&str> = c
        .rows
        .iter()
        .filter(|r| r.regression)
        .map(|r| r.check.as_str())
        .collect();
    assert_eq!(
        flagged,
        [CheckKind::Weight.word(), CheckKind::Stall.word()],
        "{c:?}"
    );
    assert!(c.rows[0].why.as_ref().unwrap().contains("failed in 3 of 3"));
    assert_eq!(c.rows[0].delta, 600 - 32);
    assert_eq!(c.exit(), Exit::Fail);
    // A higher threshold forgives the shift that still passes, not the failure.
    let c = compare(&base(), &worse, 75).unwrap();
    assert_eq!(c.regressions, 1);
}

#[test]
fn one_run_a_side_judges_only_verdicts() {
    let one = |value, passed| repeats(&[&[(CheckKind::Weight.word(), value, 250, passed)]]);
    let c = compare(&one(30, true), &one(200, true), DEFAULT_THRESHOLD_PERCENT).unwrap();
    assert_eq!((c.rows[0].beyond_noise, c.regressions), (None, 0));
    let c = compare(&one(30, true), &one(300, false), DEFAULT_THRESHOLD_PERCENT).unwrap();
    assert_eq!(c.regressions, 1);
}

#[test]
fn what_is_not_a_report_is_refused() {
    for (doc, want) in [
        (json!({"scenarios": []}), "no schema_version"),
        (
            json!({"schema_version": 99, "scenarios": []}),
            "schema_version 99",
        ),
        (
            json!({"schema_version": SCHEMA_VERSION}),
            "not a schedbox report",
        ),
    ] {
        let err = Side::of(&doc).unwrap_err();
        assert!(err.contains(want), "{err}");
    }
    let a = base();
    let other = Side::of(&json!({"schema_version": SCHEMA_VERSION, "scenarios": [
        {"name": "t", "checks": [{"name": CheckKind::Stall.word(), "value": 1, "limit": 2, "passed": true}]}
    ]}))
    .unwrap();
    let err = compare(&a, &other, DEFAULT_THRESHOLD_PERCENT).unwrap_err();
    assert!(err.contains("no scenario and check in common"), "{err}");
}
