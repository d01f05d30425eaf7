//! The running machine's topology as sysfs tells it, for `run --host`: a [`Shape`] when
//! one describes it exactly (the same CPUs share a core, an LLC and a node as the shape
//! says, CPU by CPU), so that `llc:1`, `node:0` or `smt:3` name the machine's own.

use std::collections::BTreeSet;
use std::path::Path;

use super::Shape;
use crate::cpulist;

const CPU_DIR: &str = "/sys/devices/system/cpu";
const NODE_DIR: &str = "/sys/devices/system/node";

/// Where one CPU of this machine sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCpu {
    pub cpu: u32,
    /// The threads of its core, itself among them.
    pub siblings: BTreeSet<u32>,
    /// The CPUs of its last-level cache.
    pub llc: BTreeSet<u32>,
    pub node: u32,
}

fn read_set(path: &Path) -> Option<BTreeSet<u32>> {
    let text = std::fs::read_to_string(path).ok()?;
    cpulist::parse(text.trim()).ok()
}

/// The CPUs of `cpu`'s data or unified cache of the highest level.
fn llc_of(cpu: u32) -> Option<BTreeSet<u32>> {
    let dir = Path::new(CPU_DIR).join(format!("cpu{cpu}/cache"));
    let mut best: Option<(u32, BTreeSet<u32>)> = None;
    for entry in std::fs::read_dir(dir).ok()?.filter_map(Result::ok) {
        let path = entry.path();
        let read = |name: &str| std::fs::read_to_string(path.join(name)).ok();
        if read("type").is_some_and(|t| t.trim() == "Instruction") {
            continue;
        }
        let Some(level) = read("level").and_then(|l| l.trim().parse().ok()) else {
            continue;
        };
        if best.as_ref().is_none_or(|(b, _)| level > *b) {
            best = Some((level, read_set(&path.join("shared_cpu_list"))?));
        }
    }
    best.map(|(_, set)| set)
}

/// Each node's CPUs; empty without NUMA in sysfs.
fn node_cpus() -> Vec<(u32, BTreeSet<u32>)> {
    let Ok(entries) = std::fs::read_dir(NODE_DIR) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let node = name.strip_prefix("node")?.parse().ok()?;
            Some((node, read_set(&e.path().join("cpulist"))?))
        })
        .collect()
}

/// The online CPUs of this machine; None when sysfs does not say where they sit.
pub fn read() -> Option<Vec<HostCpu>> {
    let online = read_set(&Path::new(CPU_DIR).join("online"))?;
    let nodes = node_cpus();
    online
        .iter()
        .map(|&cpu| {
            let topology = Path::new(CPU_DIR).join(format!("cpu{cpu}/topology"));
            Some(HostCpu {
                cpu,
                siblings: read_set(&topology.join("thread_siblings_list"))?,
                llc: llc_of(cpu).unwrap_or_else(|| online.clone()),
                node: nodes
                    .iter()
                    .find(|(_, cpus)| cpus.contains(&cpu))
                    .map_or(0, |(n, _)| *n),
            })
        })
        .collect()
}

/// The shape that places every CPU exactly where `cpus` say it is; None when none does
/// (CPUs not numbered 0..N, cores or LLCs of different sizes, a numbering the shape's
/// does not follow).
pub fn shape_of(cpus: &[HostCpu]) -> Option<Shape> {
    let n = cpus.len() as u32;
    if n == 0 || cpus.iter().zip(0..).any(|(c, i)| c.cpu != i) {
        return None;
    }
    let nodes: BTreeSet<u32> = cpus.iter().map(|c| c.node).collect();
    let llcs: BTreeSet<&BTreeSet<u32>> = cpus.iter().map(|c| &c.llc).collect();
    let threads = cpus[0].siblings.len() as u32;
    let per_llc = (llcs.len() as u32).checked_mul(threads)?;
    if per_llc == 0 || !n.is_multiple_of(per_llc) {
        return None;
    }
    let spec = format!("{}n{}l{}c{threads}t", nodes.len(), llcs.len(), n / per_llc);
    let shape = Shape::parse(&spec).ok()?;
    let faithful = cpus.iter().all(|a| {
        let pa = shape.place(a.cpu);
        cpus.iter().all(|b| {
            let pb = shape.place(b.cpu);
            (pa.core == pb.core) == a.siblings.contains(&b.cpu)
                && (pa.llc == pb.llc) == a.llc.contains(&b.cpu)
                && (pa.node == pb.node) == (a.node == b.node)
        })
    });
    faithful.then_some(shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(list: &str) -> BTreeSet<u32> {
        cpulist::parse(list).unwrap()
    }

    fn cpu(cpu: u32, siblings: &str, llc: &str, node: u32) -> HostCpu {
        HostCpu {
            cpu,
            siblings: set(siblings),
            llc: set(llc),
            node,
        }
    }

    #[test]
    fn a_regular_machine_gets_its_shape() {
        // Two nodes of one LLC each, two cores of two threads per LLC, numbered in order.
        let cpus: Vec<HostCpu> = (0..8)
            .map(|i| {
                let core = i / 2 * 2;
                let llc = i / 4 * 4;
                let siblings = format!("{core}-{}", core + 1);
                let l = format!("{llc}-{}", llc + 3);
                cpu(i, &siblings, &l, i / 4)
            })
            .collect();
        assert_eq!(shape_of(&cpus).unwrap().to_string(), "2n2l2c2t");
        let flat: Vec<HostCpu> = (0..4).map(|i| cpu(i, &i.to_string(), "0-3", 0)).collect();
        assert_eq!(shape_of(&flat).unwrap().to_string(), "1n1l4c1t");
    }

    #[test]
    fn a_numbering_the_shape_does_not_follow_gets_none() {
        // SMT siblings numbered apart (0 and 2, 1 and 3), as many x86 machines do.
        let apart: Vec<HostCpu> = (0..4)
            .map(|i| cpu(i, &format!("{},{}", i % 2, i % 2 + 2), "0-3", 0))
            .collect();
        assert_eq!(shape_of(&apart), None);
        // LLCs of different sizes.
        let uneven = vec![
            cpu(0, "0", "0-2", 0),
            cpu(1, "1", "0-2", 0),
            cpu(2, "2", "0-2", 0),
            cpu(3, "3", "3", 0),
        ];
        assert_eq!(shape_of(&uneven), None);
        assert_eq!(shape_of(&[]), None);
    }
}
