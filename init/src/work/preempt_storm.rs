//! `preempt-storm`: worker 0 spins (the victim); every other worker sleeps `sleep_us`
//! and wakes, over and over, as `sleep-wake` does. On a CPU they share, each wake-up
//! is a chance for the scheduler to preempt the spinner, so the victim is switched out
//! about as often as its neighbours wake. Iterations are as for `spin` (worker 0) and
//! `sleep-wake` (the others), whose wake latencies are timed.

use super::{sleep_wake, spin, Ctx};

pub fn run(ctx: &Ctx) -> ! {
    if ctx.index == 0 {
        spin::run(ctx)
    } else {
        sleep_wake::run(ctx)
    }
}
