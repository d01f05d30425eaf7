//! Topology-relative CPU sets, resolved on the host against the shape: a comma-separated
//! list of terms, each one of
//! - `3`, `0-3`: CPUs by number;
//! - `llc:N`, `node:N`, `smt:N` (every thread of core N), `core:N` (the first thread of
//!   core N), each also as a range `llc:0-1`;
//! - `0.0-0.5`: the fraction [0.0, 0.5) of all CPUs, in order;
//! - `disjoint:K/N`: the K-th (from 0) of N equal, contiguous parts of all CPUs.

use std::collections::BTreeSet;

use super::{CpuPlace, Shape};

/// Resolves `text` against `shape`; the error names the term and what the shape has.
pub fn resolve(text: &str, shape: &Shape) -> Result<BTreeSet<u32>, String> {
    let mut cpus = BTreeSet::new();
    for term in text.split(',') {
        let term = term.trim();
        let found = resolve_term(term, shape).map_err(|why| {
            format!(
                "{term:?} in {text:?}: {why} (the VM is {shape}, {} vCPUs)",
                shape.vcpus()
            )
        })?;
        if found.is_empty() {
            return Err(format!("{term:?} in {text:?} names no CPU of {shape}"));
        }
        cpus.extend(found);
    }
    Ok(cpus)
}

/// Resolves a set of NUMA nodes (`cpuset.mems`): a list of `N`, `N-M` or `node:N`
/// terms, each below the shape's node count.
pub fn nodes(text: &str, shape: &Shape) -> Result<BTreeSet<u32>, String> {
    let mut found = BTreeSet::new();
    for term in text.split(',').map(str::trim) {
        let (lo, hi) = range(term.strip_prefix("node:").unwrap_or(term))
            .map_err(|why| format!("{term:?} in {text:?}: {why}"))?;
        if hi >= shape.nodes {
            let have = match shape.nodes {
                1 => "node 0 only".to_string(),
                n => format!("nodes 0-{}", n - 1),
            };
            return Err(format!(
                "{term:?} in {text:?}: there is no node {hi}: the VM ({shape}) has {have}"
            ));
        }
        found.extend(lo..=hi);
    }
    Ok(found)
}

fn resolve_term(term: &str, shape: &Shape) -> Result<BTreeSet<u32>, String> {
    if let Some((kind, rest)) = term.split_once(':') {
        return match kind {
            "llc" => by_unit(rest, shape.llcs, "LLC", shape, |p| (p.llc, true)),
            "node" => by_unit(rest, shape.nodes, "node", shape, |p| (p.node, true)),
            "smt" => by_unit(rest, shape.cores(), "core", shape, |p| (p.core, true)),
            "core" => by_unit(rest, shape.cores(), "core", shape, |p| {
                (p.core, p.thread == 0)
            }),
            "disjoint" => disjoint(rest, shape.vcpus()),
            other => Err(format!(
                "unknown unit {other:?}: use llc:, node:, core:, smt: or disjoint:"
            )),
        };
    }
    if term.contains('.') {
        return fraction(term, shape.vcpus());
    }
    let (lo, hi) = range(term)?;
    if hi >= shape.vcpus() {
        return Err(format!(
            "CPU {hi} is beyond the last, {}",
            shape.vcpus() - 1
        ));
    }
    Ok((lo..=hi).collect())
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
    shape: &Shape,
    pick: impl Fn(&CpuPlace) -> (u32, bool),
) -> Result<BTreeSet<u32>, String> {
    let (lo, hi) = range(text)?;
    if hi >= count {
        return Err(format!(
            "there is no {unit} {hi}: the VM has {count} ({unit} 0-{})",
            count - 1
        ));
    }
    Ok(shape
        .places()
        .filter(|p| {
            let (n, ok) = pick(p);
            ok && (lo..=hi).contains(&n)
        })
        .map(|p| p.cpu)
        .collect())
}

fn fraction(text: &str, vcpus: u32) -> Result<BTreeSet<u32>, String> {
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
    let n = f64::from(vcpus);
    let (first, end) = ((a * n).round() as u32, (b * n).round() as u32);
    Ok((first..end).collect())
}

fn disjoint(text: &str, vcpus: u32) -> Result<BTreeSet<u32>, String> {
    let bad = || format!("disjoint takes K/N (the K-th of N parts, K from 0), not {text:?}");
    let (k, n) = text.split_once('/').ok_or_else(bad)?;
    let (k, n): (u32, u32) = (k.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    if n == 0 || k >= n {
        return Err(bad());
    }
    if n > vcpus {
        return Err(format!("{n} parts of {vcpus} CPUs would leave some empty"));
    }
    Ok((k * vcpus / n..(k + 1) * vcpus / n).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpus(text: &str, spec: &str) -> Vec<u32> {
        resolve(text, &Shape::parse(spec).unwrap())
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
        let two = Shape::parse("2n2l1c1t").unwrap();
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
        let flat = Shape::flat(2);
        assert!(nodes("1", &flat).unwrap_err().contains("node 0 only"));
    }

    #[test]
    fn outside_the_shape_is_an_error_naming_the_term() {
        let shape = Shape::parse("1n2l2c1t").unwrap();
        for (text, want) in [
            ("llc:2", "there is no LLC 2: the VM has 2 (LLC 0-1)"),
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
}
