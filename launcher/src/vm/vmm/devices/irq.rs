//! Interrupt lines from devices into the in-kernel irqchip, through irqfd.

use std::sync::atomic::{AtomicU64, Ordering};

use kvm_ioctls::VmFd;
use vm_superio::Trigger;
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

use crate::vm::vmm::error::VmmError;

/// An edge-triggered interrupt line: each trigger pulses the GSI.
pub struct IrqLine {
    event: EventFd,
    /// Pulses sent, for the VMM's device counters.
    fired: AtomicU64,
}

impl IrqLine {
    /// A line wired to `gsi` of the VM's irqchip.
    pub fn connect(vm: &VmFd, gsi: u32) -> Result<Self, VmmError> {
        let line = Self::unconnected()?;
        vm.register_irqfd(&line.event, gsi)
            .map_err(|e| VmmError::kvm("KVM_IRQFD", e))?;
        Ok(line)
    }

    /// A line wired to nothing (for devices tested without a VM).
    pub fn unconnected() -> Result<Self, VmmError> {
        let event = EventFd::new(EFD_NONBLOCK)
            .map_err(|e| VmmError::Config(format!("cannot create an eventfd: {e}")))?;
        Ok(Self {
            event,
            fired: AtomicU64::new(0),
        })
    }

    /// How many times the line fired in all.
    pub fn fired(&self) -> u64 {
        self.fired.load(Ordering::Relaxed)
    }

    /// How many times the line fired since last asked (tests).
    pub fn take_count(&self) -> u64 {
        self.event.read().unwrap_or(0)
    }
}

impl Trigger for IrqLine {
    type E = std::io::Error;

    fn trigger(&self) -> Result<(), Self::E> {
        self.fired.fetch_add(1, Ordering::Relaxed);
        self.event.write(1)
    }
}
