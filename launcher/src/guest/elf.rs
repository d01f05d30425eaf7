//! ELF facts the dependency walker, the loader cache, the packer, the pre-boot checks and
//! the kernel loaders share.

use std::io::Read;
use std::path::Path;

/// The first bytes of every ELF file.
pub const ELF_MAGIC: &[u8; 4] = b"\x7fELF";

/// Whether the file at `path` starts like an ELF file (false when it cannot be read).
pub fn is_elf(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| magic == *ELF_MAGIC)
}

/// `e_machine` of x86-64 and 64-bit Arm objects.
pub const EM_X86_64: u16 = 62;
pub const EM_AARCH64: u16 = 183;
