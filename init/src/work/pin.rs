//! Pinning by shape: the CPUs a worker may use (its cgroup's cpuset and its spawn's
//! `affinity`, as the kernel applied them) and where in them a shape-bound work puts it.

use super::Ctx;
use crate::topology::cpulist::to_cpuset;
use crate::topology::cpulist::{CpuMask, MAX_CPUS};

/// The CPUs this worker may run on now.
pub fn allowed(ctx: &Ctx) -> CpuMask {
    let set = rustix::thread::sched_getaffinity(None)
        .unwrap_or_else(|e| ctx.quit("reading its CPU affinity", e));
    let mut m = CpuMask::default();
    for cpu in 0..MAX_CPUS.min(rustix::thread::CpuSet::MAX_CPU) {
        if set.is_set(cpu) {
            m.set(cpu);
        }
    }
    m
}

/// Confines this worker to `cpus`.
pub fn to(ctx: &Ctx, cpus: &CpuMask) {
    if let Err(e) = rustix::thread::sched_setaffinity(None, &to_cpuset(cpus)) {
        ctx.quit("pinning itself", e);
    }
}

/// Which pair of its spawn a worker is in, and whether it leads it.
pub fn pair_of(ctx: &Ctx) -> (usize, bool) {
    ((ctx.index / 2) as usize, ctx.index.is_multiple_of(2))
}
