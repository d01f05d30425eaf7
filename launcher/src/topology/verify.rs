//! The guest's own account of its topology (its `cpu` and `node` records) against the
//! shape that was asked for, or with `--host` against the layout its CPU sets were
//! resolved on. A run on a shape it did not ask for is not a test of it.

use std::collections::BTreeSet;
use std::fmt;

use super::{CpuPlace, Layout, Shape};
use crate::cpulist;
use crate::protocol::record::{CpuRecord, NodeRecord, Record};

/// A node's memory as the guest counts it (MemTotal) is its share less what the kernel
/// keeps for itself at boot (its image, page tables, the memory map): up to this much
/// less is accepted, in per mille of the share.
pub const NODE_MEMORY_SLACK_PERMILLE: u64 = 250;
const PER_MILLE: u64 = 1000;

/// Every difference between what was asked and what the guest saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// What did not hold, as a sentence.
    pub what: String,
    pub differences: Vec<String>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.what)?;
        for d in &self.differences {
            write!(f, "\n  {d}")?;
        }
        Ok(())
    }
}

fn set(list: &str) -> BTreeSet<u32> {
    cpulist::parse(list).unwrap_or_default()
}

fn list(cpus: &BTreeSet<u32>) -> String {
    cpulist::format(cpus)
}

/// Compares the records of a booted guest with `shape` of `memory_mib` MiB.
pub fn verify(shape: &Shape, memory_mib: u32, records: &[Record]) -> Result<(), Mismatch> {
    let cpus = cpu_records(records);
    let nodes: Vec<&NodeRecord> = records
        .iter()
        .filter_map(|r| match r {
            Record::Node(n) => Some(n),
            _ => None,
        })
        .collect();
    let mut differences = Vec::new();
    check_cpus(shape, &cpus, &mut differences);
    if shape.nodes > 1 {
        check_nodes(shape, memory_mib, &nodes, &mut differences);
    }
    if differences.is_empty() {
        Ok(())
    } else {
        Err(Mismatch {
            what: format!("the guest's topology is not the {shape} that was asked for"),
            differences,
        })
    }
}

fn cpu_records(records: &[Record]) -> Vec<&CpuRecord> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Cpu(c) => Some(c),
            _ => None,
        })
        .collect()
}

/// Compares what `run --host`'s engine reported of this machine with the layout its CPU
/// sets were resolved on before the run (a CPU taken offline or brought online in
/// between, or sysfs read otherwise, would have moved them).
pub fn verify_host(layout: &Layout, records: &[Record]) -> Result<(), Mismatch> {
    let cpus = cpu_records(records);
    let mut differences = Vec::new();
    let reported: BTreeSet<u32> = cpus.iter().map(|c| c.index as u32).collect();
    let resolved: BTreeSet<u32> = layout.cpus().collect();
    if reported != resolved {
        differences.push(format!(
            "CPUs {} reported, {} when CPU sets were resolved",
            list(&reported),
            list(&resolved)
        ));
    }
    for c in cpus {
        let cpu = c.index as u32;
        if layout.place(cpu).is_none() {
            continue;
        }
        let mut agree = |name: &str, got: Option<&str>, of: fn(&CpuPlace) -> u32| {
            let want = layout.mates(cpu, of);
            if got.map(set).as_ref() != Some(&want) {
                differences.push(format!(
                    "cpu {cpu}: {name} {}, resolved as {}",
                    got.unwrap_or("unknown"),
                    list(&want)
                ));
            }
        };
        if layout.core_unknown.is_none() {
            agree("thread siblings", c.siblings.as_deref(), |p| p.core);
        }
        if layout.llc_unknown.is_none() {
            agree("last-level cache shared with", c.llc.as_deref(), |p| p.llc);
        }
        let want_node = layout.place(cpu).map_or(0, |p| p.node);
        // A kernel without NUMA in sysfs reports no node: node 0.
        if c.node.unwrap_or(0) != u64::from(want_node) {
            differences.push(format!(
                "cpu {cpu}: node {}, resolved as {want_node}",
                c.node.map_or("none".to_string(), |n| n.to_string())
            ));
        }
    }
    if differences.is_empty() {
        Ok(())
    } else {
        Err(Mismatch {
            what: "this machine's cpu records do not agree with the topology its CPU sets \
                   were resolved on (sysfs, read before the run)"
                .into(),
            differences,
        })
    }
}

