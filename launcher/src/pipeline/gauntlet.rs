//! A run on several shapes or kernels: every VM prepared (scenarios, plan, initramfs, its
//! run directory `<run dir>/<shape>`, or `<run dir>/<kernel label>/<shape>` in a kernel
//! matrix) before the first boots, so that bad input stops the run before any VM; then
//! each booted and judged in turn, its own report.json and summary written as it ends;
//! a signal stops the run at once, the VMs after it not run. The run directory then gets
//! the report of all of them.

use std::path::PathBuf;

use crate::cli::RunOptions;
use crate::exit::{Exit, Stop};
use crate::outcome::ci;
use crate::outcome::gauntlet::{self, GauntletReport, MatrixKernel, ShapeReport, ShapeResult};
use crate::outcome::report;
use crate::outcome::rundir;
use crate::outcome::verdict::Outcome;
use crate::output;
use crate::pipeline::boot;
use crate::pipeline::prepare::{self, Inputs, Prepared};
use crate::pipeline::publish;
use crate::pipeline::shapes::ShapeRun;
use crate::pipeline::{ci_files, repro};

/// One VM of the run: its shape and scenarios, the kernel and scheduler it boots, and
/// that kernel's place in a kernel matrix (None outside one).
pub struct Machine<'a> {
    pub run: ShapeRun,
    pub inputs: &'a Inputs,
    pub kernel: Option<MatrixKernel>,
}

/// The VMs of a run on one kernel, one per shape.
pub fn on_one_kernel(inputs: &Inputs, runs: Vec<ShapeRun>) -> Vec<Machine<'_>> {
    runs.into_iter()
        .map(|run| Machine {
            run,
            inputs,
            kernel: None,
        })
        .collect()
}

/// Runs each of `machines` in turn and publishes the report of all; returns the exit
/// status.
pub fn run(options: &RunOptions, machines: Vec<Machine>) -> Result<Exit, Stop> {
    let parent = rundir::create(options.out.as_deref())?;
    let prepared = machines
        .into_iter()
        .map(|m| {
            let mut dir = parent.path().to_path_buf();
            dir.extend(m.kernel.as_ref().map(|k| &k.kernel_label));
            dir.push(m.run.shape.to_string());
            let one = prepare::prepare(options, m.inputs, m.run, Some(&dir))?;
            Ok((m.kernel, one))
        })
        .collect::<Result<Vec<(Option<MatrixKernel>, Prepared)>, Stop>>()?;
    let count = prepared.len();
    let mut shapes = Vec::new();
    let mut stopped = false;
    for (i, (kernel, mut one)) in prepared.into_iter().enumerate() {
        one.clock_from_now();
        let shape = one.shape.to_string();
        let run_dir = one.run_dir.path().display().to_string();
        let scenario_names = one.scenarios.iter().map(|s| s.name.clone()).collect();
        let result = if stopped {
            ShapeResult::NotRun
        } else {
            let on = kernel
                .as_ref()
                .map_or(String::new(), |k| format!("kernel {}, ", k.kernel_label));
            output::print(&format!("== {on}shape {shape} ({}/{count}) ==\n", i + 1));
            let result = run_shape(options, one)?;
            stopped = matches!(&result, ShapeResult::Judged { report }
                if matches!(report.outcome, Outcome::Interrupted(_)));
            result
        };
        shapes.push(ShapeReport {
            kernel,
            shape,
            run_dir,
            scenario_names,
            result,
        });
    }
    let report = GauntletReport::new(parent.path().display().to_string(), shapes);
    Ok(publish_all(
        options,
        parent.path().join(rundir::REPORT),
        report,
    ))
}

/// Boots and judges one shape, writes its report.json and prints its summary. A host
/// that could not run it is an error of this shape only; bad input (a kernel that
/// cannot boot) stops the run.
fn run_shape(options: &RunOptions, prepared: Prepared) -> Result<ShapeResult, Stop> {
    let (mut report, dir) = match boot::run_prepared(options, prepared) {
        Ok(judged) => judged,
        Err(stop @ Stop::Usage(_)) => return Err(stop),
        Err(stop @ Stop::Host(_)) => {
            output::note(&format!("schedbox: {stop}"));
            return Ok(ShapeResult::Error {
                error: stop.to_string(),
            });
        }
    };
    report.repro = repro::command(options, &report, &[report.run.shape.clone()]);
    let target = dir.path().join(rundir::REPORT);
    if let Err(why) = publish::write_report(&report, &[target]) {
        report.host_fault(why);
    }
    output::print(&report::human(&report));
    Ok(ShapeResult::Judged {
        report: Box::new(report),
    })
}

/// Writes the report of all shapes to the run directory (and --json), then prints the
/// table; a report that cannot be written makes the run untestable.
fn publish_all(options: &RunOptions, target: PathBuf, mut report: GauntletReport) -> Exit {
    report.repro = whole_repro(options, &report);
    let suites = ci::gauntlet(&report);
    let written = ci_files::write(
        &options.workflow,
        report.outcome,
        &suites,
        report.repro.as_deref(),
    );
    if let Err(why) = written {
        report.host_fault(why);
    }
    let mut targets = vec![target];
    targets.extend(options.json.clone());
    if let Err(why) = publish::write_json(&report, &targets) {
        report.host_fault(why);
        // What could be written says so too; the first failure is already reported.
        let _ = publish::write_json(&report, &targets);
    }
    output::print(&gauntlet::human(&report));
    report.outcome.exit()
}

/// One command for the VMs that failed or were untestable: the first such VM's report
/// gives the kernel and scheduler, every such shape of that kernel goes in `--topology`
/// (each VM's own summary has its own command).
fn whole_repro(options: &RunOptions, report: &GauntletReport) -> Option<String> {
    let bad = |o: Option<Outcome>| matches!(o, Some(Outcome::Fail | Outcome::Untestable));
    let (kernel, first) = report.shapes.iter().find_map(|s| match &s.result {
        ShapeResult::Judged { report } if bad(Some(report.outcome)) => Some((&s.kernel, report)),
        _ => None,
    })?;
    let shapes: Vec<String> = report
        .shapes
        .iter()
        .filter(|s| bad(s.outcome()) && &s.kernel == kernel)
        .map(|s| s.shape.clone())
        .collect();
    repro::command(options, first, &shapes)
}
