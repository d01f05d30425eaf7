//! Local APIC wiring: LINT0 receives the PIC's ExtINT, LINT1 NMIs (as on a PC).

use kvm_bindings::kvm_lapic_state;
use kvm_ioctls::VcpuFd;

use crate::vm::vmm::error::VmmError;

/// Offsets of the LVT LINT0/LINT1 registers in the APIC page.
const APIC_LVT_LINT0: usize = 0x350;
const APIC_LVT_LINT1: usize = 0x360;
/// Delivery mode field, bits 8..=10.
const DELIVERY_MODE_MASK: u32 = 0x700;
const DELIVERY_MODE_EXTINT: u32 = 0x700;
const DELIVERY_MODE_NMI: u32 = 0x400;

fn read_reg(regs: &[libc::c_char], offset: usize) -> u32 {
    let bytes: [u8; 4] = std::array::from_fn(|i| regs[offset + i] as u8);
    u32::from_le_bytes(bytes)
}

fn write_reg(regs: &mut [libc::c_char], offset: usize, value: u32) {
    for (i, b) in value.to_le_bytes().iter().enumerate() {
        regs[offset + i] = *b as libc::c_char;
    }
}

fn set_delivery_mode(regs: &mut [libc::c_char], offset: usize, mode: u32) {
    let value = read_reg(regs, offset);
    write_reg(regs, offset, (value & !DELIVERY_MODE_MASK) | mode);
}

/// Rewires LINT0/LINT1 in an APIC state.
pub fn wire_lints(state: &mut kvm_lapic_state) {
    set_delivery_mode(&mut state.regs, APIC_LVT_LINT0, DELIVERY_MODE_EXTINT);
    set_delivery_mode(&mut state.regs, APIC_LVT_LINT1, DELIVERY_MODE_NMI);
}

/// Applies [`wire_lints`] to a vCPU's in-kernel APIC.
pub fn setup(vcpu: &VcpuFd) -> Result<(), VmmError> {
    let mut state = vcpu
        .get_lapic()
        .map_err(|e| VmmError::kvm("KVM_GET_LAPIC", e))?;
    wire_lints(&mut state);
    vcpu.set_lapic(&state)
        .map_err(|e| VmmError::kvm("KVM_SET_LAPIC", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lints_get_extint_and_nmi_keeping_other_bits() {
        let mut state = kvm_lapic_state::default();
        write_reg(&mut state.regs, APIC_LVT_LINT0, 0x0001_0000); // masked
        write_reg(&mut state.regs, APIC_LVT_LINT1, 0x0001_0200);
        wire_lints(&mut state);
        assert_eq!(read_reg(&state.regs, APIC_LVT_LINT0), 0x0001_0700);
        assert_eq!(read_reg(&state.regs, APIC_LVT_LINT1), 0x0001_0400);
    }
}
