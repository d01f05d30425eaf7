//! `sleep-wake`: sleep `sleep_us`, wake, repeat; measures how late each wake-up runs
//! (timer expiry to running again), the scheduler's wake-up latency. One iteration
//! is one wake-up. `idle-churn` is the same loop with sleeps of varying length.

use super::{Beat, Ctx};
use crate::platform::sys::{self, now_ns, NS_PER_US};

pub fn run(ctx: &Ctx) -> ! {
    sleep_cycle(ctx, 1)
}

/// Sleeps 1 to `steps` times `sleep_us` in turn, timing each wake-up.
pub fn sleep_cycle(ctx: &Ctx, steps: u64) -> ! {
    // Timer slack (50 µs by default) would be counted as latency.
    sys::set_timer_slack_ns(1);
    let sleep = ctx.param("sleep_us") * NS_PER_US;
    let mut beat = Beat::new(ctx);
    let mut n = 0;
    loop {
        n += 1;
        let late = beat.sleep_until(now_ns() + sleep * (1 + n % steps));
        beat.add_wake(late);
        beat.add(1);
    }
}
