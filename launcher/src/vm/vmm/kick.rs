//! Kicking a vCPU thread out of KVM_RUN: a real-time signal with an empty handler makes
//! the ioctl return EINTR, after which the thread sees the stop flag.

use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use vmm_sys_util::signal::{register_signal_handler, Killable, SIGRTMIN};

use crate::vm::vmm::error::VmmError;

/// Offset from SIGRTMIN of the kick signal.
const KICK_SIGNAL_OFFSET: libc::c_int = 0;
/// How often a thread that has not stopped is kicked again (a kick that lands just before
/// KVM_RUN is entered is lost).
const KICK_INTERVAL: Duration = Duration::from_millis(1);

extern "C" fn on_kick(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {}

/// The signal used for kicks.
pub fn signal() -> libc::c_int {
    SIGRTMIN() + KICK_SIGNAL_OFFSET
}

/// Installs the kick handler (once per process).
pub fn install() -> Result<(), VmmError> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| register_signal_handler(signal(), on_kick).map_err(|e| e.to_string()))
        .clone()
        .map_err(|e| VmmError::Config(format!("cannot install the vCPU kick signal handler: {e}")))
}

/// Kicks each thread until all have ended or `limit` passed; true if all ended.
pub fn stop_all<T>(threads: &[JoinHandle<T>], limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        let running: Vec<&JoinHandle<T>> = threads.iter().filter(|t| !t.is_finished()).collect();
        if running.is_empty() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        for t in running {
            // The thread may end between the check and the kick: that is fine.
            let _ = t.kill(signal());
        }
        std::thread::sleep(KICK_INTERVAL);
    }
}
