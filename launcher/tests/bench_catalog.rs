//! The bench's catalog section runs the same scenarios in one boot and one boot each, and
//! counts what passed each way from the guests' own verdicts.

mod common;

use common::{kernel, one_vm_at_a_time, repo};
use schedbox::bench::catalog;
use schedbox::cli::{self, Command};

#[test]
fn the_catalog_runs_batched_and_one_boot_each_and_both_pass() {
    let _turn = one_vm_at_a_time();
    let out = std::env::temp_dir().join(format!("schedbox-bench-catalog-{}", std::process::id()));
    let scenarios = repo().join("scenarios/pass");
    let args = [
        "bench".into(),
        "--kernel".into(),
        kernel().into_os_string(),
        "--catalog".into(),
        scenarios.join("progress.toml").into_os_string(),
        "--catalog".into(),
        scenarios.join("fairness.toml").into_os_string(),
    ];
    let Ok(Command::Bench {
        options, catalog, ..
    }) = cli::parse(args.to_vec())
    else {
        panic!("bench --catalog did not parse")
    };
    let row = catalog::measure(&options, &catalog, &out);
    let _ = std::fs::remove_dir_all(&out);
    assert_eq!(row.not_measured, None);
    assert_eq!(row.scenarios, 2);
    assert!(row.hold_ms > 0);
    let (batched, each) = (row.batched.unwrap(), row.one_each.unwrap());
    assert_eq!((batched.passed, each.passed), (2, 2), "{row:?}");
    assert!(batched.wall_ms > 0 && each.wall_ms > 0, "{row:?}");
}
