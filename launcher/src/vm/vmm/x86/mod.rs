//! x86 machine set-up: CPU state and the tables the kernel reads at boot (CPUID, MSRs,
//! registers, GDT, page tables, local APIC wiring, the MP table, the e820 map, the boot
//! protocols' zero page and PVH start info).

pub mod acpi;
pub mod bootparams;
pub mod cpuid;
pub mod e820;
pub mod gdt;
pub mod lapic;
pub mod mptable;
pub mod msrs;
pub mod paging;
pub mod pvh;
pub mod regs;
