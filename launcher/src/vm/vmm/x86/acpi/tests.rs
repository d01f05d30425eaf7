//! The tables parsed back: lengths, checksums and every entry.

use super::*;

const MIB: u64 = 1 << 20;
const BASE: u64 = 0xe_0000;
const SLEEP_PORT: u16 = 0x600;

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// The tables of `shape` with `mib` of RAM below the MMIO hole.
fn build_for(spec: &str, ram: &[(u64, u64)]) -> (Shape, Tables) {
    let shape = Shape::parse(spec).unwrap();
    let platform = Platform {
        shape: &shape,
        ram,
        lapic_addr: 0xfee0_0000,
        ioapic_addr: 0xfec0_0000,
        sleep_port: SLEEP_PORT,
        serial_ports: &[SerialPort {
            base: 0x3f8,
            len: 8,
            irq: 4,
        }],
        virtio_devices: &[],
    };
    let tables = build(&platform, BASE);
    (shape, tables)
}

/// The table at guest address `addr`: checks its length fits and its checksum.
fn table_at<'a>(t: &'a Tables, addr: u64, signature: &[u8; 4]) -> &'a [u8] {
    let at = (addr - t.base) as usize;
    assert_eq!(&t.bytes[at..at + 4], signature);
    let len = u32_at(&t.bytes, at + 4) as usize;
    let table = &t.bytes[at..at + len];
    assert_eq!(
        checksum(table),
        0,
        "{} checksum",
        String::from_utf8_lossy(signature)
    );
    table
}

/// Every table the XSDT points to, by signature.
fn tables_by_signature(t: &Tables) -> Vec<([u8; 4], Vec<u8>)> {
    let rsdp = &t.bytes[..RSDP_LEN];
    assert_eq!(&rsdp[..8], b"RSD PTR ");
    assert_eq!(checksum(&rsdp[..20]), 0, "RSDP v1 checksum");
    assert_eq!(checksum(rsdp), 0, "RSDP extended checksum");
    assert_eq!(rsdp[15], 2);
    let xsdt = table_at(t, u64_at(rsdp, 24), b"XSDT");
    (HEADER_LEN..xsdt.len())
        .step_by(8)
        .map(|at| {
            let addr = u64_at(xsdt, at);
            let sig: [u8; 4] = t.bytes[(addr - t.base) as usize..][..4].try_into().unwrap();
            (sig, table_at(t, addr, &sig).to_vec())
        })
        .collect()
}

fn find<'a>(all: &'a [([u8; 4], Vec<u8>)], sig: &[u8; 4]) -> &'a [u8] {
    &all.iter().find(|(s, _)| s == sig).unwrap().1
}

#[test]
fn rsdp_xsdt_and_every_table_check_out() {
    let (_, t) = build_for("2n4l2c2t", &[(0, 512 * MIB)]);
    assert_eq!(t.rsdp_addr() % 16, 0);
    let all = tables_by_signature(&t);
    let sigs: Vec<&[u8; 4]> = all.iter().map(|(s, _)| s).collect();
    assert_eq!(sigs, [b"FACP", b"APIC", b"SRAT", b"SLIT"]);
}

#[test]
fn fadt_is_hardware_reduced_with_a_sleep_register_and_an_s5_dsdt() {
    let (_, t) = build_for("1n1l2c1t", &[(0, 256 * MIB)]);
    let all = tables_by_signature(&t);
    let fadt = find(&all, b"FACP");
    assert_eq!(fadt.len(), FADT_LEN);
    assert_ne!(u32_at(fadt, FADT_FLAGS) & FADT_FLAG_HW_REDUCED, 0);
    let boot_arch = u16::from_le_bytes([fadt[FADT_BOOT_ARCH], fadt[FADT_BOOT_ARCH + 1]]);
    assert_eq!(boot_arch, BOOT_ARCH_NO_CMOS_RTC);
    for gas in [FADT_SLEEP_CONTROL, FADT_SLEEP_STATUS] {
        assert_eq!(fadt[gas], GAS_SPACE_IO);
        assert_eq!(u64_at(fadt, gas + 4), u64::from(SLEEP_PORT));
    }
    let dsdt = table_at(&t, u64_at(fadt, FADT_X_DSDT), b"DSDT");
    assert_eq!(
        u64::from(u32_at(fadt, FADT_DSDT)),
        u64_at(fadt, FADT_X_DSDT)
    );
    let aml = &dsdt[HEADER_LEN..];
    assert!(aml.windows(4).any(|w| w == b"_S5_"));
    assert!(aml.windows(4).any(|w| w == b"COM1"));
    assert_eq!(aml[aml.len() - 2], S5_TYPE);
}

/// `(type, bytes)` of each MADT entry.
fn madt_entries(madt: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = HEADER_LEN + 8;
    while at < madt.len() {
        let len = madt[at + 1] as usize;
        assert!(len >= 2 && at + len <= madt.len(), "entry at {at} overruns");
        out.push((madt[at], madt[at..at + len].to_vec()));
        at += len;
    }
    out
}

