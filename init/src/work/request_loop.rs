//! `request-loop`: a request/response loop in the manner of schbench. Worker 0 is the
//! messenger: each round it hands one request to every other worker (a handler),
//! knocking on the handler's own futex word, then waits until all have answered; the
//! last to answer wakes it. A handler spends `request_us` of CPU on a request. An
//! iteration is a round for the messenger and a request served for a handler; both
//! record how late they ran after being woken, so the handlers' wake latencies are the
//! request wake-up latencies.

use super::{await_team, busy_for, futex, Beat, Ctx};
use crate::platform::sys::{now_ns, NS_PER_US};
use core::sync::atomic::Ordering::{AcqRel, Acquire, Release};

/// Team word: handlers that answered this round's request.
const ANSWERED: usize = 0;
const REQUEST_CHUNK: u64 = 256;

pub fn run(ctx: &Ctx) -> ! {
    if ctx.index == 0 {
        messenger(ctx)
    } else {
        handler(ctx)
    }
}

fn messenger(ctx: &Ctx) -> ! {
    let answered = ctx.link.word(ANSWERED);
    let handlers = ctx.count.saturating_sub(1);
    let mut beat = Beat::new(ctx);
    await_team(ctx, &mut beat);
    loop {
        // Every handler answered the last round and waits for its knock: nobody
        // touches `answered`.
        answered.store(0, Release);
        ctx.link.for_each_mate(ctx.slot, |h| {
            h.stamp_wake(now_ns());
            h.seldom.knock.fetch_add(1, Release);
            futex::wake(&h.seldom.knock, 1);
        });
        futex::wait_until(&mut beat, answered, Acquire, |a| a >= handlers);
        beat.add(1);
    }
}

fn handler(ctx: &Ctx) -> ! {
    let answered = ctx.link.word(ANSWERED);
    let handlers = ctx.count - 1;
    let request = ctx.param("request_us") * NS_PER_US;
    let knock = &ctx.slot.seldom.knock;
    // The knock it last served: 0 before the first, which the messenger cannot pass
    // without this handler, however late it starts.
    let mut seen = 0;
    let mut beat = Beat::new(ctx);
    loop {
        seen = futex::wait_until(&mut beat, knock, Acquire, |k| k != seen);
        busy_for(&mut beat, request, REQUEST_CHUNK);
        beat.add(1);
        if answered.fetch_add(1, AcqRel) + 1 == handlers {
            ctx.link.lead.stamp_wake(now_ns());
            futex::wake(answered, 1);
        }
    }
}
