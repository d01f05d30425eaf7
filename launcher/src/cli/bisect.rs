//! `schedbox bisect --images K1 K2 ... [run options] SCENARIO...`: the image list.

use std::ffi::OsString;
use std::path::PathBuf;

/// Fewest images a bisect takes: one good and one to judge.
const MIN_IMAGES: usize = 2;
/// How a scenario file ends; an image that does is a scenario swallowed by `--images`.
const SCENARIO_SUFFIX: &str = ".toml";

/// The images in order (oldest, known good, first). `--images` takes every value up to
/// the next option, so a scenario written right after the images would be read as one:
/// a `.toml` file or a folder among them is refused, saying where scenarios go.
pub(super) fn images(values: Vec<OsString>) -> Result<Vec<PathBuf>, String> {
    let mut images = Vec::new();
    for value in values {
        if value.is_empty() {
            return Err(
                "an --images entry is empty: give a path (an unset shell variable \
                        expands to nothing)"
                    .into(),
            );
        }
        let image = PathBuf::from(value);
        let scenario_like = image
            .as_os_str()
            .to_string_lossy()
            .ends_with(SCENARIO_SUFFIX)
            || image.is_dir();
        if scenario_like {
            return Err(format!(
                "--images {}: that is a scenario, not a kernel image: --images takes every \
                 value up to the next option, so put the scenarios before --images or after \
                 another option",
                image.display()
            ));
        }
        images.push(image);
    }
    if images.len() < MIN_IMAGES {
        return Err(format!(
            "bisect needs --images with at least {MIN_IMAGES} kernel images, oldest (good) \
             first, e.g. --images old/bzImage new/bzImage"
        ));
    }
    Ok(images)
}
