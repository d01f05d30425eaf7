//! Work that needs a machine shape, in real guests under QEMU/TCG: SMT sibling pairs,
//! partners in different LLCs, a working set bound to a NUMA node, and the migrations and
//! crossings the guest counted. Every assertion is on what the guest itself reported
//! (its `cpu` records for where CPUs sit, its worker and check records for the rest).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{boot, describe, Scratch};
use schedbox::cpulist;
use schedbox::protocol::record::{decode, Line, Record};
use serde_json::Value;

/// The least share of a working set bound to node 1 that must be there, per mille (the
/// catalog's default `numa-locality` limit).
const LOCAL_PERMILLE: u64 = 950;

fn set(list: &str) -> BTreeSet<u32> {
    cpulist::parse(list).unwrap()
}

/// Per CPU, from the guest's `cpu` records: (thread siblings, LLC) as CPU sets.
type Places = BTreeMap<u32, (BTreeSet<u32>, BTreeSet<u32>)>;

fn guest_places(scratch: &Scratch) -> Places {
    scratch
        .run_file("records.log")
        .lines()
        .filter_map(|l| match decode(l) {
            Line::Record(Record::Cpu(c)) => Some((
                c.index as u32,
                (
                    set(c.siblings.as_deref().unwrap()),
                    set(c.llc.as_deref().unwrap()),
                ),
            )),
            _ => None,
        })
        .collect()
}

/// Boots `toml` on `shape` with `memory` MiB; returns the report's scenario, the
/// guest's CPU places and the failure description, after asserting exit `code`.
fn run(name: &str, toml: &str, shape: &str, memory: &str, code: i32) -> (Value, Places, String) {
    let scratch = Scratch::new(&format!("topo-work-{name}"));
    let file = scratch.file(&format!("{name}.toml"), toml);
    let args = [
        "--topology",
        shape,
        "--memory",
        memory,
        file.to_str().unwrap(),
    ];
    let (output, report) = boot(&scratch, &args);
    let why = describe(&output, &report);
    assert_eq!(output.status.code(), Some(code), "{why}");
    let places = guest_places(&scratch);
    (report["scenarios"][0].clone(), places, why)
}

fn workers<'a>(scenario: &'a Value, group: &str) -> Vec<&'a Value> {
    let all = scenario["workers"].as_array().unwrap();
    let mut picked: Vec<&Value> = all.iter().filter(|w| w["group"] == group).collect();
    picked.sort_by_key(|w| w["index"].as_u64());
    picked
}

fn check<'a>(scenario: &'a Value, name: &str) -> &'a Value {
    scenario["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check: {scenario:#}"))
}

fn num(w: &Value, key: &str) -> u64 {
    w[key].as_u64().unwrap_or_else(|| panic!("no {key} in {w}"))
}

/// A working set bound to node 1 by a worker running on node 0's CPUs: without the
/// binding its pages would follow the worker to node 0 (first touch).
#[test]
fn a_working_set_bound_to_node_1_has_its_pages_there() {
    let toml = "name = \"numa\"\nduration_ms = 1500\n\
        [[workers]]\ngroup = \"ws\"\nwork = \"numa-working-set\"\naffinity = \"node:0\"\n\
        size_kb = 8192\nnode = 1\nmempolicy = \"bind\"\n\
        [[check]]\nname = \"numa-locality\"\n";
    let (scenario, _, why) = run("numa", toml, "2n2l1c1t", "512", 0);
    let w = workers(&scenario, "ws");
    assert_eq!(w.len(), 1, "{why}");
    let (pages, local) = (num(w[0], "numa_pages"), num(w[0], "numa_local_pages"));
    // 8 MiB of 4 KiB pages, every one written before the first count.
    assert_eq!(pages, 2048, "{why}");
    let share = local * 1000 / pages;
    assert!(share >= LOCAL_PERMILLE, "{local} of {pages}: {why}");
    let c = check(&scenario, "numa-locality");
    assert_eq!(c["passed"], true, "{why}");
    assert_eq!(num(c, "value"), share, "{why}");
    assert!(
        set(w[0]["cpus"].as_str().unwrap()).is_subset(&[0].into()),
        "{why}"
    );
    eprintln!("numa-locality: {local} of {pages} pages on node 1 ({share} per mille)");
}

/// The moved workers' two steps: on CPU 0 (node 0), then made to move to CPU 1 (node 1)
/// by an affinity change, so every one of them migrates, whatever the load balancer
/// would have done on its own (across nodes it may leave a crowd alone for seconds).
const MOVED_STEPS: &str =
    "[[step]]\nhold_ms = 800\nops = [{ op = \"spawn\", group = \"pinned\" }, \
    { op = \"spawn\", group = \"moved\" }]\n\
    [[step]]\nhold_ms = 800\nops = [{ op = \"affinity\", group = \"moved\", cpus = \"1\" }]\n";

