//! ACPI tables for the guest's topology: RSDP → XSDT → FADT (hardware-reduced, with the
//! sleep control register the power device serves, no CMOS RTC), DSDT ([`dsdt`]: the
//! UARTs, and `\_S5` so the kernel can power off), MADT (one local APIC per vCPU, the IOAPIC with ISA IRQ n on pin n as the
//! in-kernel irqchip routes them, NMIs on LINT1), SRAT
//! (each vCPU's and each memory range's node) and SLIT (node distances).

use crate::topology::Shape;

pub mod dsdt;
pub use dsdt::{SerialPort, VirtioMmio, S5_TYPE};

pub const RSDP_LEN: usize = 36;
const HEADER_LEN: usize = 36;
const OEM_ID: &[u8; 6] = b"SCHBOX";
const OEM_TABLE_ID: &[u8; 8] = b"SCHEDBOX";
const CREATOR_ID: &[u8; 4] = b"SBOX";
/// Tables start on this boundary (the RSDP must be 16-byte aligned to be found).
const ALIGN: usize = 16;

/// FADT revision 6 (ACPI 6.x): 276 bytes.
const FADT_LEN: usize = 276;
const FADT_REVISION: u8 = 6;
const FADT_MINOR_REVISION: u8 = 0;
const FADT_DSDT: usize = 40;
/// IA-PC boot architecture flags (2 bytes).
const FADT_BOOT_ARCH: usize = 109;
const FADT_FLAGS: usize = 112;
const FADT_MINOR_VERSION: usize = 131;
const FADT_X_DSDT: usize = 140;
const FADT_SLEEP_CONTROL: usize = 244;
const FADT_SLEEP_STATUS: usize = 256;
const FADT_HYPERVISOR_ID: usize = 268;
/// No fixed-hardware PM blocks: power is the sleep control register's business.
const FADT_FLAG_HW_REDUCED: u32 = 1 << 20;
/// No CMOS RTC: the kernel then never probes ports 0x70/0x71, which nobody serves
/// (it would spin some 20 000 reads waiting for the clock; kvm-clock gives the time).
const BOOT_ARCH_NO_CMOS_RTC: u16 = 1 << 5;
/// Generic Address Structure: system I/O space, 8-bit register.
const GAS_SPACE_IO: u8 = 1;
const GAS_ACCESS_BYTE: u8 = 1;

/// MADT entry types and flags.
const MADT_LOCAL_APIC: u8 = 0;
const MADT_IOAPIC: u8 = 1;
const MADT_LOCAL_NMI: u8 = 4;
const MADT_PCAT_COMPAT: u32 = 1;
const LAPIC_ENABLED: u32 = 1;
/// NMIs come in on LINT1 of every local APIC.
const NMI_ALL_CPUS: u8 = 0xff;
const NMI_LINT: u8 = 1;

/// SRAT entry types.
const SRAT_CPU: u8 = 0;
const SRAT_MEMORY: u8 = 1;
const SRAT_ENABLED: u32 = 1;

/// Where the guest's devices and RAM are, for the tables to describe.
pub struct Platform<'a> {
    pub shape: &'a Shape,
    /// RAM ranges (start, length) in address order.
    pub ram: &'a [(u64, u64)],
    pub lapic_addr: u32,
    pub ioapic_addr: u32,
    /// The I/O port of the sleep control (and status) register.
    pub sleep_port: u16,
    /// The UARTs, declared in the DSDT so the kernel maps their IRQs.
    pub serial_ports: &'a [SerialPort],
    /// The virtio-mmio devices, which the kernel finds only here.
    pub virtio_devices: &'a [VirtioMmio],
}

/// The tables, laid out from `base`: the RSDP first.
pub struct Tables {
    pub base: u64,
    pub bytes: Vec<u8>,
}

impl Tables {
    pub fn rsdp_addr(&self) -> u64 {
        self.base
    }
}

