//! `schedbox run`: the pipeline (prepare, boot, observe, judge), then the report: once
//! for scenarios on one shape, else once per shape (see `pipeline::gauntlet`).

use crate::cli::RunOptions;
use crate::exit::{Exit, Stop};
use crate::outcome::timeline;
use crate::output;
use crate::pipeline::{boot, gauntlet, prepare, publish, shapes};
use crate::selection;
use crate::signals;

pub fn run(options: &RunOptions) -> Exit {
    signals::install();
    run_shapes(options).unwrap_or_else(|stop| stop.report())
}

fn run_shapes(options: &RunOptions) -> Result<Exit, Stop> {
    let Some(options) = &selected(options)? else {
        output::print("schedbox: this shard has no scenarios: nothing to run\n");
        return Ok(Exit::Pass);
    };
    if let Some(count) = options.workflow.repeat {
        return super::repeat::run(options, count);
    }
    let inputs = prepare::inputs(options)?;
    let mut runs = shapes::group(&options.vm).map_err(Stop::Usage)?;
    if runs.len() > 1 {
        return gauntlet::run(options, &inputs, runs);
    }
    let mut prepared = prepare::prepare(options, &inputs, runs.remove(0), options.out.as_deref())?;
    // A run of one VM is the whole process: its timeline starts with it.
    prepared.started = timeline::process_start();
    let (report, run_dir) = boot::run_prepared(options, prepared)?;
    Ok(publish::publish(options, run_dir.path(), report))
}

/// The options with the scenario files the command line names, after `--filter` and
/// `--shard`; None when the shard is empty (more shards than scenarios).
fn selected(options: &RunOptions) -> Result<Option<RunOptions>, Stop> {
    let workflow = &options.workflow;
    crate::pipeline::ci_files::check_targets(workflow).map_err(Stop::Usage)?;
    let scenarios = selection::for_run(
        &options.vm.scenarios,
        workflow.filter.as_deref(),
        workflow.shard,
        &options.vm,
    )
    .map_err(Stop::Usage)?;
    if scenarios.is_empty() && workflow.shard.is_some() {
        return Ok(None);
    }
    let mut options = options.clone();
    options.vm.scenarios = scenarios;
    Ok(Some(options))
}
