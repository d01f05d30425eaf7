//! `schedbox kernel fetch | fetch-source | build | check`.

use std::path::{Path, PathBuf};

use crate::cli;
use crate::exit::{Exit, Stop};
use crate::kernel::build;
use crate::kernel::config;
use crate::output;
use crate::pipeline::preflight;

pub fn print_path(path: PathBuf) -> Exit {
    output::print(&format!("{}\n", path.display()));
    Exit::Pass
}

/// A kernel tree the user named badly is theirs to fix; a failed apt, download or
/// build is this host's problem.
pub fn kbuild_stop(what: &str, e: build::KbuildError) -> Stop {
    use build::KbuildError::{NotAKernelTree, SourceNotClean};
    let message = format!("{what} failed: {e}");
    match e {
        NotAKernelTree { .. } | SourceNotClean { .. } => Stop::Usage(message),
        _ => Stop::Host(message),
    }
}

pub fn kernel_build(options: &cli::KernelBuildOptions) -> Result<Exit, Stop> {
    let mut build = build::BuildOptions {
        force: options.force,
        verbose: options.verbose,
        ..build::BuildOptions::default()
    };
    if let Some(jobs) = options.jobs {
        build.jobs = jobs;
    }
    let built = build_from("kernel build", options.source.as_deref(), &build)?;
    Ok(print_path(built.image))
}

/// Builds (or finds in the cache) the kernel of `source` (None: the fetched
/// linux-source), saying which on stderr; `what` names the command in errors.
pub fn build_from(
    what: &str,
    source: Option<&Path>,
    options: &build::BuildOptions,
) -> Result<build::BuiltKernel, Stop> {
    if let Some(source) = source.filter(|s| !s.is_dir()) {
        return Err(Stop::Usage(format!(
            "{what} --source {}: not a directory; give the top of a Linux source tree",
            source.display()
        )));
    }
    let source = build::source_or_fetch(source).map_err(|e| kbuild_stop(what, e))?;
    let built = build::build(&source, options).map_err(|e| kbuild_stop(what, e))?;
    let how = if built.reused { "cached" } else { "built" };
    output::note(&format!(
        "schedbox: {how} kernel {} ({})",
        built.version, built.key
    ));
    Ok(built)
}

/// `kernel check`: 0 sched_ext present, 1 absent, 2 unknown or error.
pub fn kernel_check(image: &Path) -> Result<Exit, Stop> {
    preflight::kernel_file("kernel check", image).map_err(Stop::Usage)?;
    let features = config::check_image(image).map_err(|e| Stop::Usage(e.to_string()))?;
    output::print(&format!("{features}\n"));
    for line in features.detail() {
        output::print(&format!("  {line}\n"));
    }
    Ok(match features.has_sched_ext {
        Some(true) => Exit::Pass,
        Some(false) => Exit::Fail,
        None => Exit::Usage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn a_bad_kernel_tree_is_the_users_a_failed_build_the_hosts() {
        let tree = build::KbuildError::NotAKernelTree {
            path: PathBuf::from("/src"),
        };
        assert_eq!(kbuild_stop("kernel build", tree).exit(), Exit::Usage);
        let apt = build::KbuildError::NoPackageManager;
        assert_eq!(
            kbuild_stop("kernel fetch-source", apt).exit(),
            Exit::Untestable
        );
        let make = build::KbuildError::Command {
            what: "make bzImage".into(),
            status: "exit status: 2".into(),
            log: None,
            tail: String::new(),
        };
        assert_eq!(kbuild_stop("kernel build", make).exit(), Exit::Untestable);
    }
}
