//! Running the VM: the backend interface, choosing a backend, QEMU, schedbox's own VMM,
//! `--host` (no VM: init on the running kernel), the console scanner, cutting port output into lines, and the watchdog session that
//! runs a VM to its end.

pub mod backend;
pub mod console;
pub mod host;
pub mod lines;
pub mod qemu;
pub mod select;
pub mod session;
pub mod vmm;
