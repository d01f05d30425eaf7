//! Intel MultiProcessor table: how the kernel learns the CPUs, the IOAPIC and ISA IRQ wiring
//! without ACPI.

use vm_memory::{Bytes, GuestAddress};

use crate::vm::vmm::error::VmmError;
use crate::vm::vmm::layout::{HIMEM_START, IOAPIC_ADDR, LAPIC_ADDR, MPTABLE_START};
use crate::vm::vmm::memory::GuestMemory;

const FLOATING_SIGNATURE: &[u8; 4] = b"_MP_";
const CONFIG_SIGNATURE: &[u8; 4] = b"PCMP";
const SPEC_REVISION: u8 = 4;
const FLOATING_LEN: usize = 16;
const HEADER_LEN: usize = 44;
const OEM_ID: &[u8; 8] = b"SCHEDBOX";
const PRODUCT_ID: &[u8; 12] = b"VMM         ";

const ENTRY_PROCESSOR: u8 = 0;
const ENTRY_BUS: u8 = 1;
const ENTRY_IOAPIC: u8 = 2;
const ENTRY_IO_INTERRUPT: u8 = 3;
const ENTRY_LOCAL_INTERRUPT: u8 = 4;

const APIC_VERSION: u8 = 0x14;
const IOAPIC_VERSION: u8 = 0x11;
const CPU_ENABLED: u8 = 1;
const CPU_BSP: u8 = 2;
/// Family 6 signature and FPU+APIC feature flags, as firmware reports them.
const CPU_SIGNATURE: u32 = 0x600;
const CPU_FEATURES: u32 = 0x201;
const INT_TYPE_INT: u8 = 0;
const INT_TYPE_NMI: u8 = 1;
const INT_TYPE_EXTINT: u8 = 3;
const ISA_BUS_ID: u8 = 0;
const ISA_IRQS: u8 = 16;
const ALL_LAPICS: u8 = 0xff;

/// The most vCPUs the table can describe (APIC IDs are one byte, the IOAPIC takes the
/// next): a hard bound of the format, above the machine's (`topology::limits`).
pub const MAX_CPUS: u32 = 254;
const _: () = assert!(crate::topology::limits::MAX_SHAPE_VCPUS <= MAX_CPUS);

/// Value that makes `bytes` sum to zero.
pub fn checksum(bytes: &[u8]) -> u8 {
    0u8.wrapping_sub(bytes.iter().fold(0u8, |a, b| a.wrapping_add(*b)))
}

fn processor(apic_id: u8) -> Vec<u8> {
    let flags = CPU_ENABLED | if apic_id == 0 { CPU_BSP } else { 0 };
    let mut e = vec![ENTRY_PROCESSOR, apic_id, APIC_VERSION, flags];
    e.extend_from_slice(&CPU_SIGNATURE.to_le_bytes());
    e.extend_from_slice(&CPU_FEATURES.to_le_bytes());
    e.extend_from_slice(&[0; 8]);
    e
}

fn interrupt(kind: u8, int_type: u8, src_irq: u8, dst_apic: u8, dst_pin: u8) -> Vec<u8> {
    vec![kind, int_type, 0, 0, ISA_BUS_ID, src_irq, dst_apic, dst_pin]
}

/// The entries after the header, and how many there are.
fn entries(cpus: u8) -> (Vec<u8>, u16) {
    let ioapic_id = cpus;
    let mut body = Vec::new();
    let mut count = 0u16;
    for id in 0..cpus {
        body.extend(processor(id));
        count += 1;
    }
    body.extend_from_slice(&[ENTRY_BUS, ISA_BUS_ID]);
    body.extend_from_slice(b"ISA   ");
    body.extend_from_slice(&[ENTRY_IOAPIC, ioapic_id, IOAPIC_VERSION, CPU_ENABLED]);
    body.extend_from_slice(&IOAPIC_ADDR.to_le_bytes());
    count += 2;
    for irq in 0..ISA_IRQS {
        body.extend(interrupt(
            ENTRY_IO_INTERRUPT,
            INT_TYPE_INT,
            irq,
            ioapic_id,
            irq,
        ));
        count += 1;
    }
    body.extend(interrupt(
        ENTRY_LOCAL_INTERRUPT,
        INT_TYPE_EXTINT,
        0,
        ALL_LAPICS,
        0,
    ));
    body.extend(interrupt(
        ENTRY_LOCAL_INTERRUPT,
        INT_TYPE_NMI,
        0,
        ALL_LAPICS,
        1,
    ));
    (body, count + 2)
}

