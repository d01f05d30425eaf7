//! schedbox's own VMM on KVM.
//!
//! - [`launch`]: the VMM as a backend of [`crate::vm::backend`]; [`probe`] decides
//!   whether this host's KVM really runs guests.
//! - [`machine`]: a whole VM (memory, irqchip, devices, vCPU threads); [`vcpu`] runs one,
//!   [`kick`] and [`exit`] end them.
//! - [`boot`], [`kernel`], [`initrd`], [`memory`], [`layout`]: what goes where in guest
//!   memory.
//! - [`x86`]: CPU state and boot tables; [`devices`]: the emulated devices.

pub mod bench;
pub mod boot;
pub mod devices;
pub mod error;
pub mod exit;
pub mod initrd;
pub mod kernel;
pub mod kick;
pub mod launch;
pub mod layout;
pub mod machine;
pub mod memory;
pub mod probe;
pub mod vcpu;
pub mod x86;

pub use boot::{Boot, CodeMode, KernelBoot, Protocol};
pub use error::VmmError;
pub use launch::KvmBackend;
pub use machine::{start, MachineConfig, RunningVm};
