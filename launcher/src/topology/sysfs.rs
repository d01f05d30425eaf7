//! The running machine's topology as sysfs tells it, for `run --host`: where each online
//! CPU sits (its core's threads, its last-level cache, its node), read under a root
//! directory so that tests can give a tree of their own. [`super::layout::Layout`]
//! resolves CPU sets on it; [`shape_of`] names the `NnLlCcTt` shape that numbers it
//! exactly, when one does, for the report.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::Shape;
use crate::cpulist;

/// The real root: sysfs is under it at `sys/`.
pub const ROOT: &str = "/";
const CPU_DIR: &str = "sys/devices/system/cpu";
const NODE_DIR: &str = "sys/devices/system/node";

/// Where one online CPU of this machine sits; None where sysfs does not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCpu {
    pub cpu: u32,
    /// The threads of its core, itself among them (`thread_siblings_list`).
    pub siblings: Option<BTreeSet<u32>>,
    /// The CPUs of its last-level cache (the highest cache level's `shared_cpu_list`).
    pub llc: Option<BTreeSet<u32>>,
    /// Its node; 0 on a kernel without NUMA in sysfs.
    pub node: u32,
}

fn read_set(path: &Path) -> Option<BTreeSet<u32>> {
    let text = std::fs::read_to_string(path).ok()?;
    cpulist::parse(text.trim()).ok()
}

/// The CPUs sharing `cpu`'s data or unified cache of the highest level, as the guest's
/// own report reads them.
fn llc_of(cpus: &Path, cpu: u32) -> Option<BTreeSet<u32>> {
    let dir = cpus.join(format!("cpu{cpu}/cache"));
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
fn node_cpus(root: &Path) -> Vec<(u32, BTreeSet<u32>)> {
    let Ok(entries) = std::fs::read_dir(root.join(NODE_DIR)) else {
        return Vec::new();
    };
    let mut nodes: Vec<(u32, BTreeSet<u32>)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let node = name.strip_prefix("node")?.parse().ok()?;
            Some((node, read_set(&e.path().join("cpulist"))?))
        })
        .collect();
    nodes.sort();
    nodes
}

/// The online CPUs of the machine whose sysfs is under `root`; the error says what
/// could not be read.
pub fn read(root: &Path) -> Result<Vec<HostCpu>, String> {
    let cpus: PathBuf = root.join(CPU_DIR);
    let online_path = cpus.join("online");
    let online = read_set(&online_path)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("cannot read the online CPUs from {}", online_path.display()))?;
    let nodes = node_cpus(root);
    Ok(online
        .iter()
        .map(|&cpu| HostCpu {
            cpu,
            siblings: read_set(&cpus.join(format!("cpu{cpu}/topology/thread_siblings_list"))),
            llc: llc_of(&cpus, cpu),
            node: nodes
                .iter()
                .find(|(_, members)| members.contains(&cpu))
                .map_or(0, |(n, _)| *n),
        })
        .collect())
}

/// The shape that places every CPU exactly where `cpus` say it is; None when none does
/// (CPUs not numbered 0..N, cores or LLCs of different sizes, a numbering the shape's
/// does not follow, a place sysfs did not give).
pub fn shape_of(cpus: &[HostCpu]) -> Option<Shape> {
    let n = cpus.len() as u32;
    if n == 0 || cpus.iter().zip(0..).any(|(c, i)| c.cpu != i) {
        return None;
    }
    let siblings: Vec<&BTreeSet<u32>> = cpus
        .iter()
        .map(|c| c.siblings.as_ref())
        .collect::<Option<_>>()?;
    let llc: Vec<&BTreeSet<u32>> = cpus.iter().map(|c| c.llc.as_ref()).collect::<Option<_>>()?;
    let nodes: BTreeSet<u32> = cpus.iter().map(|c| c.node).collect();
    let llcs: BTreeSet<&BTreeSet<u32>> = llc.iter().copied().collect();
    let threads = siblings[0].len() as u32;
    let per_llc = (llcs.len() as u32).checked_mul(threads)?;
    if per_llc == 0 || !n.is_multiple_of(per_llc) {
        return None;
    }
    let spec = format!("{}n{}l{}c{threads}t", nodes.len(), llcs.len(), n / per_llc);
    let shape = Shape::parse(&spec).ok()?;
    let faithful = cpus.iter().zip(0..).all(|(a, i)| {
        let pa = shape.place(a.cpu);
        cpus.iter().all(|b| {
            let pb = shape.place(b.cpu);
            (pa.core == pb.core) == siblings[i].contains(&b.cpu)
                && (pa.llc == pb.llc) == llc[i].contains(&b.cpu)
                && (pa.node == pb.node) == (a.node == b.node)
        })
    });
    faithful.then_some(shape)
}

