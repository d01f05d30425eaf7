//! `request-loop`: a request/response loop in the manner of schbench. Worker 0 is the
//! messenger: each round it hands one request to every other worker (a handler),
//! knocking on the handler's own futex word, then waits until all have answered; the
//! last to answer wakes it. A handler spends `request_us` of CPU on a request. An
//! iteration is a round for the messenger and a request served for a handler; both
//! record how late they ran after being woken, so the handlers' wake latencies are the
//! request wake-up latencies.

use super::futex_fanout::{await_arrivals, check_in};
use super::{busy_for, futex, Beat, Ctx};
use crate::platform::sys::{now_ns, NS_PER_US};
use core::sync::atomic::Ordering::{Acquire, Release};

const REQUEST_CHUNK: u64 = 256;

/// A handler's side; worker 0 is the messenger.
pub fn run(ctx: &Ctx) -> ! {
    if ctx.index == 0 {
        messenger(ctx)
    }
    let request = ctx.param("request_us") * NS_PER_US;
    let knock = &ctx.slot.seldom.knock;
    let mut seen = 0;
    let mut beat = Beat::new(ctx);
    check_in(ctx);
    loop {
        seen = futex::wait_until(&mut beat, knock, Acquire, |k| k != seen);
        busy_for(&mut beat, request, REQUEST_CHUNK);
        beat.add(1);
        check_in(ctx);
    }
}

fn messenger(ctx: &Ctx) -> ! {
    let mut beat = Beat::new(ctx);
    // A first answer from every handler: each has joined the team, so none is missed.
    await_arrivals(ctx, &mut beat);
    loop {
        let now = now_ns();
        ctx.link.for_each_mate(ctx.slot, |h| {
            h.stamp_wake(now);
            h.seldom.knock.fetch_add(1, Release);
            futex::wake(&h.seldom.knock, 1);
        });
        await_arrivals(ctx, &mut beat);
        beat.add(1);
    }
}
