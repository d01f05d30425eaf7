//! `futex-fanout`: worker 0 wakes all the others at once with one `FUTEX_WAKE`, then
//! waits until every one has run and checked in; the last to check in wakes it. An
//! iteration is a round for worker 0 and a wake-up for the others, which record how
//! late they ran after worker 0 woke them. The check-in is shared with the other works
//! whose lead waits for all the others.
//!
//! `fan-out-compute` is the same fork-join with work in it: each woken worker spends
//! `work_us` of CPU before it checks in, so a round lasts as long as its slowest part.

use super::{busy_for, futex, Beat, Ctx};
use crate::platform::sys::{now_ns, NS_PER_US};
use core::sync::atomic::Ordering::{AcqRel, Acquire, Release};

/// Team words: the round the waiters wait on, and how many checked in.
const ROUND: usize = 0;
const ARRIVED: usize = 1;
const WORK_CHUNK: u64 = 256;

pub fn run(ctx: &Ctx) -> ! {
    if ctx.index == 0 {
        lead(ctx)
    } else {
        wait(ctx)
    }
}

fn lead(ctx: &Ctx) -> ! {
    let round = ctx.link.word(ROUND);
    let mut beat = Beat::new(ctx);
    loop {
        ctx.link.stamp_mates(ctx.slot);
        round.fetch_add(1, Release);
        futex::wake(round, futex::ALL);
        await_arrivals(ctx, &mut beat);
        beat.add(1);
    }
}

/// Lead side: waits until every other worker of the spawn checked in, then clears the
/// count for the next round (nobody touches it until the lead wakes them again).
pub fn await_arrivals(ctx: &Ctx, beat: &mut Beat) {
    let arrived = ctx.link.word(ARRIVED);
    let waiters = ctx.count.saturating_sub(1);
    loop {
        let a = arrived.load(Acquire);
        if a >= waiters {
            break;
        }
        beat.block(|| futex::wait(arrived, a));
    }
    arrived.store(0, Release);
}

/// Waiter side: checks in for this round; the last to check in wakes the lead.
pub fn check_in(ctx: &Ctx) {
    let arrived = ctx.link.word(ARRIVED);
    if arrived.fetch_add(1, AcqRel) + 1 == ctx.count - 1 {
        ctx.link.lead.stamp_wake(now_ns());
        futex::wake(arrived, 1);
    }
}

fn wait(ctx: &Ctx) -> ! {
    let round = ctx.link.word(ROUND);
    // `fan-out-compute`'s part of a round; `futex-fanout` has none (its key is absent).
    let work = ctx.param("work_us") * NS_PER_US;
    // The round it last ran in: 0 before the first, which the lead cannot pass
    // without this worker, however late it starts.
    let mut seen = 0;
    let mut beat = Beat::new(ctx);
    loop {
        seen = futex::wait_until(&mut beat, round, Acquire, |r| r != seen);
        busy_for(&mut beat, work, WORK_CHUNK);
        beat.add(1);
        check_in(ctx);
    }
}
