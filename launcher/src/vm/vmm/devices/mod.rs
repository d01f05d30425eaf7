//! The emulated devices, one per file: the bus they sit on (I/O ports and MMIO), the
//! 8250 UARTs, the i8042 (for reset), the ACPI sleep register (for power-off), the
//! virtio console (records), and the interrupt lines into KVM's irqchip.

pub mod bus;
pub mod i8042;
pub mod irq;
pub mod power;
pub mod serial;
pub mod virtio_console;