/// Builds every table for `platform`, to be copied to guest address `base`.
pub fn build(platform: &Platform, base: u64) -> Tables {
    let dsdt = table(
        b"DSDT",
        2,
        &dsdt::aml(platform.serial_ports, platform.virtio_devices),
    );
    let fadt_at_dsdt = |dsdt_addr: u64| fadt(platform.sleep_port, dsdt_addr);
    let others = [madt(platform), srat(platform), slit(platform.shape)];
    // Layout: RSDP, XSDT, DSDT, FADT, then the others.
    let xsdt_len = HEADER_LEN + 8 * (1 + others.len());
    let xsdt_at = align(RSDP_LEN);
    let dsdt_at = align(xsdt_at + xsdt_len);
    let fadt_at = align(dsdt_at + dsdt.len());
    let mut at = align(fadt_at + FADT_LEN);
    let mut pointers = vec![base + fadt_at as u64];
    let mut placed = Vec::new();
    for t in &others {
        pointers.push(base + at as u64);
        placed.push(at);
        at = align(at + t.len());
    }
    let mut bytes = vec![0u8; at];
    let xsdt_body: Vec<u8> = pointers.iter().flat_map(|p| p.to_le_bytes()).collect();
    put(&mut bytes, 0, &rsdp(base + xsdt_at as u64));
    put(&mut bytes, xsdt_at, &table(b"XSDT", 1, &xsdt_body));
    put(&mut bytes, dsdt_at, &dsdt);
    put(&mut bytes, fadt_at, &fadt_at_dsdt(base + dsdt_at as u64));
    for (t, &at) in others.iter().zip(&placed) {
        put(&mut bytes, at, t);
    }
    Tables { base, bytes }
}

fn align(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

fn put(bytes: &mut [u8], at: usize, what: &[u8]) {
    bytes[at..at + what.len()].copy_from_slice(what);
}

/// The byte that makes `bytes` sum to zero.
pub fn checksum(bytes: &[u8]) -> u8 {
    0u8.wrapping_sub(bytes.iter().fold(0u8, |a, &b| a.wrapping_add(b)))
}

fn rsdp(xsdt_addr: u64) -> Vec<u8> {
    let mut r = vec![0u8; RSDP_LEN];
    r[0..8].copy_from_slice(b"RSD PTR ");
    r[9..15].copy_from_slice(OEM_ID);
    r[15] = 2; // revision: ACPI 2.0+, with an XSDT
    r[20..24].copy_from_slice(&(RSDP_LEN as u32).to_le_bytes());
    r[24..32].copy_from_slice(&xsdt_addr.to_le_bytes());
    r[8] = checksum(&r[..20]);
    r[32] = checksum(&r);
    r
}

/// A table: the common header (with length and checksum) and `body`.
fn table(signature: &[u8; 4], revision: u8, body: &[u8]) -> Vec<u8> {
    let mut t = vec![0u8; HEADER_LEN];
    t[0..4].copy_from_slice(signature);
    t[4..8].copy_from_slice(&((HEADER_LEN + body.len()) as u32).to_le_bytes());
    t[8] = revision;
    t[10..16].copy_from_slice(OEM_ID);
    t[16..24].copy_from_slice(OEM_TABLE_ID);
    t[24..28].copy_from_slice(&1u32.to_le_bytes());
    t[28..32].copy_from_slice(CREATOR_ID);
    t[32..36].copy_from_slice(&1u32.to_le_bytes());
    t.extend_from_slice(body);
    t[9] = checksum(&t);
    t
}

/// A Generic Address Structure for one byte-wide I/O port.
fn gas_port(port: u16) -> [u8; 12] {
    let mut g = [0u8; 12];
    g[0] = GAS_SPACE_IO;
    g[1] = 8; // bit width
    g[3] = GAS_ACCESS_BYTE;
    g[4..12].copy_from_slice(&u64::from(port).to_le_bytes());
    g
}

fn fadt(sleep_port: u16, dsdt_addr: u64) -> Vec<u8> {
    let mut body = vec![0u8; FADT_LEN - HEADER_LEN];
    let at = |offset: usize| offset - HEADER_LEN;
    // The 32-bit DSDT field too: kernels read it when X_DSDT is absent.
    body[at(FADT_DSDT)..at(FADT_DSDT) + 4].copy_from_slice(&(dsdt_addr as u32).to_le_bytes());
    body[at(FADT_BOOT_ARCH)..at(FADT_BOOT_ARCH) + 2]
        .copy_from_slice(&BOOT_ARCH_NO_CMOS_RTC.to_le_bytes());
    body[at(FADT_FLAGS)..at(FADT_FLAGS) + 4].copy_from_slice(&FADT_FLAG_HW_REDUCED.to_le_bytes());
    body[at(FADT_MINOR_VERSION)] = FADT_MINOR_REVISION;
    body[at(FADT_X_DSDT)..at(FADT_X_DSDT) + 8].copy_from_slice(&dsdt_addr.to_le_bytes());
    body[at(FADT_SLEEP_CONTROL)..at(FADT_SLEEP_CONTROL) + 12]
        .copy_from_slice(&gas_port(sleep_port));
    body[at(FADT_SLEEP_STATUS)..at(FADT_SLEEP_STATUS) + 12].copy_from_slice(&gas_port(sleep_port));
    body[at(FADT_HYPERVISOR_ID)..at(FADT_HYPERVISOR_ID) + 8].copy_from_slice(b"SCHEDBOX");
    table(b"FACP", FADT_REVISION, &body)
}

fn madt(p: &Platform) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&p.lapic_addr.to_le_bytes());
    body.extend_from_slice(&MADT_PCAT_COMPAT.to_le_bytes());
    for cpu in 0..p.shape.vcpus() {
        let apic_id = p.shape.apic_id(cpu) as u8;
        body.extend_from_slice(&[MADT_LOCAL_APIC, 8, cpu as u8, apic_id]);
        body.extend_from_slice(&LAPIC_ENABLED.to_le_bytes());
    }
    // The IOAPIC takes the ID after the last local APIC's.
    let ioapic_id = (0..p.shape.vcpus())
        .map(|c| p.shape.apic_id(c))
        .max()
        .unwrap_or(0)
        + 1;
    body.extend_from_slice(&[MADT_IOAPIC, 12, ioapic_id as u8, 0]);
    body.extend_from_slice(&p.ioapic_addr.to_le_bytes());
    body.extend_from_slice(&0u32.to_le_bytes()); // GSI base
    body.extend_from_slice(&[MADT_LOCAL_NMI, 6, NMI_ALL_CPUS, 0, 0, NMI_LINT]);
    table(b"APIC", 4, &body)
}

