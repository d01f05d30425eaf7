//! What a VM backend (our KVM VMM, QEMU) must provide to the launcher.
//!
//! A backend only runs a VM: it turns bytes from the guest's two serial ports into
//! events. Watchdog, record parsing, verdict and report live above it, so the backends
//! differ only in how the VM runs.

use crate::topology::Shape;
use std::path::PathBuf;
use std::sync::mpsc::Sender;

/// Everything needed to boot one guest.
#[derive(Debug, Clone)]
pub struct VmSpec {
    /// bzImage, or an ELF vmlinux with a PVH note.
    pub kernel: PathBuf,
    /// The initramfs, built in memory.
    pub initramfs: Vec<u8>,
    /// Kernel command line (without the console options the backend adds itself).
    pub cmdline: String,
    /// Nodes, LLCs, cores and threads; `Shape::flat(n)` for `--cpus n`.
    pub topology: Shape,
    pub memory_mib: u32,
}

/// How the VM ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VmExit {
    /// The guest powered off (the normal end).
    PowerOff,
    /// The guest asked for a reset: schedbox's init restarts a VM it cannot power off,
    /// and a kernel panic with `panic=-1` resets too.
    Reset,
    /// The VM stopped by itself without saying whether it powered off or reset (QEMU
    /// exits 0 on both; the kernel's console line that tells them apart was not seen).
    Stopped,
    /// The VM died: a triple fault, an emulation failure, a crashed QEMU. The text says why.
    Crashed(String),
    /// Killed by the launcher (watchdog or timeout).
    Killed,
}

/// What a running VM reports, in order of arrival.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VmEvent {
    /// One line from COM1, the kernel console (without the newline).
    Console(String),
    /// One line from COM2, the record port (without the newline).
    Record(String),
    /// The VM ended; no events follow.
    Exited(VmExit),
}

/// A VM that is running.
pub trait VmHandle: Send {
    /// Stops the VM at once. Idempotent. An `Exited(Killed)` event follows if none was sent.
    fn kill(&mut self);
}

/// A way to run VMs.
pub trait Backend {
    /// Short name for reports: "kvm", "qemu-tcg", "qemu-kvm".
    fn name(&self) -> String;
    /// Whether guest instructions are emulated (TCG), so guest CPU times are many
    /// times what they would be on hardware.
    fn emulated(&self) -> bool {
        false
    }
    /// Boots the VM; events arrive on `events` until `Exited`.
    fn launch(
        &self,
        spec: &VmSpec,
        events: Sender<VmEvent>,
    ) -> Result<Box<dyn VmHandle>, BackendError>;
}

/// Why a VM could not be started.
#[derive(Debug)]
pub enum BackendError {
    /// The backend cannot run on this host (no /dev/kvm, no qemu binary...). Exit 125.
    Unavailable(String),
    /// The kernel image could not be loaded (not a kernel, unreadable). Exit 2.
    BadKernel(String),
    /// Anything else from the host side.
    Host(String),
}

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackendError::Unavailable(m) => write!(f, "backend unavailable: {m}"),
            BackendError::BadKernel(m) => write!(f, "cannot load kernel: {m}"),
            BackendError::Host(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for BackendError {}