/// The floating pointer followed by the configuration table, for placement at `start`.
pub fn build(cpus: u32, start: u64) -> Result<Vec<u8>, VmmError> {
    if cpus == 0 || cpus > MAX_CPUS {
        return Err(VmmError::Config(format!(
            "{cpus} vCPUs cannot be described: give 1 to {MAX_CPUS}"
        )));
    }
    let (body, count) = entries(cpus as u8);
    let mut table = Vec::with_capacity(HEADER_LEN + body.len());
    table.extend_from_slice(CONFIG_SIGNATURE);
    table.extend_from_slice(&((HEADER_LEN + body.len()) as u16).to_le_bytes());
    table.extend_from_slice(&[SPEC_REVISION, 0]);
    table.extend_from_slice(OEM_ID);
    table.extend_from_slice(PRODUCT_ID);
    table.extend_from_slice(&[0; 6]); // no OEM table
    table.extend_from_slice(&count.to_le_bytes());
    table.extend_from_slice(&LAPIC_ADDR.to_le_bytes());
    table.extend_from_slice(&[0; 4]); // no extended table
    table.extend(body);
    table[7] = checksum(&table);

    let mut out = Vec::with_capacity(FLOATING_LEN + table.len());
    out.extend_from_slice(FLOATING_SIGNATURE);
    out.extend_from_slice(&((start + FLOATING_LEN as u64) as u32).to_le_bytes());
    out.extend_from_slice(&[1, SPEC_REVISION, 0, 0, 0, 0, 0, 0]);
    out[10] = checksum(&out);
    out.extend(table);
    Ok(out)
}

/// Writes the MP table into the BIOS area, where the kernel scans for it.
pub fn write(mem: &GuestMemory, cpus: u32) -> Result<(), VmmError> {
    let bytes = build(cpus, MPTABLE_START)?;
    if MPTABLE_START + bytes.len() as u64 > HIMEM_START {
        return Err(VmmError::Config(format!(
            "the MP table for {cpus} vCPUs does not fit in the BIOS area"
        )));
    }
    mem.write_slice(&bytes, GuestAddress(MPTABLE_START))
        .map_err(|e| VmmError::Memory(format!("cannot write the MP table: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(bytes: &[u8]) -> u8 {
        bytes.iter().fold(0u8, |a, b| a.wrapping_add(*b))
    }

    #[test]
    fn floating_pointer_points_at_a_valid_table() {
        let t = build(4, MPTABLE_START).unwrap();
        assert_eq!(&t[0..4], b"_MP_");
        assert_eq!(sum(&t[..16]), 0);
        let ptr = u32::from_le_bytes(t[4..8].try_into().unwrap()) as u64;
        assert_eq!(ptr, MPTABLE_START + 16);
        let table = &t[16..];
        assert_eq!(&table[0..4], b"PCMP");
        let len = u16::from_le_bytes([table[4], table[5]]) as usize;
        assert_eq!(len, table.len());
        assert_eq!(sum(table), 0);
    }

    #[test]
    fn describes_every_cpu_the_ioapic_and_isa_irqs() {
        let cpus = 3;
        let t = build(cpus, MPTABLE_START).unwrap();
        let table = &t[16..];
        let count = u16::from_le_bytes([table[34], table[35]]);
        let mut pos = HEADER_LEN;
        let (mut procs, mut ints, mut ioapic) = (vec![], 0, None);
        for _ in 0..count {
            let kind = table[pos];
            match kind {
                ENTRY_PROCESSOR => {
                    procs.push((table[pos + 1], table[pos + 3]));
                    pos += 20;
                }
                ENTRY_IOAPIC => {
                    ioapic = Some(table[pos + 1]);
                    let addr = u32::from_le_bytes(table[pos + 4..pos + 8].try_into().unwrap());
                    assert_eq!(addr, IOAPIC_ADDR);
                    pos += 8;
                }
                ENTRY_IO_INTERRUPT => {
                    assert_eq!(table[pos + 5], table[pos + 7], "ISA IRQ n on pin n");
                    ints += 1;
                    pos += 8;
                }
                _ => pos += 8,
            }
        }
        assert_eq!(pos, table.len());
        assert_eq!(procs, vec![(0, 3), (1, 1), (2, 1)]);
        assert_eq!(ioapic, Some(3));
        assert_eq!(ints, 16);
    }

    #[test]
    fn too_many_cpus_is_an_error() {
        assert!(build(0, MPTABLE_START).is_err());
        let err = build(255, MPTABLE_START).unwrap_err().to_string();
        assert!(err.contains("1 to 254"), "{err}");
    }

    #[test]
    fn largest_table_fits_in_the_bios_area() {
        let mem = crate::vm::vmm::memory::create_bytes(2 << 20).unwrap();
        write(&mem, MAX_CPUS).unwrap();
        let mut sig = [0u8; 4];
        mem.read_slice(&mut sig, GuestAddress(MPTABLE_START))
            .unwrap();
        assert_eq!(&sig, b"_MP_");
    }
}
