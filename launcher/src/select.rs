//! Chooses the VM backend and accelerator from `--backend` and `--accel`.

use crate::backend::{Backend, BackendError};
use crate::qemu::{Accel, Qemu};
use crate::vmm::probe::kvm_usable;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendChoice {
    Auto,
    Qemu,
    Kvm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccelChoice {
    Auto,
    Kvm,
    Tcg,
}

/// A backend, and a line telling the user what was chosen and why.
pub struct Selection {
    pub backend: Box<dyn Backend>,
    pub note: String,
}

pub fn backend_for(backend: BackendChoice, accel: AccelChoice) -> Result<Selection, BackendError> {
    match backend {
        BackendChoice::Kvm => Err(own_vmm_missing()),
        // Once the own VMM is wired in, `Auto` prefers it when `kvm_usable()` is Ok.
        BackendChoice::Auto | BackendChoice::Qemu => Ok(qemu(accel)),
    }
}

/// Where the KVM VMM backend plugs in.
fn own_vmm_missing() -> BackendError {
    BackendError::Unavailable(
        "the KVM VMM backend is not part of this build yet: use --backend qemu".to_string(),
    )
}

fn qemu(accel: AccelChoice) -> Selection {
    let (accel, note) = match accel {
        AccelChoice::Kvm => (Accel::Kvm, "QEMU with KVM (--accel kvm)".to_string()),
        AccelChoice::Tcg => (Accel::Tcg, "QEMU with TCG (--accel tcg)".to_string()),
        AccelChoice::Auto => match kvm_usable() {
            Ok(()) => (Accel::Kvm, "QEMU with KVM (KVM probe passed)".to_string()),
            Err(why) => (Accel::Tcg, format!("QEMU with TCG (KVM not usable: {why})")),
        },
    };
    Selection {
        backend: Box::new(Qemu::new(accel)),
        note,
    }
}