/// Each node's share of RAM: the ranges cut into equal parts, node 0 first.
pub fn node_memory(shape: &Shape, ram: &[(u64, u64)]) -> Vec<(u32, u64, u64)> {
    const GRANULE: u64 = 2 << 20;
    let total: u64 = ram.iter().map(|r| r.1).sum();
    let share = (total / u64::from(shape.nodes)) / GRANULE * GRANULE;
    let mut out = Vec::new();
    let (mut node, mut left) = (0u32, share);
    for &(mut start, mut len) in ram {
        while len > 0 {
            let last = node + 1 == shape.nodes;
            let take = if last { len } else { len.min(left) };
            out.push((node, start, take));
            start += take;
            len -= take;
            left -= take.min(left);
            if left == 0 && !last {
                node += 1;
                left = share;
            }
        }
    }
    out
}

fn srat(p: &Platform) -> Vec<u8> {
    let mut body = vec![0u8; 12];
    body[0..4].copy_from_slice(&1u32.to_le_bytes()); // reserved, 1 for compatibility
    for place in p.shape.places() {
        let mut e = [0u8; 16];
        e[0] = SRAT_CPU;
        e[1] = 16;
        e[2] = place.node as u8;
        e[3] = p.shape.apic_id(place.cpu) as u8;
        e[4..8].copy_from_slice(&SRAT_ENABLED.to_le_bytes());
        e[9..12].copy_from_slice(&place.node.to_le_bytes()[1..4]);
        body.extend_from_slice(&e);
    }
    for (node, start, len) in node_memory(p.shape, p.ram) {
        let mut e = [0u8; 40];
        e[0] = SRAT_MEMORY;
        e[1] = 40;
        e[2..6].copy_from_slice(&node.to_le_bytes());
        e[8..16].copy_from_slice(&start.to_le_bytes());
        e[16..24].copy_from_slice(&len.to_le_bytes());
        e[28..32].copy_from_slice(&SRAT_ENABLED.to_le_bytes());
        body.extend_from_slice(&e);
    }
    table(b"SRAT", 3, &body)
}

fn slit(shape: &Shape) -> Vec<u8> {
    let n = shape.nodes;
    let mut body = u64::from(n).to_le_bytes().to_vec();
    for a in 0..n {
        for b in 0..n {
            body.push(shape.distance(a, b));
        }
    }
    table(b"SLIT", 1, &body)
}

#[cfg(test)]
mod tests;
