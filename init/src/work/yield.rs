//! `yield`: a little work then `sched_yield()`, so the scheduler runs its pick path
//! constantly. One iteration is one yield.

use super::{burn, Beat, Ctx};

const WORK_UNITS: u64 = 64;

pub fn run(ctx: &Ctx) -> ! {
    let mut beat = Beat::new(ctx);
    loop {
        burn(WORK_UNITS);
        rustix::thread::sched_yield();
        beat.add(1);
    }
}
