//! Enough of the i8042 keyboard controller for the kernel's driver to find it quiet and
//! for `reboot=k`: command 0xfe on port 0x64 pulses the reset line, which ends the VM.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::vm::backend::VmExit;
use crate::vm::vmm::devices::bus::PortDevice;
use crate::vm::vmm::exit::ExitState;

/// Ports 0x60 (data) to 0x64 (status/command); 0x61 and 0x63 belong to others.
pub const I8042_PORT: u16 = 0x60;
pub const I8042_PORTS: u16 = 5;
const DATA: u16 = 0;
const COMMAND: u16 = 4;

const STATUS_OUTPUT_FULL: u8 = 1 << 0;
const STATUS_SYSTEM_FLAG: u8 = 1 << 2;

const CMD_READ_CTR: u8 = 0x20;
const CMD_WRITE_CTR: u8 = 0x60;
const CMD_DISABLE_AUX: u8 = 0xa7;
const CMD_ENABLE_AUX: u8 = 0xa8;
const CMD_TEST_AUX: u8 = 0xa9;
const CMD_SELF_TEST: u8 = 0xaa;
const CMD_TEST_KBD: u8 = 0xab;
const CMD_DISABLE_KBD: u8 = 0xad;
const CMD_ENABLE_KBD: u8 = 0xae;
const CMD_KBD_LOOP: u8 = 0xd2;
const CMD_AUX_LOOP: u8 = 0xd3;
const CMD_WRITE_AUX: u8 = 0xd4;
const CMD_RESET_CPU: u8 = 0xfe;

const SELF_TEST_OK: u8 = 0x55;
const PORT_TEST_OK: u8 = 0x00;
const CTR_KBD_DISABLED: u8 = 1 << 4;
const CTR_AUX_DISABLED: u8 = 1 << 5;
/// Keyboard interrupt on, system flag, translation on: what firmware leaves.
const CTR_DEFAULT: u8 = 0x45;
/// Answers kept for the guest to read; later ones are dropped, so a guest that sends
/// commands and never reads cannot grow the host's memory (a real controller holds one).
pub const OUTPUT_CAPACITY: usize = 16;

/// What a write to the data port means, set by the previous command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    None,
    WriteCtr,
    KbdLoop,
    /// Bytes for a mouse that is not there.
    Discard,
}

pub struct I8042 {
    ctr: u8,
    output: VecDeque<u8>,
    pending: Pending,
    exit: Arc<ExitState>,
}

impl I8042 {
    pub fn new(exit: Arc<ExitState>) -> Self {
        Self {
            ctr: CTR_DEFAULT,
            output: VecDeque::new(),
            pending: Pending::None,
            exit,
        }
    }

    fn status(&self) -> u8 {
        let full = if self.output.is_empty() {
            0
        } else {
            STATUS_OUTPUT_FULL
        };
        full | STATUS_SYSTEM_FLAG
    }

    fn answer(&mut self, value: u8) {
        if self.output.len() < OUTPUT_CAPACITY {
            self.output.push_back(value);
        }
    }

    fn command(&mut self, cmd: u8) {
        match cmd {
            CMD_READ_CTR => self.answer(self.ctr),
            CMD_WRITE_CTR => self.pending = Pending::WriteCtr,
            CMD_DISABLE_AUX => self.ctr |= CTR_AUX_DISABLED,
            CMD_ENABLE_AUX => self.ctr &= !CTR_AUX_DISABLED,
            CMD_DISABLE_KBD => self.ctr |= CTR_KBD_DISABLED,
            CMD_ENABLE_KBD => self.ctr &= !CTR_KBD_DISABLED,
            CMD_SELF_TEST => self.answer(SELF_TEST_OK),
            CMD_TEST_KBD | CMD_TEST_AUX => self.answer(PORT_TEST_OK),
            CMD_KBD_LOOP => self.pending = Pending::KbdLoop,
            CMD_AUX_LOOP | CMD_WRITE_AUX => self.pending = Pending::Discard,
            CMD_RESET_CPU => {
                self.exit.finish(VmExit::Reset);
            }
            _ => {}
        }
    }

    fn data(&mut self, value: u8) {
        match std::mem::replace(&mut self.pending, Pending::None) {
            Pending::WriteCtr => self.ctr = value,
            Pending::KbdLoop => self.answer(value),
            // No keyboard or mouse answers.
            Pending::Discard | Pending::None => {}
        }
    }
}

impl PortDevice for I8042 {
    fn read(&mut self, offset: u16, data: &mut [u8]) {
        let value = match offset {
            DATA => self.output.pop_front().unwrap_or(0),
            COMMAND => self.status(),
            _ => 0xff,
        };
        data.fill(value);
    }

    fn write(&mut self, offset: u16, data: &[u8]) {
        let Some(&value) = data.first() else { return };
        match offset {
            DATA => self.data(value),
            COMMAND => self.command(value),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(dev: &mut I8042, offset: u16) -> u8 {
        let mut b = [0u8];
        dev.read(offset, &mut b);
        b[0]
    }

    #[test]
    fn controller_answers_the_kernels_probe() {
        let exit = Arc::new(ExitState::new());
        let mut dev = I8042::new(exit.clone());
        assert_eq!(read(&mut dev, COMMAND) & STATUS_OUTPUT_FULL, 0);
        dev.write(COMMAND, &[CMD_SELF_TEST]);
        assert_ne!(read(&mut dev, COMMAND) & STATUS_OUTPUT_FULL, 0);
        assert_eq!(read(&mut dev, DATA), SELF_TEST_OK);
        dev.write(COMMAND, &[CMD_WRITE_CTR]);
        dev.write(DATA, &[0x12]);
        dev.write(COMMAND, &[CMD_READ_CTR]);
        assert_eq!(read(&mut dev, DATA), 0x12);
        dev.write(COMMAND, &[CMD_KBD_LOOP]);
        dev.write(DATA, &[0xa5]);
        assert_eq!(read(&mut dev, DATA), 0xa5);
        assert!(!exit.should_stop());
    }

    #[test]
    fn reset_command_ends_the_vm_with_reset() {
        let exit = Arc::new(ExitState::new());
        let mut dev = I8042::new(exit.clone());
        dev.write(COMMAND, &[CMD_RESET_CPU]);
        assert!(exit.should_stop());
        assert_eq!(exit.wait(), VmExit::Reset);
    }
}
