//! Futex waits and wakes on team words in the shared mapping. Not `FUTEX_PRIVATE`:
//! the waiters are separate processes.

use core::sync::atomic::AtomicU32;
use rustix::thread::futex::{self, Flags};

/// Wakes every waiter.
pub const ALL: u32 = i32::MAX as u32;

/// Sleeps while `word` holds `val`. Returns at once if it does not, and may return
/// early (a signal, a spurious wake-up): callers re-check their condition.
pub fn wait(word: &AtomicU32, val: u32) {
    let _ = futex::wait(word, Flags::empty(), val, None);
}

/// Wakes up to `n` waiters on `word`.
pub fn wake(word: &AtomicU32, n: u32) {
    let _ = futex::wake(word, Flags::empty(), n);
}
