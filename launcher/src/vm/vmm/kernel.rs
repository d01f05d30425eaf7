//! Loading the kernel image: an ELF vmlinux (PVH entry when it has the note) or a bzImage
//! (64-bit boot protocol).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use linux_loader::bootparam::setup_header;
use linux_loader::loader::bzimage::BzImage;
use linux_loader::loader::elf::{Elf, PvhBootCapability};
use linux_loader::loader::KernelLoader;
use vm_memory::GuestAddress;

use crate::guest::elf::ELF_MAGIC;
use crate::vm::vmm::error::VmmError;
use crate::vm::vmm::layout::HIMEM_START;
use crate::vm::vmm::memory::GuestMemory;

/// "HdrS": the boot protocol header magic.
pub const HDRS_MAGIC: u32 = 0x5372_6448;
/// The boot sector signature.
pub const BOOT_FLAG: u16 = 0xaa55;
/// Boot protocol 2.06 introduced what the 64-bit entry needs.
const MIN_BOOT_PROTOCOL: u16 = 0x0206;
/// xloadflags: the kernel has the 64-bit entry at +0x200.
const XLF_KERNEL_64: u16 = 1 << 0;
/// The 64-bit entry's offset from the protected-mode kernel's start.
const STARTUP_64_OFFSET: u64 = 0x200;
/// Alignment a synthesized header asks for (the kernel's default, 16 MiB).
const DEFAULT_KERNEL_ALIGNMENT: u32 = 0x100_0000;
/// ELF64: where the header keeps the program headers' offset and count, their size, and
/// where a program header keeps its type, file size and memory size.
const ELF_HEADER_SIZE: usize = 64;
const E_PHOFF: usize = 0x20;
const E_PHNUM: usize = 0x38;
const PHDR_SIZE: usize = 56;
const P_FILESZ: usize = 32;
const P_MEMSZ: usize = 40;
const PT_LOAD: u32 = 1;

/// How to enter a loaded kernel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KernelEntry {
    /// PVH: 32-bit protected mode at `entry` with `hvm_start_info` in EBX.
    Pvh { entry: u64 },
    /// Linux 64-bit boot protocol: long mode at `entry` with the zero page in RSI.
    Linux64 { entry: u64, header: setup_header },
}

/// A kernel in guest memory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadedKernel {
    pub entry: KernelEntry,
    /// First address past everything the kernel occupies (decompressed, for a bzImage).
    pub end: u64,
}

/// Loads the kernel at `path` into `mem`; an ELF with a PVH note is entered through PVH
/// when `use_pvh` allows it.
pub fn load(mem: &GuestMemory, path: &Path, use_pvh: bool) -> Result<LoadedKernel, VmmError> {
    let name = path.display();
    let mut file = File::open(path)
        .map_err(|e| VmmError::Kernel(format!("cannot open kernel {name}: {e}")))?;
    let mut magic = [0u8; 4];
    file.read_exact(&mut magic)
        .and_then(|_| file.seek(SeekFrom::Start(0)))
        .map_err(|e| VmmError::Kernel(format!("cannot read kernel {name}: {e}")))?;
    if magic == *ELF_MAGIC {
        load_elf(mem, &mut file, use_pvh)
    } else {
        load_bzimage(mem, &mut file)
    }
    .map_err(|e| VmmError::Kernel(format!("{name}: {e}")))
}

fn load_elf(mem: &GuestMemory, file: &mut File, use_pvh: bool) -> Result<LoadedKernel, String> {
    check_segments(file)?;
    let loaded = Elf::load(mem, None, file, Some(GuestAddress(HIMEM_START)))
        .map_err(|e| format!("{e} (is it an x86-64 vmlinux?)"))?;
    let entry = match loaded.pvh_boot_cap {
        PvhBootCapability::PvhEntryPresent(addr) if use_pvh => KernelEntry::Pvh { entry: addr.0 },
        _ => KernelEntry::Linux64 {
            entry: loaded.kernel_load.0,
            header: synthesized_header(),
        },
    };
    Ok(LoadedKernel {
        entry,
        end: loaded.kernel_end,
    })
}

fn le<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    bytes[at..at + N].try_into().expect("inside the header")
}