/// Workers pinned to one CPU barely migrate and never cross an LLC or a node; workers
/// moved to another node migrate, and each crossing the guest saw is a migration the
/// kernel counted.
#[test]
fn pinned_workers_stay_and_moved_ones_migrate() {
    let toml = format!(
        "name = \"moves\"\n\
        [[workers]]\ngroup = \"pinned\"\nwork = \"spin\"\naffinity = \"1\"\n\
        [[workers]]\ngroup = \"moved\"\nwork = \"mixed\"\ncount = 3\naffinity = \"0\"\n\
        {MOVED_STEPS}[[check]]\nname = \"migrations\"\ngroup = \"pinned\"\nlimit = 2\n\
        [[check]]\nname = \"llc-crossings\"\ngroup = \"pinned\"\n\
        [[check]]\nname = \"node-crossings\"\ngroup = \"pinned\"\n\
        [[check]]\nname = \"migrations\"\ngroup = \"moved\"\n"
    );
    let (scenario, _, why) = run("moves", &toml, "2n2l1c1t", "512", 0);
    let pinned = workers(&scenario, "pinned");
    assert_eq!(pinned.len(), 1, "{why}");
    assert!(num(pinned[0], "migrations") <= 2, "{why}");
    assert_eq!(num(pinned[0], "llc_crossings"), 0, "{why}");
    assert_eq!(num(pinned[0], "node_crossings"), 0, "{why}");
    let free = workers(&scenario, "moved");
    assert_eq!(free.len(), 3, "{why}");
    let migrations: u64 = free.iter().map(|w| num(w, "migrations")).sum();
    for w in &free {
        assert!(num(w, "migrations") >= 1, "{w}: {why}");
        // One LLC a node here: every node crossing is an LLC crossing, and each is a
        // migration.
        assert_eq!(num(w, "llc_crossings"), num(w, "node_crossings"), "{why}");
        assert!(num(w, "llc_crossings") <= num(w, "migrations"), "{why}");
    }
    let most = free.iter().map(|w| num(w, "migrations")).max().unwrap();
    let checks = scenario["checks"].as_array().unwrap();
    let free_check = checks
        .iter()
        .find(|c| {
            c["name"] == "migrations" && c["detail"].as_str().unwrap_or("").contains("moved/")
        })
        .unwrap_or_else(|| panic!("{why}"));
    assert_eq!(num(free_check, "value"), most, "{why}");
    eprintln!(
        "migrations: pinned {}, moved {migrations} in all, most {most}",
        num(pinned[0], "migrations")
    );
}

/// A limit the moved workers exceed fails the run: the check can fail.
#[test]
fn a_migrations_limit_that_is_exceeded_fails() {
    let toml = format!(
        "name = \"too-many\"\n\
        [[workers]]\ngroup = \"pinned\"\nwork = \"spin\"\naffinity = \"1\"\n\
        [[workers]]\ngroup = \"moved\"\nwork = \"mixed\"\ncount = 3\naffinity = \"0\"\n\
        {MOVED_STEPS}[[check]]\nname = \"migrations\"\ngroup = \"moved\"\nlimit = 0\n"
    );
    let (scenario, _, why) = run("too-many", &toml, "2n2l1c1t", "512", 1);
    let c = check(&scenario, "migrations");
    assert_eq!(c["passed"], false, "{why}");
    assert!(num(c, "value") > 0, "{why}");
}

/// Each pair spins on the two thread siblings of its own core, as the guest's topology
/// has them, one worker on each and nowhere else.
#[test]
fn smt_sibling_pairs_share_a_core_one_thread_each() {
    let toml = "name = \"smt\"\nduration_ms = 1000\n\
        [[workers]]\ngroup = \"pair\"\nwork = \"smt-sibling-spin\"\ncount = 4\n";
    let (scenario, places, why) = run("smt", toml, "1n1l2c2t", "256", 0);
    let w = workers(&scenario, "pair");
    assert_eq!(w.len(), 4, "{why}");
    let mut cores = BTreeSet::new();
    for pair in w.chunks(2) {
        let lead = set(pair[0]["cpus"].as_str().unwrap());
        let mate = set(pair[1]["cpus"].as_str().unwrap());
        assert_eq!((lead.len(), mate.len()), (1, 1), "{why}");
        let (a, b) = (*lead.first().unwrap(), *mate.first().unwrap());
        assert_ne!(a, b, "{why}");
        let siblings = &places[&a].0;
        assert_eq!(siblings, &BTreeSet::from([a, b]), "{why}");
        assert!(
            cores.insert(siblings.clone()),
            "two pairs on one core: {why}"
        );
        assert!(num(pair[0], "iterations") > 0 && num(pair[1], "iterations") > 0);
    }
}

/// Partners of each cross-LLC pair ran in different LLCs of the guest, each within one.
#[test]
fn cross_llc_partners_sit_in_different_llcs() {
    let toml = "name = \"cross\"\nduration_ms = 1000\n\
        [[workers]]\ngroup = \"pp\"\nwork = \"cross-llc-pingpong\"\ncount = 4\n\
        [[check]]\nname = \"llc-crossings\"\n";
    let (scenario, places, why) = run("cross", toml, "1n2l2c1t", "256", 0);
    let w = workers(&scenario, "pp");
    assert_eq!(w.len(), 4, "{why}");
    let llc_of = |w: &Value| -> BTreeSet<u32> {
        let cpus = set(w["cpus"].as_str().unwrap());
        let llcs: BTreeSet<BTreeSet<u32>> = cpus.iter().map(|c| places[c].1.clone()).collect();
        assert_eq!(llcs.len(), 1, "{w} ran in {llcs:?}: {why}");
        llcs.into_iter().next().unwrap()
    };
    for pair in w.chunks(2) {
        assert_ne!(llc_of(pair[0]), llc_of(pair[1]), "{why}");
        // The pair took turns: each side made progress.
        assert!(
            num(pair[0], "iterations") > 10 && num(pair[1], "iterations") > 10,
            "{why}"
        );
    }
}
