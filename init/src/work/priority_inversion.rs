//! `priority-inversion`: the textbook case on one lock. Worker 0, the holder, keeps the
//! group's own policy and takes the lock over and over, holding it `hold_us` each time.
//! Worker 1, the waiter (SCHED_FIFO, high), wakes every `period_us`, wakes the mediums,
//! then takes the lock and lets it go at once. Every further worker is a medium
//! (SCHED_FIFO, between the two) that spins `spin_us` each time the waiter wakes it.
//! On one CPU the waiter's wait for the lock is the inversion: with `lock=plain` (a
//! futex mutex) the mediums run before the holder, so the waiter waits about their
//! spin; with `lock=pi` (`FUTEX_LOCK_PI`) the kernel lends the holder the waiter's
//! priority, so it waits at most the rest of one hold. The waiter records each wait as
//! a wake latency. Iterations are holds, waits and bursts.

use super::{busy_for, futex, Beat, Ctx};
use crate::platform::sys::{self, now_ns, NS_PER_S, NS_PER_US, SCHED_FIFO};
use core::sync::atomic::{
    AtomicU32,
    Ordering::{Acquire, Relaxed, Release},
};
use rustix::io::Errno;
use rustix::thread::futex::{lock_pi, unlock_pi, Flags};
use schedbox_protocol::works::LOCK_PI;

/// Team words: the lock, and the count of the waiter's calls to the mediums.
const LOCK: usize = 0;
const CALL: usize = 1;
/// RT priorities: the waiter above the mediums, both below PID 1 (99).
const WAITER_PRIO: u32 = 20;
const MEDIUM_PRIO: u32 = 10;
const SPIN_CHUNK: u64 = 256;

/// A plain futex mutex's states (no owner is recorded: nothing to inherit).
const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
const CONTENDED: u32 = 2;

pub fn run(ctx: &Ctx) -> ! {
    match ctx.index {
        0 => holder(ctx),
        1 => waiter(ctx),
        _ => medium(ctx),
    }
}

/// One side's view of the lock.
struct Lock {
    word: &'static AtomicU32,
    pi: bool,
    /// The owner's id, what a PI futex word holds: a process's tid is its pid.
    tid: u32,
}

impl Lock {
    fn of(ctx: &Ctx) -> Self {
        Lock {
            word: ctx.link.word(LOCK),
            pi: ctx.param("lock") == LOCK_PI,
            tid: rustix::process::getpid().as_raw_nonzero().get() as u32,
        }
    }

    /// Takes the lock, the wait marked blocked for the monitor.
    fn lock(&self, ctx: &Ctx, beat: &mut Beat) {
        if self.pi {
            if self
                .word
                .compare_exchange(0, self.tid, Acquire, Relaxed)
                .is_ok()
            {
                return;
            }
            loop {
                match beat.block(|| lock_pi(self.word, Flags::empty(), None)).0 {
                    Ok(()) | Err(Errno::OWNERDEAD) => return,
                    Err(Errno::INTR) | Err(Errno::AGAIN) => {}
                    // The holder is gone: PID 1 is stopping the team, a member at a
                    // time, and this worker is next.
                    Err(Errno::SRCH) => loop {
                        beat.sleep_until(now_ns() + NS_PER_S);
                    },
                    Err(e) => ctx.quit("FUTEX_LOCK_PI", e),
                }
            }
        }
        if self
            .word
            .compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed)
            .is_ok()
        {
            return;
        }
        while self.word.swap(CONTENDED, Acquire) != UNLOCKED {
            beat.block(|| futex::wait(self.word, CONTENDED));
        }
    }

    fn unlock(&self, ctx: &Ctx) {
        if self.pi {
            // The kernel marks a contended PI lock: then it hands it over itself.
            if self
                .word
                .compare_exchange(self.tid, 0, Release, Relaxed)
                .is_err()
            {
                if let Err(e) = unlock_pi(self.word, Flags::empty()) {
                    ctx.quit("FUTEX_UNLOCK_PI", e);
                }
            }
        } else if self.word.swap(UNLOCKED, Release) == CONTENDED {
            futex::wake(self.word, 1);
        }
    }
}

fn holder(ctx: &Ctx) -> ! {
    let lock = Lock::of(ctx);
    let hold = ctx.param("hold_us") * NS_PER_US;
    let mut beat = Beat::new(ctx);
    loop {
        lock.lock(ctx, &mut beat);
        busy_for(&mut beat, hold, SPIN_CHUNK);
        beat.add(1);
        lock.unlock(ctx);
    }
}

fn waiter(ctx: &Ctx) -> ! {
    rt(ctx, WAITER_PRIO);
    sys::set_timer_slack_ns(1);
    let lock = Lock::of(ctx);
    let period = ctx.param("period_us") * NS_PER_US;
    let call = ctx.link.word(CALL);
    let mut beat = Beat::new(ctx);
    let mut next = now_ns() + period;
    loop {
        beat.sleep_until(next);
        next = now_ns() + period;
        // The mediums become runnable first, as in the textbook case: they run before
        // the holder unless the holder inherits this worker's priority.
        call.fetch_add(1, Release);
        futex::wake(call, futex::ALL);
        let asked = now_ns();
        lock.lock(ctx, &mut beat);
        beat.add_wake(now_ns() - asked);
        lock.unlock(ctx);
        beat.add(1);
    }
}

fn medium(ctx: &Ctx) -> ! {
    rt(ctx, MEDIUM_PRIO);
    let spin = ctx.param("spin_us") * NS_PER_US;
    let call = ctx.link.word(CALL);
    let mut beat = Beat::new(ctx);
    let mut seen = call.load(Acquire);
    loop {
        seen = futex::wait_until(&mut beat, call, Acquire, |c| c != seen);
        busy_for(&mut beat, spin, SPIN_CHUNK);
        beat.add(1);
    }
}

fn rt(ctx: &Ctx, prio: u32) {
    if let Err(e) = sys::set_scheduler(0, SCHED_FIFO, prio) {
        ctx.quit("setting SCHED_FIFO", e);
    }
}