#[test]
fn madt_lists_every_vcpu_by_apic_id_the_ioapic_and_nmi() {
    for spec in [
        "1n1l1c1t",
        "1n1l1c2t",
        "2n4l2c2t",
        "4n8l4c2t",
        "2n6l21c1t",
        "2n4l63c1t",
    ] {
        let (shape, t) = build_for(spec, &[(0, 512 * MIB)]);
        let all = tables_by_signature(&t);
        let madt = find(&all, b"APIC");
        assert_eq!(u32_at(madt, HEADER_LEN), 0xfee0_0000);
        let entries = madt_entries(madt);
        let lapics: Vec<&Vec<u8>> = entries
            .iter()
            .filter(|(k, _)| *k == MADT_LOCAL_APIC)
            .map(|(_, e)| e)
            .collect();
        assert_eq!(lapics.len() as u32, shape.vcpus(), "{spec}");
        for (cpu, e) in lapics.iter().enumerate() {
            assert_eq!(e[2] as usize, cpu, "{spec}: processor UID");
            assert_eq!(u32::from(e[3]), shape.apic_id(cpu as u32), "{spec}");
            assert_eq!(u32_at(e, 4), LAPIC_ENABLED);
        }
        let ioapic = &entries.iter().find(|(k, _)| *k == MADT_IOAPIC).unwrap().1;
        assert_eq!(u32_at(ioapic, 4), 0xfec0_0000);
        assert!(
            lapics.iter().all(|e| e[3] != ioapic[2]),
            "{spec}: IOAPIC ID is taken"
        );
        assert!(entries
            .iter()
            .any(|(k, e)| *k == MADT_LOCAL_NMI && e[5] == NMI_LINT));
    }
}

#[test]
fn srat_gives_every_vcpu_and_all_memory_a_node() {
    let ram = [(0, 3 * 1024 * MIB), (1 << 32, 1024 * MIB)];
    let (shape, t) = build_for("2n4l2c2t", &ram);
    let all = tables_by_signature(&t);
    let srat = find(&all, b"SRAT");
    let mut at = HEADER_LEN + 12;
    let (mut cpus, mut mem_per_node) = (Vec::new(), vec![0u64; 2]);
    let mut covered = 0;
    while at < srat.len() {
        let (kind, len) = (srat[at], srat[at + 1] as usize);
        let e = &srat[at..at + len];
        match kind {
            SRAT_CPU => {
                assert_eq!(len, 16);
                let node = u32::from(e[2]) | u32::from(e[9]) << 8;
                cpus.push((e[3], node));
                assert_eq!(u32_at(e, 4), SRAT_ENABLED);
            }
            SRAT_MEMORY => {
                assert_eq!(len, 40);
                let node = u32_at(e, 2) as usize;
                mem_per_node[node] += u64_at(e, 16);
                covered += u64_at(e, 16);
                assert_eq!(u32_at(e, 28), SRAT_ENABLED);
            }
            other => panic!("unknown SRAT entry {other}"),
        }
        at += len;
    }
    assert_eq!(cpus.len() as u32, shape.vcpus());
    for p in shape.places() {
        assert!(
            cpus.contains(&(shape.apic_id(p.cpu) as u8, p.node)),
            "cpu {}",
            p.cpu
        );
    }
    assert_eq!(covered, 4 * 1024 * MIB, "all RAM has a node");
    assert_eq!(
        mem_per_node,
        [2 * 1024 * MIB, 2 * 1024 * MIB],
        "split evenly"
    );
}

#[test]
fn node_memory_splits_across_the_mmio_hole() {
    let shape = Shape::parse("3n3l1c1t").unwrap();
    let parts = node_memory(&shape, &[(0, 100 * MIB), (1 << 32, 50 * MIB)]);
    let per_node: Vec<u64> = (0..3)
        .map(|n| parts.iter().filter(|p| p.0 == n).map(|p| p.2).sum())
        .collect();
    assert_eq!(per_node.iter().sum::<u64>(), 150 * MIB);
    assert_eq!(per_node[0], 50 * MIB);
    assert_eq!(per_node[1], 50 * MIB);
}

#[test]
fn slit_has_local_and_remote_distances() {
    let (shape, t) = build_for("4n4l1c1t", &[(0, 512 * MIB)]);
    let all = tables_by_signature(&t);
    let slit = find(&all, b"SLIT");
    let n = u64_at(slit, HEADER_LEN) as u32;
    assert_eq!(n, shape.nodes);
    let matrix = &slit[HEADER_LEN + 8..];
    assert_eq!(matrix.len() as u32, n * n);
    for a in 0..n {
        for b in 0..n {
            let want = if a == b { 10 } else { 20 };
            assert_eq!(matrix[(a * n + b) as usize], want);
        }
    }
}
