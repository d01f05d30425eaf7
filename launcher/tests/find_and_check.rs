//! Finding and checking scenarios without a VM: `list`, `show`, `check`, and how `run`
//! narrows a set (`--filter`, `--shard`), all through the `schedbox` binary run from
//! the repository's root, as CI runs it.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use common::{repo, Scratch, SCHEDBOX};

/// The catalog file that needs `make scx-selftests` built first.
const SELFTESTS: &str = "scenarios/selftests/scx-selftests.toml";
const RUNNER: &str = "target/scx-selftests/runner";

/// `schedbox ARGS` in the repository's root.
fn schedbox(args: &[&str]) -> Output {
    Command::new(SCHEDBOX)
        .args(args)
        .current_dir(repo())
        .output()
        .expect("cannot run schedbox")
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Every `*.toml` under scenarios/, relative to the root.
fn catalog_files() -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "toml") {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut files = Vec::new();
    walk(&repo().join("scenarios"), &repo(), &mut files);
    files.sort();
    files
}

#[test]
fn every_catalog_file_passes_check() {
    let runner_built = repo().join(RUNNER).is_file();
    let files = catalog_files();
    assert!(files.len() > 40, "{files:?}");
    for file in &files {
        let output = schedbox(&["check", file]);
        if file == SELFTESTS && !runner_built {
            // The one file that needs a build first says which file it misses.
            assert_eq!(output.status.code(), Some(2), "{}", text(&output));
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                stderr.contains("scx-selftests/runner: no such file"),
                "{stderr}"
            );
            continue;
        }
        assert_eq!(output.status.code(), Some(0), "{file}: {}", text(&output));
        assert!(
            String::from_utf8_lossy(&output.stdout).starts_with(&format!("ok {file} (")),
            "{}",
            text(&output)
        );
    }
}

