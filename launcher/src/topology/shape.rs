//! `NnLlCcTt` shapes: N NUMA nodes, L last-level caches in all (a multiple of N), C cores
//! per LLC, T threads per core. vCPUs are numbered as Linux numbers them when the
//! firmware lists CPUs in APIC ID order: node, then LLC, then core, then thread.

use std::fmt;

pub use super::limits::MAX_SHAPE_VCPUS as MAX_VCPUS;
/// xAPIC IDs are 8 bits, and 255 is the broadcast ID.
const APIC_ID_BITS: u32 = 8;
const MAX_APIC_ID: u32 = 255;
/// ACPI SLIT distances: a node to itself, and to another by default.
pub const LOCAL_DISTANCE: u8 = 10;
pub const DEFAULT_REMOTE_DISTANCE: u8 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Shape {
    pub nodes: u32,
    /// Last-level caches in the whole machine.
    pub llcs: u32,
    pub cores_per_llc: u32,
    pub threads_per_core: u32,
    /// SLIT distance between two different nodes.
    pub remote_distance: u8,
}

/// Where one vCPU sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuPlace {
    pub cpu: u32,
    pub node: u32,
    /// LLC index in the whole machine.
    pub llc: u32,
    /// Core index in the whole machine.
    pub core: u32,
    /// Thread index within its core.
    pub thread: u32,
}

/// A shape that cannot be built, with what to give instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError(pub String);

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ShapeError {}

/// Named shapes, from one vCPU up: `schedbox topology list` prints them.
pub const PRESETS: &[(&str, &str)] = &[
    ("uni", "1n1l1c1t"),
    ("smt2", "1n1l1c2t"),
    ("flat2", "1n1l2c1t"),
    ("flat4", "1n1l4c1t"),
    ("llc2", "1n2l2c1t"),
    ("llc2-smt", "1n2l2c2t"),
    ("numa2", "2n2l2c1t"),
    ("numa2-smt", "2n4l1c2t"),
    ("llc3-odd", "1n3l2c1t"),
    ("server16", "1n2l4c2t"),
    ("numa2-16", "2n4l4c1t"),
    ("numa2-16-smt", "2n4l2c2t"),
    ("numa2-32", "2n4l4c2t"),
    ("numa4-64", "4n8l4c2t"),
    ("numa8-128", "8n16l4c2t"),
    ("big-252", "2n4l63c1t"),
];

impl Shape {
    /// The flat machine `--cpus N` stands for.
    pub const fn flat(cpus: u32) -> Shape {
        Shape {
            nodes: 1,
            llcs: 1,
            cores_per_llc: cpus,
            threads_per_core: 1,
            remote_distance: DEFAULT_REMOTE_DISTANCE,
        }
    }

    /// Parses `NnLlCcTt` (each part optional, in that order, 1 when left out) or a preset
    /// name.
    pub fn parse(text: &str) -> Result<Shape, ShapeError> {
        if let Some((_, spec)) = PRESETS.iter().find(|(name, _)| *name == text) {
            return Shape::parse(spec);
        }
        let counts = parse_counts(text)?;
        let shape = Shape {
            nodes: counts[0],
            llcs: counts[1],
            cores_per_llc: counts[2],
            threads_per_core: counts[3],
            remote_distance: DEFAULT_REMOTE_DISTANCE,
        };
        shape.check(text)?;
        Ok(shape)
    }

    fn check(&self, text: &str) -> Result<(), ShapeError> {
        if !self.llcs.is_multiple_of(self.nodes) {
            return Err(ShapeError(format!(
                "topology {text:?}: {} LLCs cannot be split evenly over {} nodes: give a \
                 multiple of the node count",
                self.llcs, self.nodes
            )));
        }
        let vcpus =
            u64::from(self.llcs) * u64::from(self.cores_per_llc) * u64::from(self.threads_per_core);
        if vcpus > u64::from(MAX_VCPUS) {
            return Err(ShapeError(format!(
                "topology {text:?} has {vcpus} vCPUs, more than {MAX_VCPUS}: use fewer"
            )));
        }
        let (t, c, l) = self.id_bits();
        let width = t + c + l + (self.nodes.next_power_of_two().trailing_zeros());
        if width > APIC_ID_BITS || self.apic_id(self.vcpus() - 1) >= MAX_APIC_ID {
            return Err(ShapeError(format!(
                "topology {text:?} needs APIC IDs up to {}, beyond the {} an xAPIC can \
                 address: each count takes a power of two of IDs, so use counts closer to \
                 powers of two",
                self.apic_id(self.vcpus() - 1),
                MAX_APIC_ID - 1
            )));
        }
        Ok(())
    }

    pub fn vcpus(&self) -> u32 {
        self.llcs * self.cores_per_llc * self.threads_per_core
    }

    pub fn llcs_per_node(&self) -> u32 {
        self.llcs / self.nodes
    }

    pub fn cores(&self) -> u32 {
        self.llcs * self.cores_per_llc
    }

    pub fn place(&self, cpu: u32) -> CpuPlace {
        let thread = cpu % self.threads_per_core;
        let core = cpu / self.threads_per_core;
        let llc = core / self.cores_per_llc;
        CpuPlace {
            cpu,
            node: llc / self.llcs_per_node(),
            llc,
            core,
            thread,
        }
    }

