//! `schedbox bisect --images K1 K2 ... [run options] SCENARIO...`: the image list and the
//! run options a bisect cannot take.

use std::ffi::OsString;
use std::path::PathBuf;

use super::{path, RunOptions, UsageError};

/// Fewest images a bisect takes: one good and one to judge.
const MIN_IMAGES: usize = 2;
/// How a scenario file ends; an image that does is a scenario swallowed by `--images`.
const SCENARIO_SUFFIX: &str = ".toml";

/// The images in order (oldest, known good, first). `--images` takes every value up to
/// the next option, so a scenario written right after the images would be read as one:
/// a `.toml` file or a folder among them is refused, saying where scenarios go.
pub(super) fn images(values: Vec<OsString>) -> Result<Vec<PathBuf>, UsageError> {
    let mut images = Vec::new();
    for value in values {
        let image = path("an --images entry", value)?;
        let scenario_like = image
            .as_os_str()
            .to_string_lossy()
            .ends_with(SCENARIO_SUFFIX)
            || image.is_dir();
        if scenario_like {
            return Err(UsageError(format!(
                "--images {}: that is a scenario, not a kernel image: --images takes every \
                 value up to the next option, so put the scenarios before --images or after \
                 another option",
                image.display()
            )));
        }
        images.push(image);
    }
    if images.len() < MIN_IMAGES {
        return Err(UsageError(format!(
            "bisect needs --images with at least {MIN_IMAGES} kernel images, oldest (good) \
             first, e.g. --images old/bzImage new/bzImage"
        )));
    }
    Ok(images)
}

/// The run options that make no sense for a bisect: each step is a run of its own, so
/// files every step would overwrite are refused, and the kernels come from --images.
pub(super) fn check_options(run: &RunOptions) -> Result<(), UsageError> {
    let refused = [
        (
            run.kernel.is_some() || !run.kernel_list.is_empty(),
            "--kernel: bisect runs the kernels of --images",
        ),
        (
            run.json.is_some(),
            "--json: each step's report.json is in its own folder of the bisect's --out",
        ),
        (
            run.workflow.junit.is_some(),
            "--junit: each step would overwrite it; run the first bad image again with it",
        ),
        (
            run.workflow.summary.is_some(),
            "--summary: each step would overwrite it; run the first bad image again with it",
        ),
    ];
    match refused.iter().find(|(given, _)| *given) {
        Some((_, why)) => Err(UsageError(format!("bisect does not take {why}"))),
        None => Ok(()),
    }
}
