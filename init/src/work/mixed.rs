//! `mixed`: spin for `spin_us`, then `sched_yield()`: CPU-bound work that still gives
//! the scheduler a decision point every slice. An iteration is one spin chunk.

use super::{spin_for, Beat, Ctx};
use crate::platform::sys::NS_PER_US;

const CHUNK: u64 = 1024;

pub fn run(ctx: &Ctx) -> ! {
    let spin = ctx.param("spin_us") * NS_PER_US;
    let mut beat = Beat::new(ctx);
    loop {
        spin_for(&mut beat, spin, CHUNK);
        rustix::thread::sched_yield();
    }
}
