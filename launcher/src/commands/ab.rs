//! `schedbox ab --scheduler-a X --scheduler-b Y [--repeat N] SCENARIO...`: the same
//! scenarios on the same kernel and machine under two schedulers (either may be the
//! kernel's own), N runs each, one VM a run, interleaved A B, B A, A B, ... so that a
//! drift of the host's load falls on both alike; then compare's table of B against A
//! (docs/compare.md). The run directory holds `a-NNN/` and `b-NNN/` (each a run's
//! report), `a.json` and `b.json` (each side as a `--repeat` report, for `schedbox
//! compare`) and `compare.json`.

use std::path::Path;

use crate::cli::{AbSide, RunOptions, SchedulerOptions};
use crate::exit::{Exit, Stop};
use crate::outcome::report::{self, Report};
use crate::outcome::rundir;
use crate::outcome::verdict::Outcome;
use crate::output;
use crate::pipeline::{boot, prepare, publish, repro, shapes};
use crate::signals;

use super::compare::{self, Side};
use super::repeat;

/// The two sides' letters, as the run directory and the table name them.
const LETTERS: [&str; 2] = ["a", "b"];
/// The comparison's file in the run directory.
const COMPARISON: &str = "compare.json";

/// What `ab` was asked.
pub struct Ab<'a> {
    pub options: &'a RunOptions,
    pub sides: [&'a AbSide; 2],
    pub repeats: u32,
    pub threshold: u64,
    pub manifest: Option<&'a Path>,
}

pub fn run(ab: &Ab) -> Exit {
    signals::install();
    run_ab(ab).unwrap_or_else(|stop| stop.report())
}

/// The run options of one side: the command line's, with its scheduler (the manifest
/// applied) or none.
fn side_options(ab: &Ab, side: &AbSide) -> Result<RunOptions, Stop> {
    let mut options = ab.options.clone();
    options.scheduler = match side {
        AbSide::KernelOwn => None,
        AbSide::Scheduler(path) => Some(SchedulerOptions {
            path: path.clone(),
            args: Vec::new(),
            name: None,
            attach_ms: None,
            manifest: ab.manifest.map(Path::to_path_buf),
            extra: Vec::new(),
        }),
    };
    super::schedulers::apply(options)
}

fn run_ab(ab: &Ab) -> Result<Exit, Stop> {
    let Some(selected) = super::run::selected(ab.options)? else {
        return Err(Stop::Usage("ab: the shard has no scenarios".into()));
    };
    let ab = Ab {
        options: &selected,
        ..*ab
    };
    let mut sides = [
        side_options(&ab, ab.sides[0])?,
        side_options(&ab, ab.sides[1])?,
    ];
    // Both sides boot one kernel: the one a sched_ext side needs.
    let needs = sides
        .iter()
        .find(|o| o.scheduler.is_some())
        .unwrap_or(&sides[0]);
    let kernel = prepare::inputs(needs)?.kernel.path;
    for side in &mut sides {
        side.kernel = Some(kernel.clone());
    }
    let inputs = [prepare::inputs(&sides[0])?, prepare::inputs(&sides[1])?];
    let one = shapes::single(&selected.vm)
        .map_err(|e| Stop::Usage(format!("ab runs one VM a run: {e}")))?;
    let parent = rundir::create(selected.out.as_deref())?;
    let mut reports: [Vec<Report>; 2] = [Vec::new(), Vec::new()];
    for round in 1..=ab.repeats {
        // A B, then B A: each side runs first as often as the other.
        let order = if round % 2 == 1 { [0, 1] } else { [1, 0] };
        for at in order {
            let dir = parent.path().join(format!("{}-{round:03}", LETTERS[at]));
            let prepared = prepare::prepare(&sides[at], &inputs[at], one.clone(), Some(&dir))?;
            let (mut report, dir) = boot::run_prepared(&sides[at], prepared)?;
            report.repro = repro::command(&sides[at], &report, &[report.run.shape.clone()]);
            if let Err(why) = publish::write_report(&report, &[dir.path().join(rundir::REPORT)]) {
                report.host_fault(why);
            }
            output::print(&format!(
                "== {} ({}) run {round}/{}: {} ==\n",
                LETTERS[at].to_uppercase(),
                ab.sides[at],
                ab.repeats,
                report.outcome.word()
            ));
            if ab.options.verbose {
                output::print(&report::human(&report));
            }
            if let Outcome::Interrupted(_) = report.outcome {
                return Ok(report.outcome.exit());
            }
            reports[at].push(report);
        }
    }
    let [ra, rb] = reports;
    finish(&ab, parent.path(), ra, rb)
}

/// Writes each side's report and the comparison, prints the table; the exit status.
fn finish(ab: &Ab, dir: &Path, a: Vec<Report>, b: Vec<Report>) -> Result<Exit, Stop> {
    let untestable = a.iter().chain(&b).any(|r| r.outcome == Outcome::Untestable);
    let mut sides = Vec::new();
    for (letter, runs) in LETTERS.iter().zip([a, b]) {
        let whole = repeat::summarize(dir.display().to_string(), runs);
        let file = dir.join(format!("{letter}.json"));
        publish::write_json(&whole, &[file]).map_err(Stop::Host)?;
        let value = serde_json::to_value(&whole)
            .map_err(|e| Stop::Host(format!("cannot encode the report: {e}")))?;
        sides.push(Side::of(&value).map_err(Stop::Host)?);
    }
    let comparison = compare::compare(&sides[0], &sides[1], ab.threshold);
    let comparison = match comparison {
        Ok(c) => c,
        // No check in common: a side never ran a scenario (no boot, no attach).
        Err(why) if untestable => return Err(Stop::Host(format!("ab: {why}"))),
        Err(why) => return Err(Stop::Host(why)),
    };
    let mut targets = vec![dir.join(COMPARISON)];
    targets.extend(ab.options.json.clone());
    publish::write_json(&comparison, &targets).map_err(Stop::Host)?;
    output::print(&compare::table(
        &comparison,
        &ab.sides[0].to_string(),
        &ab.sides[1].to_string(),
    ));
    output::print(&format!("run directory {}\n", dir.display()));
    Ok(match comparison.exit() {
        Exit::Fail => Exit::Fail,
        _ if untestable => Exit::Untestable,
        other => other,
    })
}
