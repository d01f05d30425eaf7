//! What a VM backend (our KVM VMM, QEMU) must provide to the launcher.
//!
//! A backend only runs a VM: it turns bytes from the guest's serial ports and its
//! virtio console into events. Watchdog, record parsing, verdict and report live above it, so the backends
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
    /// Whether the guest gets a virtio console for its records; without one (or without
    /// the driver in its kernel) the init writes them to COM2.
    pub virtio_records: bool,
}

/// Set (non-empty) to boot without the virtio console, so that the records take the
/// serial port: for measuring both channels, and for testing the fallback.
pub const SERIAL_RECORDS_ENV: &str = "SCHEDBOX_SERIAL_RECORDS";

/// Whether this run offers the guest a virtio console for its records.
pub fn virtio_wanted() -> bool {
    std::env::var_os(SERIAL_RECORDS_ENV).is_none_or(|v| v.is_empty())
}

/// Set (non-empty) to let the guest power the VM off by itself after its `done` record
/// instead of schedbox stopping the VM there: for testing the guest's power-off path.
pub const WAIT_POWER_OFF_ENV: &str = "SCHEDBOX_WAIT_POWER_OFF";

/// Whether this run stops its VM as soon as the guest's `done` record is in.
pub fn stop_at_done_wanted() -> bool {
    std::env::var_os(WAIT_POWER_OFF_ENV).is_none_or(|v| v.is_empty())
}

/// Which channel carried the guest's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordsChannel {
    /// The 16550 UART COM2 (/dev/ttyS1 in the guest): one VM exit per byte.
    Serial,
    /// The virtio console (/dev/hvc0): a page or more per exit.
    Virtio,
    /// A `--host` run's init writes them to its stdout, a pipe to schedbox.
    Pipe,
}

impl RecordsChannel {
    /// How the text summary names it.
    pub fn describe(self) -> &'static str {
        match self {
            RecordsChannel::Serial => "serial port COM2 (ttyS1)",
            RecordsChannel::Virtio => "virtio console (hvc0)",
            RecordsChannel::Pipe => "pipe from the host's init (its stdout)",
        }
    }
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
    /// One line from the records channel (without the newline).
    Record(String),
    /// The channel that the records after this event come on; sent before its first line.
    Channel(RecordsChannel),
    /// The VM ended; no events follow.
    Exited(VmExit),
}

/// A VM that is running.
pub trait VmHandle: Send {
    /// Stops the VM at once. Idempotent. An `Exited(Killed)` event follows if none was sent.
    fn kill(&mut self);
}

/// What a run's plan ran in, for the words that describe it: a VM, or (`run --host`)
/// this machine, where schedbox-init is a process of schedbox's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machine {
    Vm,
    Host,
}

impl Machine {
    /// What ran the plan, as messages name it.
    pub fn engine(self) -> &'static str {
        match self {
            Machine::Vm => "the guest",
            Machine::Host => "schedbox-init",
        }
    }
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
    /// What the run happens in: a VM, unless this backend runs on the host itself.
    fn machine(&self) -> Machine {
        Machine::Vm
    }
    /// Whether the VM may be stopped as soon as the guest's `done` record is in: its
    /// last record, after which a VM's guest only powers off. A host run's init must
    /// end by itself (its run's cgroup is removed once it has gone).
    fn stops_at_done(&self) -> bool {
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
