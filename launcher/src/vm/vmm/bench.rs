//! Launch-to-first-record timing for `make bench`. Works with any backend; the KVM entry
//! point first asks the probe whether KVM can run Linux here at all.

use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use crate::vm::backend::{Backend, VmEvent, VmSpec};
use crate::vm::vmm::launch::KvmBackend;
use crate::vm::vmm::probe::kvm_usable;

/// Console lines quoted when no record came.
const QUOTED_LINES: usize = 3;

/// Time from `launch` to the first record line; the VM is killed once it arrived.
pub fn launch_to_first_record(
    backend: &dyn Backend,
    spec: &VmSpec,
    limit: Duration,
) -> Result<Duration, String> {
    let (tx, rx) = channel();
    let started = Instant::now();
    let mut vm = backend
        .launch(spec, tx)
        .map_err(|e| format!("{}: {e}", backend.name()))?;
    let mut console = Vec::new();
    let outcome = loop {
        match rx.recv_timeout(limit.saturating_sub(started.elapsed())) {
            Ok(VmEvent::Record(_)) => break Ok(started.elapsed()),
            Ok(VmEvent::Console(line)) => console.push(line),
            Ok(VmEvent::Channel(_)) => {}
            Ok(VmEvent::Exited(reason)) => {
                break Err(format!("the VM ended ({reason:?}) before its first record"))
            }
            Err(_) => break Err(format!("no record within {limit:?}")),
        }
    };
    vm.kill();
    outcome.map_err(|why| {
        let tail = console[console.len().saturating_sub(QUOTED_LINES)..].join(" | ");
        format!("{}: {why}; last console lines: {tail}", backend.name())
    })
}

/// [`launch_to_first_record`] on the KVM backend, or why it cannot be measured here.
pub fn kvm_launch_to_first_record(spec: &VmSpec, limit: Duration) -> Result<Duration, String> {
    kvm_usable().map_err(|why| format!("kvm: not measured: {why}"))?;
    launch_to_first_record(&KvmBackend, spec, limit)
}