fn check_cpus(shape: &Shape, cpus: &[&CpuRecord], out: &mut Vec<String>) {
    if cpus.len() as u32 != shape.vcpus() {
        out.push(format!(
            "{} CPUs reported, {} asked for",
            cpus.len(),
            shape.vcpus()
        ));
        return;
    }
    let group = |f: &dyn Fn(u32) -> u32, cpu: u32| -> BTreeSet<u32> {
        shape
            .places()
            .filter(|p| f(p.cpu) == f(cpu))
            .map(|p| p.cpu)
            .collect()
    };
    for c in cpus {
        let cpu = c.index as u32;
        let want_siblings = group(&|x| shape.place(x).core, cpu);
        let want_llc = group(&|x| shape.place(x).llc, cpu);
        let got_siblings = c.siblings.as_deref().map(set);
        let got_llc = c.llc.as_deref().map(set);
        if got_siblings.as_ref() != Some(&want_siblings) {
            out.push(format!(
                "cpu {cpu}: thread siblings {}, expected {}",
                c.siblings.as_deref().unwrap_or("unknown"),
                list(&want_siblings)
            ));
        }
        if got_llc.as_ref() != Some(&want_llc) {
            out.push(format!(
                "cpu {cpu}: last-level cache shared with {}, expected {}",
                c.llc.as_deref().unwrap_or("unknown"),
                list(&want_llc)
            ));
        }
        let want_node = shape.place(cpu).node;
        if shape.nodes > 1 && c.node != Some(u64::from(want_node)) {
            out.push(format!(
                "cpu {cpu}: node {}, expected {want_node}",
                c.node.map_or("none".to_string(), |n| n.to_string())
            ));
        }
    }
}

