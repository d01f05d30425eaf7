//! Where each CPU sits, as this guest's kernel says (sysfs): its core, last-level cache
//! and NUMA node. PID 1 fills the table at boot, before any fork, so every worker has a
//! copy: shape-bound work pins itself by it, and a worker tells from it when a change of
//! CPU crossed an LLC or a node.

use crate::topology::cpulist::{CpuMask, MAX_CPUS};
use core::sync::atomic::{AtomicU16, Ordering::Relaxed};

/// A unit sysfs did not report.
pub const UNKNOWN: u16 = u16::MAX;

/// A core or an LLC is named by its lowest CPU; a node by its number.
static CORE: [AtomicU16; MAX_CPUS] = [const { AtomicU16::new(UNKNOWN) }; MAX_CPUS];
static LLC: [AtomicU16; MAX_CPUS] = [const { AtomicU16::new(UNKNOWN) }; MAX_CPUS];
static NODE: [AtomicU16; MAX_CPUS] = [const { AtomicU16::new(UNKNOWN) }; MAX_CPUS];

/// A kind of unit a CPU belongs to.
pub type UnitOf = fn(usize) -> Option<u16>;

fn get(table: &[AtomicU16; MAX_CPUS], cpu: usize) -> Option<u16> {
    let v = table.get(cpu)?.load(Relaxed);
    (v != UNKNOWN).then_some(v)
}

pub fn core(cpu: usize) -> Option<u16> {
    get(&CORE, cpu)
}

pub fn llc(cpu: usize) -> Option<u16> {
    get(&LLC, cpu)
}

pub fn node(cpu: usize) -> Option<u16> {
    get(&NODE, cpu)
}

/// The lowest CPU of a sysfs CPU list, as the unit's name.
fn first_of(list: &[u8]) -> u16 {
    CpuMask::parse(list)
        .and_then(|m| (0..MAX_CPUS).find(|&c| m.has(c)))
        .map_or(UNKNOWN, |c| c as u16)
}

/// Records CPU `cpu`'s place from its sysfs thread siblings and LLC lists and its node.
pub fn set(cpu: usize, siblings: Option<&[u8]>, llc: Option<&[u8]>, node: Option<u64>) {
    if cpu >= MAX_CPUS {
        return;
    }
    CORE[cpu].store(siblings.map_or(UNKNOWN, first_of), Relaxed);
    LLC[cpu].store(llc.map_or(UNKNOWN, first_of), Relaxed);
    let node = node.and_then(|n| u16::try_from(n).ok()).unwrap_or(UNKNOWN);
    NODE[cpu].store(node, Relaxed);
}

/// Whether moving from `from` to `to` crosses a unit; unknown places never do.
pub fn crosses(unit: UnitOf, from: usize, to: usize) -> bool {
    matches!((unit(from), unit(to)), (Some(a), Some(b)) if a != b)
}

/// The CPUs of `allowed` in order.
fn cpus(allowed: &CpuMask) -> impl Iterator<Item = usize> + '_ {
    (0..MAX_CPUS).filter(|&c| allowed.has(c))
}

/// Whether `cpu` is the lowest CPU of `allowed` in its unit.
fn leads_unit(allowed: &CpuMask, unit: UnitOf, cpu: usize) -> bool {
    unit(cpu).is_some()
        && cpus(allowed)
            .take_while(|&c| c < cpu)
            .all(|c| unit(c) != unit(cpu))
}

/// The `k`-th (wrapping) core of `allowed` with two allowed threads: its two lowest.
pub fn smt_pair(allowed: &CpuMask, k: usize, unit: UnitOf) -> Option<[usize; 2]> {
    let pairs = || {
        cpus(allowed)
            .filter(move |&c| leads_unit(allowed, unit, c))
            .filter_map(move |c| {
                let mate = cpus(allowed).find(|&m| m > c && unit(m) == unit(c))?;
                Some([c, mate])
            })
    };
    let n = pairs().count();
    if n == 0 {
        return None;
    }
    pairs().nth(k % n)
}

/// The allowed CPUs of the `k`-th (wrapping) unit that `allowed` reaches, and how many
/// units it reaches.
pub fn unit_cpus(allowed: &CpuMask, k: usize, unit: UnitOf) -> (CpuMask, usize) {
    let leads = || cpus(allowed).filter(|&c| leads_unit(allowed, unit, c));
    let n = leads().count();
    let mut out = CpuMask::default();
    if let Some(lead) = leads().nth(k % n.max(1)) {
        for c in cpus(allowed).filter(|&c| unit(c) == unit(lead)) {
            out.set(c);
        }
    }
    (out, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2 LLCs of 2 cores of 2 threads: CPUs 0-3 in LLC 0, 4-7 in LLC 1; core = cpu / 2.
    fn core_of(cpu: usize) -> Option<u16> {
        (cpu < 8).then_some((cpu / 2 * 2) as u16)
    }

    fn llc_of(cpu: usize) -> Option<u16> {
        (cpu < 8).then_some((cpu / 4 * 4) as u16)
    }

    fn mask(list: &str) -> CpuMask {
        CpuMask::parse(list.as_bytes()).unwrap()
    }

    #[test]
    fn smt_pairs_are_the_two_threads_of_a_core() {
        let all = mask("0-7");
        assert_eq!(smt_pair(&all, 0, core_of), Some([0, 1]));
        assert_eq!(smt_pair(&all, 3, core_of), Some([6, 7]));
        assert_eq!(smt_pair(&all, 4, core_of), Some([0, 1]), "wraps");
        // Core 2 has one allowed thread only.
        assert_eq!(smt_pair(&mask("0-1,3,4-5"), 1, core_of), Some([4, 5]));
        assert_eq!(smt_pair(&mask("0,2,4"), 0, core_of), None);
    }

    #[test]
    fn units_are_taken_in_order_and_wrap() {
        let (cpus, n) = unit_cpus(&mask("0-7"), 1, llc_of);
        assert_eq!((cpus, n), (mask("4-7"), 2));
        assert_eq!(unit_cpus(&mask("0-7"), 2, llc_of).0, mask("0-3"));
        assert_eq!(unit_cpus(&mask("1,5-6"), 1, llc_of).0, mask("5-6"));
        assert_eq!(unit_cpus(&mask("1-2"), 0, llc_of).1, 1);
    }

    #[test]
    fn crossings_need_both_places_known() {
        assert!(crosses(llc_of, 3, 4));
        assert!(!crosses(llc_of, 0, 3));
        assert!(!crosses(llc_of, 3, 9));
    }

    #[test]
    fn units_are_named_by_their_lowest_cpu() {
        assert_eq!(first_of(b"4-7"), 4);
        assert_eq!(first_of(b"x"), UNKNOWN);
    }
}
