//! Chooses the VM backend and accelerator from `--backend` and `--accel`.

use crate::backend::{Backend, BackendError};
use crate::qemu::{Accel, Qemu};
use crate::vmm::launch::KvmBackend;
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

/// `--backend auto` takes schedbox's own VMM when the KVM probe passes, else QEMU (with
/// TCG under `--accel auto`, since the same probe just failed).
pub fn backend_for(backend: BackendChoice, accel: AccelChoice) -> Result<Selection, BackendError> {
    let probe = || -> Result<(), String> { kvm_usable() };
    match backend {
        BackendChoice::Kvm => Ok(own_vmm("--backend kvm".to_string())),
        BackendChoice::Qemu => Ok(qemu(accel, probe)),
        BackendChoice::Auto if accel == AccelChoice::Tcg => Ok(qemu(accel, probe)),
        BackendChoice::Auto => match kvm_usable() {
            Ok(()) => Ok(own_vmm("the KVM probe passed".to_string())),
            Err(why) => Ok(qemu(accel, || Err(why.clone()))),
        },
    }
}

fn own_vmm(why: String) -> Selection {
    Selection {
        backend: Box::new(KvmBackend),
        note: format!("schedbox's KVM VMM ({why})"),
    }
}

fn qemu(accel: AccelChoice, probe: impl Fn() -> Result<(), String>) -> Selection {
    let (accel, note) = match accel {
        AccelChoice::Kvm => (Accel::Kvm, "QEMU with KVM (--accel kvm)".to_string()),
        AccelChoice::Tcg => (Accel::Tcg, "QEMU with TCG (--accel tcg)".to_string()),
        AccelChoice::Auto => match probe() {
            Ok(()) => (Accel::Kvm, "QEMU with KVM (KVM probe passed)".to_string()),
            Err(why) => (Accel::Tcg, format!("QEMU with TCG ({why})")),
        },
    };
    Selection {
        backend: Box::new(Qemu::new(accel)),
        note,
    }
}
