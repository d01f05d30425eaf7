//! Where the VMM puts things in guest physical memory.
//!
//! Everything the boot needs lives below 1 MiB, away from the kernel (loaded at 1 MiB or
//! above) and the initramfs (placed at the top of low RAM).

/// The GDT used for the entry (null, code, data, TSS).
pub const GDT_START: u64 = 0x500;
/// An empty IDT: the kernel installs its own before enabling interrupts.
pub const IDT_START: u64 = 0x540;
/// PVH `hvm_start_info`.
pub const PVH_INFO_START: u64 = 0x6000;
/// PVH module list (the initramfs).
pub const PVH_MODLIST_START: u64 = 0x6040;
/// PVH memory map.
pub const PVH_MEMMAP_START: u64 = 0x6080;
/// Linux boot protocol "zero page" (`struct boot_params`).
pub const ZERO_PAGE_START: u64 = 0x7000;
/// Stack pointer handed to the kernel at entry.
pub const BOOT_STACK_TOP: u64 = 0x8ff0;
/// Identity page tables: one PML4, one PDPT and [`PD_COUNT`] page directories.
pub const PML4_START: u64 = 0x9000;
pub const PDPT_START: u64 = 0xa000;
pub const PD_START: u64 = 0xb000;
/// Page directories mapped with 2 MiB pages: 4 of them cover the first 4 GiB.
pub const PD_COUNT: u64 = 4;
/// Where hand-assembled code guests are loaded.
pub const CODE_START: u64 = 0x1_0000;
/// The kernel command line.
pub const CMDLINE_START: u64 = 0x2_0000;
/// The most bytes reserved for the command line (including its NUL).
pub const CMDLINE_MAX: usize = 0x1_0000;
/// Extended BIOS data area, reserved in the e820 map as on a PC.
pub const EBDA_START: u64 = 0x9_fc00;
/// End of conventional memory (start of the VGA hole).
pub const LOW_MEMORY_END: u64 = 0xa_0000;
/// The ACPI tables (RSDP first), in the BIOS area the kernel also scans for the RSDP.
pub const ACPI_START: u64 = 0xe_0000;
/// The MP floating pointer and configuration table, in the BIOS area the kernel scans
/// (not RAM in the e820 map, so the kernel leaves it alone).
pub const MPTABLE_START: u64 = 0xf_0000;
/// Kernels are loaded at or above 1 MiB.
pub const HIMEM_START: u64 = 0x10_0000;
/// 32-bit MMIO hole (IOAPIC, LAPIC): RAM beyond it continues at 4 GiB.
pub const MMIO_HOLE_START: u64 = 0xc000_0000;
pub const MMIO_HOLE_END: u64 = 1 << 32;
/// IOAPIC and local APIC base addresses (the in-kernel irqchip serves them).
pub const IOAPIC_ADDR: u32 = 0xfec0_0000;
pub const LAPIC_ADDR: u32 = 0xfee0_0000;
/// The 3 pages KVM needs on Intel for its real-mode TSS, in the MMIO hole.
pub const KVM_TSS_ADDR: usize = 0xfffb_d000;
/// Page size used for alignment.
pub const PAGE_SIZE: u64 = 0x1000;
