//! Placing the initramfs: as high in low RAM as the kernel allows, above the kernel.

use vm_memory::{Bytes, GuestAddress};

use crate::vm::vmm::error::VmmError;
use crate::vm::vmm::layout::PAGE_SIZE;
use crate::vm::vmm::memory::GuestMemory;

/// Where an initramfs of `size` bytes goes: page-aligned, ending at or below both
/// `low_ram_end` and `addr_max` (the highest address the kernel accepts), starting at or
/// above `kernel_end`.
pub fn address(
    low_ram_end: u64,
    addr_max: u64,
    kernel_end: u64,
    size: u64,
) -> Result<u64, VmmError> {
    let top = low_ram_end.min(addr_max.saturating_add(1));
    let start = top
        .checked_sub(size)
        .map(|a| a & !(PAGE_SIZE - 1))
        .filter(|a| *a >= kernel_end);
    start.ok_or_else(|| {
        VmmError::Config(format!(
            "the initramfs ({size} bytes) does not fit between the kernel (ending at {kernel_end:#x}) \
             and {top:#x}: give the VM more memory"
        ))
    })
}

/// Copies the initramfs to `addr`.
pub fn write(mem: &GuestMemory, addr: u64, initramfs: &[u8]) -> Result<(), VmmError> {
    mem.write_slice(initramfs, GuestAddress(addr))
        .map_err(|e| VmmError::Memory(format!("cannot copy the initramfs: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn goes_to_the_top_page_aligned() {
        let a = address(256 * MIB, u64::MAX, 40 * MIB, 10_000).unwrap();
        assert_eq!(a % PAGE_SIZE, 0);
        assert!(a + 10_000 <= 256 * MIB);
        assert!(256 * MIB - a < 10_000 + PAGE_SIZE);
    }

    #[test]
    fn respects_the_kernels_limit() {
        let a = address(4096 * MIB, 0x37ff_ffff, 40 * MIB, 1 << 20).unwrap();
        assert!(a + (1 << 20) <= 0x3800_0000);
    }

    #[test]
    fn too_big_is_a_clear_error() {
        let err = address(64 * MIB, u64::MAX, 40 * MIB, 30 * MIB)
            .unwrap_err()
            .to_string();
        assert!(err.contains("more memory"), "{err}");
        assert!(address(64 * MIB, u64::MAX, 0, 65 * MIB).is_err());
    }
}
