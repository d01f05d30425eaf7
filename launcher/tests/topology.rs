//! Topology as code, from inside real guests under QEMU/TCG: each shape is booted and the
//! guest's own account of it (its `cpu` and `node` records) must equal the request, node
//! memory included; CPU sets relative to the shape confine workers where they say.

mod common;

use std::collections::BTreeSet;

use common::{boot, describe, Scratch};
use schedbox::cpulist;
use schedbox::protocol::record::{decode, Line, Record};
use schedbox::topology::Shape;

const SHORT: &str =
    "name = \"short\"\nduration_ms = 200\n[[workers]]\ngroup = \"spin\"\nwork = \"spin\"\n";

/// The `cpu` and `node` records of the run in `scratch`.
fn topology_records(scratch: &Scratch) -> (Vec<Record>, Vec<Record>) {
    let records: Vec<Record> = scratch
        .run_file("records.log")
        .lines()
        .filter_map(|l| match decode(l) {
            Line::Record(r) => Some(r),
            _ => None,
        })
        .collect();
    let (cpus, rest): (Vec<Record>, Vec<Record>) = records
        .into_iter()
        .partition(|r| matches!(r, Record::Cpu(_)));
    let nodes = rest
        .into_iter()
        .filter(|r| matches!(r, Record::Node(_)))
        .collect();
    (cpus, nodes)
}

fn set(list: &str) -> BTreeSet<u32> {
    cpulist::parse(list).unwrap()
}

/// Boots `spec` and checks, from the guest's records, every CPU's siblings and LLC and
/// every node's CPUs and memory against the shape.
fn boots_as_asked(spec: &str, memory_mib: u32) {
    let shape = Shape::parse(spec).unwrap();
    let scratch = Scratch::new(&format!("topo-{spec}"));
    let scenario = scratch.file("short.toml", SHORT);
    let memory = memory_mib.to_string();
    let args = [
        "--topology",
        spec,
        "--memory",
        &memory,
        scenario.to_str().unwrap(),
    ];
    let (output, report) = boot(&scratch, &args);
    let why = describe(&output, &report);
    assert_eq!(output.status.code(), Some(0), "{spec}: {why}");
    let (cpus, nodes) = topology_records(&scratch);
    assert_eq!(cpus.len() as u32, shape.vcpus(), "{spec}: {why}");
    for r in &cpus {
        let Record::Cpu(c) = r else { unreachable!() };
        let place = shape.place(c.index as u32);
        let same = |f: &dyn Fn(u32) -> u32| -> BTreeSet<u32> {
            (0..shape.vcpus())
                .filter(|&x| f(x) == f(place.cpu))
                .collect()
        };
        let siblings = same(&|x| shape.place(x).core);
        let llc = same(&|x| shape.place(x).llc);
        assert_eq!(
            set(c.siblings.as_deref().unwrap()),
            siblings,
            "{spec} cpu {}",
            c.index
        );
        assert_eq!(
            set(c.llc.as_deref().unwrap()),
            llc,
            "{spec} cpu {}",
            c.index
        );
        assert_eq!(
            c.node,
            Some(u64::from(place.node)),
            "{spec} cpu {}",
            c.index
        );
    }
    assert_eq!(nodes.len() as u32, shape.nodes, "{spec}: {why}");
    let share_kb = u64::from(memory_mib) * 1024 / u64::from(shape.nodes);
    for r in &nodes {
        let Record::Node(n) = r else { unreachable!() };
        let want: BTreeSet<u32> = shape
            .places()
            .filter(|p| u64::from(p.node) == n.index)
            .map(|p| p.cpu)
            .collect();
        assert_eq!(set(&n.cpus), want, "{spec} node {}", n.index);
        let kb = n.memory_kb.unwrap();
        assert!(
            kb <= share_kb && kb > share_kb * 3 / 4,
            "{spec} node {}: {kb} kB",
            n.index
        );
        assert_eq!(
            n.distances.len() as u32,
            shape.nodes,
            "{spec} node {}",
            n.index
        );
    }
}

#[test]
fn one_vcpu() {
    boots_as_asked("1n1l1c1t", 256);
}

#[test]
fn smt_only() {
    boots_as_asked("1n1l1c2t", 256);
}

#[test]
fn two_llcs() {
    boots_as_asked("1n2l2c1t", 256);
}

#[test]
fn odd_llc_count() {
    boots_as_asked("1n3l1c1t", 256);
}

#[test]
fn two_nodes() {
    boots_as_asked("2n2l1c1t", 512);
}

#[test]
fn two_nodes_four_llcs_with_smt() {
    boots_as_asked("2n4l1c2t", 512);
}

#[test]
fn two_nodes_smt_and_cores() {
    boots_as_asked("2n2l2c2t", 512);
}

#[test]
fn sixteen_vcpus() {
    boots_as_asked("1n2l4c2t", 512);
}

/// The guest told to use fewer CPUs than the shape has reports fewer: that run is not a
/// test of the shape, and says why.
#[test]
fn a_guest_that_sees_another_shape_is_untestable() {
    let scratch = Scratch::new("topo-mismatch");
    let scenario = scratch.file("short.toml", SHORT);
    let args = [
        "--topology",
        "1n2l2c1t",
        "--append",
        "nr_cpus=2",
        scenario.to_str().unwrap(),
    ];
    let (output, report) = boot(&scratch, &args);
    let why = describe(&output, &report);
    assert_eq!(output.status.code(), Some(125), "{why}");
    let reason = report["reasons"][0].as_str().unwrap_or_default();
    assert!(
        reason.contains("not the 1n2l2c1t that was asked for"),
        "{why}"
    );
    assert!(reason.contains("2 CPUs reported, 4 asked for"), "{why}");
}

/// Workers in a cgroup whose cpuset is `llc:1` run on LLC 1's CPUs only, as the guest saw.
#[test]
fn an_llc_relative_cpuset_confines_workers_to_that_llc() {
    let scratch = Scratch::new("topo-llc");
    let scenario = scratch.file(
        "llc.toml",
        "name = \"llc\"\nduration_ms = 1000\n\
         [[cgroup]]\npath = \"far\"\ncpus = \"llc:1\"\n\
         [[workers]]\ngroup = \"spin\"\ncgroup = \"far\"\nwork = \"spin\"\ncount = 4\n\
         [[check]]\nname = \"isolation\"\n",
    );
    let args = ["--topology", "1n2l2c1t", scenario.to_str().unwrap()];
    let (output, report) = boot(&scratch, &args);
    let why = describe(&output, &report);
    assert_eq!(output.status.code(), Some(0), "{why}");
    // LLC 1 as the guest saw it: the second of its LLCs in CPU order.
    let (cpus, _) = topology_records(&scratch);
    let llcs: BTreeSet<Vec<u32>> = cpus
        .iter()
        .filter_map(|r| match r {
            Record::Cpu(c) => Some(set(c.llc.as_deref()?).into_iter().collect()),
            _ => None,
        })
        .collect();
    assert_eq!(llcs.len(), 2, "{why}");
    let llc1: BTreeSet<u32> = llcs.iter().nth(1).unwrap().iter().copied().collect();
    assert_eq!(llc1, [2, 3].into(), "{why}");
    let workers = report["scenarios"][0]["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 4, "{why}");
    for w in workers {
        let seen = set(w["cpus"].as_str().unwrap());
        assert!(!seen.is_empty() && seen.is_subset(&llc1), "{seen:?}: {why}");
    }
    let plan = scratch.run_file("plan");
    assert!(plan.contains("file=cpuset.cpus value=2-3"), "{plan}");
}
