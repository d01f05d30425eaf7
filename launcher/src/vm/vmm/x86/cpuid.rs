//! CPUID for each vCPU: what KVM supports, with the APIC ID, the hypervisor leaf and the
//! topology leaves of the VM's shape: SMT threads, cores, LLCs (one die each, sharing the
//! L3) and NUMA nodes (one package each), consistent with the APIC IDs the shape gives.

use kvm_bindings::{
    kvm_cpuid_entry2, CpuId, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, KVM_MAX_CPUID_ENTRIES,
};
use kvm_ioctls::Kvm;

use crate::topology::Shape;
use crate::vm::vmm::error::VmmError;

const LEAF_VENDOR: u32 = 0x0;
const LEAF_FEATURES: u32 = 0x1;
const LEAF_CACHE: u32 = 0x4;
const LEAF_TOPOLOGY: u32 = 0xb;
const LEAF_TOPOLOGY_V2: u32 = 0x1f;
const LEAF_HYPERVISOR: u32 = 0x4000_0000;
const LEAF_KVM_FEATURES: u32 = 0x4000_0001;
const LEAF_EXT_FEATURES: u32 = 0x8000_0001;
const LEAF_EXT_SIZES: u32 = 0x8000_0008;
const LEAF_EXT_CACHE: u32 = 0x8000_001d;
const LEAF_EXT_APIC_ID: u32 = 0x8000_001e;

const FEATURES_ECX_HYPERVISOR: u32 = 1 << 31;
const FEATURES_EDX_HTT: u32 = 1 << 28;
const EXT_FEATURES_ECX_CMP_LEGACY: u32 = 1 << 1;
/// Topology level types in leaf 0xb/0x1f ECX[15:8].
const LEVEL_SMT: u32 = 1;
const LEVEL_CORE: u32 = 2;
const LEVEL_DIE: u32 = 5;
/// The cache level an LLC is at.
const LLC_LEVEL: u32 = 3;
/// "KVMKVMKVM\0\0\0" as EBX, ECX, EDX.
const KVM_SIGNATURE: [u32; 3] = [0x4b4d_564b, 0x564b_4d56, 0x0000_004d];
const AMD_VENDOR_EBX: u32 = 0x6874_7541; // "Auth"
const INTEL_VENDOR_EBX: u32 = 0x756e_6547; // "Genu"

/// Bits needed to number `count` items (ceil(log2(count))).
pub fn id_bits(count: u32) -> u32 {
    count.max(1).next_power_of_two().trailing_zeros()
}

/// What KVM can give a guest on this host.
pub fn supported(kvm: &Kvm) -> Result<Vec<kvm_cpuid_entry2>, VmmError> {
    let cpuid = kvm
        .get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
        .map_err(|e| VmmError::kvm("KVM_GET_SUPPORTED_CPUID", e))?;
    Ok(cpuid.as_slice().to_vec())
}

/// Wraps entries for KVM_SET_CPUID2.
pub fn to_kvm(entries: &[kvm_cpuid_entry2]) -> Result<CpuId, VmmError> {
    CpuId::from_entries(entries)
        .map_err(|e| VmmError::Config(format!("too many CPUID entries ({}): {e:?}", entries.len())))
}

/// The APIC ID field widths of a shape: thread, core in LLC, LLC in node (package).
struct Fields {
    apic_id: u32,
    thread: u32,
    core: u32,
    llc: u32,
}

impl Fields {
    fn of(shape: &Shape, cpu: u32) -> Fields {
        let (thread, core, llc) = shape.id_bits();
        Fields {
            apic_id: shape.apic_id(cpu),
            thread,
            core,
            llc,
        }
    }

    /// Logical processors a package (node) can address.
    fn per_package(&self) -> u32 {
        1 << (self.thread + self.core + self.llc)
    }

    /// Logical processors sharing a cache at `level`: a core's threads below the LLC.
    fn sharing(&self, level: u32) -> u32 {
        if level >= LLC_LEVEL {
            1 << (self.thread + self.core)
        } else {
            1 << self.thread
        }
    }
}

