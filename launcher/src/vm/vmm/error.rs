//! Why the VMM could not start or run a VM.

use crate::vm::backend::BackendError;

/// A VMM failure, by cause.
#[derive(Debug)]
pub enum VmmError {
    /// /dev/kvm is missing or cannot be opened.
    NoKvm(String),
    /// A KVM ioctl failed.
    Kvm {
        what: &'static str,
        source: kvm_ioctls::Error,
    },
    /// Guest memory could not be set up.
    Memory(String),
    /// The kernel or initramfs could not be loaded.
    Kernel(String),
    /// The requested machine is invalid (CPU count, memory size, command line...).
    Config(String),
    /// A host thread could not be started.
    Thread(std::io::Error),
}

impl VmmError {
    /// A failed KVM ioctl, named.
    pub fn kvm(what: &'static str, source: kvm_ioctls::Error) -> Self {
        VmmError::Kvm { what, source }
    }
}

impl std::fmt::Display for VmmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VmmError::NoKvm(m) => write!(f, "{m}"),
            VmmError::Kvm { what, source } => write!(f, "{what} failed: {source}"),
            VmmError::Memory(m) | VmmError::Kernel(m) | VmmError::Config(m) => write!(f, "{m}"),
            VmmError::Thread(e) => write!(f, "cannot start a vCPU thread: {e}"),
        }
    }
}

impl std::error::Error for VmmError {}

impl From<VmmError> for BackendError {
    fn from(e: VmmError) -> Self {
        match e {
            VmmError::NoKvm(m) => BackendError::Unavailable(m),
            VmmError::Kernel(m) => BackendError::BadKernel(m),
            other => BackendError::Host(other.to_string()),
        }
    }
}