    pub fn places(&self) -> impl Iterator<Item = CpuPlace> + '_ {
        (0..self.vcpus()).map(|cpu| self.place(cpu))
    }

    /// SLIT distance from node `a` to node `b`.
    pub fn distance(&self, a: u32, b: u32) -> u8 {
        if a == b {
            LOCAL_DISTANCE
        } else {
            self.remote_distance
        }
    }

    /// Bits of an APIC ID for the thread, core-in-LLC and LLC-in-node fields.
    pub fn id_bits(&self) -> (u32, u32, u32) {
        let bits = |n: u32| n.max(1).next_power_of_two().trailing_zeros();
        (
            bits(self.threads_per_core),
            bits(self.cores_per_llc),
            bits(self.llcs_per_node()),
        )
    }

    /// The APIC ID of a vCPU: thread, core in its LLC, LLC in its node, node (the node is
    /// the package), each field as wide as its count needs.
    pub fn apic_id(&self, cpu: u32) -> u32 {
        let p = self.place(cpu);
        let (t, c, l) = self.id_bits();
        let core_in_llc = p.core % self.cores_per_llc;
        let llc_in_node = p.llc % self.llcs_per_node();
        p.thread | core_in_llc << t | llc_in_node << (t + c) | p.node << (t + c + l)
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}n{}l{}c{}t",
            self.nodes, self.llcs, self.cores_per_llc, self.threads_per_core
        )
    }
}

/// The four counts of `NnLlCcTt`, in order, 1 where a part is left out.
fn parse_counts(text: &str) -> Result<[u32; 4], ShapeError> {
    const UNITS: [char; 4] = ['n', 'l', 'c', 't'];
    let bad = || {
        ShapeError(format!(
            "topology {text:?} is neither NnLlCcTt (e.g. 2n4l2c2t: 2 nodes, 4 LLCs, 2 cores \
             per LLC, 2 threads per core) nor a preset: `schedbox topology list` shows them"
        ))
    };
    let mut counts = [1u32; 4];
    let mut next = 0;
    let mut rest = text;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let unit = rest[digits..].chars().next().ok_or_else(bad)?;
        let at = UNITS[next..]
            .iter()
            .position(|&u| u == unit)
            .ok_or_else(bad)?
            + next;
        let n: u32 = rest[..digits].parse().map_err(|_| bad())?;
        if n == 0 {
            return Err(ShapeError(format!(
                "topology {text:?}: every count must be at least 1"
            )));
        }
        counts[at] = n;
        next = at + 1;
        rest = &rest[digits + 1..];
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs_and_presets() {
        let s = Shape::parse("2n4l2c2t").unwrap();
        assert_eq!(
            (s.nodes, s.llcs, s.cores_per_llc, s.threads_per_core),
            (2, 4, 2, 2)
        );
        // L counts LLCs in the whole machine: 4 LLCs × 2 cores × 2 threads.
        assert_eq!(s.vcpus(), 16);
        assert_eq!(s.to_string(), "2n4l2c2t");
        assert_eq!(Shape::parse("4c").unwrap(), Shape::flat(4));
        assert_eq!(Shape::parse("smt2").unwrap().to_string(), "1n1l1c2t");
        for (name, spec) in PRESETS {
            let shape = Shape::parse(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(shape.to_string(), Shape::parse(spec).unwrap().to_string());
        }
        assert!(PRESETS
            .iter()
            .any(|(_, s)| Shape::parse(s).unwrap().vcpus() == 1));
        assert!(PRESETS
            .iter()
            .any(|(_, s)| Shape::parse(s).unwrap().vcpus() >= 64));
    }

    #[test]
    fn rejects_bad_specs_naming_the_fix() {
        for (text, want) in [
            ("", "neither"),
            ("2x", "neither"),
            ("2t2c", "neither"),
            ("n", "neither"),
            ("0c", "at least 1"),
            ("2n3l", "multiple of the node count"),
            ("1n1l253c", "more than 252"),
            ("2n6l21c2t", "beyond the 254 an xAPIC can address"),
            ("99999999999c", "neither"),
        ] {
            let err = Shape::parse(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn places_number_threads_fastest_then_cores_llcs_nodes() {
        let s = Shape::parse("2n4l2c2t").unwrap();
        let p = s.place(13);
        // cpu 13 = core 6 thread 1; core 6 is in LLC 3, which is in node 1.
        assert_eq!((p.node, p.llc, p.core, p.thread), (1, 3, 6, 1));
        assert_eq!(s.places().filter(|p| p.node == 1).count(), 8);
        assert_eq!(s.places().filter(|p| p.llc == 2).count(), 4);
    }

    #[test]
    fn apic_ids_are_unique_and_fit_their_fields() {
        for spec in [
            "1n1l1c1t",
            "1n3l3c1t",
            "2n4l2c2t",
            "2n6l21c1t",
            "4n8l4c2t",
            "2n4l63c1t",
        ] {
            let s = Shape::parse(spec).unwrap();
            let mut ids: Vec<u32> = (0..s.vcpus()).map(|c| s.apic_id(c)).collect();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len() as u32, s.vcpus(), "{spec}");
            assert!(ids.iter().all(|&id| id < 255), "{spec}: {ids:?}");
        }
        let s = Shape::parse("1n3l3c1t").unwrap();
        // 3 cores need 2 bits: core 2 of LLC 1 is 0b01_10.
        assert_eq!(s.apic_id(5), 0b0110);
    }

    #[test]
    fn distances_are_local_and_remote() {
        let s = Shape::parse("2n2l1c1t").unwrap();
        assert_eq!((s.distance(0, 0), s.distance(0, 1)), (10, 20));
    }
}
