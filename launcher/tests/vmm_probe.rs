//! The KVM probe's verdict on this host.

use std::time::{Duration, Instant};

use schedbox::vmm::probe::kvm_usable;

/// Upper bound for a probe that must answer "quickly" (it normally takes milliseconds).
const PROBE_BUDGET: Duration = Duration::from_secs(1);

#[test]
fn probe_answers_quickly_with_a_reason() {
    let started = Instant::now();
    let verdict = kvm_usable();
    let took = started.elapsed();
    eprintln!("kvm_usable() = {verdict:?} after {took:?}");
    assert!(took < PROBE_BUDGET * 3, "the probe took {took:?}");
    if let Err(why) = &verdict {
        assert!(why.starts_with("KVM is not usable on this host: "), "{why}");
        assert!(
            why.len() > "KVM is not usable on this host: ".len() + 10,
            "{why}"
        );
    }
    // Running it again must give the same verdict (nothing cached, nothing left behind).
    assert_eq!(kvm_usable().is_ok(), verdict.is_ok());
}
