//! The KVM probe's verdict on this host.

use std::time::{Duration, Instant};

use schedbox::vm::vmm::probe::kvm_usable;

/// "Quickly": the verdict must come within this.
const PROBE_BUDGET: Duration = Duration::from_secs(1);
/// Set on hosts whose KVM runs guests natively; by default the test expects a host whose
/// KVM cannot (like the development machine's nested one) or no KVM at all.
const NATIVE_KVM_ENV: &str = "SCHEDBOX_TEST_KVM_NATIVE";
const PREFIX: &str = "KVM is not usable on this host: ";

#[test]
fn probe_answers_quickly_with_a_reason() {
    let started = Instant::now();
    let verdict = kvm_usable();
    let took = started.elapsed();
    eprintln!("kvm_usable() = {verdict:?} after {took:?}");
    assert!(took < PROBE_BUDGET, "the probe took {took:?}");
    if std::env::var_os(NATIVE_KVM_ENV).is_some() {
        assert_eq!(
            verdict,
            Ok(()),
            "{NATIVE_KVM_ENV} is set but the probe failed"
        );
    } else {
        let why = verdict
            .clone()
            .expect_err(&format!(
                "the probe says KVM runs guests natively here; if so, set {NATIVE_KVM_ENV}=1"
            ))
            .to_string();
        assert!(why.starts_with(PREFIX), "{why}");
        let reason = &why[PREFIX.len()..];
        let known = [
            "/dev/kvm",
            "emulation failure",
            "emulates guest code",
            "KVM internal error",
        ];
        assert!(known.iter().any(|k| reason.contains(k)), "{why}");
    }
    // Again: the same verdict (nothing cached, nothing left behind).
    assert_eq!(kvm_usable().is_ok(), verdict.is_ok());
}
