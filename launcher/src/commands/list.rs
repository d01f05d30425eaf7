//! `schedbox list`: the scenarios of a set with what each runs and judges, as a table
//! for people or JSON for a CI matrix. A file that is not valid is listed with its
//! error (and noted on stderr): `schedbox check` is the command that fails on it.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::{Shard, VmOptions, DEFAULT_CPUS, DEFAULT_MEMORY_MIB};
use crate::exit::{Exit, Stop};
use crate::output;
use crate::scenario::{self, Scenario};
use crate::selection::{self, shard};

/// What `list` says about one scenario file.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub name: String,
    pub file: String,
    pub description: Option<String>,
    /// Time the guest holds in its steps.
    pub duration_ms: Option<u64>,
    /// The shape it pins with `topology`; None runs on the command line's.
    pub topology: Option<String>,
    /// The checks it judges, with every default filled in.
    pub checks: Vec<ListedCheck>,
    /// Why it is not valid (as run would say); its other fields are then what could be
    /// read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ListedCheck {
    pub name: String,
    pub limit: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<String>,
}

/// The machine `list` validates on: `run`'s default, unless a scenario pins its own.
fn list_vm() -> VmOptions {
    VmOptions {
        cpus: DEFAULT_CPUS,
        topology: Vec::new(),
        memory_mib: DEFAULT_MEMORY_MIB,
        scenarios: Vec::new(),
    }
}

pub fn list(
    json: bool,
    filter: Option<&str>,
    shard: Option<Shard>,
    paths: &[PathBuf],
) -> Result<Exit, Stop> {
    let paths = selection::paths_or_catalog(paths, "list").map_err(Stop::Usage)?;
    let files = selection::expand(&paths).map_err(Stop::Usage)?;
    let mut listed: Vec<Listed> = files
        .iter()
        .map(|f| describe(f))
        .filter(|l| filter.is_none_or(|g| selection::keeps(g, &l.name, Path::new(&l.file))))
        .collect();
    if let Some(shard) = shard {
        // As `run --shard` splits the same set (a file that is not valid counts as 0 ms;
        // run refuses it anyway).
        let keys: Vec<(&str, u64)> = listed
            .iter()
            .map(|l| (l.name.as_str(), l.duration_ms.unwrap_or(0)))
            .collect();
        let parts = shard::assign(&keys, shard.count);
        let mut at = 0;
        listed.retain(|_| {
            at += 1;
            parts[at - 1] == shard.index - 1
        });
    }
    for bad in listed.iter().filter_map(|l| l.error.as_ref()) {
        output::note(&format!("schedbox: not valid: {bad}"));
    }
    if json {
        let text = serde_json::to_string_pretty(&listed)
            .map_err(|e| Stop::Host(format!("cannot encode the list: {e}")))?;
        output::print(&(text + "\n"));
    } else {
        output::print(&table(&listed));
    }
    Ok(Exit::Pass)
}

/// One file, validated as `run` would on its default machine.
pub fn describe(path: &Path) -> Listed {
    let file = path.display().to_string();
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    let mut listed = Listed {
        name: stem.unwrap_or_default(),
        file,
        description: None,
        duration_ms: None,
        topology: None,
        checks: Vec::new(),
        error: None,
    };
    let parsed = selection::load(&[path.to_path_buf()], &list_vm());
    match parsed {
        Ok(mut entries) => fill(&mut listed, &entries.remove(0).scenario),
        Err(why) => {
            if let Ok(read) = scenario::read(path) {
                listed.name = read.name().to_string();
            }
            listed.error = Some(why);
        }
    }
    listed
}

fn fill(listed: &mut Listed, s: &Scenario) {
    listed.name = s.name.clone();
    listed.description = s.description.clone();
    listed.duration_ms = Some(s.duration_ms());
    listed.topology = s.topology.map(|t| t.to_string());
    listed.checks = s
        .checks
        .iter()
        .map(|c| ListedCheck {
            name: c.name.clone(),
            limit: c.limit,
            group: c.group.clone(),
            cgroup: c.cgroup.clone(),
        })
        .collect();
}

/// A row per scenario (name, duration, shape, checks, file), its description below it.
fn table(listed: &[Listed]) -> String {
    let rows: Vec<[String; 5]> = listed
        .iter()
        .map(|l| {
            let checks: Vec<&str> = l.checks.iter().map(|c| c.name.as_str()).collect();
            [
                l.name.clone(),
                l.duration_ms.map_or("-".into(), |ms| format!("{ms} ms")),
                l.topology.clone().unwrap_or_else(|| "any".into()),
                if l.error.is_some() {
                    "NOT VALID".into()
                } else {
                    checks.join(",")
                },
                l.file.clone(),
            ]
        })
        .collect();
    let header = ["NAME", "DURATION", "SHAPE", "CHECKS", "FILE"].map(String::from);
    let width = |c: usize| {
        std::iter::once(&header)
            .chain(&rows)
            .map(|r| r[c].len())
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..header.len()).map(width).collect();
    let line = |r: &[String; 5]| {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(t, w)| format!("{t:<w$}"))
            .collect();
        cells.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(&header);
    for (row, l) in rows.iter().zip(listed) {
        out += &line(row);
        if let Some(d) = &l.description {
            out += &format!("    {d}\n");
        }
    }
    out += &format!("{} scenarios\n", listed.len());
    out
}
