//! How the VM ends: the first reason reported wins, and everyone is told to stop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};

use crate::vm::backend::VmExit;

/// Shared by vCPU threads, devices and the handle.
#[derive(Default)]
pub struct ExitState {
    reason: Mutex<Option<VmExit>>,
    changed: Condvar,
    stop: AtomicBool,
}

impl ExitState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records why the VM ends, unless a reason is already recorded. True if this one won.
    pub fn finish(&self, reason: VmExit) -> bool {
        let mut slot = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        self.stop.store(true, Ordering::SeqCst);
        let won = slot.is_none();
        if won {
            *slot = Some(reason);
        }
        self.changed.notify_all();
        won
    }

    /// True once the VM is ending: vCPUs must not re-enter the guest.
    pub fn should_stop(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Blocks until a reason is recorded.
    pub fn wait(&self) -> VmExit {
        let mut slot = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(reason) = slot.clone() {
                return reason;
            }
            slot = self.changed.wait(slot).unwrap_or_else(|p| p.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_reason_wins() {
        let e = ExitState::new();
        assert!(!e.should_stop());
        assert!(e.finish(VmExit::Reset));
        assert!(!e.finish(VmExit::Killed));
        assert!(e.should_stop());
        assert_eq!(e.wait(), VmExit::Reset);
    }
}
