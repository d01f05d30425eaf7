//! The GitHub Actions workflow in docs/ci.md is what it says: the YAML parses (with a
//! YAML library), its matrix has the shards its command splits the set into, and every
//! `schedbox` command in its steps is accepted by schedbox's own command-line parser,
//! for each value of the matrix; a matrix the workflow reads from the scheduler
//! manifest (`fromJSON` of `list --schedulers --json`) takes the repository's
//! schedulers.toml's names.

use std::ffi::OsString;

use regex::Regex;
use serde_yaml::Value;

use schedbox::cli::{self, Command};
use schedbox::scheduler::manifest::Manifest;

const DOC: &str = "docs/ci.md";

fn workflow() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(DOC);
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let end = start + text[start..].find("\n```").expect("its end");
    serde_yaml::from_str(&text[start..end]).expect("the workflow is YAML")
}

/// Every step's `run` script of every job, with the job's name and matrix.
fn scripts(workflow: &Value) -> Vec<(String, Value, String)> {
    let jobs = workflow["jobs"].as_mapping().expect("jobs");
    let mut out = Vec::new();
    for (name, job) in jobs {
        let name = name.as_str().expect("a job's name").to_string();
        let matrix = job["strategy"]["matrix"].clone();
        for step in job["steps"].as_sequence().expect("steps") {
            if let Some(run) = step["run"].as_str() {
                out.push((name.clone(), matrix.clone(), run.to_string()));
            }
        }
    }
    out
}

/// The expression that makes a matrix of the manifest's names, as the plan job sets it.
const MANIFEST_MATRIX: &str = "${{ fromJSON(needs.plan.outputs.schedulers) }}";

/// The names of the repository's scheduler manifest.
fn manifest_names() -> Vec<String> {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("schedulers.toml");
    let manifest = Manifest::load(&file).unwrap_or_else(|e| panic!("{e}"));
    manifest.names().into_iter().map(String::from).collect()
}

/// The script with `${{ matrix.KEY }}` replaced by `values`' and lines continued by a
/// backslash joined.
fn expand(script: &str, values: &[(String, String)]) -> String {
    let mut text = script.replace("\\\n", " ");
    for (key, value) in values {
        text = text.replace(&format!("${{{{ matrix.{key} }}}}"), value);
    }
    text
}

/// Each `schedbox ...` command in `text`, as its arguments after the program: shell
/// words up to the end of the command (a `)`, `|`, `;`, `&` or `>`), the quotes
/// around a word removed (the workflow quotes no word with a space in it).
fn commands(text: &str) -> Vec<Vec<String>> {
    let command =
        Regex::new(r#"(?:^|[\s("$])(?:target/release/)?schedbox((?:[ \t]+[^\s)|;&>]+)*)"#).unwrap();
    command
        .captures_iter(text)
        .map(|c| {
            c[1].split_whitespace()
                .map(|w| w.trim_matches('"').to_string())
                .collect()
        })
        .collect()
}

/// The matrix's combinations as (key, value) lists (one empty list without a matrix).
fn combinations(matrix: &Value) -> Vec<Vec<(String, String)>> {
    let mut all = vec![Vec::new()];
    let Some(keys) = matrix.as_mapping() else {
        return all;
    };
    for (key, values) in keys {
        let key = key.as_str().unwrap().to_string();
        let values: Vec<String> = if values.as_str() == Some(MANIFEST_MATRIX) {
            manifest_names()
        } else {
            values
                .as_sequence()
                .unwrap_or(&Vec::new())
                .iter()
                .map(|v| match v {
                    Value::Number(n) => n.to_string(),
                    other => other.as_str().unwrap_or_default().to_string(),
                })
                .collect()
        };
        let mut next = Vec::new();
        for done in &all {
            for v in &values {
                let mut one = done.clone();
                one.push((key.clone(), v.clone()));
                next.push(one);
            }
        }
        all = next;
    }
    all
}

#[test]
fn every_schedbox_command_of_the_workflow_parses() {
    let workflow = workflow();
    let mut parsed = Vec::new();
    for (job, matrix, script) in scripts(&workflow) {
        for values in combinations(&matrix) {
            for args in commands(&expand(&script, &values)) {
                let os: Vec<OsString> = args.iter().map(OsString::from).collect();
                match cli::parse(os) {
                    Ok(command) => parsed.push((job.clone(), values.clone(), command)),
                    Err(e) => panic!("{args:?} ({values:?}) does not parse: {e}"),
                }
            }
        }
    }
    let fetches = parsed
        .iter()
        .filter(|(_, _, c)| matches!(c, Command::KernelFetch))
        .count();
    assert!(fetches > 0, "{parsed:?}");
    // The plan job lists the manifest's schedulers as JSON.
    let lists = parsed
        .iter()
        .filter(|(job, _, c)| {
            job == "plan" && matches!(c, Command::ListSchedulers { json: true, .. })
        })
        .count();
    assert_eq!(lists, 1, "{parsed:?}");
    let runs_of = |wanted: &str| -> Vec<_> {
        parsed
            .iter()
            .filter(|(job, _, _)| job == wanted)
            .filter_map(|(_, values, c)| match c {
                Command::Run(run) => Some((values, run)),
                _ => None,
            })
            .collect()
    };
    let shards_of = |job: &str| {
        workflow["jobs"][job]["strategy"]["matrix"]["shard"]
            .as_sequence()
            .unwrap()
            .len()
    };
    // A run per kernel and shard, and per scheduler of the manifest and shard, each
    // with its own JUnit file, splitting the set into as many parts as the matrix has
    // shards.
    let (scenarios, schedulers) = (runs_of("scenarios"), runs_of("schedulers"));
    let names = manifest_names();
    assert_eq!(scenarios.len(), 2 * shards_of("scenarios"), "{scenarios:?}");
    assert_eq!(
        schedulers.len(),
        names.len() * shards_of("schedulers"),
        "{schedulers:?}"
    );
    let mut junits: Vec<String> = Vec::new();
    let all = scenarios
        .iter()
        .map(|r| (r, "scenarios"))
        .chain(schedulers.iter().map(|r| (r, "schedulers")));
    for ((values, run), job) in all {
        let shards = shards_of(job);
        let shard = run.workflow.shard.expect("--shard");
        assert_eq!(shard.count as usize, shards, "{values:?}");
        if job == "schedulers" {
            let name = values
                .iter()
                .find(|(k, _)| k == "scheduler")
                .unwrap()
                .1
                .clone();
            let scheduler = run.scheduler.as_ref().expect("--scheduler");
            assert_eq!(scheduler.path.to_str(), Some(name.as_str()));
            assert!(names.contains(&name));
        }
        let want = values.iter().find(|(k, _)| k == "shard").unwrap().1.clone();
        assert_eq!(shard.index.to_string(), want);
        let junit = run
            .workflow
            .junit
            .as_ref()
            .expect("--junit")
            .display()
            .to_string();
        assert!(!junits.contains(&junit), "{junit} twice");
        junits.push(junit);
        assert!(!run.vm.scenarios.is_empty(), "{run:?}");
    }
}

#[test]
fn the_commands_found_are_the_ones_written() {
    let found = commands(
        "x=$(target/release/schedbox kernel fetch) && schedbox run --kernel \"$KERNEL\" a > log",
    );
    assert_eq!(
        found,
        [
            vec!["kernel", "fetch"],
            vec!["run", "--kernel", "$KERNEL", "a"]
        ]
    );
}
