//! PVH boot: `hvm_start_info` with the command line, the initramfs as module and the memory map.

use linux_loader::loader::elf::start_info::{
    hvm_memmap_table_entry, hvm_modlist_entry, hvm_start_info,
};
use vm_memory::{Bytes, GuestAddress};

use crate::vm::vmm::error::VmmError;
use crate::vm::vmm::layout::{PVH_INFO_START, PVH_MEMMAP_START, PVH_MODLIST_START};
use crate::vm::vmm::memory::GuestMemory;
use crate::vm::vmm::x86::bootparams::BootInfo;

/// "xEn3" with the 0x80 bit of the 'e' set, as the PVH ABI defines it.
pub const XEN_HVM_START_MAGIC: u32 = 0x336e_c578;
/// Version 1 adds the memory map.
const START_INFO_VERSION: u32 = 1;

/// Everything the PVH entry reads, before it is written.
#[derive(Debug, Clone)]
pub struct StartInfo {
    pub info: hvm_start_info,
    pub module: Option<hvm_modlist_entry>,
    pub memmap: Vec<hvm_memmap_table_entry>,
}

/// Builds the start info for the given command line, initramfs and memory map.
pub fn build(boot: &BootInfo) -> StartInfo {
    let memmap: Vec<hvm_memmap_table_entry> = boot
        .e820
        .iter()
        .map(|e| hvm_memmap_table_entry {
            addr: e.addr,
            size: e.size,
            type_: e.kind,
            reserved: 0,
        })
        .collect();
    let module = boot.initrd.map(|(paddr, size)| hvm_modlist_entry {
        paddr,
        size,
        ..Default::default()
    });
    let info = hvm_start_info {
        magic: XEN_HVM_START_MAGIC,
        version: START_INFO_VERSION,
        nr_modules: u32::from(module.is_some()),
        modlist_paddr: if module.is_some() {
            PVH_MODLIST_START
        } else {
            0
        },
        cmdline_paddr: boot.cmdline_addr,
        memmap_paddr: PVH_MEMMAP_START,
        memmap_entries: memmap.len() as u32,
        rsdp_paddr: boot.rsdp,
        ..Default::default()
    };
    StartInfo {
        info,
        module,
        memmap,
    }
}

/// Writes the start info; returns its address for EBX.
pub fn write(mem: &GuestMemory, start: &StartInfo) -> Result<u64, VmmError> {
    let fail = |e: vm_memory::GuestMemoryError| {
        VmmError::Memory(format!("cannot write PVH start info: {e}"))
    };
    mem.write_obj(start.info, GuestAddress(PVH_INFO_START))
        .map_err(fail)?;
    if let Some(module) = start.module {
        mem.write_obj(module, GuestAddress(PVH_MODLIST_START))
            .map_err(fail)?;
    }
    let entry_size = std::mem::size_of::<hvm_memmap_table_entry>() as u64;
    for (i, entry) in start.memmap.iter().enumerate() {
        mem.write_obj(
            *entry,
            GuestAddress(PVH_MEMMAP_START + i as u64 * entry_size),
        )
        .map_err(fail)?;
    }
    Ok(PVH_INFO_START)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::vmm::layout::ZERO_PAGE_START;
    use crate::vm::vmm::x86::e820::e820_map;

    #[test]
    fn start_info_announces_cmdline_module_and_memmap() {
        let map = e820_map(512 << 20);
        let s = build(&BootInfo {
            cmdline_addr: 0x2_0000,
            cmdline_len: 10,
            initrd: Some((0x1f00_0000, 4096)),
            e820: &map,
            rsdp: 0xe_0000,
        });
        assert_eq!(s.info.magic, XEN_HVM_START_MAGIC);
        assert_eq!(
            (s.info.nr_modules, s.info.modlist_paddr),
            (1, PVH_MODLIST_START)
        );
        assert_eq!(s.info.cmdline_paddr, 0x2_0000);
        assert_eq!(s.info.memmap_entries as usize, map.len());
        let m = s.module.unwrap();
        assert_eq!((m.paddr, m.size), (0x1f00_0000, 4096));
        assert_eq!(s.memmap[2].addr, 0x10_0000);
    }

    #[test]
    fn no_initramfs_no_module() {
        let map = e820_map(64 << 20);
        let s = build(&BootInfo {
            cmdline_addr: 0x2_0000,
            cmdline_len: 0,
            initrd: None,
            e820: &map,
            rsdp: 0xe_0000,
        });
        assert_eq!((s.info.nr_modules, s.info.modlist_paddr), (0, 0));
    }

    #[test]
    fn written_tables_do_not_overlap_the_zero_page() {
        let map = e820_map(64 << 20);
        let s = build(&BootInfo {
            cmdline_addr: 0,
            cmdline_len: 0,
            initrd: Some((0, 1)),
            e820: &map,
            rsdp: 0xe_0000,
        });
        let mem = crate::vm::vmm::memory::create_bytes(1 << 20).unwrap();
        assert_eq!(write(&mem, &s).unwrap(), PVH_INFO_START);
        let end = PVH_MEMMAP_START + 24 * s.memmap.len() as u64;
        assert!(end <= ZERO_PAGE_START);
        let magic: u32 = mem.read_obj(GuestAddress(PVH_INFO_START)).unwrap();
        assert_eq!(magic, XEN_HVM_START_MAGIC);
    }
}
