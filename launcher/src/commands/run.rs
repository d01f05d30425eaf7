//! `schedbox run`: the pipeline (prepare, boot, observe, judge), then the report: once
//! for scenarios on one shape, else once per shape (see `pipeline::gauntlet`).

use crate::cli::RunOptions;
use crate::exit::{Exit, Stop};
use crate::pipeline::{boot, gauntlet, prepare, publish, shapes};
use crate::signals;

pub fn run(options: &RunOptions) -> Exit {
    signals::install();
    run_shapes(options).unwrap_or_else(|stop| stop.report())
}

fn run_shapes(options: &RunOptions) -> Result<Exit, Stop> {
    let inputs = prepare::inputs(options)?;
    let mut runs = shapes::group(&options.vm).map_err(Stop::Usage)?;
    if runs.len() > 1 {
        return gauntlet::run(options, &inputs, runs);
    }
    let prepared = prepare::prepare(options, &inputs, runs.remove(0), options.out.as_deref())?;
    let (report, run_dir) = boot::run_prepared(options, prepared)?;
    Ok(publish::publish(options, run_dir.path(), report))
}
