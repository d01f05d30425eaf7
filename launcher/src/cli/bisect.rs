//! `schedbox bisect --images K1 K2 ... [run options] SCENARIO...`: the image list; and
//! `schedbox bisect --source TREE --good REV --bad REV ...`: the range of commits.

use std::ffi::OsString;
use std::path::PathBuf;

/// Fewest images a bisect takes: one good and one to judge.
const MIN_IMAGES: usize = 2;
/// How a scenario file ends; an image that does is a scenario swallowed by `--images`.
const SCENARIO_SUFFIX: &str = ".toml";

/// What a bisect searches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BisectOver {
    /// Kernel images in order, oldest (good) first.
    Images(Vec<PathBuf>),
    /// The commits of a git kernel tree between a good and a bad revision.
    Source(SourceRange),
}

/// `--source TREE --good REV --bad REV`, as given (the tree and revisions are checked
/// by the command, before anything is built).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRange {
    pub tree: PathBuf,
    pub good: String,
    pub bad: String,
}

/// The bisect's options besides the run's, as the command line gave them.
#[derive(Debug, Default)]
pub(super) struct BisectArgs {
    pub images: Vec<OsString>,
    pub source: Option<PathBuf>,
    pub good: Option<String>,
    pub bad: Option<String>,
}

/// `--images ...` or `--source TREE --good REV --bad REV`: one of them, whole.
pub(super) fn over(args: BisectArgs) -> Result<BisectOver, String> {
    let BisectArgs {
        images,
        source,
        good,
        bad,
    } = args;
    let Some(tree) = source else {
        if good.is_some() || bad.is_some() {
            return Err("--good and --bad are revisions of --source TREE: give \
                        --source TREE --good REV --bad REV (or bisect --images)"
                .into());
        }
        return self::images(images).map(BisectOver::Images);
    };
    if !images.is_empty() {
        return Err(
            "give --images or --source, not both: a bisect searches kernel \
                    images in order or the commits of one kernel tree"
                .into(),
        );
    }
    match (good, bad) {
        (Some(good), Some(bad)) => Ok(BisectOver::Source(SourceRange { tree, good, bad })),
        (good, _) => Err(format!(
            "bisect --source needs --good REV and --bad REV (missing {}): the last \
             revision known to pass and the first known to fail, e.g. --good v6.12 --bad HEAD",
            if good.is_none() { "--good" } else { "--bad" }
        )),
    }
}

/// A revision as given: not empty, not an option.
pub(super) fn revision(option: &str, value: String) -> Result<String, String> {
    if value.is_empty() || value.starts_with('-') {
        return Err(format!(
            "{option} {value:?}: give a git revision (a commit, tag or branch), e.g. v6.12"
        ));
    }
    Ok(value)
}

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
