//! Does this host's KVM really execute a guest?

/// Ok when a probe guest ran natively on KVM; Err says why not.
pub fn kvm_usable() -> Result<(), String> {
    Err("the KVM probe is not built yet".to_string())
}
