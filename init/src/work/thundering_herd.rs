//! `thundering-herd`: worker 0 puts out one token every `period_us` (on an absolute
//! schedule) and wakes every other worker at once with one `FUTEX_WAKE`; they all run
//! and race for the token, and one wins it. Unlike `futex-fanout` the waker never waits
//! for the herd: a slow waiter misses rounds. An iteration is a token put out for
//! worker 0 and a round seen for the others, which record how late they ran after
//! worker 0 woke them.

use super::{burn, futex, Beat, Ctx};
use crate::platform::sys::{self, now_ns, NS_PER_US};
use core::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};

/// Team words: the round the herd waits on, and whether its token is still there.
const ROUND: usize = 0;
const TOKEN: usize = 1;
/// What the winner does with the token.
const TOKEN_WORK_UNITS: u64 = 1024;

/// The herd's side; worker 0 is the waker.
pub fn run(ctx: &Ctx) -> ! {
    if ctx.index == 0 {
        waker(ctx)
    }
    let (round, token) = (ctx.link.word(ROUND), ctx.link.word(TOKEN));
    let mut seen = 0;
    let mut beat = Beat::new(ctx);
    loop {
        seen = futex::wait_until(&mut beat, round, Acquire, |r| r != seen);
        if token.compare_exchange(1, 0, AcqRel, Relaxed).is_ok() {
            burn(TOKEN_WORK_UNITS);
        }
        beat.add(1);
    }
}

fn waker(ctx: &Ctx) -> ! {
    // Timer slack would stretch every period.
    sys::set_timer_slack_ns(1);
    let (round, token) = (ctx.link.word(ROUND), ctx.link.word(TOKEN));
    let period = ctx.param("period_us") * NS_PER_US;
    let mut beat = Beat::new(ctx);
    let mut next = now_ns();
    loop {
        token.store(1, Relaxed);
        ctx.link.stamp_mates(ctx.slot);
        round.fetch_add(1, Release);
        futex::wake(round, futex::ALL);
        beat.add(1);
        next += period;
        beat.sleep_until(next);
    }
}
