//! schedbox's own VMM on KVM.

pub mod bench;
pub mod boot;
pub mod bootparams;
pub mod bus;
pub mod cpuid;
pub mod e820;
pub mod error;
pub mod exit;
pub mod gdt;
pub mod i8042;
pub mod initrd;
pub mod irq;
pub mod kernel;
pub mod kick;
pub mod lapic;
pub mod launch;
pub mod layout;
pub mod machine;
pub mod memory;
pub mod mptable;
pub mod msrs;
pub mod paging;
pub mod probe;
pub mod pvh;
pub mod regs;
pub mod serial;
pub mod vcpu;

pub use boot::{Boot, CodeMode, KernelBoot, Protocol};
pub use error::VmmError;
pub use launch::KvmBackend;
pub use machine::{start, MachineConfig, RunningVm};
