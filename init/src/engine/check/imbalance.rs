//! `imbalance`: the highest ratio of runnable tasks between the busiest and the idlest
//! online CPU that held for the check's whole window (`measure::runqueues`).

use super::verdict::{at_most, cannot, detail, Verdict};
use crate::measure::runqueues::Runqueues;
use crate::platform::fail::Errno;
use crate::platform::sys::NS_PER_MS;

pub fn imbalance(r: &Runqueues, limit: u64) -> Verdict {
    if let Some(e) = r.unreadable {
        return cannot(format_args!(
            "cannot read the run queues from /sys/kernel/debug/sched/debug or \
             /proc/sched_debug: {} (CONFIG_SCHED_DEBUG off?)",
            Errno(e)
        ));
    }
    let Some(w) = &r.worst else {
        return cannot(format_args!(
            "no whole window was sampled ({} samples)",
            r.samples
        ));
    };
    let s = &w.low;
    let who = if s.worker.is_empty() {
        detail(format_args!("no worker runnable there"))
    } else {
        detail(format_args!("{} runnable there", s.worker))
    };
    at_most(
        s.permille,
        limit,
        detail(format_args!(
            "CPU {} had {} runnable tasks and CPU {} {}, from {} ms to {} ms after boot; {who}",
            s.busiest.0,
            s.busiest.1,
            s.idlest.0,
            s.idlest.1,
            w.from_ns / NS_PER_MS,
            w.to_ns / NS_PER_MS
        )),
    )
}
