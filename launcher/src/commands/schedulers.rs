//! `schedbox list --schedulers`: the manifest's schedulers, as a table for people or JSON
//! for a CI matrix, each with the program it resolves to on this host (or what builds
//! it); and the manifest applied to a run's `--scheduler NAME`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::RunOptions;
use crate::exit::{Exit, Stop};
use crate::output;
use crate::scheduler::manifest::{self, Entry, Manifest};

/// One entry as `list --schedulers` shows it.
#[derive(Debug, Serialize)]
struct Listed<'a> {
    #[serde(flatten)]
    entry: &'a Entry,
    /// The program on this host; None when it is not there yet.
    program: Option<PathBuf>,
    /// Why it is not there, and the command that makes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    missing: Option<String>,
}

pub fn list(json: bool, given: Option<&Path>) -> Result<Exit, Stop> {
    let manifest = manifest::find(given).map_err(Stop::Usage)?.ok_or_else(|| {
        Stop::Usage(format!(
            "there is no {} here: give --manifest PATH",
            manifest::DEFAULT_FILE
        ))
    })?;
    let kernel = kernel_hint(None);
    let listed: Vec<Listed> = manifest
        .entries
        .iter()
        .map(|entry| {
            let program = entry.program(kernel.as_deref());
            Listed {
                entry,
                missing: program.as_ref().err().cloned(),
                program: program.ok(),
            }
        })
        .collect();
    if json {
        let text = serde_json::to_string_pretty(&listed)
            .map_err(|e| Stop::Host(format!("cannot encode the list: {e}")))?;
        output::print(&(text + "\n"));
    } else {
        output::print(&table(&manifest, &listed));
    }
    Ok(Exit::Pass)
}

fn table(manifest: &Manifest, listed: &[Listed]) -> String {
    let mut out = format!("schedulers of {}:\n", manifest.file.display());
    for l in listed {
        let source = match &l.entry.source {
            manifest::Source::Crate { name, version } => {
                format!("crate {name}@{}", version.as_deref().unwrap_or("newest"))
            }
            manifest::Source::Tree { program } => format!("kernel tree {program}"),
            manifest::Source::Path { path } => format!("path {}", path.display()),
        };
        out += &format!("  {:<14} {source}", l.entry.name);
        if !l.entry.args.is_empty() {
            out += &format!(", args {}", l.entry.args.join(" "));
        }
        if !l.entry.ignores.is_empty() {
            out += &format!(", ignores {}", l.entry.ignores.join(", "));
        }
        out += match &l.program {
            Some(_) => "\n",
            None => " (not built)\n",
        };
    }
    out
}

/// The kernel a run names, where a kernel tree's scheduler is looked for beside it.
fn kernel_hint(options: Option<&RunOptions>) -> Option<PathBuf> {
    options
        .and_then(|o| o.kernel.clone())
        .or_else(|| std::env::var_os("SCHEDBOX_KERNEL").map(PathBuf::from))
}

/// The options with `--scheduler NAME` of the manifest turned into its program,
/// arguments and ops name (exit 2 for a bad manifest or a program it cannot find).
pub fn apply(mut options: RunOptions) -> Result<RunOptions, Stop> {
    let kernel = kernel_hint(Some(&options));
    if let Some(scheduler) = &options.scheduler {
        options.scheduler =
            Some(manifest::resolve(scheduler, kernel.as_deref()).map_err(Stop::Usage)?);
    }
    Ok(options)
}

/// `schedbox scheduler build NAME`: a NAME of the manifest builds its crate at its
/// version; any other text is a crate spec, as before.
pub fn build_spec(spec: &str) -> Result<String, Stop> {
    let entry = if manifest::is_name(Path::new(spec)) {
        manifest::find(None)
            .map_err(Stop::Usage)?
            .and_then(|m| m.get(spec).cloned())
    } else {
        None
    };
    match entry.map(|e| (e.source.clone(), e)) {
        None => Ok(spec.to_string()),
        Some((manifest::Source::Crate { name, version }, _)) => Ok(match version {
            Some(v) => format!("{name}@{v}"),
            None => name,
        }),
        Some((_, entry)) => Err(Stop::Usage(format!(
            "scheduler build {spec}: {} gives its program as a kernel tree's or a path, \
             not a crate: `make schedulers` builds the tree's",
            entry.at
        ))),
    }
}
