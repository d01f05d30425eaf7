//! SIGINT and SIGTERM during a run: the handler only notes the signal; the watchdog's
//! tick sees it, stops the VM, and the run ends with its records, its report and exit
//! 128 + signal. SIGXFSZ is ignored so that a file-size limit is a write error (a host
//! fault the report names) instead of killing schedbox with its VM still running.

use std::sync::atomic::{AtomicI32, Ordering};

/// The first stopping signal received; 0 while none has arrived.
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// The signals that stop a run.
pub const STOPPING: [i32; 2] = [libc::SIGINT, libc::SIGTERM];

extern "C" fn note(signal: libc::c_int) {
    // Only an atomic store: anything else is not async-signal-safe.
    let _ = RECEIVED.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
}

/// Installs the handlers; later SIGINT/SIGTERM no longer kill the process outright.
pub fn install() {
    for signal in STOPPING {
        // SAFETY: a zeroed sigaction with a handler that only stores an atomic; the
        // mask is emptied by sigemptyset before use.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = note as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
    // SAFETY: setting a signal's disposition to SIG_IGN has no preconditions.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
}

/// The stopping signal received so far, if any.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// The signal's name, e.g. "SIGINT".
pub fn name(signal: i32) -> String {
    match signal {
        libc::SIGINT => "SIGINT".to_string(),
        libc::SIGTERM => "SIGTERM".to_string(),
        other => format!("signal {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(name(libc::SIGINT), "SIGINT");
        assert_eq!(name(libc::SIGTERM), "SIGTERM");
        assert_eq!(name(9), "signal 9");
    }
}
