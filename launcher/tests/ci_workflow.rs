//! The GitHub Actions workflow in docs/ci.md is what it says: the YAML parses (with a
//! YAML library), its matrix has the shards its command splits the set into, and every
//! `schedbox` command in its steps is accepted by schedbox's own command-line parser,
//! for each value of the matrix.

use std::ffi::OsString;

use regex::Regex;
use serde_yaml::Value;

use schedbox::cli::{self, Command};

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

/// Every step's `run` script of every job, with the job's matrix.
fn scripts(workflow: &Value) -> Vec<(Value, String)> {
    let jobs = workflow["jobs"].as_mapping().expect("jobs");
    let mut out = Vec::new();
    for (_, job) in jobs {
        let matrix = job["strategy"]["matrix"].clone();
        for step in job["steps"].as_sequence().expect("steps") {
            if let Some(run) = step["run"].as_str() {
                out.push((matrix.clone(), run.to_string()));
            }
        }
    }
    out
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
        let values: Vec<String> = values
            .as_sequence()
            .unwrap_or(&Vec::new())
            .iter()
            .map(|v| match v {
                Value::Number(n) => n.to_string(),
                other => other.as_str().unwrap_or_default().to_string(),
            })
            .collect();
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
    for (matrix, script) in scripts(&workflow) {
        for values in combinations(&matrix) {
            for args in commands(&expand(&script, &values)) {
                let os: Vec<OsString> = args.iter().map(OsString::from).collect();
                match cli::parse(os) {
                    Ok(command) => parsed.push((values.clone(), command)),
                    Err(e) => panic!("{args:?} ({values:?}) does not parse: {e}"),
                }
            }
        }
    }
    let fetches = parsed
        .iter()
        .filter(|(_, c)| matches!(c, Command::KernelFetch))
        .count();
    let runs: Vec<_> = parsed
        .iter()
        .filter_map(|(values, c)| match c {
            Command::Run(run) => Some((values, run)),
            _ => None,
        })
        .collect();
    assert!(fetches > 0, "{parsed:?}");
    // A run per kernel and shard, each with its own JUnit file, splitting the set into
    // as many parts as the matrix has shards.
    let shards = workflow["jobs"]["scenarios"]["strategy"]["matrix"]["shard"]
        .as_sequence()
        .unwrap()
        .len();
    assert_eq!(runs.len(), 2 * shards, "{runs:?}");
    let mut junits: Vec<String> = Vec::new();
    for (values, run) in &runs {
        let shard = run.workflow.shard.expect("--shard");
        assert_eq!(shard.count as usize, shards, "{values:?}");
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
        assert_eq!(run.vm.scenarios.len(), 3, "{run:?}");
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
