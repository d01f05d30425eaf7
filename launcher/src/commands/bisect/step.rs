//! One step of a bisect: the scenarios run on one kernel in a folder of their own, and
//! the verdict the search takes from it.

use std::path::Path;

use super::search::Verdict;
use crate::cli::RunOptions;
use crate::exit::{Exit, Stop};
use crate::output;
use crate::pipeline::kernels;

/// What stops a bisect before it ends: a signal, or input to fix.
pub enum Halt {
    Signal(i32),
    Stop(Stop),
}

/// Runs the scenarios on `image` in `dir`; its verdict for the search.
pub fn step(options: &RunOptions, image: &Path, dir: &Path) -> Result<Verdict, Halt> {
    let mut one = kernels::on(options, image);
    one.out = Some(dir.to_path_buf());
    match crate::commands::run::run_shapes(&one) {
        Ok(Exit::Pass) => Ok(Verdict::Good),
        Ok(Exit::Fail) => Ok(Verdict::Bad),
        Ok(Exit::Untestable) => Ok(Verdict::Skip),
        Ok(Exit::Interrupted(signal)) => Err(Halt::Signal(signal)),
        Ok(Exit::Usage) => Err(Halt::Stop(Stop::Usage(format!(
            "the run on {} ended in a usage error",
            image.display()
        )))),
        Err(Stop::Host(why)) => {
            output::note(&format!("schedbox: {why}"));
            Ok(Verdict::Skip)
        }
        Err(Stop::Usage(why)) => Err(Halt::Stop(Stop::Usage(format!(
            "bisect stopped at {}: {why}",
            image.display()
        )))),
    }
}

/// A verdict as the bisect prints it.
pub fn word(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Good => "good (pass)",
        Verdict::Bad => "bad (fail)",
        Verdict::Skip => "skipped (untestable)",
    }
}
