//! Worker groups run as threads of one process (`threads = true`), booted: the catalog's
//! scenarios/threads in one VM, and threads.toml again under scx_simple. From the
//! guest's own values: every worker of a group reports the same thread group, each its
//! own thread id and task name, and each made progress; a starved thread is named by
//! the stall check as a process worker is.
//!
//! Needs `make` (the release init) and a kernel with sched_ext and its schedulers, as
//! tests/catalog.rs.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

use common::{repo, try_boot, Scratch};

#[derive(Debug, Deserialize)]
struct Worker {
    group: String,
    index: u64,
    pid: u64,
    tgid: Option<u64>,
    comm: Option<String>,
    iterations: u64,
    cpu_ns: u64,
    wake_samples: Option<u64>,
}

struct Batch {
    exit: Option<i32>,
    report: Value,
    why: String,
}

impl Batch {
    fn scenario(&self, name: &str) -> &Value {
        self.report["scenarios"]
            .as_array()
            .and_then(|all| all.iter().find(|s| s["name"] == name))
            .unwrap_or_else(|| panic!("no scenario {name}:\n{}", self.why))
    }

    fn group(&self, scenario: &str, group: &str) -> Vec<Worker> {
        let all: Vec<Worker> =
            serde_json::from_value(self.scenario(scenario)["workers"].clone()).unwrap();
        let mut workers: Vec<Worker> = all.into_iter().filter(|w| w.group == group).collect();
        workers.sort_by_key(|w| w.index);
        workers
    }

    fn check(&self, scenario: &str, name: &str) -> &Value {
        self.scenario(scenario)["checks"]
            .as_array()
            .and_then(|all| all.iter().find(|c| c["name"] == name))
            .unwrap_or_else(|| panic!("{scenario}: no check {name}:\n{}", self.why))
    }
}

/// Boots `files` with `options` in one VM.
fn boot(tag: &str, options: &[&str], files: &[PathBuf]) -> Result<Batch, String> {
    let scratch = Scratch::new(tag);
    let mut args = options.to_vec();
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    let (output, report) = try_boot(&scratch, &args)?;
    Ok(Batch {
        exit: output.status.code(),
        report,
        why: format!(
            "exit {:?}\n{}{}",
            output.status.code(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    })
}

fn catalog(file: &str) -> PathBuf {
    repo().join("scenarios/threads").join(file)
}

/// scenarios/threads, booted once for the tests under EEVDF.
fn batch() -> &'static Batch {
    static CELL: OnceLock<Result<Batch, String>> = OnceLock::new();
    let files = [catalog("threads.toml"), catalog("threads-stall.toml")];
    match CELL.get_or_init(|| boot("threads", &[], &files)) {
        Ok(batch) => batch,
        Err(e) => panic!("batch threads: {e}"),
    }
}

/// The workers of a group run as threads: `count` of them, one thread group whose id
/// is the first thread's, distinct thread ids, each named `sbx-<group>-<i>`, each with
/// progress and CPU time of its own.
fn assert_one_thread_group(b: &Batch, scenario: &str, group: &str, count: usize) -> Vec<Worker> {
    let workers = b.group(scenario, group);
    assert_eq!(workers.len(), count, "{scenario} {group}:\n{}", b.why);
    let tgid = workers[0]
        .tgid
        .unwrap_or_else(|| panic!("no tgid: {workers:?}"));
    assert_eq!(
        workers[0].pid, tgid,
        "the first thread is the process: {workers:?}"
    );
    let tids: BTreeSet<u64> = workers.iter().map(|w| w.pid).collect();
    assert_eq!(tids.len(), count, "distinct thread ids: {workers:?}");
    for (i, w) in workers.iter().enumerate() {
        assert_eq!(w.tgid, Some(tgid), "one thread group: {workers:?}");
        assert_eq!(w.index, i as u64);
        assert_eq!(
            w.comm.as_deref(),
            Some(format!("sbx-{group}-{i}").as_str()),
            "{w:?}"
        );
        assert!(w.iterations > 0, "{w:?} made no progress:\n{}", b.why);
        assert!(w.cpu_ns > 0, "{w:?} has no CPU time of its own");
    }
    workers
}

#[test]
fn a_group_run_as_threads_is_one_process_of_named_progressing_threads() {
    assert_thread_groups(batch());
}

/// Under scx_simple, a sched_ext scheduler, as under EEVDF; the scheduler stays
/// attached throughout.
#[test]
fn groups_run_as_threads_under_a_sched_ext_scheduler() {
    let simple = common::tree_scheduler("scx_simple");
    let options = ["--scheduler", simple.to_str().unwrap()];
    let b = boot("threads-scx", &options, &[catalog("threads.toml")])
        .unwrap_or_else(|e| panic!("batch threads-scx: {e}"));
    assert_eq!(b.exit, Some(0), "{}", b.why);
    assert_thread_groups(&b);
    assert_eq!(b.check("threads", "scheduler")["passed"], true, "{}", b.why);
}

/// threads.toml: each group one thread group, the teams still meeting on their words.
fn assert_thread_groups(b: &Batch) {
    let s = "threads";
    assert_eq!(b.scenario(s)["outcome"], "pass", "{}", b.why);
    let team = assert_one_thread_group(b, s, "team", 4);
    let naps = assert_one_thread_group(b, s, "naps", 2);
    let requests = assert_one_thread_group(b, s, "requests", 4);
    let pair = assert_one_thread_group(b, s, "pair", 2);
    let tgids: BTreeSet<Option<u64>> = [&team, &naps, &requests, &pair]
        .iter()
        .map(|g| g[0].tgid)
        .collect();
    assert_eq!(tgids.len(), 4, "a thread group per group");
    for w in naps.iter().chain(&requests[1..]).chain(&pair) {
        assert!(w.wake_samples.unwrap_or(0) > 0, "{w:?} timed no wake-up");
    }
    // Teammates in one thread group still meet on their futex words: the pair takes
    // turns (within the one a stop can cut short), each handler serves a request a
    // round the messenger sends.
    assert!(
        pair[0].iterations.abs_diff(pair[1].iterations) <= 1,
        "{pair:?}"
    );
    for h in &requests[1..] {
        assert!(
            h.iterations.abs_diff(requests[0].iterations) <= 1,
            "{requests:?}"
        );
    }
    for check in ["progress", "stall"] {
        assert_eq!(b.check(s, check)["passed"], true, "{check}:\n{}", b.why);
    }
}

#[test]
fn a_starved_thread_is_named_by_the_stall_check() {
    let b = batch();
    let s = "threads-stall";
    assert_eq!(b.exit, Some(1), "{}", b.why);
    assert_eq!(b.scenario(s)["outcome"], "fail", "{}", b.why);
    let victims = assert_one_thread_group(b, s, "victim", 2);
    let stall = b.check(s, "stall");
    assert_eq!(stall["passed"], false, "{}", b.why);
    let stalls = b.scenario(s)["stalls"].as_array().unwrap();
    // Each starved thread is named by its own id, the one its worker record has.
    for v in &victims {
        let named = stalls
            .iter()
            .any(|st| st["group"] == "victim" && st["index"] == v.index && st["pid"] == v.pid);
        assert!(named, "no stall of {v:?}: {stalls:?}\n{}", b.why);
    }
    let detail = stall["detail"].as_str().unwrap_or_default();
    let named_by = |v: &Worker| detail.contains(&format!("victim/{}/{}", v.index, v.pid));
    assert!(victims.iter().any(named_by), "{detail}");
}
