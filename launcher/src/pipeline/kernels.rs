//! A kernel matrix (`--kernel A,B,...`): the same scenarios on each kernel, one VM per
//! kernel and shape, run as a gauntlet (`pipeline::gauntlet`) whose rows name their
//! kernel. Every kernel is located and checked before the first VM boots.

use std::path::{Path, PathBuf};

use crate::cli::RunOptions;
use crate::exit::{Exit, Stop};
use crate::outcome::gauntlet::MatrixKernel;
use crate::pipeline::gauntlet::{self, Machine};
use crate::pipeline::prepare::{self, Inputs};
use crate::pipeline::shapes;

/// Runs the matrix of `options.kernel_list` and publishes its report.
pub fn run(options: &RunOptions) -> Result<Exit, Stop> {
    let labels = labels(&options.kernel_list);
    let mut inputs: Vec<(Inputs, MatrixKernel)> = Vec::new();
    for (path, label) in options.kernel_list.iter().zip(labels) {
        let one = on(options, path);
        let kernel = MatrixKernel {
            kernel: path.display().to_string(),
            kernel_label: label,
        };
        inputs.push((prepare::inputs(&one)?, kernel));
    }
    let runs = shapes::group(&options.vm).map_err(Stop::Usage)?;
    let machines = inputs
        .iter()
        .flat_map(|(inputs, kernel)| {
            runs.iter().map(move |run| Machine {
                run: run.clone(),
                inputs,
                kernel: Some(kernel.clone()),
            })
        })
        .collect();
    gauntlet::run(options, machines)
}

/// `options` for the one kernel `path`.
pub fn on(options: &RunOptions, path: &Path) -> RunOptions {
    let mut one = options.clone();
    one.kernel = Some(path.to_path_buf());
    one.kernel_list = Vec::new();
    one
}

/// A short name per kernel for table rows and folders: its file name, or `N-NAME` (N its
/// place in the list, from 1) for each of several that share a file name.
pub fn labels(paths: &[PathBuf]) -> Vec<String> {
    let name = |p: &PathBuf| {
        p.file_name().map_or_else(
            || p.display().to_string().replace('/', "_"),
            |n| n.to_string_lossy().into_owned(),
        )
    };
    let names: Vec<String> = paths.iter().map(name).collect();
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            if names.iter().filter(|o| *o == n).count() > 1 {
                format!("{}-{n}", i + 1)
            } else {
                n.clone()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_file_names_numbered_where_they_repeat() {
        let paths: Vec<PathBuf> = ["/a/bzImage", "/b/vmlinuz-6.1", "/c/bzImage"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(labels(&paths), ["1-bzImage", "vmlinuz-6.1", "3-bzImage"]);
    }
}
