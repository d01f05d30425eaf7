//! The scheduler manifest, `schedulers.toml`: schedulers by name, each with where its
//! program comes from (a crate and version that `schedbox scheduler build` builds, the
//! kernel tree's own program, or a path), its arguments, the ops name it attaches as and
//! the cgroup controls it is known to ignore. `--scheduler NAME` brings all of that, and
//! `schedbox list --schedulers --json` gives a CI matrix the names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use schedbox_protocol::cgroup_files::cgroup_file;

use super::build;
use crate::cli::SchedulerOptions;
use crate::output;
use crate::scenario::locate::line_column;

/// The manifest's file name, looked for in the current directory when `--manifest` is
/// not given.
pub const DEFAULT_FILE: &str = "schedulers.toml";
pub use crate::cli::KERNEL_OWN;
/// Largest manifest read (policy: a list of schedulers is a few KiB).
const MAX_BYTES: u64 = 1 << 20;

/// One entry as the file writes it; every field but the source is optional.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryFile {
    description: Option<String>,
    #[serde(rename = "crate")]
    krate: Option<Spanned<String>>,
    version: Option<Spanned<String>>,
    tree: Option<Spanned<String>>,
    path: Option<Spanned<String>>,
    #[serde(default)]
    args: Vec<String>,
    ops_name: Option<Spanned<String>>,
    #[serde(default)]
    ignores: Vec<Spanned<String>>,
}

/// Where an entry's program comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Source {
    /// A crate of the scx project, built by `schedbox scheduler build CRATE@VERSION`.
    Crate {
        #[serde(rename = "crate")]
        name: String,
        version: Option<String>,
    },
    /// A program of the kernel tree's tools/sched_ext, which `make schedulers` builds
    /// beside the cached kernel.
    Tree { program: String },
    /// A program at a path (relative to the manifest's folder).
    Path { path: PathBuf },
}

/// One scheduler of the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub name: String,
    pub description: Option<String>,
    pub source: Source,
    pub args: Vec<String>,
    pub ops_name: Option<String>,
    /// Cgroup control files it does not honour (e.g. cpu.max): the checks that judge
    /// them fail under it by design.
    pub ignores: Vec<String>,
    /// `file:line` of its table, for messages.
    pub at: String,
}

/// A manifest read and checked.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub file: PathBuf,
    pub entries: Vec<Entry>,
}

impl Manifest {
    /// Reads and checks `file`; every mistake is `file:line:column: what and the fix`.
    pub fn load(file: &Path) -> Result<Manifest, String> {
        let size = std::fs::metadata(file)
            .map_err(|e| format!("--manifest {}: {e}", file.display()))?
            .len();
        if size > MAX_BYTES {
            return Err(format!(
                "{}: {size} bytes is more than a manifest's {MAX_BYTES}",
                file.display()
            ));
        }
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("--manifest {}: {e}", file.display()))?;
        Self::parse(file, &text)
    }

    pub fn parse(file: &Path, text: &str) -> Result<Manifest, String> {
        let at = |offset: usize, what: String| {
            let (line, column) = line_column(text, offset);
            format!("{}:{line}:{column}: {what}", file.display())
        };
        let tables: BTreeMap<String, Spanned<EntryFile>> = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            at(
                offset,
                format!("{} {}", e.message().trim_end(), FORMAT_HINT),
            )
        })?;
        let base = file.parent().unwrap_or(Path::new(""));
        let mut entries = Vec::new();
        for (name, table) in tables {
            let start = header_offset(text, &name).unwrap_or(table.span().start);
            let entry = entry(&name, table.into_inner(), base, start, &at)?;
            entries.push(Entry {
                at: format!("{}:{}", file.display(), line_column(text, start).0),
                ..entry
            });
        }
        Ok(Manifest {
            file: file.to_path_buf(),
            entries,
        })
    }

    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.name.as_str()).collect()
    }
}

const FORMAT_HINT: &str = "(a manifest is tables `[NAME]`, each with one of `crate` (and \
                           `version`), `tree` or `path`, and optional `description`, \
                           `args`, `ops_name`, `ignores`; docs/ci.md)";

/// Where `[name]` is written, for the entry's own position (a table's span may be empty).
fn header_offset(text: &str, name: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let header = trimmed
            .strip_prefix('[')
            .and_then(|r| r.split_once(']'))
            .map(|(h, _)| h.trim().trim_matches('"'));
        if header == Some(name) {
            return Some(offset + (line.len() - trimmed.len()));
        }
        offset += line.len();
    }
    None
}

