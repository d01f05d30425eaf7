//! `wake-chain`: the spawn forms a ring, and one token goes round it: each worker waits
//! on its own futex word, and when the token comes it wakes the next worker (the lead
//! after the last), so exactly one worker of the ring runs at a time and every hop is a
//! wake-up. An iteration is one pass of the token through the worker; each records how
//! late it ran after the previous one woke it.

use super::futex_fanout::{await_arrivals, check_in};
use super::{futex, Beat, Ctx};
use crate::platform::sys::now_ns;
use core::sync::atomic::Ordering::{Acquire, Release};

pub fn run(ctx: &Ctx) -> ! {
    let knock = &ctx.slot.seldom.knock;
    let mut beat = Beat::new(ctx);
    // Once every worker checked in, all have joined and the ring is closed: the lead
    // puts the token in.
    if ctx.index == 0 {
        await_arrivals(ctx, &mut beat);
        pass(ctx);
    } else {
        check_in(ctx);
    }
    let mut seen = 0;
    loop {
        seen = futex::wait_until(&mut beat, knock, Acquire, |k| k != seen);
        beat.add(1);
        pass(ctx);
    }
}

fn pass(ctx: &Ctx) {
    let next = ctx.link.next_in_ring(ctx.slot);
    next.stamp_wake(now_ns());
    next.seldom.knock.fetch_add(1, Release);
    futex::wake(&next.seldom.knock, 1);
}
