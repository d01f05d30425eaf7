//! `affinity-churn`: pin itself to each CPU it may run on in turn with
//! `sched_setaffinity`, doing a little work on each, so the scheduler migrates it
//! constantly. One iteration is one move.

use super::{burn, Beat, Ctx};
use rustix::io::Errno;
use rustix::thread::{sched_getaffinity, sched_setaffinity, CpuSet};
// CPUs remembered to cycle through: as many as a CPU list may name.
use crate::topology::cpulist::MAX_CPUS;

const WORK_UNITS: u64 = 256;

pub(super) struct Cpus {
    pub(super) list: [u16; MAX_CPUS],
    pub(super) len: usize,
}

impl Cpus {
    pub(super) fn of(set: &CpuSet) -> Self {
        let mut c = Cpus {
            list: [0; MAX_CPUS],
            len: 0,
        };
        for cpu in 0..CpuSet::MAX_CPU.min(MAX_CPUS) {
            if set.is_set(cpu) {
                c.list[c.len] = cpu as u16;
                c.len += 1;
            }
        }
        c
    }
}

/// The CPUs it may use: those its cgroup's cpuset allows, found by asking for all.
pub(super) fn widen(ctx: &Ctx) -> Cpus {
    let mut all = CpuSet::new();
    for cpu in 0..CpuSet::MAX_CPU {
        all.set(cpu);
    }
    let set = sched_setaffinity(None, &all).and_then(|()| sched_getaffinity(None));
    match set {
        Ok(s) => Cpus::of(&s),
        Err(e) => ctx.quit("reading its allowed CPUs", e),
    }
}

pub fn run(ctx: &Ctx) -> ! {
    let mut beat = Beat::new(ctx);
    // Start from the spawn's affinity; widen only once none of those CPUs is allowed.
    let mut cpus = match sched_getaffinity(None) {
        Ok(s) => Cpus::of(&s),
        Err(e) => ctx.quit("reading its affinity", e),
    };
    let (mut next, mut refused) = (0, 0);
    loop {
        if refused >= cpus.len {
            cpus = widen(ctx);
            refused = 0;
        }
        let mut one = CpuSet::new();
        one.set(usize::from(cpus.list[next % cpus.len.max(1)]));
        next = (next + 1) % cpus.len.max(1);
        match sched_setaffinity(None, &one) {
            Ok(()) => refused = 0,
            // A cpuset change took the CPU away.
            Err(Errno::INVAL) => {
                refused += 1;
                beat.touch();
                continue;
            }
            Err(e) => ctx.quit("setting its affinity", e),
        }
        burn(WORK_UNITS);
        beat.add(1);
    }
}
