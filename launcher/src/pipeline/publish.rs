//! Report: report.json (and --json) written, then the summary printed.

use std::path::{Path, PathBuf};

use crate::cli::RunOptions;
use crate::exit::Exit;
use crate::outcome::ci;
use crate::outcome::report;
use crate::outcome::rundir;
use crate::output;
use crate::pipeline::{ci_files, repro};

/// Writes report.json (and --json), then prints the summary; returns the exit status.
/// A report that cannot be written makes the run untestable, and the summary says so.
pub fn publish(options: &RunOptions, run_dir: &Path, mut report: report::Report) -> Exit {
    report.repro = repro::command(options, &report, &[report.run.shape.clone()]);
    let suites = ci::single(&report);
    let written = ci_files::write(
        &options.workflow,
        report.outcome,
        &suites,
        report.repro.as_deref(),
    );
    if let Err(why) = written {
        report.host_fault(why);
    }
    let mut targets = vec![run_dir.join(rundir::REPORT)];
    targets.extend(options.json.clone());
    if let Err(why) = write_report(&report, &targets) {
        report.host_fault(why);
        // What could be written says so too; the first failure is already reported.
        let _ = write_report(&report, &targets);
    }
    output::print(&report::human(&report));
    report.outcome.exit()
}

pub fn write_report(report: &report::Report, targets: &[PathBuf]) -> Result<(), String> {
    write_json(report, targets)
}

/// Writes `report` as pretty JSON to each target; the error names every one that failed.
pub fn write_json(report: &impl serde::Serialize, targets: &[PathBuf]) -> Result<(), String> {
    let json = serde_json::to_string_pretty(report)
        .map_err(|e| format!("cannot encode the report: {e}"))?
        + "\n";
    let mut failed = Vec::new();
    for target in targets {
        if let Err(e) = std::fs::write(target, &json) {
            failed.push(format!("cannot write the report {}: {e}", target.display()));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("; "))
    }
}
