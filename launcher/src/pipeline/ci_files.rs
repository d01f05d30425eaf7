//! The files CI reads besides report.json: `--junit FILE`, `--summary FILE`, and the
//! summary appended to `$GITHUB_STEP_SUMMARY` when that is set (GitHub Actions shows
//! it on the job's page). Their targets are checked before any VM starts.

use std::path::{Path, PathBuf};

use crate::cli::WorkflowOptions;
use crate::outcome::ci::{self, junit, summary, Suite};
use crate::outcome::verdict::Outcome;

/// Where GitHub Actions takes a job's Markdown summary from.
pub const GITHUB_STEP_SUMMARY: &str = "GITHUB_STEP_SUMMARY";

/// `--junit` and `--summary` name files in existing, writable directories.
pub fn check_targets(workflow: &WorkflowOptions) -> Result<(), String> {
    for (option, path) in [
        ("--junit", &workflow.junit),
        ("--summary", &workflow.summary),
    ] {
        if let Some(path) = path {
            target(option, path)?;
        }
    }
    Ok(())
}

fn target(option: &str, path: &Path) -> Result<(), String> {
    let shown = path.display();
    if path.is_dir() {
        return Err(format!("{option} {shown} is a directory: give a file name"));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        return Err(format!(
            "{option} {shown}: {} is not a directory: create it first",
            parent.display()
        ));
    }
    Ok(())
}

/// Writes the JUnit file and the summaries the options and the environment ask for;
/// the error names each that failed.
pub fn write(
    workflow: &WorkflowOptions,
    outcome: Outcome,
    suites: &[Suite],
    repro: Option<&str>,
) -> Result<(), String> {
    let mut failed = Vec::new();
    if let Some(path) = &workflow.junit {
        failed.extend(ci::write(path, &junit::render(suites), false).err());
    }
    let step_summary = std::env::var_os(GITHUB_STEP_SUMMARY).filter(|v| !v.is_empty());
    if workflow.summary.is_some() || step_summary.is_some() {
        let text = summary::render(outcome, suites, repro);
        if let Some(path) = &workflow.summary {
            failed.extend(ci::write(path, &text, false).err());
        }
        if let Some(path) = step_summary {
            failed.extend(ci::write(Path::new(&path), &text, true).err());
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("; "))
    }
}
