//! `schedbox run`: the pipeline (prepare, boot, observe, judge), then the report: once
//! for scenarios on one shape and kernel, else once per VM (see `pipeline::gauntlet`).

use crate::cli::RunOptions;
use crate::exit::{Exit, Stop};
use crate::outcome::timeline;
use crate::output;
use crate::pipeline::{boot, gauntlet, host, kernels, prepare, publish, shapes};
use crate::selection;
use crate::signals;

pub fn run(options: &RunOptions) -> Exit {
    signals::install();
    built_from_source(options)
        .and_then(|options| run_shapes(&options))
        .unwrap_or_else(|stop| stop.report())
}

/// With `--source TREE`: the tree built as it is (its scenarios checked first, so that
/// a typo does not wait for a build), and the options with that kernel.
fn built_from_source(options: &RunOptions) -> Result<RunOptions, Stop> {
    let Some(tree) = &options.source else {
        return Ok(options.clone());
    };
    if let Some(chosen) = selected(options)? {
        shapes::group(&chosen.vm).map_err(Stop::Usage)?;
    }
    let built = super::kernel::build_from(
        "run --source",
        Some(tree),
        &crate::kernel::build::BuildOptions::default(),
    )?;
    let mut options = options.clone();
    options.kernel = Some(built.image);
    options.source = None;
    Ok(options)
}

/// The run of `options`, up to its exit status (Err: it stopped before a verdict).
pub fn run_shapes(options: &RunOptions) -> Result<Exit, Stop> {
    let Some(options) = &selected(options)? else {
        output::print("schedbox: this shard has no scenarios: nothing to run\n");
        return Ok(Exit::Pass);
    };
    if options.host {
        return host::run(options);
    }
    if let Some(count) = options.workflow.repeat {
        if !options.kernel_list.is_empty() {
            return Err(Stop::Usage(
                "--repeat runs one kernel: give --kernel one path, or repeat each kernel's \
                 run"
                .into(),
            ));
        }
        return super::repeat::run(options, count);
    }
    if !options.kernel_list.is_empty() {
        return kernels::run(options);
    }
    let inputs = prepare::inputs(options)?;
    let mut runs = shapes::group(&options.vm).map_err(Stop::Usage)?;
    if runs.len() > 1 {
        return gauntlet::run(options, gauntlet::on_one_kernel(&inputs, runs));
    }
    let mut prepared = prepare::prepare(options, &inputs, runs.remove(0), options.out.as_deref())?;
    // A run of one VM is the whole process: its timeline starts with it.
    prepared.started = timeline::process_start();
    let (report, run_dir) = boot::run_prepared(options, prepared)?;
    Ok(publish::publish(options, run_dir.path(), report))
}

/// The options with the scenario files the command line names, after `--filter` and
/// `--shard`; None when the shard is empty (more shards than scenarios).
pub fn selected(options: &RunOptions) -> Result<Option<RunOptions>, Stop> {
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