#[test]
fn a_malformed_file_is_exit_2_with_its_position() {
    let scratch = Scratch::new("check-malformed");
    let typo = scratch.file(
        "typo.toml",
        "name = \"t\"\nduration_ms = 100\n[[workers]]\ngroup = \"w\"\nwork = \"spin\"\ncuont = 2\n",
    );
    let good = scratch.file(
        "good.toml",
        "name = \"g\"\nduration_ms = 100\n[[workers]]\ngroup = \"w\"\nwork = \"spin\"\n",
    );
    let output = schedbox(&["check", good.to_str().unwrap(), typo.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let file = typo.display().to_string();
    // file:line:column, or the TOML parser's "line L, column C" after the file.
    let at = [format!("{file}:6:1"), "line 6, column 1".to_string()];
    assert!(
        stderr.contains(&file) && at.iter().any(|a| stderr.contains(a.as_str())),
        "{stderr}"
    );
    assert!(
        stderr.contains("cuont") && stderr.contains("1 of 2"),
        "{stderr}"
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("ok "),
        "{}",
        text(&output)
    );
}

fn listed(args: &[&str]) -> Vec<Value> {
    let output = schedbox(args);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    match serde_json::from_slice(&output.stdout) {
        Ok(Value::Array(items)) => items,
        other => panic!("{other:?}: {}", text(&output)),
    }
}

#[test]
fn list_describes_every_catalog_file() {
    let items = listed(&["list", "--json"]);
    let files: Vec<&str> = items.iter().map(|i| i["file"].as_str().unwrap()).collect();
    assert_eq!(files, catalog_files());
    let weight = items
        .iter()
        .find(|i| i["name"] == "fail-weight")
        .expect("fail-weight listed");
    assert_eq!(weight["file"], "scenarios/fail/weight.toml");
    assert_eq!(weight["duration_ms"], 1200);
    assert_eq!(weight["topology"], Value::Null);
    let check = weight["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "weight")
        .unwrap();
    assert_eq!(
        (&check["limit"], &check["cgroup"]),
        (&150.into(), &"share".into())
    );
    let crossings = items
        .iter()
        .find(|i| i["name"] == "fail-crossings")
        .unwrap();
    assert_eq!(crossings["topology"], "2n2l1c2t");
    let failing = listed(&["list", "--json", "--filter", "fail-*"]);
    assert!(failing.len() >= 8, "{failing:?}");
    assert!(failing
        .iter()
        .all(|i| i["name"].as_str().unwrap().starts_with("fail-")));
    let by_file = listed(&["list", "--json", "scenarios/pass/*.toml"]);
    assert_eq!(by_file.len(), 8, "{by_file:?}");
}

#[test]
fn shards_cover_the_catalog_once_and_the_same_way_each_time() {
    let all: Vec<String> = listed(&["list", "--json"])
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect();
    for n in 1..=5 {
        let split = |_: ()| -> Vec<Vec<String>> {
            (1..=n)
                .map(|k| {
                    listed(&["list", "--json", "--shard", &format!("{k}/{n}")])
                        .iter()
                        .map(|i| i["name"].as_str().unwrap().to_string())
                        .collect()
                })
                .collect()
        };
        let first = split(());
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for name in first.iter().flatten() {
            *seen.entry(name).or_default() += 1;
        }
        for name in &all {
            assert_eq!(
                seen.get(name.as_str()),
                Some(&1),
                "{name} in {n} shards: {first:?}"
            );
        }
        assert_eq!(seen.len(), all.len(), "{first:?}");
        assert!(first.iter().all(|part| !part.is_empty()), "{n}: {first:?}");
        assert_eq!(
            split(()),
            first,
            "the split into {n} changed on a second call"
        );
    }
}

#[test]
fn show_fills_in_the_defaults_by_name_or_file() {
    let by_name = schedbox(&["show", "fail-weight"]);
    assert_eq!(by_name.status.code(), Some(0), "{}", text(&by_name));
    let shown = String::from_utf8_lossy(&by_name.stdout).to_string();
    for want in [
        "file: scenarios/fail/weight.toml",
        "machine: 1n1l2c1t (the command line's), 256 MiB",
        "spawn 1 x spin lo in share/lo: nice 0, policy other",
        "  stall limit 1025 ms",
        "  weight limit 150 ‰ cgroup=share",
        "  check name=weight limit=150 cgroup=share",
    ] {
        assert!(shown.contains(want), "{want:?} not in:\n{shown}");
    }
    let by_file = schedbox(&["show", "scenarios/fail/weight.toml"]);
    assert_eq!(String::from_utf8_lossy(&by_file.stdout), shown);
    // A check's settings, its defaults included.
    let imbalance = schedbox(&["show", "pass-imbalance"]);
    let shown = String::from_utf8_lossy(&imbalance.stdout);
    assert!(
        shown.contains("  imbalance limit 3000 ‰ window_ms=1000\n"),
        "{}",
        text(&imbalance)
    );
    let scratch = Scratch::new("show-defaults");
    let bursty = scratch.file(
        "b.toml",
        "name = \"b\"\nduration_ms = 100\n[[workers]]\ngroup = \"w\"\nwork = \"bursty\"\nsleep_ms = 3\n",
    );
    let defaults = schedbox(&["show", "--cpus", "1", bursty.to_str().unwrap()]);
    let shown = String::from_utf8_lossy(&defaults.stdout);
    assert!(
        shown.contains(
            "spawn 1 x bursty w in w: nice 0, policy other, burst_ms=10 (default), sleep_ms=3\n"
        ) && shown.contains("machine: 1n1l1c1t (the command line's)"),
        "{}",
        text(&defaults)
    );
    let missing = schedbox(&["show", "no-such-scenario"]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("schedbox list"));
}

#[test]
fn run_narrows_a_folder_before_any_vm() {
    // Stops at the selection: no kernel is needed to see it.
    let output = schedbox(&["run", "--filter", "nothing-*", "scenarios/pass"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("keeps none of the 8 scenarios"),
        "{}",
        text(&output)
    );
    let output = schedbox(&["run", "scenarios/no-such-*.toml"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("names no scenario file"));
}
