//! Which scenario files a command runs: the paths it names (files, folders of `*.toml`,
//! quoted globs) expanded in a stable order, narrowed by `--filter`, split by `--shard`.
//! Commands that need a set and get no path use the catalog, `./scenarios`, when run
//! from the repository.

pub mod shard;

use std::path::{Path, PathBuf};

use crate::cli::{Shard, VmOptions};
use crate::scenario::{self, Scenario, VmShape};

/// The catalog folder, relative to the repository's root.
pub const CATALOG_DIR: &str = "scenarios";
/// A file every catalog has: how `./scenarios` is told from any folder of that name.
const CATALOG_MARK: &str = "spin.toml";
const SCENARIO_EXTENSION: &str = "toml";
/// Characters that make a path a glob pattern when no such file exists.
const GLOB_CHARS: &[char] = &['*', '?', '['];

/// One scenario file of a set, with what selecting it needs.
#[derive(Debug, Clone)]
pub struct Entry {
    pub path: PathBuf,
    pub scenario: Scenario,
}

/// `./scenarios` when the working directory is the repository's root.
pub fn default_catalog() -> Option<PathBuf> {
    let dir = Path::new(CATALOG_DIR);
    dir.join(CATALOG_MARK).is_file().then(|| dir.to_path_buf())
}

/// `paths`, or the catalog when there are none; `command` names the command that needs
/// them in the error.
pub fn paths_or_catalog(paths: &[PathBuf], command: &str) -> Result<Vec<PathBuf>, String> {
    if !paths.is_empty() {
        return Ok(paths.to_vec());
    }
    default_catalog().map(|c| vec![c]).ok_or_else(|| {
        format!(
            "{command} needs scenario files, folders or globs: there is no ./{CATALOG_DIR} \
             catalog here (run it from the repository, or name them)"
        )
    })
}

/// Every scenario file `paths` name, in order: a file as it is, a folder's `*.toml`
/// files (recursively, sorted), a glob's matches (sorted). A glob or folder that names
/// no scenario is an error; a file named twice stays twice, for the run to refuse
/// (names are unique in a run), not to be dropped in silence.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files: Vec<PathBuf> = Vec::new();
    for path in paths {
        let found = if path.is_dir() {
            folder(path)?
        } else if !path.exists() && path.to_string_lossy().contains(GLOB_CHARS) {
            matches(path)?
        } else {
            vec![path.clone()]
        };
        if found.is_empty() {
            return Err(format!(
                "{}: names no scenario file (*.{SCENARIO_EXTENSION})",
                path.display()
            ));
        }
        files.extend(found);
    }
    Ok(files)
}

fn folder(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut found = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if path.is_dir() {
            found.extend(folder(&path)?);
        } else if path.extension().is_some_and(|e| e == SCENARIO_EXTENSION) {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

fn matches(pattern: &Path) -> Result<Vec<PathBuf>, String> {
    let text = pattern.to_string_lossy();
    let paths = glob::glob(&text).map_err(|e| format!("{text:?}: not a glob pattern ({e})"))?;
    let mut found = Vec::new();
    for path in paths {
        let path = path.map_err(|e| format!("{text:?}: {e}"))?;
        if path.is_dir() {
            found.extend(folder(&path)?);
        } else {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

/// Whether a scenario is one `--filter GLOB` keeps: its name or its file matches; with
/// `!GLOB`, neither does.
pub fn keeps(filter: &str, name: &str, path: &Path) -> bool {
    if let Some(glob) = filter.strip_prefix('!') {
        return !keeps(glob, name, path);
    }
    let Ok(pattern) = glob::Pattern::new(filter) else {
        return false;
    };
    pattern.matches(name) || pattern.matches_path(path)
}

/// The files read and validated as `vm` would run them: on their own `topology` if
/// they pin one, else on the first of `vm`'s shapes. The first file that is not valid
/// stops it.
pub fn load(files: &[PathBuf], vm: &VmOptions) -> Result<Vec<Entry>, String> {
    let on = VmShape {
        topology: vm.shape(),
        memory_mib: vm.memory_mib,
        host: None,
    };
    files
        .iter()
        .map(|path| {
            crate::pipeline::preflight::scenario_file(path)?;
            let scenario = scenario::load(path, &on).map_err(|e| e.to_string())?;
            Ok(Entry {
                path: path.clone(),
                scenario,
            })
        })
        .collect()
}

/// The scenario files a `run` names, expanded, after `--filter` and `--shard` (which
/// read and validate them); none when it names none and narrows nothing (the built-in
/// scenario runs then).
pub fn for_run(
    paths: &[PathBuf],
    filter: Option<&str>,
    shard: Option<Shard>,
    vm: &VmOptions,
) -> Result<Vec<PathBuf>, String> {
    let narrowed = filter.is_some() || shard.is_some();
    if paths.is_empty() && !narrowed {
        return Ok(Vec::new());
    }
    let files = expand(&paths_or_catalog(paths, "--filter or --shard")?)?;
    if !narrowed {
        // Validated where every run's scenarios are, with the machines they run on.
        return Ok(files);
    }
    let mut entries = load(&files, vm)?;
    if let Some(filter) = filter {
        entries.retain(|e| keeps(filter, &e.scenario.name, &e.path));
        if entries.is_empty() {
            return Err(format!(
                "--filter {filter:?} keeps none of the {} scenarios: `schedbox list` shows \
                 their names",
                files.len()
            ));
        }
    }
    if let Some(shard) = shard {
        let keys: Vec<(&str, u64)> = entries
            .iter()
            .map(|e| (e.scenario.name.as_str(), e.scenario.duration_ms()))
            .collect();
        let chosen = shard::part(&keys, shard);
        let mut at = 0;
        entries.retain(|_| {
            at += 1;
            chosen.contains(&(at - 1))
        });
    }
    Ok(entries.into_iter().map(|e| e.path).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tempdir::TempDir;

    fn touch(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "").unwrap();
        path
    }

    #[test]
    fn folders_and_globs_expand_sorted_and_once() {
        let dir = TempDir::new("select-expand").unwrap();
        let d = dir.path();
        let b = touch(d, "b.toml");
        let a = touch(d, "sub/a.toml");
        touch(d, "sub/notes.md");
        let c = touch(d, "c.toml");
        assert_eq!(
            expand(&[d.to_path_buf()]).unwrap(),
            [b.clone(), c.clone(), a.clone()]
        );
        let glob = d.join("*.toml");
        assert_eq!(
            expand(&[glob, b.clone()]).unwrap(),
            [b.clone(), c, b.clone()]
        );
        let err = expand(&[d.join("x*.toml")]).unwrap_err();
        assert!(err.contains("names no scenario file"), "{err}");
        // A missing file without glob characters is left for the loader to name.
        assert_eq!(
            expand(&[d.join("gone.toml")]).unwrap(),
            [d.join("gone.toml")]
        );
    }

    #[test]
    fn the_filter_matches_names_and_files() {
        let path = Path::new("scenarios/fail/weight.toml");
        assert!(keeps("fail-*", "fail-weight", path));
        assert!(keeps("scenarios/fail/*", "x", path));
        assert!(!keeps("pass-*", "fail-weight", path));
        assert!(keeps("!pass-*", "fail-weight", path));
        assert!(!keeps("!fail-*", "fail-weight", path));
        assert!(!keeps("!scenarios/fail/*", "x", path));
    }
}
