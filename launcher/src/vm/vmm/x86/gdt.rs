//! The GDT installed for the entry and the matching KVM segment registers.

use kvm_bindings::kvm_segment;
use vm_memory::{Bytes, GuestAddress};

use crate::vm::vmm::error::VmmError;
use crate::vm::vmm::layout::GDT_START;
use crate::vm::vmm::memory::GuestMemory;

/// Selectors of the entry GDT (index × 8).
pub const CODE_SELECTOR: u16 = 0x08;
pub const DATA_SELECTOR: u16 = 0x10;
pub const TSS_SELECTOR: u16 = 0x18;

/// Access bytes: present, ring 0; code execute/read, data read/write, busy 64-bit TSS.
const ACCESS_CODE: u8 = 0x9b;
const ACCESS_DATA: u8 = 0x93;
const ACCESS_TSS: u8 = 0x8b;
/// Flag nibbles: G (4 KiB granularity), D/B (32-bit), L (64-bit code).
const FLAG_G: u8 = 0x8;
const FLAG_DB: u8 = 0x4;
const FLAG_L: u8 = 0x2;
const LIMIT_4G: u32 = 0xf_ffff;

/// Which code segment the entry uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeBits {
    /// 64-bit long mode (Linux 64-bit boot protocol).
    Long,
    /// 32-bit protected mode (PVH entry).
    Protected,
}

/// Encodes one descriptor.
pub fn descriptor(access: u8, flags: u8, base: u32, limit: u32) -> u64 {
    let base = u64::from(base);
    let limit = u64::from(limit);
    (limit & 0xffff)
        | ((base & 0xff_ffff) << 16)
        | (u64::from(access) << 40)
        | (((limit >> 16) & 0xf) << 48)
        | (u64::from(flags & 0xf) << 52)
        | (((base >> 24) & 0xff) << 56)
}

/// The four entries: null, code, data, TSS.
pub fn table(bits: CodeBits) -> [u64; 4] {
    let code_flags = match bits {
        CodeBits::Long => FLAG_G | FLAG_L,
        CodeBits::Protected => FLAG_G | FLAG_DB,
    };
    [
        0,
        descriptor(ACCESS_CODE, code_flags, 0, LIMIT_4G),
        descriptor(ACCESS_DATA, FLAG_G | FLAG_DB, 0, LIMIT_4G),
        descriptor(ACCESS_TSS, FLAG_G, 0, LIMIT_4G),
    ]
}

/// Decodes a descriptor into the segment register KVM loads for `selector`.
pub fn segment(entry: u64, selector: u16) -> kvm_segment {
    let flags = ((entry >> 52) & 0xf) as u8;
    let access = ((entry >> 40) & 0xff) as u8;
    let raw_limit = ((entry & 0xffff) | (((entry >> 48) & 0xf) << 16)) as u32;
    let granular = flags & FLAG_G != 0;
    kvm_segment {
        base: ((entry >> 16) & 0xff_ffff) | (((entry >> 56) & 0xff) << 24),
        limit: if granular {
            (raw_limit << 12) | 0xfff
        } else {
            raw_limit
        },
        selector,
        type_: access & 0xf,
        present: (access >> 7) & 1,
        dpl: (access >> 5) & 3,
        db: u8::from(flags & FLAG_DB != 0),
        s: (access >> 4) & 1,
        l: u8::from(flags & FLAG_L != 0),
        g: u8::from(granular),
        avl: flags & 1,
        unusable: 0,
        padding: 0,
    }
}

/// Writes the GDT to guest memory; returns its limit for the GDTR.
pub fn write(mem: &GuestMemory, entries: &[u64]) -> Result<u16, VmmError> {
    for (i, entry) in entries.iter().enumerate() {
        mem.write_obj(*entry, GuestAddress(GDT_START + 8 * i as u64))
            .map_err(|e| VmmError::Memory(format!("cannot write the GDT: {e}")))?;
    }
    Ok((entries.len() * 8 - 1) as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_encodings() {
        // The classic flat descriptors.
        let long = table(CodeBits::Long);
        assert_eq!(long[1], 0x00af_9b00_0000_ffff);
        assert_eq!(long[2], 0x00cf_9300_0000_ffff);
        assert_eq!(table(CodeBits::Protected)[1], 0x00cf_9b00_0000_ffff);
    }

    #[test]
    fn long_mode_code_segment() {
        let cs = segment(table(CodeBits::Long)[1], CODE_SELECTOR);
        assert_eq!((cs.l, cs.db, cs.g, cs.present, cs.s), (1, 0, 1, 1, 1));
        assert_eq!(cs.type_, 0xb);
        assert_eq!(cs.limit, 0xffff_ffff);
        assert_eq!(cs.base, 0);
    }

    #[test]
    fn protected_mode_segments_are_flat_32_bit() {
        let t = table(CodeBits::Protected);
        let cs = segment(t[1], CODE_SELECTOR);
        let ds = segment(t[2], DATA_SELECTOR);
        assert_eq!((cs.l, cs.db), (0, 1));
        assert_eq!((ds.db, ds.type_, ds.limit), (1, 3, 0xffff_ffff));
        let tss = segment(t[3], TSS_SELECTOR);
        assert_eq!((tss.s, tss.type_), (0, 0xb));
    }

    #[test]
    fn base_round_trips() {
        let d = descriptor(ACCESS_DATA, 0, 0x1234_5678, 0xabcd);
        let s = segment(d, DATA_SELECTOR);
        assert_eq!((s.base, s.limit, s.g), (0x1234_5678, 0xabcd, 0));
    }
}
