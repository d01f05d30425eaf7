//! `schedbox run`: the pipeline (prepare, boot, observe, judge) once, then the report.

use crate::cli::RunOptions;
use crate::exit::Exit;
use crate::pipeline::{boot, publish};
use crate::signals;

pub fn run(options: &RunOptions) -> Exit {
    signals::install();
    match boot::run_once(options) {
        Ok((report, run_dir)) => publish::publish(options, run_dir.path(), report),
        Err(stop) => stop.report(),
    }
}