/// The CPUID of vCPU `cpu` of a VM of `shape`.
pub fn for_vcpu(supported: &[kvm_cpuid_entry2], shape: &Shape, cpu: u32) -> Vec<kvm_cpuid_entry2> {
    let f = Fields::of(shape, cpu);
    let place = shape.place(cpu);
    let mut entries = supported.to_vec();
    let vendor = find(&entries, LEAF_VENDOR, 0).map(|e| e.ebx);
    let amd = vendor == Some(AMD_VENDOR_EBX);
    for e in entries.iter_mut() {
        match e.function {
            LEAF_FEATURES => features(e, &f),
            LEAF_CACHE if vendor == Some(INTEL_VENDOR_EBX) => cache(e, &f),
            LEAF_EXT_FEATURES if amd => {
                set_bit(&mut e.ecx, EXT_FEATURES_ECX_CMP_LEGACY, f.per_package() > 1)
            }
            LEAF_EXT_SIZES if amd => {
                let logical = shape.vcpus() / shape.nodes;
                let width = f.thread + f.core + f.llc;
                e.ecx = (e.ecx & !0xf0ff) | (width << 12) | (logical - 1);
            }
            LEAF_EXT_CACHE if amd => ext_cache(e, &f),
            LEAF_EXT_APIC_ID => {
                e.eax = f.apic_id;
                e.ebx = (place.core & 0xff) | ((shape.threads_per_core - 1) << 8);
                e.ecx = (place.node & 0xff) | ((shape.nodes - 1).min(7) << 8);
            }
            _ => {}
        }
    }
    let max_basic = find(&entries, LEAF_VENDOR, 0).map_or(0, |e| e.eax);
    for leaf in [LEAF_TOPOLOGY, LEAF_TOPOLOGY_V2] {
        if leaf <= max_basic && (leaf == LEAF_TOPOLOGY || find(&entries, leaf, 0).is_some()) {
            entries.retain(|e| e.function != leaf);
            entries.extend(topology(leaf, shape, &f));
        }
    }
    hypervisor_leaf(&mut entries);
    entries
}

fn find(entries: &[kvm_cpuid_entry2], function: u32, index: u32) -> Option<&kvm_cpuid_entry2> {
    entries
        .iter()
        .find(|e| e.function == function && e.index == index)
}

fn set_bit(reg: &mut u32, bit: u32, on: bool) {
    if on {
        *reg |= bit;
    } else {
        *reg &= !bit;
    }
}

/// Leaf 1: initial APIC ID, addressable IDs per package, HTT, hypervisor present.
fn features(e: &mut kvm_cpuid_entry2, f: &Fields) {
    let per_package = f.per_package().min(0xff);
    e.ebx = (e.ebx & 0x0000_ffff) | ((f.apic_id & 0xff) << 24) | (per_package << 16);
    set_bit(&mut e.edx, FEATURES_EDX_HTT, per_package > 1);
    e.ecx |= FEATURES_ECX_HYPERVISOR;
}

/// Leaf 4 (Intel): which IDs share each cache (the L3 is the LLC), cores per package.
fn cache(e: &mut kvm_cpuid_entry2, f: &Fields) {
    let level = (e.eax >> 5) & 0x7;
    let sharing = f.sharing(level) - 1;
    let cores = ((1u32 << (f.core + f.llc)) - 1).min(0x3f);
    e.eax = (e.eax & 0x3fff) | ((sharing & 0xfff) << 14) | (cores << 26);
}

/// Leaf 0x8000_001d (AMD): which IDs share each cache, as leaf 4 says it for Intel.
fn ext_cache(e: &mut kvm_cpuid_entry2, f: &Fields) {
    let level = (e.eax >> 5) & 0x7;
    let sharing = f.sharing(level) - 1;
    e.eax = (e.eax & !(0xfff << 14)) | ((sharing & 0xfff) << 14);
}

/// Leaf 0xb or 0x1f: SMT, core (and on 0x1f a die per LLC), then the end. Each level's
/// EAX is the shift to the next level's ID, EBX the logical processors at that level.
fn topology(leaf: u32, shape: &Shape, f: &Fields) -> Vec<kvm_cpuid_entry2> {
    let level = |sub: u32, eax: u32, ebx: u32, kind: u32| kvm_cpuid_entry2 {
        function: leaf,
        index: sub,
        flags: KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
        eax,
        ebx,
        ecx: (kind << 8) | sub,
        edx: f.apic_id,
        ..Default::default()
    };
    let threads = shape.threads_per_core;
    let per_llc = threads * shape.cores_per_llc;
    let per_node = per_llc * shape.llcs_per_node();
    let package_shift = f.thread + f.core + f.llc;
    if leaf == LEAF_TOPOLOGY_V2 {
        vec![
            level(0, f.thread, threads, LEVEL_SMT),
            level(1, f.thread + f.core, per_llc, LEVEL_CORE),
            level(2, package_shift, per_node, LEVEL_DIE),
            level(3, 0, 0, 0),
        ]
    } else {
        vec![
            level(0, f.thread, threads, LEVEL_SMT),
            level(1, package_shift, per_node, LEVEL_CORE),
            level(2, 0, 0, 0),
        ]
    }
}

