//! Topology-relative CPU sets, resolved by schedbox on the machine's [`Layout`] (a VM's
//! shape, or with `--host` this machine's own): a comma-separated
//! list of terms, each one of
//! - `3`, `0-3`: CPUs by number;
//! - `llc:N`, `node:N`, `smt:N` (every thread of core N), `core:N` (the first thread of
//!   core N), each also as a range `llc:0-1`;
//! - `0.0-0.5`: the fraction [0.0, 0.5) of all CPUs, in order;
//! - `disjoint:K/N`: the K-th (from 0) of N equal, contiguous parts of all CPUs.

use std::collections::BTreeSet;

use super::{CpuPlace, Layout};

/// Resolves `text` on `machine`; the error names the term and what the machine has.
pub fn resolve(text: &str, machine: &Layout) -> Result<BTreeSet<u32>, String> {
    let mut cpus = BTreeSet::new();
    for term in text.split(',') {
        let term = term.trim();
        let found = resolve_term(term, machine).map_err(|why| {
            format!(
                "{term:?} in {text:?}: {why} ({} has {} CPUs)",
                machine.name,
                machine.places.len()
            )
        })?;
        if found.is_empty() {
            return Err(format!(
                "{term:?} in {text:?} names no CPU of {}",
                machine.name
            ));
        }
        cpus.extend(found);
    }
    Ok(cpus)
}

/// Resolves a set of NUMA nodes (`cpuset.mems`): a list of `N`, `N-M` or `node:N`
/// terms, each a node the machine has.
pub fn nodes(text: &str, machine: &Layout) -> Result<BTreeSet<u32>, String> {
    let mut found = BTreeSet::new();
    for term in text.split(',').map(str::trim) {
        let (lo, hi) = range(term.strip_prefix("node:").unwrap_or(term))
            .map_err(|why| format!("{term:?} in {text:?}: {why}"))?;
        if let Some(missing) = (lo..=hi).find(|n| !machine.nodes.contains(n)) {
            return Err(format!(
                "{term:?} in {text:?}: there is no node {missing}: {} has {}",
                machine.name,
                have_nodes(&machine.nodes)
            ));
        }
        found.extend(lo..=hi);
    }
    Ok(found)
}

fn have_nodes(nodes: &BTreeSet<u32>) -> String {
    match nodes.len() {
        1 => format!("node {} only", crate::cpulist::format(nodes)),
        _ => format!("nodes {}", crate::cpulist::format(nodes)),
    }
}

fn resolve_term(term: &str, machine: &Layout) -> Result<BTreeSet<u32>, String> {
    if let Some((kind, rest)) = term.split_once(':') {
        let known = |unknown: &Option<String>| match unknown {
            Some(why) => Err(format!(
                "{kind}: cannot be resolved on {}: {why}; give a CPU list instead",
                machine.name
            )),
            None => Ok(()),
        };
        return match kind {
            "llc" => {
                known(&machine.llc_unknown)?;
                by_unit(rest, machine.llcs, "LLC", machine, |p| (p.llc, true))
            }
            "node" => node_cpus(rest, machine),
            "smt" => {
                known(&machine.core_unknown)?;
                by_unit(rest, machine.cores, "core", machine, |p| (p.core, true))
            }
            "core" => {
                known(&machine.core_unknown)?;
                by_unit(rest, machine.cores, "core", machine, |p| {
                    (p.core, p.thread == 0)
                })
            }
            "disjoint" => disjoint(rest, machine),
            other => Err(format!(
                "unknown unit {other:?}: use llc:, node:, core:, smt: or disjoint:"
            )),
        };
    }
    if term.contains('.') {
        return fraction(term, machine);
    }
    let (lo, hi) = range(term)?;
    let last = machine.cpus().last().unwrap_or(0);
    if hi > last {
        return Err(format!("CPU {hi} is beyond the last, {last}"));
    }
    if let Some(missing) = (lo..=hi).find(|&c| machine.place(c).is_none()) {
        return Err(format!("CPU {missing} is offline on {}", machine.name));
    }
    Ok((lo..=hi).collect())
}

