//! A worker's setup, the same in a process of its own and in a thread of a group's
//! process: its scheduling settings, each of which applies to the calling thread
//! alone, then ready, then its work; or the stage that failed, in its slot.

use crate::measure::shared::{FAILED, READY};
use crate::platform::sys;
use crate::topology::cpulist::{to_cpuset, CpuMask};
use crate::work::Ctx;
use core::sync::atomic::Ordering::{Relaxed, Release};

/// Worker setup stages, reported when one fails.
#[derive(Clone, Copy)]
#[repr(u32)]
pub enum Stage {
    Cgroup = 1,
    Policy = 2,
    Nice = 3,
    Affinity = 4,
    Thread = 5,
}

/// What a worker was doing at the stage its slot reports.
pub fn stage_name(v: u32) -> &'static str {
    const NAMES: [(Stage, &str); 5] = [
        (Stage::Cgroup, "joining its cgroup"),
        (Stage::Policy, "setting its scheduling policy"),
        (Stage::Nice, "setting its nice value"),
        (Stage::Affinity, "setting its CPU affinity"),
        (Stage::Thread, "starting as a thread"),
    ];
    NAMES
        .iter()
        .find(|(s, _)| *s as u32 == v)
        .map_or("setup", |(_, name)| name)
}

#[derive(Clone, Copy, Default)]
pub struct SchedParams {
    pub policy: u32,
    pub prio: u32,
    pub nice: i32,
    pub affinity: Option<CpuMask>,
}

/// A worker's own scheduling settings (each applies to the calling thread alone, so a
/// thread of a group settles itself as a process does), then ready, then its work.
pub fn settle(sched: &SchedParams, ctx: &Ctx) -> ! {
    if sched.policy != sys::SCHED_OTHER {
        if let Err(e) = sys::set_scheduler(0, sched.policy, sched.prio) {
            fail_setup(ctx, Stage::Policy, e);
        }
    }
    if sched.nice != 0 {
        if let Err(e) = rustix::process::setpriority_process(None, sched.nice) {
            fail_setup(ctx, Stage::Nice, e);
        }
    }
    if let Some(m) = &sched.affinity {
        if let Err(e) = rustix::thread::sched_setaffinity(None, &to_cpuset(m)) {
            fail_setup(ctx, Stage::Affinity, e);
        }
    }
    ctx.slot.state.store(READY, Release);
    (ctx.spec.run)(ctx)
}

/// A setup step failed: the slot says which and why, and the worker's process ends
/// (PID 1 reports the failure).
pub fn fail_setup(ctx: &Ctx, stage: Stage, e: rustix::io::Errno) -> ! {
    let slot = ctx.slot;
    slot.err_stage.store(stage as u32, Relaxed);
    slot.err_errno.store(e.raw_os_error() as u32, Relaxed);
    slot.state.store(FAILED, Release);
    sys::exit(1)
}
