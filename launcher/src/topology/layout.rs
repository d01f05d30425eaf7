//! Where each CPU of the machine a scenario runs on sits, as CPU sets are resolved
//! against it: a VM shape's vCPUs, or, on `run --host`, this machine's online CPUs as
//! sysfs places them (SMT siblings numbered apart, LLCs of different sizes, CPUs offline
//! in between: whatever it has). LLCs and cores are numbered from 0 in the order of
//! their lowest CPU; nodes keep the kernel's numbers.

use std::collections::{BTreeMap, BTreeSet};

use super::sysfs::HostCpu;
use super::{CpuPlace, Shape};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Every CPU, in order of its number.
    pub places: Vec<CpuPlace>,
    /// The nodes' numbers.
    pub nodes: BTreeSet<u32>,
    pub llcs: u32,
    pub cores: u32,
    /// What the machine is, for messages: `the VM (2n2l2c2t)`, `this machine`.
    pub name: String,
    /// Why `llc:` cannot be resolved here; None when it can.
    pub llc_unknown: Option<String>,
    /// Why `core:` and `smt:` cannot be resolved here; None when they can.
    pub core_unknown: Option<String>,
}

/// What a host layout calls the machine in messages.
pub const THIS_MACHINE: &str = "this machine";

impl Layout {
    /// The vCPUs of a VM of `shape`.
    pub fn of_shape(shape: &Shape) -> Layout {
        Layout {
            places: shape.places().collect(),
            nodes: (0..shape.nodes).collect(),
            llcs: shape.llcs,
            cores: shape.cores(),
            name: format!("the VM ({shape})"),
            llc_unknown: None,
            core_unknown: None,
        }
    }

    /// The online CPUs sysfs reported (`cpus`, in order of number).
    pub fn of_host(cpus: &[HostCpu]) -> Layout {
        let unknown = |file: &str, of: fn(&HostCpu) -> bool| {
            let missing: BTreeSet<u32> = cpus.iter().filter(|c| !of(c)).map(|c| c.cpu).collect();
            (!missing.is_empty()).then(|| {
                format!(
                    "sysfs does not give {file} of CPU {}",
                    crate::cpulist::format(&missing)
                )
            })
        };
        let llc_unknown = unknown("the last-level cache (cache/index*/shared_cpu_list)", |c| {
            c.llc.is_some()
        });
        let core_unknown = unknown("the core's threads (topology/thread_siblings_list)", |c| {
            c.siblings.is_some()
        });
        // A unit's index: its rank among the units, ordered by their lowest CPU.
        let rank = |sets: Vec<Option<&BTreeSet<u32>>>| -> Vec<u32> {
            let firsts: BTreeSet<u32> = sets
                .iter()
                .flatten()
                .filter_map(|s| s.first().copied())
                .collect();
            let index: BTreeMap<u32, u32> = firsts.into_iter().zip(0..).collect();
            sets.iter()
                .map(|s| s.and_then(|s| s.first()).map_or(0, |f| index[f]))
                .collect()
        };
        let cores = rank(cpus.iter().map(|c| c.siblings.as_ref()).collect());
        let llcs = rank(cpus.iter().map(|c| c.llc.as_ref()).collect());
        let places: Vec<CpuPlace> = cpus
            .iter()
            .zip(cores.iter().zip(&llcs))
            .map(|(c, (&core, &llc))| CpuPlace {
                cpu: c.cpu,
                node: c.node,
                llc,
                core,
                // Its rank among the online threads of its core.
                thread: c.siblings.as_ref().map_or(0, |s| {
                    s.range(..c.cpu)
                        .filter(|t| cpus.iter().any(|o| o.cpu == **t))
                        .count() as u32
                }),
            })
            .collect();
        Layout {
            nodes: places.iter().map(|p| p.node).collect(),
            llcs: llcs.iter().max().map_or(0, |m| m + 1),
            cores: cores.iter().max().map_or(0, |m| m + 1),
            places,
            name: THIS_MACHINE.to_string(),
            llc_unknown,
            core_unknown,
        }
    }

    pub fn cpus(&self) -> impl Iterator<Item = u32> + '_ {
        self.places.iter().map(|p| p.cpu)
    }

    pub fn place(&self, cpu: u32) -> Option<&CpuPlace> {
        self.places.iter().find(|p| p.cpu == cpu)
    }

    /// The CPUs of `cpu`'s unit `of` (its core, LLC or node).
    pub fn mates(&self, cpu: u32, of: impl Fn(&CpuPlace) -> u32) -> BTreeSet<u32> {
        let Some(unit) = self.place(cpu).map(&of) else {
            return BTreeSet::new();
        };
        self.places
            .iter()
            .filter(|p| of(p) == unit)
            .map(|p| p.cpu)
            .collect()
    }

    /// The most threads any core has.
    pub fn max_threads(&self) -> u32 {
        self.places.iter().map(|p| p.thread + 1).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::super::sysfs::{self, fixture};
    use super::*;

    fn host(online: &str, cpus: &[fixture::Cpu], nodes: &[&str]) -> Layout {
        let dir = fixture::machine(online, cpus, nodes);
        Layout::of_host(&sysfs::read(dir.path()).unwrap())
    }

    #[test]
    fn a_shape_lays_out_its_vcpus() {
        let l = Layout::of_shape(&Shape::parse("2n4l2c2t").unwrap());
        assert_eq!((l.places.len(), l.llcs, l.cores), (16, 4, 8));
        assert_eq!(l.nodes, BTreeSet::from([0, 1]));
        assert_eq!(l.name, "the VM (2n4l2c2t)");
        assert_eq!(l.max_threads(), 2);
    }

    #[test]
    fn siblings_numbered_apart_share_a_core() {
        let cpus: Vec<fixture::Cpu> = (0..8)
            .map(|cpu| fixture::Cpu {
                cpu,
                siblings: ["0,4", "1,5", "2,6", "3,7"][cpu as usize % 4],
                llc: "0-7",
            })
            .collect();
        let l = host("0-7", &cpus, &["0-7"]);
        assert_eq!((l.cores, l.llcs, l.max_threads()), (4, 1, 2));
        assert_eq!(l.mates(1, |p| p.core), BTreeSet::from([1, 5]));
        let p = l.place(6).unwrap();
        assert_eq!((p.core, p.thread), (2, 1));
        assert_eq!(
            (l.llc_unknown.clone(), l.core_unknown.clone()),
            (None, None)
        );
    }

    #[test]
    fn an_offline_cpu_is_left_out_and_its_sibling_is_thread_zero() {
        let cpus: Vec<fixture::Cpu> = [0, 1, 3]
            .into_iter()
            .map(|cpu| fixture::Cpu {
                cpu,
                siblings: ["0-1", "1", "3", "3"][cpu as usize],
                llc: "0-1,3",
            })
            .collect();
        let l = host("0-1,3", &cpus, &[]);
        assert_eq!(l.cpus().collect::<Vec<_>>(), [0, 1, 3]);
        assert_eq!(l.place(3).unwrap().thread, 0);
        assert_eq!(l.nodes, BTreeSet::from([0]));
    }

    #[test]
    fn a_cpu_without_cache_information_makes_llc_unknown() {
        let dir = fixture::machine(
            "0-1",
            &[fixture::Cpu {
                cpu: 0,
                siblings: "0",
                llc: "0-1",
            }],
            &[],
        );
        let l = Layout::of_host(&sysfs::read(dir.path()).unwrap());
        let why = l.llc_unknown.unwrap();
        assert!(why.contains("CPU 1"), "{why}");
        assert!(l.core_unknown.unwrap().contains("thread_siblings_list"));
    }
}
