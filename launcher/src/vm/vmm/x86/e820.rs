//! The e820 memory map handed to the kernel (boot params or PVH memmap).

use crate::vm::vmm::layout::{EBDA_START, HIMEM_START, LOW_MEMORY_END};
use crate::vm::vmm::memory::ram_ranges;

/// e820 type of usable RAM.
pub const E820_RAM: u32 = 1;
/// e820 type of reserved memory.
pub const E820_RESERVED: u32 = 2;

/// One e820 entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct E820Entry {
    pub addr: u64,
    pub size: u64,
    pub kind: u32,
}

/// The memory map of a guest with `bytes` of RAM: conventional memory up to the EBDA, the
/// EBDA reserved, then RAM from 1 MiB, split around the MMIO hole. The legacy VGA/BIOS area
/// between 640 KiB and 1 MiB (where the MP table lives) is left out: it is not RAM to the
/// kernel.
pub fn e820_map(bytes: u64) -> Vec<E820Entry> {
    let mut map = vec![
        E820Entry {
            addr: 0,
            size: EBDA_START,
            kind: E820_RAM,
        },
        E820Entry {
            addr: EBDA_START,
            size: LOW_MEMORY_END - EBDA_START,
            kind: E820_RESERVED,
        },
    ];
    for (start, len) in ram_ranges(bytes) {
        let start_above_1m = start.max(HIMEM_START);
        let end = start + len;
        if end > start_above_1m {
            map.push(E820Entry {
                addr: start_above_1m,
                size: end - start_above_1m,
                kind: E820_RAM,
            });
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::vmm::layout::{MMIO_HOLE_END, MMIO_HOLE_START};

    const MIB: u64 = 1 << 20;

    #[test]
    fn small_guest_map() {
        let map = e820_map(256 * MIB);
        assert_eq!(
            map,
            vec![
                E820Entry {
                    addr: 0,
                    size: 0x9fc00,
                    kind: E820_RAM
                },
                E820Entry {
                    addr: 0x9fc00,
                    size: 0x400,
                    kind: E820_RESERVED
                },
                E820Entry {
                    addr: 0x10_0000,
                    size: 255 * MIB,
                    kind: E820_RAM
                },
            ]
        );
    }

    #[test]
    fn large_guest_map_has_ram_above_4g() {
        let map = e820_map(5 * 1024 * MIB);
        assert_eq!(map.len(), 4);
        assert_eq!(map[2].addr + map[2].size, MMIO_HOLE_START);
        assert_eq!(map[3].addr, MMIO_HOLE_END);
        assert_eq!(map[3].size, 5 * 1024 * MIB - MMIO_HOLE_START);
        let ram: u64 = map
            .iter()
            .filter(|e| e.kind == E820_RAM)
            .map(|e| e.size)
            .sum();
        // Everything but the EBDA and the legacy hole is RAM.
        assert_eq!(ram, 5 * 1024 * MIB - (HIMEM_START - EBDA_START));
    }

    #[test]
    fn entries_do_not_overlap() {
        let map = e820_map(3 * 1024 * MIB);
        for pair in map.windows(2) {
            assert!(pair[0].addr + pair[0].size <= pair[1].addr, "{pair:?}");
        }
    }
}