fn entry(
    name: &str,
    file: EntryFile,
    base: &Path,
    start: usize,
    at: &dyn Fn(usize, String) -> String,
) -> Result<Entry, String> {
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b));
    if !name_ok || name == KERNEL_OWN {
        return Err(at(
            start,
            format!(
                "scheduler name {name:?}: give letters, digits, `_` and `-` (not `{KERNEL_OWN}`, \
                 which names the kernel's own scheduler)"
            ),
        ));
    }
    let source = source(name, &file, base, start, at)?;
    if let Some(ops) = &file.ops_name {
        let ok = !ops.get_ref().is_empty() && ops.get_ref().bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            return Err(at(
                ops.span().start,
                format!("[{name}] ops_name {:?}: give the ops name as /sys/kernel/sched_ext/root/ops shows it", ops.get_ref()),
            ));
        }
    }
    let mut ignores = Vec::new();
    for control in &file.ignores {
        let known = cgroup_file(control.get_ref()).is_some_and(|f| f.writable);
        if !known {
            return Err(at(
                control.span().start,
                format!(
                    "[{name}] ignores {:?}: not a cgroup control file a scenario sets; give \
                     names such as cpu.max or cpu.weight",
                    control.get_ref()
                ),
            ));
        }
        ignores.push(control.get_ref().clone());
    }
    Ok(Entry {
        name: name.to_string(),
        description: file.description,
        source,
        args: file.args,
        ops_name: file.ops_name.map(Spanned::into_inner),
        ignores,
        at: String::new(),
    })
}

/// The entry's one source, checked.
fn source(
    name: &str,
    file: &EntryFile,
    base: &Path,
    start: usize,
    at: &dyn Fn(usize, String) -> String,
) -> Result<Source, String> {
    let given = [&file.krate, &file.tree, &file.path];
    let count = given.iter().filter(|s| s.is_some()).count();
    if count != 1 {
        let offset = given
            .iter()
            .filter_map(|s| s.as_ref().map(|s| s.span().start))
            .nth(1)
            .unwrap_or(start);
        return Err(at(
            offset,
            format!(
                "[{name}] needs exactly one of `crate` (with `version`), `tree` or `path` \
                 to say where its program comes from"
            ),
        ));
    }
    if let (Some(version), None) = (&file.version, &file.krate) {
        return Err(at(
            version.span().start,
            format!("[{name}] version: only a `crate` entry has a version"),
        ));
    }
    if let Some(krate) = &file.krate {
        let version = file.version.as_ref().map(|v| v.get_ref().clone());
        let spec = match &version {
            Some(v) => format!("{}@{v}", krate.get_ref()),
            None => krate.get_ref().clone(),
        };
        if let Err(e) = build::Spec::parse(&spec) {
            let offset = file.version.as_ref().map_or(krate.span().start, |v| {
                if krate.get_ref().starts_with("scx_") {
                    v.span().start
                } else {
                    krate.span().start
                }
            });
            return Err(at(offset, format!("[{name}] {e}")));
        }
        return Ok(Source::Crate {
            name: krate.get_ref().clone(),
            version,
        });
    }
    if let Some(program) = &file.tree {
        let ok = !program.get_ref().is_empty()
            && program
                .get_ref()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b));
        if !ok {
            return Err(at(
                program.span().start,
                format!(
                    "[{name}] tree {:?}: give the program's file name, e.g. scx_simple",
                    program.get_ref()
                ),
            ));
        }
        return Ok(Source::Tree {
            program: program.get_ref().clone(),
        });
    }
    let path = file.path.as_ref().expect("one source is given");
    if path.get_ref().is_empty() {
        return Err(at(path.span().start, format!("[{name}] path is empty")));
    }
    Ok(Source::Path {
        path: base.join(path.get_ref()),
    })
}

