//! `schedbox bisect`: the same run on kernels in order, for the first on which it fails;
//! a run that passes is good (0), one that fails bad (1), an untestable one (125, or a
//! host fault) is skipped, never bad ([`step`]). Over kernel images ([`images`], by
//! binary search, [`search`]), or over the commits of a kernel tree ([`source`], by
//! `git bisect`, [`git`]).

mod git;
mod images;
mod search;
mod source;
mod step;

use crate::cli::{BisectOver, RunOptions};
use crate::exit::Exit;
use crate::signals;

use step::Halt;

pub fn run(options: &RunOptions, over: &BisectOver) -> Exit {
    signals::install();
    let bisected = match over {
        BisectOver::Images(list) => images::bisect(options, list),
        BisectOver::Source(range) => source::bisect(options, range),
    };
    match bisected {
        Ok(exit) => exit,
        Err(Halt::Signal(signal)) => Exit::Interrupted(signal),
        Err(Halt::Stop(stop)) => stop.report(),
    }
}
