//! `sleep-wake`: sleep `sleep_us`, wake, repeat; measures how late each wake-up runs
//! (timer expiry to running again), the scheduler's wake-up latency. One iteration
//! is one wake-up.

use super::{Beat, Ctx};
use crate::platform::sys::{self, now_ns, NS_PER_US};

pub fn run(ctx: &Ctx) -> ! {
    // Timer slack (50 µs by default) would be counted as latency.
    sys::set_timer_slack_ns(1);
    let sleep = ctx.param("sleep_us") * NS_PER_US;
    let mut beat = Beat::new(ctx);
    loop {
        let late = beat.sleep_until(now_ns() + sleep);
        beat.add_wake(late);
        beat.add(1);
    }
}
