//! What the guest stands on: no libc and no allocator, so its own buffers and tables,
//! one error type, thin system calls, the filesystems it mounts, the serial ports and
//! the records it writes there, the kernel log, children run from the initramfs, and
//! ending the VM.

// First, so that its `fail!` macro is in scope in the modules below and the crate's.
#[macro_use]
pub mod fail;

pub mod buf;
pub mod capture;
pub mod exec;
pub mod host;
pub mod kmsg;
pub mod mount;
pub mod power;
pub mod proc_stat;
pub mod record;
pub mod serial;
pub mod sys;
pub mod table;
