//! `policy-churn`: cycle its own scheduling policy through OTHER, BATCH, IDLE and,
//! where permitted, FIFO and RR (briefly: a short spin at the lowest RT priority), so
//! the task changes scheduling class constantly. One iteration is one change.

use super::{burn, Beat, Ctx};
use crate::platform::sys::{self, SCHED_BATCH, SCHED_FIFO, SCHED_IDLE, SCHED_OTHER, SCHED_RR};
use rustix::io::Errno;

/// Policy and RT priority, in cycle order.
const POLICIES: [(u32, u32); 5] = [
    (SCHED_OTHER, 0),
    (SCHED_BATCH, 0),
    (SCHED_IDLE, 0),
    (SCHED_FIFO, 1),
    (SCHED_RR, 1),
];
const WORK_UNITS: u64 = 2048;

pub fn run(ctx: &Ctx) -> ! {
    let mut beat = Beat::new(ctx);
    let mut rt_allowed = true;
    loop {
        for &(policy, prio) in &POLICIES {
            let rt = prio > 0;
            if rt && !rt_allowed {
                continue;
            }
            match sys::set_scheduler(0, policy, prio) {
                Ok(()) => {}
                Err(Errno::PERM) if rt => {
                    rt_allowed = false;
                    continue;
                }
                Err(e) => ctx.quit("setting its scheduling policy", e),
            }
            burn(WORK_UNITS);
            beat.add(1);
        }
    }
}
