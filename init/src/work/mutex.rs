//! `mutex`: the whole spawn contends for one futex lock in the shared mapping, each
//! holding it `hold_us` (spinning) then letting go: a lock convoy. The lock is a
//! ticket lock, handed over in arrival order, so every worker gets it and each
//! hand-over waits for the next holder to be woken and run. One iteration is one
//! acquisition; waiters record how late they ran after the holder woke them.

use super::{busy_for, futex, Beat, Ctx};
use crate::platform::sys::NS_PER_US;
use core::sync::atomic::Ordering::SeqCst;

/// Team words: the next ticket to hand out and the ticket now served.
const NEXT: usize = 0;
const SERVING: usize = 1;
const HOLD_CHUNK: u64 = 256;

pub fn run(ctx: &Ctx) -> ! {
    let (next, serving) = (ctx.link.word(NEXT), ctx.link.word(SERVING));
    let hold = ctx.param("hold_us") * NS_PER_US;
    let mut beat = Beat::new(ctx);
    loop {
        let ticket = next.fetch_add(1, SeqCst);
        futex::wait_until(&mut beat, serving, SeqCst, |s| s == ticket);
        busy_for(&mut beat, hold, HOLD_CHUNK);
        beat.add(1);
        // Release before looking for waiters: one that takes a ticket after the look
        // then sees its turn and does not sleep.
        let s = ticket.wrapping_add(1);
        serving.store(s, SeqCst);
        if next.load(SeqCst) != s {
            ctx.link.stamp_mates(ctx.slot);
            futex::wake(serving, futex::ALL);
        }
    }
}
