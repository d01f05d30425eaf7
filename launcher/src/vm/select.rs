//! Chooses the VM backend and accelerator from `--backend` and `--accel`.

use crate::vm::backend::{Backend, BackendError};
use crate::vm::qemu::{Accel, Qemu};
use crate::vm::vmm::launch::KvmBackend;
use crate::vm::vmm::probe::{kvm_usable, ProbeError};

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
    /// QEMU emulates the CPUs (TCG): each vCPU needs a host core of its own.
    pub tcg: bool,
}

/// Set (to anything) to run `--backend kvm` even when the KVM probe fails: for developers
/// of the VMM, on hosts whose KVM the probe misjudges.
pub const SKIP_KVM_PROBE_ENV: &str = "SCHEDBOX_SKIP_KVM_PROBE";

/// `--backend auto` takes schedbox's own VMM when the KVM probe passes, else QEMU (with
/// TCG under `--accel auto`, since the same probe just failed). `--backend kvm` runs the
/// probe too: a KVM that cannot run Linux fails at once instead of at the timeout.
pub fn backend_for(
    backend: BackendChoice,
    accel: AccelChoice,
    qemu_cpu: Option<&str>,
) -> Result<Selection, BackendError> {
    let probe = || kvm_usable().map_err(|e| e.to_string());
    match backend {
        BackendChoice::Kvm if std::env::var_os(SKIP_KVM_PROBE_ENV).is_some() => Ok(own_vmm(
            format!("--backend kvm, probe skipped: {SKIP_KVM_PROBE_ENV} is set"),
        )),
        BackendChoice::Kvm => match kvm_usable() {
            Ok(()) => Ok(own_vmm("--backend kvm; the KVM probe passed".to_string())),
            Err(why) => Err(BackendError::Unavailable(kvm_refusal(&why))),
        },
        BackendChoice::Qemu => Ok(qemu(accel, qemu_cpu, probe)),
        // A CPU model is QEMU's to set: it asks for QEMU.
        BackendChoice::Auto if accel == AccelChoice::Tcg || qemu_cpu.is_some() => {
            Ok(qemu(accel, qemu_cpu, probe))
        }
        BackendChoice::Auto => match kvm_usable() {
            Ok(()) => Ok(own_vmm("the KVM probe passed".to_string())),
            Err(why) => Ok(qemu(accel, qemu_cpu, || Err(why.to_string()))),
        },
    }
}

/// Why `--backend kvm` will not run, and what to do instead (a failed guest's reason
/// already says to use QEMU).
fn kvm_refusal(why: &ProbeError) -> String {
    // A missing /dev/kvm and a failed guest already say to use QEMU.
    let advice = match why {
        ProbeError::CannotRunGuests(_) | ProbeError::NoKvm(_) => "",
        ProbeError::Setup(_) => "; use --backend qemu",
    };
    let why = why.to_string();
    let why = why.trim_end_matches(['.', ' ']);
    format!("--backend kvm: {why}{advice} (or set {SKIP_KVM_PROBE_ENV}=1 to try the VMM anyway)")
}

fn own_vmm(why: String) -> Selection {
    Selection {
        backend: Box::new(KvmBackend),
        note: format!("schedbox's KVM VMM ({why})"),
        tcg: false,
    }
}

fn qemu(
    accel: AccelChoice,
    cpu: Option<&str>,
    probe: impl Fn() -> Result<(), String>,
) -> Selection {
    let (accel, mut note) = match accel {
        AccelChoice::Kvm => (Accel::Kvm, "QEMU with KVM (--accel kvm)".to_string()),
        AccelChoice::Tcg => (Accel::Tcg, "QEMU with TCG (--accel tcg)".to_string()),
        AccelChoice::Auto => match probe() {
            Ok(()) => (Accel::Kvm, "QEMU with KVM (KVM probe passed)".to_string()),
            Err(why) => (Accel::Tcg, format!("QEMU with TCG ({why})")),
        },
    };
    if let Some(model) = cpu {
        note += &format!(", -cpu {model}");
    }
    Selection {
        backend: Box::new(Qemu::new(accel).with_cpu(cpu)),
        note,
        tcg: accel == Accel::Tcg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_says_what_to_do_once() {
        let plain = kvm_refusal(&ProbeError::Setup("too slow.".into()));
        assert_eq!(
            plain,
            format!(
                "--backend kvm: KVM is not usable on this host: too slow; use --backend qemu \
                 (or set {SKIP_KVM_PROBE_ENV}=1 to try the VMM anyway)"
            )
        );
        let advised = kvm_refusal(&ProbeError::CannotRunGuests(
            "emulation failure; use --backend qemu".into(),
        ));
        assert_eq!(advised.matches("--backend qemu").count(), 1, "{advised}");
        let missing = crate::vm::vmm::machine::open_kvm_error("No such file or directory");
        let missing = kvm_refusal(&ProbeError::NoKvm(missing));
        assert_eq!(missing.matches("--backend qemu").count(), 1, "{missing}");
    }
}