impl Entry {
    /// The program on this host, or what to do to get it.
    pub fn program(&self, kernel: Option<&Path>) -> Result<PathBuf, String> {
        match &self.source {
            Source::Crate { name, version } => {
                let spec = match version {
                    Some(v) => format!("{name}@{v}"),
                    None => name.clone(),
                };
                build::find(&spec, &build::cache_dir()).ok_or_else(|| {
                    format!(
                        "scheduler {} ({}): {spec} is not built: run `schedbox scheduler \
                         build {spec}`",
                        self.name, self.at
                    )
                })
            }
            Source::Tree { program } => tree_program(program, kernel).ok_or_else(|| {
                format!(
                    "scheduler {} ({}): no {program} in $SCHEDBOX_SCHEDULERS, beside the \
                     kernel or in the kernel cache: `make schedulers` builds it",
                    self.name, self.at
                )
            }),
            Source::Path { path } => {
                if path.is_file() {
                    Ok(path.clone())
                } else {
                    Err(format!(
                        "scheduler {} ({}): {} is not a file",
                        self.name,
                        self.at,
                        path.display()
                    ))
                }
            }
        }
    }
}

/// The kernel tree's `program`: in `$SCHEDBOX_SCHEDULERS`, beside the kernel the run
/// names, else the most recently built in the kernel cache.
fn tree_program(program: &str, kernel: Option<&Path>) -> Option<PathBuf> {
    let named = std::env::var_os("SCHEDBOX_SCHEDULERS")
        .map(PathBuf::from)
        .into_iter()
        .chain(kernel.and_then(Path::parent).map(Path::to_path_buf));
    for dir in named {
        let candidate = dir.join(program);
        if candidate.is_file() {
            return Some(candidate);
        }
    }
    std::fs::read_dir(crate::kernel::cache_dir())
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join(program))
        .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
        .max()
        .map(|(_, p)| p)
}

/// Whether `--scheduler VALUE` may be a manifest name: not a path (no `/`, no file of
/// that name here) and no `NAME@VERSION` of the build cache.
pub fn is_name(value: &Path) -> bool {
    let text = value.to_string_lossy();
    !text.contains('/') && !text.contains('@') && std::fs::symlink_metadata(value).is_err()
}

/// The manifest a command reads: `--manifest PATH`, else `./schedulers.toml` when it
/// exists; None when neither.
pub fn find(given: Option<&Path>) -> Result<Option<Manifest>, String> {
    match given {
        Some(file) => Manifest::load(file).map(Some),
        None if Path::new(DEFAULT_FILE).is_file() => {
            Manifest::load(Path::new(DEFAULT_FILE)).map(Some)
        }
        None => Ok(None),
    }
}

/// `--scheduler NAME` of the manifest → its program, arguments and ops name. A path
/// (or a name the manifest lacks, when no `--manifest` was given) stays as it is.
/// `--scheduler-arg` replaces the entry's arguments and `--scheduler-name` its ops
/// name, each said on stderr.
pub fn resolve(
    scheduler: &SchedulerOptions,
    kernel: Option<&Path>,
) -> Result<SchedulerOptions, String> {
    if !is_name(&scheduler.path) {
        if let Some(m) = &scheduler.manifest {
            output::note(&format!(
                "schedbox: --scheduler {} is a path: --manifest {} is not read",
                scheduler.path.display(),
                m.display()
            ));
        }
        return Ok(scheduler.clone());
    }
    let Some(manifest) = find(scheduler.manifest.as_deref())? else {
        return Ok(scheduler.clone());
    };
    let name = scheduler.path.to_string_lossy();
    let Some(entry) = manifest.get(&name) else {
        if scheduler.manifest.is_some() {
            return Err(format!(
                "--scheduler {name}: {} has no such scheduler; it has {}",
                manifest.file.display(),
                manifest.names().join(", ")
            ));
        }
        return Ok(scheduler.clone());
    };
    let path = entry.program(kernel)?;
    let mut resolved = scheduler.clone();
    if scheduler.args.is_empty() {
        resolved.args = entry.args.clone();
    } else if !entry.args.is_empty() {
        output::note(&format!(
            "schedbox: --scheduler-arg replaces the arguments {} gives {name} ({:?})",
            entry.at, entry.args
        ));
    }
    resolved.name = scheduler.name.clone().or(entry.ops_name.clone());
    let ignores = match entry.ignores.as_slice() {
        [] => String::new(),
        some => format!("; known to ignore {}", some.join(", ")),
    };
    output::note(&format!(
        "schedbox: scheduler {name} ({}): {}{ignores}",
        entry.at,
        path.display()
    ));
    resolved.path = path;
    Ok(resolved)
}

#[cfg(test)]
mod tests;
