//! A worker's setup, the same in a process of its own and in a thread of a group's
//! process: its scheduling settings, each of which applies to the calling thread
//! alone, then ready, then its work; or the stage that failed, in its slot.

use crate::measure::shared::{FAILED, JOINED, READY, STARTING};
use crate::platform::sys;
use crate::topology::cpulist::{to_cpuset, CpuMask};
use crate::work::Ctx;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use rustix::thread::futex;

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

/// Puts the new process `pid`, whose first thread's slot is `ctx`'s, into the cgroup
/// whose `cgroup.procs` is `procs`, then lets it run its setup (`wait_joined`).
/// PID 1 does the move, before the worker runs: a worker that moved itself took the
/// cgroup locks from among many runnable tasks, and under a scheduler without wake-up
/// preemption each holder waited a whole round of them, so a large group got ready
/// seconds late and its workers' wait read as a stall.
pub fn join_cgroup(procs: &core::ffi::CStr, pid: i32, ctx: &Ctx) {
    let mut text = crate::platform::buf::Buf::<12>::default();
    text.push_u64(pid as u64);
    let slot = ctx.slot;
    match sys::write_file(procs, text.as_bytes()) {
        Ok(()) => slot.state.store(JOINED, Release),
        Err(e) => {
            slot.err_stage.store(Stage::Cgroup as u32, Relaxed);
            slot.err_errno.store(e.raw_os_error() as u32, Relaxed);
            slot.state.store(FAILED, Release);
            // The worker only exits: it counts as settled here.
            ctx.readiness.settle();
        }
    }
    // Not private: the waiter is another process sharing the mapping.
    let _ = futex::wake(&slot.state, futex::Flags::empty(), 1);
}

/// In the new worker: waits until PID 1 has moved it (`join_cgroup`); a failed move
/// ends the process (PID 1 reports it).
pub fn wait_joined(ctx: &Ctx) {
    loop {
        match ctx.slot.state.load(Acquire) {
            JOINED => return,
            FAILED => sys::exit(1),
            _ => {
                let _ = futex::wait(&ctx.slot.state, futex::Flags::empty(), STARTING, None);
            }
        }
    }
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
    ctx.readiness.settle();
    (ctx.spec.run)(ctx)
}

/// A setup step failed: the slot says which and why, and the worker's process ends
/// (PID 1 reports the failure).
pub fn fail_setup(ctx: &Ctx, stage: Stage, e: rustix::io::Errno) -> ! {
    let slot = ctx.slot;
    slot.err_stage.store(stage as u32, Relaxed);
    slot.err_errno.store(e.raw_os_error() as u32, Relaxed);
    slot.state.store(FAILED, Release);
    ctx.readiness.settle();
    sys::exit(1)
}
