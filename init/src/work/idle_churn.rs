//! `idle-churn`: sleep, wake, sleep again, with sleeps cycling through 1 to 8 times
//! `sleep_us`: the CPUs go idle and come back constantly, for idle periods of every
//! length in that range (what the idle governor and a scheduler's idle-CPU tracking
//! see). One iteration is one wake-up, whose latency is timed.

use super::{sleep_wake, Ctx};

/// Sleep lengths cycle through 1..=STEPS times the base.
const STEPS: u64 = 8;

pub fn run(ctx: &Ctx) -> ! {
    sleep_wake::sleep_cycle(ctx, STEPS)
}
