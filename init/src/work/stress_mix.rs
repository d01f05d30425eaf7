//! `stress-mix`: the mix the scx project's CI runs under each scheduler (stress-ng's
//! cpu and fork stressors with affinity re-pinned on a delay). Even workers spin; odd
//! workers fork a child that exits at once and wait for it, over and over. Every worker
//! pins itself to the next CPU it may use every `pin_us`, so the scheduler sees CPU
//! hogs and short-lived tasks moved under it on a schedule. Iterations are spin chunks
//! (even workers) and children (odd workers).

use super::affinity_churn::{widen, Cpus};
use super::fork_churn::reap;
use super::{burn, Beat, Ctx};
use crate::platform::sys::{self, now_ns, NS_PER_US};
use rustix::io::Errno;
use rustix::thread::{sched_getaffinity, sched_setaffinity, CpuSet};

/// As `spin`: progress every few µs natively.
const CHUNK: u64 = 2048;

/// Moves the worker to the next of its CPUs once its time on one is up.
struct Pinner {
    cpus: Cpus,
    next: usize,
    step_ns: u64,
    due_ns: u64,
}

impl Pinner {
    fn new(ctx: &Ctx) -> Self {
        let cpus = match sched_getaffinity(None) {
            Ok(s) => Cpus::of(&s),
            Err(e) => ctx.quit("reading its affinity", e),
        };
        let step_ns = ctx.param("pin_us") * NS_PER_US;
        Pinner {
            cpus,
            // Workers start on different CPUs of the round.
            next: ctx.index as usize,
            step_ns,
            due_ns: now_ns(),
        }
    }

    fn tick(&mut self, ctx: &Ctx) {
        let now = now_ns();
        if now < self.due_ns {
            return;
        }
        self.due_ns = now + self.step_ns;
        let n = self.cpus.len.max(1);
        let mut one = CpuSet::new();
        one.set(usize::from(self.cpus.list[self.next % n]));
        self.next = (self.next + 1) % n;
        match sched_setaffinity(None, &one) {
            Ok(()) => {}
            // A cpuset change took the CPU away: start again from those allowed now.
            Err(Errno::INVAL) => self.cpus = widen(ctx),
            Err(e) => ctx.quit("setting its affinity", e),
        }
    }
}

pub fn run(ctx: &Ctx) -> ! {
    let mut pinner = Pinner::new(ctx);
    let mut beat = Beat::new(ctx);
    let forks = ctx.index % 2 == 1;
    loop {
        pinner.tick(ctx);
        if forks {
            let pid = match sys::fork() {
                Ok(0) => sys::exit(0),
                Ok(pid) => pid,
                Err(e) => ctx.quit("fork", e),
            };
            if let (Err(e), _) = beat.block(|| reap(pid)) {
                ctx.quit("waiting for its child", e);
            }
        } else {
            burn(CHUNK);
        }
        beat.add(1);
    }
}