fn check_nodes(shape: &Shape, memory_mib: u32, nodes: &[&NodeRecord], out: &mut Vec<String>) {
    if nodes.len() as u32 != shape.nodes {
        out.push(format!(
            "{} NUMA nodes reported, {} asked for",
            nodes.len(),
            shape.nodes
        ));
        return;
    }
    let share_kb = u64::from(memory_mib) * 1024 / u64::from(shape.nodes);
    let least_kb = share_kb * (PER_MILLE - NODE_MEMORY_SLACK_PERMILLE) / PER_MILLE;
    for n in nodes {
        let node = n.index as u32;
        let want: BTreeSet<u32> = shape
            .places()
            .filter(|p| p.node == node)
            .map(|p| p.cpu)
            .collect();
        if set(&n.cpus) != want {
            out.push(format!(
                "node {node}: CPUs {}, expected {}",
                n.cpus,
                list(&want)
            ));
        }
        match n.memory_kb {
            Some(kb) if (least_kb..=share_kb).contains(&kb) => {}
            other => out.push(format!(
                "node {node}: {} kB of memory, expected {least_kb} to {share_kb} kB",
                other.map_or("unknown".to_string(), |kb| kb.to_string())
            )),
        }
        let want_row: Vec<u64> = (0..shape.nodes)
            .map(|b| u64::from(shape.distance(node, b)))
            .collect();
        if n.distances != want_row {
            out.push(format!(
                "node {node}: distances {:?}, expected {want_row:?}",
                n.distances
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The records a guest of `shape` would send, with each node `kb` of memory.
    fn faithful(shape: &Shape, kb: u64) -> Vec<Record> {
        let mut records: Vec<Record> = shape
            .places()
            .map(|p| {
                let of = |f: &dyn Fn(&super::super::CpuPlace) -> u32| -> String {
                    let v = f(&p);
                    list(
                        &shape
                            .places()
                            .filter(|q| f(q) == v)
                            .map(|q| q.cpu)
                            .collect(),
                    )
                };
                Record::Cpu(CpuRecord {
                    index: u64::from(p.cpu),
                    package: u64::from(p.llc),
                    die: Some(0),
                    core: Some(u64::from(p.core)),
                    siblings: Some(of(&|q| q.core)),
                    llc: Some(of(&|q| q.llc)),
                    node: Some(u64::from(p.node)),
                })
            })
            .collect();
        for node in 0..shape.nodes {
            let cpus = shape
                .places()
                .filter(|p| p.node == node)
                .map(|p| p.cpu)
                .collect();
            records.push(Record::Node(NodeRecord {
                index: u64::from(node),
                cpus: list(&cpus),
                memory_kb: Some(kb),
                distances: (0..shape.nodes)
                    .map(|b| u64::from(shape.distance(node, b)))
                    .collect(),
            }));
        }
        records
    }

    #[test]
    fn a_faithful_guest_passes() {
        for spec in ["1n1l1c1t", "1n1l1c2t", "1n2l2c1t", "2n4l1c2t", "2n4l2c2t"] {
            let shape = Shape::parse(spec).unwrap();
            let records = faithful(&shape, 512 * 1024 / u64::from(shape.nodes) - 20_000);
            assert_eq!(verify(&shape, 512, &records), Ok(()), "{spec}");
        }
    }

    #[test]
    fn every_difference_is_named() {
        let shape = Shape::parse("2n4l1c2t").unwrap();
        let mut records = faithful(&shape, 200_000);
        if let Record::Cpu(c) = &mut records[5] {
            c.llc = Some("0-3".into());
            c.siblings = Some("5".into());
            c.node = Some(0);
        }
        if let Record::Node(n) = records.last_mut().unwrap() {
            n.distances = vec![30, 10];
        }
        let err = verify(&shape, 512, &records).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("not the 2n4l1c2t"), "{text}");
        for want in [
            "cpu 5: thread siblings 5, expected 4-5",
            "cpu 5: last-level cache shared with 0-3, expected 4-5",
            "cpu 5: node 0, expected 1",
            "node 1: distances [30, 10], expected [20, 10]",
        ] {
            assert!(
                err.differences.iter().any(|d| d == want),
                "{want} not in {text}"
            );
        }
    }

    #[test]
    fn missing_cpus_nodes_and_short_memory_are_mismatches() {
        let shape = Shape::parse("2n2l1c1t").unwrap();
        let mut records = faithful(&shape, 100_000);
        let err = verify(&shape, 512, &records).unwrap_err().to_string();
        assert!(
            err.contains("node 0: 100000 kB of memory, expected 196608 to 262144 kB"),
            "{err}"
        );
        records.retain(|r| !matches!(r, Record::Node(_)));
        records.pop();
        let err = verify(&shape, 512, &records).unwrap_err().to_string();
        assert!(err.contains("1 CPUs reported, 2 asked for"), "{err}");
        assert!(err.contains("0 NUMA nodes reported, 2 asked for"), "{err}");
    }

    #[test]
    fn a_host_run_must_report_the_layout_it_was_resolved_on() {
        use crate::topology::sysfs::{self, fixture};
        // Siblings numbered apart: n and n+2; two LLCs of one core each.
        let fixture_cpus: Vec<fixture::Cpu> = (0..4)
            .map(|cpu| fixture::Cpu {
                cpu,
                siblings: ["0,2", "1,3"][cpu as usize % 2],
                llc: ["0,2", "1,3"][cpu as usize % 2],
            })
            .collect();
        let dir = fixture::machine("0-3", &fixture_cpus, &["0-3"]);
        let layout = Layout::of_host(&sysfs::read(dir.path()).unwrap());
        let record = |cpu: u64, siblings: &str| {
            Record::Cpu(CpuRecord {
                index: cpu,
                package: 0,
                die: None,
                core: None,
                siblings: Some(siblings.into()),
                llc: Some(siblings.into()),
                node: Some(0),
            })
        };
        let mut records: Vec<Record> = (0..4)
            .map(|c| record(c, ["0,2", "1,3"][c as usize % 2]))
            .collect();
        assert_eq!(verify_host(&layout, &records), Ok(()));
        records[1] = record(1, "1");
        records.pop();
        let err = verify_host(&layout, &records).unwrap_err();
        let text = err.to_string();
        for want in [
            "CPUs 0-2 reported, 0-3 when CPU sets were resolved",
            "cpu 1: thread siblings 1, resolved as 1,3",
            "cpu 1: last-level cache shared with 1, resolved as 1,3",
        ] {
            assert!(text.contains(want), "{want} not in {text}");
        }
    }
}
