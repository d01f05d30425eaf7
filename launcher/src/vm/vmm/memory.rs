//! Guest RAM: how it is laid out around the MMIO hole, allocated and shown to KVM.

use kvm_bindings::kvm_userspace_memory_region;
use kvm_ioctls::VmFd;
use vm_memory::{GuestAddress, GuestMemoryBackend, GuestMemoryRegion};

use crate::vm::vmm::error::VmmError;
use crate::vm::vmm::layout::{MMIO_HOLE_END, MMIO_HOLE_START};

/// Guest memory as the VMM holds it.
pub type GuestMemory = vm_memory::GuestMemoryMmap<()>;

pub use crate::topology::limits::{MAX_MEMORY_MIB, MIN_MEMORY_MIB};

const MIB: u64 = 1 << 20;

/// RAM ranges `(start, length)` for `bytes` of memory: below the MMIO hole, then above 4 GiB.
pub fn ram_ranges(bytes: u64) -> Vec<(u64, u64)> {
    if bytes <= MMIO_HOLE_START {
        return vec![(0, bytes)];
    }
    vec![
        (0, MMIO_HOLE_START),
        (MMIO_HOLE_END, bytes - MMIO_HOLE_START),
    ]
}

/// End of the RAM below the MMIO hole.
pub fn low_ram_end(bytes: u64) -> u64 {
    bytes.min(MMIO_HOLE_START)
}

/// Allocates `mib` MiB of guest memory.
pub fn create(mib: u32) -> Result<GuestMemory, VmmError> {
    if !(MIN_MEMORY_MIB..=MAX_MEMORY_MIB).contains(&mib) {
        return Err(VmmError::Config(format!(
            "memory of {mib} MiB is out of range: give {MIN_MEMORY_MIB} to {MAX_MEMORY_MIB} MiB"
        )));
    }
    create_bytes(u64::from(mib) * MIB)
}

/// Allocates guest memory of exactly `bytes` (the probe uses a tiny guest).
pub fn create_bytes(bytes: u64) -> Result<GuestMemory, VmmError> {
    let ranges: Vec<(GuestAddress, usize)> = ram_ranges(bytes)
        .into_iter()
        .map(|(start, len)| (GuestAddress(start), len as usize))
        .collect();
    GuestMemory::from_ranges(&ranges).map_err(|e| {
        VmmError::Memory(format!(
            "cannot allocate {bytes} bytes of guest memory: {e}"
        ))
    })
}

/// Hands every region of `mem` to KVM as a memory slot.
pub fn register(vm: &VmFd, mem: &GuestMemory) -> Result<(), VmmError> {
    for (slot, region) in mem.iter().enumerate() {
        let host = region
            .get_host_address(vm_memory::MemoryRegionAddress(0))
            .map_err(|e| VmmError::Memory(format!("guest region has no host mapping: {e}")))?;
        let slot_region = kvm_userspace_memory_region {
            slot: slot as u32,
            flags: 0,
            guest_phys_addr: region.start_addr().0,
            memory_size: region.len(),
            userspace_addr: host as u64,
        };
        // SAFETY: the region is a live mapping owned by `mem`, which the caller keeps alive
        // for as long as the VM exists.
        unsafe { vm.set_user_memory_region(slot_region) }
            .map_err(|e| VmmError::kvm("KVM_SET_USER_MEMORY_REGION", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_guest_is_one_range() {
        assert_eq!(ram_ranges(512 * MIB), vec![(0, 512 * MIB)]);
        assert_eq!(low_ram_end(512 * MIB), 512 * MIB);
    }

    #[test]
    fn large_guest_skips_the_mmio_hole() {
        let ranges = ram_ranges(4096 * MIB);
        assert_eq!(ranges, vec![(0, 3072 * MIB), (4096 * MIB, 1024 * MIB)]);
        assert_eq!(low_ram_end(4096 * MIB), MMIO_HOLE_START);
    }

    #[test]
    fn memory_size_out_of_range_is_an_error() {
        let err = create(1).unwrap_err().to_string();
        assert!(err.contains("1 MiB is out of range"), "{err}");
    }
}
