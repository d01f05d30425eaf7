//! `futex-pingpong`: workers 2k and 2k+1 take turns on a futex word in the shared
//! mapping, each waking the other. An iteration is one turn (the lead's turns are round
//! trips); each side records how late it ran after the other woke it.

use super::{futex, Beat, Ctx};
use core::sync::atomic::Ordering::{Acquire, Release};

/// Team word: whose turn it is, 0 for the lead, 1 for its partner.
const TURN: usize = 0;

pub fn run(ctx: &Ctx) -> ! {
    let me = ctx.index % 2;
    let turn = ctx.link.word(TURN);
    let mut beat = Beat::new(ctx);
    loop {
        futex::wait_until(&mut beat, turn, Acquire, |t| t == me);
        beat.add(1);
        ctx.link.stamp_mates(ctx.slot);
        turn.store(1 - me, Release);
        futex::wake(turn, 1);
    }
}