/// The CPUs of nodes `text`, each a node the machine has.
fn node_cpus(text: &str, machine: &Layout) -> Result<BTreeSet<u32>, String> {
    let (lo, hi) = range(text)?;
    if let Some(missing) = (lo..=hi).find(|n| !machine.nodes.contains(n)) {
        return Err(format!(
            "there is no node {missing}: {} has {}",
            machine.name,
            have_nodes(&machine.nodes)
        ));
    }
    Ok(machine
        .places
        .iter()
        .filter(|p| (lo..=hi).contains(&p.node))
        .map(|p| p.cpu)
        .collect())
}

/// `N` or `N-M`.
fn range(text: &str) -> Result<(u32, u32), String> {
    let number = |s: &str| {
        s.parse::<u32>().map_err(|_| {
            format!(
                "{s:?} is not a whole number: give a CPU list (0-3,6), or llc:N, node:N, \
                 core:N, smt:N, a fraction (0.0-0.5) or disjoint:K/N"
            )
        })
    };
    let (lo, hi) = match text.split_once('-') {
        Some((a, b)) => (number(a)?, number(b)?),
        None => (number(text)?, number(text)?),
    };
    if lo > hi {
        return Err(format!("the range {lo}-{hi} runs backwards"));
    }
    Ok((lo, hi))
}

/// The CPUs whose unit (LLC, node, core) is in the range, where `pick` also agrees.
fn by_unit(
    text: &str,
    count: u32,
    unit: &str,
    machine: &Layout,
    pick: impl Fn(&CpuPlace) -> (u32, bool),
) -> Result<BTreeSet<u32>, String> {
    let (lo, hi) = range(text)?;
    if hi >= count {
        return Err(format!(
            "there is no {unit} {hi}: {} has {count} ({unit} 0-{})",
            machine.name,
            count.saturating_sub(1)
        ));
    }
    Ok(machine
        .places
        .iter()
        .filter(|p| {
            let (n, ok) = pick(p);
            ok && (lo..=hi).contains(&n)
        })
        .map(|p| p.cpu)
        .collect())
}

/// The CPUs in [FROM, TO) of all of them, counted in order (offline CPUs not counted).
fn fraction(text: &str, machine: &Layout) -> Result<BTreeSet<u32>, String> {
    let parse = |s: &str| -> Result<f64, String> {
        s.parse::<f64>()
            .ok()
            .filter(|f| (0.0..=1.0).contains(f))
            .ok_or_else(|| format!("{s:?} is not a fraction from 0.0 to 1.0"))
    };
    let (a, b) = text
        .split_once('-')
        .ok_or_else(|| "a fraction of the CPUs is written FROM-TO, e.g. 0.0-0.5".to_string())?;
    let (a, b) = (parse(a)?, parse(b)?);
    if a >= b {
        return Err(format!("{a}-{b} is empty: give FROM below TO"));
    }
    let n = machine.places.len() as f64;
    let (first, end) = ((a * n).round() as usize, (b * n).round() as usize);
    Ok(nth_cpus(machine, first, end))
}

/// The `first`-th up to (not with) the `end`-th CPU, in order.
fn nth_cpus(machine: &Layout, first: usize, end: usize) -> BTreeSet<u32> {
    machine
        .cpus()
        .skip(first)
        .take(end.saturating_sub(first))
        .collect()
}

