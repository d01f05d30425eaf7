//! The ACPI sleep control register of a hardware-reduced platform (the FADT points the
//! kernel at it): writing SLP_EN with the `\_S5` sleep type powers the VM off.

use std::sync::Arc;

use crate::vm::backend::VmExit;
use crate::vm::vmm::devices::bus::PortDevice;
use crate::vm::vmm::exit::ExitState;
use crate::vm::vmm::x86::acpi::S5_TYPE;

/// One byte-wide register, for both sleep control and sleep status.
pub const SLEEP_PORT: u16 = 0x600;
pub const SLEEP_PORTS: u16 = 1;
/// Sleep control: SLP_TYP in bits 2-4, SLP_EN in bit 5.
const SLP_TYP_SHIFT: u8 = 2;
const SLP_TYP_MASK: u8 = 0x7;
const SLP_EN: u8 = 1 << 5;
/// Sleep status: the wake status bit reads as set, so a sleep never looks pending.
const WAK_STS: u8 = 1 << 7;

pub struct Power {
    exit: Arc<ExitState>,
    /// Writes that asked for a state other than soft-off, which nothing here enters.
    pub ignored_writes: u64,
}

impl Power {
    pub fn new(exit: Arc<ExitState>) -> Self {
        Self {
            exit,
            ignored_writes: 0,
        }
    }
}

impl PortDevice for Power {
    fn read(&mut self, _offset: u16, data: &mut [u8]) {
        data.fill(0);
        if let Some(b) = data.first_mut() {
            *b = WAK_STS;
        }
    }

    fn write(&mut self, _offset: u16, data: &[u8]) {
        let Some(&value) = data.first() else { return };
        let sleep_type = (value >> SLP_TYP_SHIFT) & SLP_TYP_MASK;
        if value & SLP_EN != 0 && sleep_type == S5_TYPE {
            self.exit.finish(VmExit::PowerOff);
        } else {
            self.ignored_writes += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s5_with_slp_en_powers_off_and_nothing_else_does() {
        let exit = Arc::new(ExitState::new());
        let mut power = Power::new(exit.clone());
        power.write(0, &[S5_TYPE << SLP_TYP_SHIFT]);
        power.write(0, &[SLP_EN | (3 << SLP_TYP_SHIFT)]);
        assert!(!exit.should_stop());
        assert_eq!(power.ignored_writes, 2);
        let mut status = [0u8];
        power.read(0, &mut status);
        assert_eq!(status[0], WAK_STS);
        power.write(0, &[SLP_EN | (S5_TYPE << SLP_TYP_SHIFT)]);
        assert!(exit.should_stop());
        assert_eq!(exit.wait(), VmExit::PowerOff);
    }
}
