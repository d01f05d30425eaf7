//! The emulated devices, one per file: the I/O port bus they sit on, the 8250 UARTs, the
//! i8042 (for reset), the ACPI sleep register (for power-off), and the interrupt lines
//! into KVM's irqchip.

pub mod bus;
pub mod i8042;
pub mod irq;
pub mod power;
pub mod serial;