#[cfg(test)]
pub mod fixture {
    //! A sysfs tree in a temporary directory, as tests of host topology read it.

    use std::path::Path;

    use crate::tempdir::TempDir;

    /// One CPU of a fixture: its number, thread siblings, LLC and node, as sysfs lists.
    pub struct Cpu<'a> {
        pub cpu: u32,
        pub siblings: &'a str,
        pub llc: &'a str,
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, format!("{text}\n")).unwrap();
    }

    /// Writes `online`, each CPU's topology and caches (L1d, L1i, L2 its own, L3 its
    /// LLC) and each node's cpulist.
    pub fn machine(online: &str, cpus: &[Cpu], nodes: &[&str]) -> TempDir {
        let dir = TempDir::new("sysfs-fixture").unwrap();
        let cpu_dir = dir.path().join("sys/devices/system/cpu");
        write(&cpu_dir.join("online"), online);
        for c in cpus {
            let base = cpu_dir.join(format!("cpu{}", c.cpu));
            write(&base.join("topology/thread_siblings_list"), c.siblings);
            let own = c.cpu.to_string();
            for (index, level, kind, shared) in [
                (0, 1, "Data", own.as_str()),
                (1, 1, "Instruction", own.as_str()),
                (2, 2, "Unified", own.as_str()),
                (3, 3, "Unified", c.llc),
            ] {
                let cache = base.join(format!("cache/index{index}"));
                write(&cache.join("level"), &level.to_string());
                write(&cache.join("type"), kind);
                write(&cache.join("shared_cpu_list"), shared);
            }
        }
        for (n, list) in nodes.iter().enumerate() {
            write(
                &dir.path()
                    .join(format!("sys/devices/system/node/node{n}/cpulist")),
                list,
            );
        }
        dir
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::{machine, Cpu};
    use super::*;

    fn set(list: &str) -> BTreeSet<u32> {
        cpulist::parse(list).unwrap()
    }

    fn cpu(cpu: u32, siblings: &str, llc: &str, node: u32) -> HostCpu {
        HostCpu {
            cpu,
            siblings: Some(set(siblings)),
            llc: Some(set(llc)),
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
        let unknown = vec![HostCpu {
            llc: None,
            ..cpu(0, "0", "0", 0)
        }];
        assert_eq!(shape_of(&unknown), None);
    }

    #[test]
    fn reads_a_sysfs_tree_under_its_root() {
        let cpus: Vec<Cpu> = (0..4)
            .map(|cpu| Cpu {
                cpu,
                siblings: if cpu % 2 == 0 { "0,2" } else { "1,3" },
                llc: "0-3",
            })
            .collect();
        let dir = machine("0-3", &cpus, &["0-1", "2-3"]);
        let read = read(dir.path()).unwrap();
        assert_eq!(read.len(), 4);
        assert_eq!(read[1], cpu(1, "1,3", "0-3", 0));
        assert_eq!(read[3].node, 1);
        let err = super::read(&dir.path().join("nowhere")).unwrap_err();
        assert!(err.contains("cannot read the online CPUs"), "{err}");
    }
}
