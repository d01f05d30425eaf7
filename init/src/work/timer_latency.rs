//! `timer-latency`: cyclictest's measurement. The worker wakes on an absolute schedule,
//! every `interval_us` from its start, and records how far past each deadline it ran
//! (the overshoot) as a wake latency. Deadlines never drift with the overshoot, and one
//! the worker ran past already is skipped, not caught up. An iteration is one wake-up.

use super::{Beat, Ctx};
use crate::platform::sys::{self, now_ns, NS_PER_US};

pub fn run(ctx: &Ctx) -> ! {
    // Timer slack (50 µs by default) would be counted as overshoot.
    sys::set_timer_slack_ns(1);
    let interval = ctx.param("interval_us") * NS_PER_US;
    let mut beat = Beat::new(ctx);
    let mut next = now_ns() + interval;
    loop {
        let late = beat.sleep_until(next);
        beat.add_wake(late);
        beat.add(1);
        // The next deadline not yet passed: past ones are skipped.
        next += (late / interval + 1) * interval;
    }
}