/// Makes sure the guest sees KVM's signature at 0x4000_0000.
fn hypervisor_leaf(entries: &mut Vec<kvm_cpuid_entry2>) {
    let max = if find(entries, LEAF_KVM_FEATURES, 0).is_some() {
        LEAF_KVM_FEATURES
    } else {
        LEAF_HYPERVISOR
    };
    entries.retain(|e| e.function != LEAF_HYPERVISOR);
    entries.push(kvm_cpuid_entry2 {
        function: LEAF_HYPERVISOR,
        eax: max,
        ebx: KVM_SIGNATURE[0],
        ecx: KVM_SIGNATURE[1],
        edx: KVM_SIGNATURE[2],
        ..Default::default()
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(function: u32, index: u32, eax: u32, ebx: u32, ecx: u32, edx: u32) -> kvm_cpuid_entry2 {
        kvm_cpuid_entry2 {
            function,
            index,
            eax,
            ebx,
            ecx,
            edx,
            ..Default::default()
        }
    }

    fn intel_like() -> Vec<kvm_cpuid_entry2> {
        vec![
            leaf(0, 0, 0x1f, INTEL_VENDOR_EBX, 0x6c65_746e, 0x4965_6e69),
            leaf(1, 0, 0x806f8, 0x0080_0800, 0x7ffa_3223, 0x0f8b_fbff),
            leaf(4, 0, 0x121, 0, 0, 0), // L1d
            leaf(4, 3, 0x163, 0, 0, 0), // L3
            leaf(0xb, 0, 1, 2, 0x100, 7),
            leaf(0x4000_0001, 0, 0x1234, 0, 0, 0),
        ]
    }

    fn get(entries: &[kvm_cpuid_entry2], f: u32, i: u32) -> kvm_cpuid_entry2 {
        *find(entries, f, i).unwrap_or_else(|| panic!("leaf {f:#x}.{i} missing"))
    }

    #[test]
    fn id_bits_rounds_up() {
        assert_eq!([1, 2, 3, 4, 5, 8, 9].map(id_bits), [0, 1, 2, 2, 3, 3, 4]);
    }

    #[test]
    fn leaf_1_carries_apic_id_count_and_hypervisor() {
        let e = for_vcpu(&intel_like(), &Shape::flat(4), 3);
        let l1 = get(&e, 1, 0);
        assert_eq!(l1.ebx >> 24, 3);
        assert_eq!((l1.ebx >> 16) & 0xff, 4);
        assert_eq!(l1.ebx & 0xffff, 0x0800, "CLFLUSH size kept");
        assert_ne!(l1.ecx & FEATURES_ECX_HYPERVISOR, 0);
        assert_ne!(l1.edx & FEATURES_EDX_HTT, 0);
        let single = get(&for_vcpu(&intel_like(), &Shape::flat(1), 0), 1, 0);
        assert_eq!(single.edx & FEATURES_EDX_HTT, 0);
    }

    #[test]
    fn topology_leaf_matches_cpu_count() {
        let e = for_vcpu(&intel_like(), &Shape::flat(3), 2);
        let smt = get(&e, 0xb, 0);
        let core = get(&e, 0xb, 1);
        let end = get(&e, 0xb, 2);
        assert_eq!(
            (smt.eax, smt.ebx, (smt.ecx >> 8) & 0xff, smt.edx),
            (0, 1, LEVEL_SMT, 2)
        );
        assert_eq!(
            (core.eax, core.ebx, (core.ecx >> 8) & 0xff, core.edx),
            (2, 3, LEVEL_CORE, 2)
        );
        assert_eq!(((end.ecx >> 8) & 0xff, end.ebx), (0, 0));
        assert_eq!(e.iter().filter(|x| x.function == 0xb).count(), 3);
        // 0x1f is absent from what KVM offered, so it is not invented.
        assert!(find(&e, 0x1f, 0).is_none());
    }

    #[test]
    fn intel_cache_leaf_counts_cores() {
        let e = for_vcpu(&intel_like(), &Shape::flat(4), 0);
        assert_eq!(get(&e, 4, 0).eax >> 26, 3);
        assert_eq!((get(&e, 4, 0).eax >> 14) & 0xfff, 0, "L1 private");
        assert_eq!((get(&e, 4, 3).eax >> 14) & 0xfff, 3, "L3 shared");
        assert_eq!(
            get(&e, 4, 3).eax & 0x3fff,
            0x163,
            "cache type and level kept"
        );
    }

    #[test]
    fn hypervisor_leaf_has_kvm_signature() {
        let e = for_vcpu(&intel_like(), &Shape::flat(1), 0);
        let h = get(&e, LEAF_HYPERVISOR, 0);
        let mut sig = Vec::new();
        for r in [h.ebx, h.ecx, h.edx] {
            sig.extend_from_slice(&r.to_le_bytes());
        }
        assert_eq!(&sig, b"KVMKVMKVM\0\0\0");
        assert_eq!(h.eax, LEAF_KVM_FEATURES);
    }

    /// Decodes a vCPU's place from its leaf 0x1f/0xb levels and leaf 4, as Linux does.
    fn decoded(e: &[kvm_cpuid_entry2]) -> (u32, u32, u32) {
        let apic = get(e, 0xb, 0).edx;
        let smt_shift = get(e, 0xb, 0).eax;
        let pkg_shift = get(e, 0xb, 1).eax;
        let l3_sharing = ((get(e, 4, 3).eax >> 14) & 0xfff) + 1;
        let llc_shift = l3_sharing.trailing_zeros();
        (apic >> pkg_shift, apic >> llc_shift, apic >> smt_shift)
    }

    #[test]
    fn topology_leaves_follow_the_shape() {
        for spec in [
            "1n1l1c2t",
            "1n3l3c1t",
            "2n4l2c2t",
            "4n8l4c2t",
            "2n6l21c1t",
            "2n4l63c1t",
        ] {
            let shape = Shape::parse(spec).unwrap();
            let (mut llcs, mut cores) = (Vec::new(), Vec::new());
            for place in shape.places() {
                let e = for_vcpu(&intel_like(), &shape, place.cpu);
                let (pkg, llc, core) = decoded(&e);
                assert_eq!(
                    pkg, place.node,
                    "{spec} cpu {}: package is the node",
                    place.cpu
                );
                llcs.push((llc, place.llc));
                cores.push((core, place.core));
                assert_eq!(get(&e, 1, 0).ebx >> 24, shape.apic_id(place.cpu));
                assert_eq!(get(&e, 0xb, 0).ebx, shape.threads_per_core);
            }
            // The IDs Linux derives group CPUs exactly as the shape does.
            for pairs in [llcs, cores] {
                for a in &pairs {
                    for b in &pairs {
                        assert_eq!(a.0 == b.0, a.1 == b.1, "{spec}: {a:?} vs {b:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn leaf_1f_adds_a_die_per_llc() {
        let mut offered = intel_like();
        offered.push(leaf(0x1f, 0, 1, 2, 0x100, 0));
        let shape = Shape::parse("2n4l2c2t").unwrap();
        let e = for_vcpu(&offered, &shape, 13);
        let levels: Vec<(u32, u32, u32)> = (0..4)
            .map(|i| get(&e, 0x1f, i))
            .map(|l| (l.eax, l.ebx, (l.ecx >> 8) & 0xff))
            .collect();
        assert_eq!(
            levels,
            [
                (1, 2, LEVEL_SMT),
                (2, 4, LEVEL_CORE),
                (3, 8, LEVEL_DIE),
                (0, 0, 0)
            ]
        );
    }

    #[test]
    fn amd_extended_topology() {
        let amd = vec![
            leaf(0, 0, 0x10, AMD_VENDOR_EBX, 0x444d_4163, 0x6974_6e65),
            leaf(1, 0, 0xa00f11, 0x0080_0800, 0, 0),
            leaf(0x8000_0001, 0, 0, 0, 0, 0),
            leaf(0x8000_0008, 0, 0x3030, 0, 0x7007, 0),
            leaf(0x8000_001e, 0, 9, 9, 9, 0),
        ];
        let e = for_vcpu(&amd, &Shape::flat(6), 5);
        assert_eq!(get(&e, 0x8000_0008, 0).ecx & 0xff, 5);
        assert_eq!((get(&e, 0x8000_0008, 0).ecx >> 12) & 0xf, 3);
        assert_ne!(get(&e, 0x8000_0001, 0).ecx & EXT_FEATURES_ECX_CMP_LEGACY, 0);
        let ext = get(&e, 0x8000_001e, 0);
        assert_eq!((ext.eax, ext.ebx, ext.ecx), (5, 5, 0));
        assert_eq!(get(&e, 0xb, 1).ebx, 6);
    }
}
