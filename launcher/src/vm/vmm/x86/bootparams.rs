//! The Linux boot protocol's zero page (`struct boot_params`) for the 64-bit entry.

use linux_loader::bootparam::{boot_e820_entry, boot_params, setup_header};
use vm_memory::{Bytes, GuestAddress};

use crate::vm::vmm::error::VmmError;
use crate::vm::vmm::layout::ZERO_PAGE_START;
use crate::vm::vmm::memory::GuestMemory;
use crate::vm::vmm::x86::e820::E820Entry;

/// type_of_loader: "undefined" boot loader.
const LOADER_UNDEFINED: u8 = 0xff;

/// What goes into the zero page besides the kernel's own header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootInfo<'a> {
    pub cmdline_addr: u64,
    /// Length without the NUL.
    pub cmdline_len: usize,
    /// `(address, size)` of the initramfs.
    pub initrd: Option<(u64, u64)>,
    pub e820: &'a [E820Entry],
    /// The ACPI RSDP's address.
    pub rsdp: u64,
}

/// Builds the zero page from the kernel's setup header.
pub fn build(header: setup_header, info: &BootInfo) -> Result<boot_params, VmmError> {
    let mut params = boot_params {
        hdr: header,
        ..Default::default()
    };
    params.hdr.type_of_loader = LOADER_UNDEFINED;
    params.hdr.cmd_line_ptr = info.cmdline_addr as u32;
    params.hdr.cmdline_size = info.cmdline_len as u32;
    if let Some((addr, size)) = info.initrd {
        params.hdr.ramdisk_image = addr as u32;
        params.hdr.ramdisk_size = size as u32;
    }
    if info.e820.len() > params.e820_table.len() {
        return Err(VmmError::Config(format!(
            "{} e820 entries do not fit the zero page",
            info.e820.len()
        )));
    }
    for (slot, entry) in params.e820_table.iter_mut().zip(info.e820) {
        *slot = boot_e820_entry {
            addr: entry.addr,
            size: entry.size,
            r#type: entry.kind,
        };
    }
    params.e820_entries = info.e820.len() as u8;
    params.acpi_rsdp_addr = info.rsdp;
    Ok(params)
}

/// Writes the zero page; returns its address for RSI.
pub fn write(mem: &GuestMemory, params: &boot_params) -> Result<u64, VmmError> {
    mem.write_obj(*params, GuestAddress(ZERO_PAGE_START))
        .map_err(|e| VmmError::Memory(format!("cannot write the zero page: {e}")))?;
    Ok(ZERO_PAGE_START)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::vmm::x86::e820::{e820_map, E820_RAM};

    #[test]
    fn carries_cmdline_initrd_and_e820() {
        let map = e820_map(256 << 20);
        let header = setup_header {
            header: 0x5372_6448,
            version: 0x020f,
            initrd_addr_max: 0x7fff_ffff,
            ..Default::default()
        };
        let info = BootInfo {
            cmdline_addr: 0x2_0000,
            cmdline_len: 42,
            initrd: Some((0xff0_0000, 0x1234)),
            e820: &map,
            rsdp: 0xe_0000,
        };
        let p = build(header, &info).unwrap();
        let (ptr, size, image, rsize) = (
            p.hdr.cmd_line_ptr,
            p.hdr.cmdline_size,
            p.hdr.ramdisk_image,
            p.hdr.ramdisk_size,
        );
        assert_eq!(
            (ptr, size, image, rsize),
            (0x2_0000, 42, 0xff0_0000, 0x1234)
        );
        let (magic, loader, version) = (p.hdr.header, p.hdr.type_of_loader, p.hdr.version);
        assert_eq!((magic, loader, version), (0x5372_6448, 0xff, 0x020f));
        assert_eq!(p.e820_entries as usize, map.len());
        let last = p.e820_table[map.len() - 1];
        let (addr, len, kind) = (last.addr, last.size, last.r#type);
        assert_eq!((addr, len, kind), (0x10_0000, 255 << 20, E820_RAM));
        let rsdp = p.acpi_rsdp_addr;
        assert_eq!(rsdp, 0xe_0000);
    }

    #[test]
    fn zero_page_lands_where_rsi_points() {
        let mem = crate::vm::vmm::memory::create_bytes(1 << 20).unwrap();
        let p = build(
            setup_header::default(),
            &BootInfo {
                cmdline_addr: 0x2_0000,
                cmdline_len: 3,
                initrd: None,
                e820: &e820_map(1 << 20),
                rsdp: 0xe_0000,
            },
        )
        .unwrap();
        let at = write(&mem, &p).unwrap();
        // cmd_line_ptr sits at offset 0x228 of the zero page.
        let ptr: u32 = mem.read_obj(GuestAddress(at + 0x228)).unwrap();
        assert_eq!(ptr, 0x2_0000);
        let entries: u8 = mem.read_obj(GuestAddress(at + 0x1e8)).unwrap();
        assert_eq!(entries, 2);
    }
}