fn disjoint(text: &str, machine: &Layout) -> Result<BTreeSet<u32>, String> {
    let vcpus = machine.places.len() as u32;
    let bad = || format!("disjoint takes K/N (the K-th of N parts, K from 0), not {text:?}");
    let (k, n) = text.split_once('/').ok_or_else(bad)?;
    let (k, n): (u32, u32) = (k.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    if n == 0 || k >= n {
        return Err(bad());
    }
    if n > vcpus {
        return Err(format!("{n} parts of {vcpus} CPUs would leave some empty"));
    }
    Ok(nth_cpus(
        machine,
        (k * vcpus / n) as usize,
        ((k + 1) * vcpus / n) as usize,
    ))
}

#[cfg(test)]
mod tests {
    use super::super::sysfs::{self, fixture};
    use super::super::Shape;
    use super::*;

    fn vm(spec: &str) -> Layout {
        Layout::of_shape(&Shape::parse(spec).unwrap())
    }

    fn cpus(text: &str, spec: &str) -> Vec<u32> {
        resolve(text, &vm(spec))
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .collect()
    }

    #[test]
    fn units_resolve_against_the_shape() {
        // 2n4l2c2t: 16 CPUs; LLC 1 = cores 2-3 = CPUs 4-7; node 1 = CPUs 8-15.
        assert_eq!(cpus("llc:1", "2n4l2c2t"), [4, 5, 6, 7]);
        assert_eq!(cpus("llc:0-1", "2n4l2c2t"), (0..8).collect::<Vec<_>>());
        assert_eq!(cpus("node:1", "2n4l2c2t"), (8..16).collect::<Vec<_>>());
        assert_eq!(cpus("smt:3", "2n4l2c2t"), [6, 7]);
        assert_eq!(cpus("core:3", "2n4l2c2t"), [6]);
        assert_eq!(cpus("core:0-3", "2n4l2c2t"), [0, 2, 4, 6]);
        assert_eq!(cpus("llc:0,node:1", "2n4l2c2t").len(), 12);
        assert_eq!(cpus("1,3-4", "1n1l8c1t"), [1, 3, 4]);
    }

    #[test]
    fn fractions_and_disjoint_parts_cover_the_machine() {
        assert_eq!(cpus("0.0-0.5", "1n1l8c1t"), [0, 1, 2, 3]);
        assert_eq!(cpus("0.5-1.0", "1n1l8c1t"), [4, 5, 6, 7]);
        let parts: Vec<Vec<u32>> = (0..3)
            .map(|k| cpus(&format!("disjoint:{k}/3"), "1n1l6c1t"))
            .collect();
        assert_eq!(parts, [vec![0, 1], vec![2, 3], vec![4, 5]]);
    }

    #[test]
    fn memory_nodes_resolve_within_the_shape() {
        let two = vm("2n2l1c1t");
        assert_eq!(
            nodes("node:1", &two)
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>(),
            [1]
        );
        assert_eq!(nodes("0-1", &two).unwrap().len(), 2);
        let err = nodes("2", &two).unwrap_err();
        assert!(
            err.contains("there is no node 2: the VM (2n2l1c1t) has nodes 0-1"),
            "{err}"
        );
        let flat = Layout::of_shape(&Shape::flat(2));
        assert!(nodes("1", &flat).unwrap_err().contains("node 0 only"));
    }

    #[test]
    fn outside_the_shape_is_an_error_naming_the_term() {
        let shape = vm("1n2l2c1t");
        for (text, want) in [
            (
                "llc:2",
                "there is no LLC 2: the VM (1n2l2c1t) has 2 (LLC 0-1)",
            ),
            ("node:1", "there is no node 1"),
            ("4", "CPU 4 is beyond the last, 3"),
            ("cache:0", "unknown unit \"cache\""),
            ("0.5-0.2", "is empty"),
            ("0.0-1.5", "not a fraction"),
            ("disjoint:2/2", "disjoint takes K/N"),
            ("disjoint:0/5", "would leave some empty"),
            ("3-1", "runs backwards"),
            ("0.0-0.1", "names no CPU"),
        ] {
            let err = resolve(text, &shape).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
            assert!(err.contains(text), "{text}: {err}");
        }
    }

    /// A machine read from a sysfs fixture: `(cpu, siblings, llc)` per online CPU.
    fn host(online: &str, cpus: &[(u32, &str, &str)], nodes: &[&str]) -> Layout {
        let cpus: Vec<fixture::Cpu> = cpus
            .iter()
            .map(|&(cpu, siblings, llc)| fixture::Cpu { cpu, siblings, llc })
            .collect();
        let dir = fixture::machine(online, &cpus, nodes);
        Layout::of_host(&sysfs::read(dir.path()).unwrap())
    }

    fn on(text: &str, machine: &Layout) -> Vec<u32> {
        resolve(text, machine)
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .collect()
    }

    #[test]
    fn a_host_with_siblings_numbered_apart() {
        // Cores 0-3, the sibling of CPU n is n+4, one LLC.
        let cpus: Vec<(u32, &str, &str)> = (0..8)
            .map(|c| (c, ["0,4", "1,5", "2,6", "3,7"][c as usize % 4], "0-7"))
            .collect();
        let m = host("0-7", &cpus, &["0-7"]);
        assert_eq!(on("smt:1", &m), [1, 5]);
        assert_eq!(on("core:0-3", &m), [0, 1, 2, 3]);
        assert_eq!(on("llc:0", &m), (0..8).collect::<Vec<_>>());
        let err = resolve("smt:4", &m).unwrap_err();
        assert!(
            err.contains("there is no core 4: this machine has 4"),
            "{err}"
        );
    }

    #[test]
    fn a_host_with_two_llcs_of_different_size() {
        let cpus: Vec<(u32, &str, &str)> = (0..6)
            .map(|c| {
                (
                    c,
                    ["0", "1", "2", "3", "4", "5"][c as usize],
                    if c < 4 { "0-3" } else { "4-5" },
                )
            })
            .collect();
        let m = host("0-5", &cpus, &[]);
        assert_eq!(on("llc:0", &m), [0, 1, 2, 3]);
        assert_eq!(on("llc:1", &m), [4, 5]);
        assert!(resolve("llc:2", &m)
            .unwrap_err()
            .contains("there is no LLC 2"));
    }

    #[test]
    fn a_host_with_two_nodes() {
        let cpus: Vec<(u32, &str, &str)> = (0..4)
            .map(|c| {
                (
                    c,
                    ["0", "1", "2", "3"][c as usize],
                    if c < 2 { "0-1" } else { "2-3" },
                )
            })
            .collect();
        let m = host("0-3", &cpus, &["0-1", "2-3"]);
        assert_eq!(on("node:1", &m), [2, 3]);
        assert_eq!(nodes("0-1", &m).unwrap().len(), 2);
        let err = resolve("node:2", &m).unwrap_err();
        assert!(
            err.contains("there is no node 2: this machine has nodes 0-1"),
            "{err}"
        );
    }

    #[test]
    fn a_host_with_offline_cpus() {
        // CPUs 2 and 3 offline: fractions count the online ones, a list naming one fails.
        let cpus: Vec<(u32, &str, &str)> = [0, 1, 4, 5]
            .into_iter()
            .map(|c| {
                (
                    c,
                    ["0-1", "0-1", "", "", "4-5", "4-5"][c as usize],
                    "0-1,4-5",
                )
            })
            .collect();
        let m = host("0-1,4-5", &cpus, &[]);
        assert_eq!(on("0.5-1.0", &m), [4, 5]);
        assert_eq!(on("disjoint:1/2", &m), [4, 5]);
        assert_eq!(on("smt:1", &m), [4, 5]);
        assert_eq!(on("core:1", &m), [4]);
        let err = resolve("1-2", &m).unwrap_err();
        assert!(err.contains("CPU 2 is offline on this machine"), "{err}");
        assert!(resolve("6", &m).unwrap_err().contains("beyond the last, 5"));
    }

    #[test]
    fn a_host_without_cache_information_refuses_llc_sets() {
        let m = host("0-1", &[(0, "0", "0-1")], &[]);
        let err = resolve("llc:0", &m).unwrap_err();
        assert!(
            err.contains("llc: cannot be resolved on this machine: sysfs does not give"),
            "{err}"
        );
        assert_eq!(on("0", &m), [0]);
    }
}
