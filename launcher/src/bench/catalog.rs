//! The passing catalog both ways: every scenario in one boot against one boot per
//! scenario, launch to verdict on the host's clock. One run each: together they take
//! minutes under TCG.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::cli::RunOptions;
use crate::outcome::verdict::ScenarioOutcome;
use crate::pipeline::{boot, shapes};
use crate::selection;

/// One way of running the catalog: wall time and how many scenarios passed.
#[derive(Debug, Clone, Copy)]
pub struct Timed {
    pub wall_ms: u64,
    pub passed: usize,
}

/// The catalog section; `paths` empty means `--catalog` was not given.
#[derive(Debug, Default)]
pub struct CatalogRow {
    pub scenarios: usize,
    pub hold_ms: u64,
    pub batched: Option<Timed>,
    pub one_each: Option<Timed>,
    pub not_measured: Option<String>,
}

pub fn measure(options: &RunOptions, paths: &[PathBuf], out: &Path) -> CatalogRow {
    let mut row = CatalogRow::default();
    if paths.is_empty() {
        row.not_measured = Some("no --catalog given".into());
        return row;
    }
    if let Err(why) = run(options, paths, out, &mut row) {
        row.not_measured = Some(why);
    }
    row
}

fn run(
    options: &RunOptions,
    paths: &[PathBuf],
    out: &Path,
    row: &mut CatalogRow,
) -> Result<(), String> {
    let files = selection::expand(paths)?;
    let mut all = options.clone();
    all.vm.scenarios = files.clone();
    let shaped = shapes::single(&all.vm)?;
    row.scenarios = shaped.scenarios.len();
    row.hold_ms = shaped.scenarios.iter().map(|s| s.duration_ms()).sum();
    row.batched = Some(timed(&all, &out.join("batched"))?);
    let mut each = Timed {
        wall_ms: 0,
        passed: 0,
    };
    for (i, file) in files.iter().enumerate() {
        let mut one = options.clone();
        one.vm.scenarios = vec![file.clone()];
        let t = timed(&one, &out.join(format!("one-{i}")))?;
        each.wall_ms += t.wall_ms;
        each.passed += t.passed;
    }
    row.one_each = Some(each);
    Ok(())
}

/// One `schedbox run` of `options`' scenarios: launch → verdict and the passes.
fn timed(options: &RunOptions, out: &Path) -> Result<Timed, String> {
    let mut options = options.clone();
    options.out = Some(out.to_path_buf());
    let started = Instant::now();
    let (report, _) = boot::run_once(&options).map_err(|stop| stop.to_string())?;
    let wall_ms = started.elapsed().as_millis() as u64;
    let passed = report
        .scenarios
        .iter()
        .filter(|s| s.verdict == ScenarioOutcome::Pass)
        .count();
    Ok(Timed { wall_ms, passed })
}
