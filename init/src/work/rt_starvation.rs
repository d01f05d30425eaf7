//! `rt-starvation`: the first `hogs` workers spin at SCHED_FIFO (or SCHED_RR,
//! `hog_policy`); the others are fair tasks that sleep `sleep_us` and wake, as
//! `sleep-wake` does, timing each wake-up. Where the hogs cover the fair tasks' CPUs,
//! those run only when RT throttling (`sched_rt_runtime_us`) or the kernel's fair
//! server lets them: their longest wake latency (`wake_max_us`) is how long they were
//! starved, and their iterations show that they still ran. Iterations are as for
//! `spin` (hogs) and `sleep-wake` (fair tasks).

use super::{sleep_wake, spin, Ctx};
use crate::platform::sys::{self, SCHED_FIFO, SCHED_RR};
use schedbox_protocol::works::HOG_RR;

/// The hogs' RT priority: any would do against fair tasks; below PID 1 (99).
const HOG_PRIO: u32 = 50;

pub fn run(ctx: &Ctx) -> ! {
    if u64::from(ctx.index) >= ctx.param("hogs") {
        sleep_wake::run(ctx)
    }
    let policy = if ctx.param("hog_policy") == HOG_RR {
        SCHED_RR
    } else {
        SCHED_FIFO
    };
    if let Err(e) = sys::set_scheduler(0, policy, HOG_PRIO) {
        ctx.quit("setting its RT policy", e);
    }
    spin::run(ctx)
}
