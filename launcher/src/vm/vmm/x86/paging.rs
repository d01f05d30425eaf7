//! Identity page tables for 64-bit entry: the first 4 GiB mapped with 2 MiB pages.

use vm_memory::{Bytes, GuestAddress};

use crate::vm::vmm::error::VmmError;
use crate::vm::vmm::layout::{PAGE_SIZE, PDPT_START, PD_COUNT, PD_START, PML4_START};
use crate::vm::vmm::memory::GuestMemory;

const PRESENT: u64 = 1 << 0;
const WRITABLE: u64 = 1 << 1;
const HUGE_PAGE: u64 = 1 << 7;
const ENTRIES_PER_TABLE: u64 = 512;
const PAGE_2M: u64 = 2 << 20;
const PAGE_1G: u64 = 1 << 30;

/// Every `(address, value)` pair of the page tables, in table order.
pub fn table_entries() -> Vec<(u64, u64)> {
    let mut entries = vec![(PML4_START, PDPT_START | PRESENT | WRITABLE)];
    for pd in 0..PD_COUNT {
        let pd_addr = PD_START + pd * PAGE_SIZE;
        entries.push((PDPT_START + pd * 8, pd_addr | PRESENT | WRITABLE));
        for i in 0..ENTRIES_PER_TABLE {
            let phys = pd * PAGE_1G + i * PAGE_2M;
            entries.push((pd_addr + i * 8, phys | PRESENT | WRITABLE | HUGE_PAGE));
        }
    }
    entries
}

/// Writes the page tables; returns the value for CR3.
pub fn write_identity_map(mem: &GuestMemory) -> Result<u64, VmmError> {
    for (addr, value) in table_entries() {
        mem.write_obj(value, GuestAddress(addr))
            .map_err(|e| VmmError::Memory(format!("cannot write page tables: {e}")))?;
    }
    Ok(PML4_START)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::vmm::memory::create_bytes;

    /// Walks the tables in guest memory like the MMU does for a 2 MiB mapping.
    fn translate(mem: &GuestMemory, cr3: u64, virt: u64) -> Option<u64> {
        let index = |level: u32| (virt >> (12 + 9 * level)) & 0x1ff;
        let addr_mask = 0x000f_ffff_ffff_f000;
        let pml4e: u64 = mem.read_obj(GuestAddress(cr3 + index(3) * 8)).ok()?;
        if pml4e & PRESENT == 0 {
            return None;
        }
        let pdpte: u64 = mem
            .read_obj(GuestAddress((pml4e & addr_mask) + index(2) * 8))
            .ok()?;
        if pdpte & PRESENT == 0 {
            return None;
        }
        let pde: u64 = mem
            .read_obj(GuestAddress((pdpte & addr_mask) + index(1) * 8))
            .ok()?;
        if pde & PRESENT == 0 || pde & HUGE_PAGE == 0 {
            return None;
        }
        Some((pde & !(PAGE_2M - 1) & addr_mask) | (virt & (PAGE_2M - 1)))
    }

    #[test]
    fn identity_maps_the_first_4g() {
        let mem = create_bytes(1 << 20).unwrap();
        let cr3 = write_identity_map(&mem).unwrap();
        for addr in [
            0,
            0x1234,
            0x100_0000 + 0x123,
            0xbfff_ffff,
            0xfee0_0000,
            0xffff_ffff,
        ] {
            assert_eq!(translate(&mem, cr3, addr), Some(addr), "{addr:#x}");
        }
        assert_eq!(translate(&mem, cr3, 1 << 32), None);
    }

    #[test]
    fn tables_fit_below_the_command_line() {
        let last = table_entries().iter().map(|(a, _)| *a).max().unwrap();
        assert!(last < crate::vm::vmm::layout::CODE_START);
    }
}
