//! Register state at the guest's first instruction: real mode, 32-bit protected mode (PVH)
//! or 64-bit long mode (Linux 64-bit boot protocol).

use kvm_bindings::{kvm_fpu, kvm_regs, kvm_sregs};
use kvm_ioctls::VcpuFd;

use crate::vm::vmm::error::VmmError;
use crate::vm::vmm::layout::{BOOT_STACK_TOP, GDT_START, IDT_START};
use crate::vm::vmm::memory::GuestMemory;
use crate::vm::vmm::x86::gdt::{self, CodeBits, CODE_SELECTOR, DATA_SELECTOR, TSS_SELECTOR};
use crate::vm::vmm::x86::paging;

pub const CR0_PE: u64 = 1 << 0;
pub const CR0_MP: u64 = 1 << 1;
pub const CR0_EM: u64 = 1 << 2;
pub const CR0_ET: u64 = 1 << 4;
pub const CR0_NE: u64 = 1 << 5;
pub const CR0_PG: u64 = 1 << 31;
pub const CR4_PAE: u64 = 1 << 5;
pub const CR4_OSFXSR: u64 = 1 << 9;
pub const CR4_OSXMMEXCPT: u64 = 1 << 10;
pub const CR4_OSXSAVE: u64 = 1 << 18;
pub const EFER_LME: u64 = 1 << 8;
pub const EFER_LMA: u64 = 1 << 10;
/// RFLAGS bit 1 is reserved and always set.
const RFLAGS_RESERVED: u64 = 1 << 1;
/// x87 control word and MXCSR after FNINIT / reset.
const FPU_CONTROL_WORD: u16 = 0x37f;
const MXCSR_DEFAULT: u32 = 0x1f80;

/// How the guest starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// Real mode: CS:IP = `base >> 4 : 0`.
    Real { base: u64 },
    /// 32-bit protected mode, paging off; `ebx` as PVH wants it (start info).
    Protected { rip: u64, ebx: u64 },
    /// 64-bit mode on identity page tables; `rsi` as Linux wants it (zero page).
    Long { rip: u64, rsi: u64 },
}

/// Sets the boot vCPU's registers for `entry`, writing GDT and page tables as needed.
pub fn setup(vcpu: &VcpuFd, mem: &GuestMemory, entry: Entry) -> Result<(), VmmError> {
    let mut sregs = vcpu
        .get_sregs()
        .map_err(|e| VmmError::kvm("KVM_GET_SREGS", e))?;
    let mut regs = kvm_regs {
        rflags: RFLAGS_RESERVED,
        ..Default::default()
    };
    match entry {
        Entry::Real { base } => {
            sregs.cs.base = base;
            sregs.cs.selector = (base >> 4) as u16;
        }
        Entry::Protected { rip, ebx } => {
            protected_sregs(&mut sregs, mem, CodeBits::Protected)?;
            regs.rip = rip;
            regs.rbx = ebx;
        }
        Entry::Long { rip, rsi } => {
            protected_sregs(&mut sregs, mem, CodeBits::Long)?;
            sregs.cr3 = paging::write_identity_map(mem)?;
            sregs.cr4 |= CR4_PAE;
            sregs.cr0 |= CR0_PG;
            sregs.efer |= EFER_LME | EFER_LMA;
            regs.rip = rip;
            regs.rsi = rsi;
            regs.rsp = BOOT_STACK_TOP;
            regs.rbp = BOOT_STACK_TOP;
        }
    }
    vcpu.set_sregs(&sregs)
        .map_err(|e| VmmError::kvm("KVM_SET_SREGS", e))?;
    vcpu.set_regs(&regs)
        .map_err(|e| VmmError::kvm("KVM_SET_REGS", e))
}

/// Flat segments from a freshly written GDT, protection on, paging off.
fn protected_sregs(
    sregs: &mut kvm_sregs,
    mem: &GuestMemory,
    bits: CodeBits,
) -> Result<(), VmmError> {
    let table = gdt::table(bits);
    sregs.gdt.base = GDT_START;
    sregs.gdt.limit = gdt::write(mem, &table)?;
    sregs.idt.base = IDT_START;
    sregs.idt.limit = 0;
    let code = gdt::segment(table[1], CODE_SELECTOR);
    let data = gdt::segment(table[2], DATA_SELECTOR);
    sregs.cs = code;
    sregs.ds = data;
    sregs.es = data;
    sregs.fs = data;
    sregs.gs = data;
    sregs.ss = data;
    sregs.tr = gdt::segment(table[3], TSS_SELECTOR);
    // Caches on: KVM's reset value has CD and NW set, which a kernel that does not rewrite
    // CR0 early (the bzImage decompressor) would run with, uncached.
    sregs.cr0 = CR0_PE | CR0_ET | CR0_NE;
    sregs.cr4 = 0;
    sregs.efer = 0;
    Ok(())
}

/// Puts the FPU/SSE unit in its reset state.
pub fn setup_fpu(vcpu: &VcpuFd) -> Result<(), VmmError> {
    let fpu = kvm_fpu {
        fcw: FPU_CONTROL_WORD,
        mxcsr: MXCSR_DEFAULT,
        ..Default::default()
    };
    vcpu.set_fpu(&fpu)
        .map_err(|e| VmmError::kvm("KVM_SET_FPU", e))
}
