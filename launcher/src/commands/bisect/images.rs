//! `schedbox bisect --images K1 K2 ... SCENARIO...`: the same run on kernel images in
//! order (oldest, good, first), by binary search ([`search`]) for the first that fails.
//! Each step is a whole `schedbox run` in `<bisect dir>/NN-<file name>`. Every image and
//! the scenarios are checked before the first VM.

use std::path::{Path, PathBuf};

use super::search::{self, Bisected, Verdict};
use super::step::{step, word, Halt};
use crate::cli::RunOptions;
use crate::exit::{Exit, Stop};
use crate::outcome::rundir;
use crate::output;
use crate::pipeline::{kernels, prepare, shapes};

/// One tested image: its verdict and its run directory.
struct Step {
    verdict: Verdict,
    dir: PathBuf,
}

pub fn bisect(options: &RunOptions, images: &[PathBuf]) -> Result<Exit, Halt> {
    let Some(options) = crate::commands::run::selected(options).map_err(Halt::Stop)? else {
        return Err(Halt::Stop(Stop::Usage(
            "this shard has no scenarios: nothing to bisect".into(),
        )));
    };
    for image in images {
        prepare::inputs(&kernels::on(&options, image)).map_err(Halt::Stop)?;
    }
    shapes::group(&options.vm).map_err(|e| Halt::Stop(Stop::Usage(e)))?;
    let parent = rundir::create(options.out.as_deref()).map_err(Halt::Stop)?;
    let labels = kernels::labels(images);
    let mut steps: Vec<Option<Step>> = images.iter().map(|_| None).collect();
    let found = search::search(images.len(), |i| {
        let dir = parent.path().join(format!("{:02}-{}", i + 1, labels[i]));
        output::print(&format!(
            "== bisect: image {}/{} {} ==\n",
            i + 1,
            images.len(),
            images[i].display()
        ));
        let verdict = step(&options, &images[i], &dir)?;
        output::print(&format!(
            "schedbox bisect: image {} is {}\n",
            i + 1,
            word(verdict)
        ));
        steps[i] = Some(Step { verdict, dir });
        Ok(verdict)
    })?;
    output::print(&summary(images, &steps, &found, parent.path()));
    Ok(match found {
        Bisected::Found { .. } => Exit::Pass,
        _ => Exit::Untestable,
    })
}

/// The images tested, then the answer: the first bad image and its failing report, or
/// why there is none.
fn summary(images: &[PathBuf], steps: &[Option<Step>], found: &Bisected, dir: &Path) -> String {
    let mut out = String::from("schedbox bisect: images tested\n");
    for (i, image) in images.iter().enumerate() {
        let what = steps[i].as_ref().map_or("not tested", |s| word(s.verdict));
        out += &format!("  {:>2}  {:<22} {}\n", i + 1, what, image.display());
    }
    let name = |i: usize| format!("image {} ({})", i + 1, images[i].display());
    let report = |i: usize| {
        steps[i].as_ref().map_or(String::new(), |s| {
            s.dir.join(rundir::REPORT).display().to_string()
        })
    };
    out += &match found {
        Bisected::Found { good, bad } => format!(
            "FIRST BAD: {}\n  failing report: {}\n  last good: {}\n",
            name(*bad),
            report(*bad),
            name(*good)
        ),
        Bisected::FirstIsBad => format!(
            "UNDECIDED: the first image, which a bisect takes as good, fails: {}\n  failing \
             report: {}\n",
            name(0),
            report(0)
        ),
        Bisected::NoneBad { last_good } => format!(
            "UNDECIDED: no image fails{}\n",
            last_good.map_or(String::new(), |g| format!(
                " (the last, {}, passes)",
                name(g)
            ))
        ),
        Bisected::Undecided { candidates } => {
            let list: Vec<String> = candidates.iter().map(|&i| name(i)).collect();
            format!(
                "UNDECIDED: untestable images hide the boundary: the first bad is one of {}\n",
                list.join(", ")
            )
        }
    };
    out + &format!("bisect directory {}\n", dir.display())
}