/// Refuses a loadable segment with more bytes in the file than in memory: the loader
/// copies all of them but ends the kernel at its memory size, so the initramfs, placed
/// right above that end, would overwrite the rest.
fn check_segments(file: &mut File) -> Result<(), String> {
    let unreadable = |e: std::io::Error| format!("cannot read its program headers: {e}");
    let mut header = [0u8; ELF_HEADER_SIZE];
    file.read_exact(&mut header).map_err(unreadable)?;
    let phoff = u64::from_le_bytes(le(&header, E_PHOFF));
    let phnum = u16::from_le_bytes(le(&header, E_PHNUM));
    file.seek(SeekFrom::Start(phoff)).map_err(unreadable)?;
    for _ in 0..phnum {
        let mut phdr = [0u8; PHDR_SIZE];
        file.read_exact(&mut phdr).map_err(unreadable)?;
        let filesz = u64::from_le_bytes(le(&phdr, P_FILESZ));
        let memsz = u64::from_le_bytes(le(&phdr, P_MEMSZ));
        if u32::from_le_bytes(le(&phdr, 0)) == PT_LOAD && filesz > memsz {
            return Err(format!(
                "a loadable segment has {filesz} bytes in the file but {memsz} in memory \
                 (not a valid vmlinux)"
            ));
        }
    }
    file.seek(SeekFrom::Start(0)).map_err(unreadable)?;
    Ok(())
}

/// A setup header for an ELF kernel entered at startup_64, which has none of its own.
fn synthesized_header() -> setup_header {
    setup_header {
        boot_flag: BOOT_FLAG,
        header: HDRS_MAGIC,
        kernel_alignment: DEFAULT_KERNEL_ALIGNMENT,
        ..Default::default()
    }
}

fn load_bzimage(mem: &GuestMemory, file: &mut File) -> Result<LoadedKernel, String> {
    let loaded = BzImage::load(mem, None, file, Some(GuestAddress(HIMEM_START)))
        .map_err(|e| format!("{e} (neither an ELF vmlinux nor a bzImage?)"))?;
    let header = loaded
        .setup_header
        .ok_or("the bzImage has no setup header")?;
    check_64bit_entry(&header)?;
    // The kernel decompresses itself to its preferred address and needs init_size there.
    let decompressed_end = header
        .pref_address
        .max(u64::from(header.code32_start))
        .saturating_add(u64::from(header.init_size));
    Ok(LoadedKernel {
        entry: KernelEntry::Linux64 {
            entry: loaded.kernel_load.0 + STARTUP_64_OFFSET,
            header,
        },
        end: loaded.kernel_end.max(decompressed_end),
    })
}

/// The bzImage must offer the 64-bit entry point.
pub fn check_64bit_entry(header: &setup_header) -> Result<(), String> {
    let version = header.version;
    let xloadflags = header.xloadflags;
    if version < MIN_BOOT_PROTOCOL || xloadflags & XLF_KERNEL_64 == 0 {
        return Err(format!(
            "the bzImage (boot protocol {}.{:02}) has no 64-bit entry point: build an x86-64 kernel",
            version >> 8,
            version & 0xff
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_or_32_bit_bzimage_is_refused() {
        let mut h = setup_header {
            version: 0x020f,
            xloadflags: XLF_KERNEL_64,
            ..Default::default()
        };
        assert!(check_64bit_entry(&h).is_ok());
        h.xloadflags = 0;
        let err = check_64bit_entry(&h).unwrap_err();
        assert!(
            err.contains("2.15") && err.contains("no 64-bit entry"),
            "{err}"
        );
        h.version = 0x0205;
        h.xloadflags = XLF_KERNEL_64;
        assert!(check_64bit_entry(&h).is_err());
    }

    #[test]
    fn garbage_is_not_a_kernel() {
        let dir = std::env::temp_dir().join(format!("schedbox-kernel-test-{}", std::process::id()));
        std::fs::write(&dir, vec![0x42u8; 8192]).unwrap();
        let mem = crate::vm::vmm::memory::create_bytes(64 << 20).unwrap();
        let err = load(&mem, &dir, true).unwrap_err();
        std::fs::remove_file(&dir).unwrap();
        assert!(matches!(err, VmmError::Kernel(_)));
        assert!(
            err.to_string()
                .contains("neither an ELF vmlinux nor a bzImage"),
            "{err}"
        );
    }

    #[test]
    fn missing_kernel_names_the_path() {
        let mem = crate::vm::vmm::memory::create_bytes(1 << 20).unwrap();
        let err = load(&mem, Path::new("/nonexistent/bzImage"), true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/bzImage"), "{err}");
    }
}
