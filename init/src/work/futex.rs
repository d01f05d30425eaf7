//! Futex waits and wakes on team words in the shared mapping. Not `FUTEX_PRIVATE`:
//! the waiters are separate processes.

use super::Beat;
use core::sync::atomic::{AtomicU32, Ordering};
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

/// Waits until `done` accepts the value of `word` (loaded with `order`) and returns
/// that value. Each futex wait is marked blocked, so the monitor does not count it,
/// and each wake-up a teammate stamped adds to the worker's wake latencies.
pub fn wait_until(
    beat: &mut Beat,
    word: &AtomicU32,
    order: Ordering,
    done: impl Fn(u32) -> bool,
) -> u32 {
    loop {
        let v = word.load(order);
        if done(v) {
            return v;
        }
        let ((), late) = beat.block(|| wait(word, v));
        if let Some(ns) = late {
            beat.add_wake(ns);
        }
    }
}
