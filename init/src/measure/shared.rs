//! Memory shared between PID 1 and its workers: one cache-line-aligned slot per worker,
//! written only by that worker (progress, CPUs seen, wake latencies) and read by PID 1.

use crate::measure::wakes::Wakes;
use crate::platform::fail::{Errno, Res};
use crate::topology::cpulist::{CpuMask, MAX_CPUS};
use crate::topology::places;
use core::sync::atomic::{
    AtomicU32, AtomicU64, Ordering::AcqRel, Ordering::Relaxed, Ordering::SeqCst,
};
use rustix::thread::futex;

/// Workers that can run at once. A slot costs `size_of::<Slot>()` (192 bytes) of the
/// shared mapping; the wake-latency histogram beside it (`Wakes`, 8 KiB) is touched only
/// by work that measures wake-ups (docs/protocol.md, "Limits").
pub const MAX_SLOTS: usize = schedbox_protocol::limits::MAX_WORKERS;
/// `sleep_until_ns` value of a worker blocked with no deadline (on a pipe, a futex).
pub const BLOCKED: u64 = u64::MAX;

/// Futex words a team of workers (a pair, or a whole spawn) shares.
pub const TEAM_WORDS: usize = 4;

/// What a team's first worker (its lead) carries for the whole team.
#[repr(C)]
pub struct Team {
    pub words: [AtomicU32; TEAM_WORDS],
}

/// A slot's last cache line, away from the progress counters a worker writes
/// constantly: its team's words (when it leads one) and what it writes seldom.
#[repr(C, align(64))]
pub struct Seldom {
    pub team: Team,
    /// The CPU the worker last saw itself on (`NO_CPU` before the first), and how often
    /// a change of CPU crossed an LLC or a node ([`crate::topology::places`]).
    pub last_cpu: AtomicU32,
    /// The worker's own futex word, for work that wakes one teammate at a time (a
    /// ring, a request handed to one handler): the waker bumps it and wakes it. Work
    /// that signals its teammates keeps the worker's pid there instead.
    pub knock: AtomicU32,
    pub llc_crossings: AtomicU64,
    pub node_crossings: AtomicU64,
    /// `numa-working-set`: the pages of its working set, and those on its policy's nodes.
    pub numa_pages: AtomicU64,
    pub numa_local_pages: AtomicU64,
    /// `cgroup-churn`: the cgroups the worker saw itself in, a bit each in the order it
    /// found them.
    pub cgroups_seen: AtomicU64,
}

/// `Slot::next_mate` of a team's last member.
pub const NO_MATE: u32 = 0;

pub const STARTING: u32 = 0;
pub const READY: u32 = 1;
pub const FAILED: u32 = 2;
/// PID 1 has moved the new worker into its cgroup: it may set itself up.
pub const JOINED: u32 = 3;

#[repr(C, align(64))]
pub struct Slot {
    /// Work iterations done.
    pub progress: AtomicU64,
    /// `CLOCK_BOOTTIME` ns of the last progress update.
    pub beat_ns: AtomicU64,
    /// Nonzero while the worker sleeps on purpose: the instant it means to wake, or
    /// `BLOCKED`, which a teammate turns into the instant it woke the worker. The stall
    /// monitor does not count time before that instant.
    pub sleep_until_ns: AtomicU64,
    pub state: AtomicU32,
    /// Setup stage that failed (a `worker::Stage`) and its errno, when `FAILED`.
    pub err_stage: AtomicU32,
    pub err_errno: AtomicU32,
    /// The next member of this worker's team, as its slot index + 1 (`NO_MATE`): the
    /// members form a list from the lead, linked by PID 1 as it forks them.
    pub next_mate: AtomicU32,
    /// Forks the kernel refused the worker (EAGAIN), for `expect=fork-refused`.
    pub forks_refused: AtomicU64,
    /// Nonzero once the worker recorded a wake-up: only then does PID 1 read or clear
    /// its histogram, whose pages (shared memory) would be allocated by a mere read.
    pub woke: AtomicU32,
    /// A worker run as a thread: its thread id, stored by the kernel as its process
    /// starts it (PID 1 knows only the process's id, from its fork).
    pub tid: AtomicU32,
    pub cpus: [AtomicU64; MAX_CPUS / 64],
    /// CPUs seen since PID 1 last took them (for the isolation check).
    pub recent_cpus: [AtomicU64; MAX_CPUS / 64],
    /// The team (used only while this worker leads one) and the seldom-written counters.
    pub seldom: Seldom,
}

/// `Slot::last_cpu` of a worker that has not yet noted a CPU.
pub const NO_CPU: u32 = u32::MAX;

impl Slot {
    /// Clears the slot for a new worker, whose progress is then counted from now.
    pub fn reset(&self) {
        // A worker not yet run since its fork has made no progress since the fork,
        // not since boot.
        self.beat_ns.store(crate::platform::sys::now_ns(), Relaxed);
        let counters = [
            &self.progress,
            &self.sleep_until_ns,
            &self.forks_refused,
            &self.seldom.llc_crossings,
            &self.seldom.node_crossings,
            &self.seldom.numa_pages,
            &self.seldom.numa_local_pages,
            &self.seldom.cgroups_seen,
        ];
        for a in counters {
            a.store(0, Relaxed);
        }
        self.seldom.last_cpu.store(NO_CPU, Relaxed);
        for a in self.cpus.iter().chain(self.recent_cpus.iter()) {
            a.store(0, Relaxed);
        }
        let ints = [
            &self.state,
            &self.err_stage,
            &self.err_errno,
            &self.next_mate,
            &self.woke,
            &self.tid,
            &self.seldom.knock,
        ];
        for a in ints.into_iter().chain(&self.seldom.team.words) {
            a.store(0, Relaxed);
        }
    }

    /// Waker side, just before waking this worker: if it is blocked, record `at_ns`
    /// as the instant it was woken. The monitor then counts a runnable worker's gap
    /// from there, and the worker measures its wake latency against it.
    pub fn stamp_wake(&self, at_ns: u64) {
        let _ = self
            .sleep_until_ns
            .compare_exchange(BLOCKED, at_ns, AcqRel, Relaxed);
    }

    /// Worker side: record one more CPU seen. `cpus` has a single writer, so
    /// load+store suffices; PID 1 clears `recent_cpus`, so setting a bit there is an
    /// atomic OR, done only when the bit is missing (once per CPU per sample).
    pub fn saw_cpu(&self, cpu: usize) {
        let last = self.seldom.last_cpu.load(Relaxed);
        if last != cpu as u32 {
            self.moved(last, cpu);
        }
        if cpu < MAX_CPUS {
            let bit = 1u64 << (cpu % 64);
            let w = &self.cpus[cpu / 64];
            let old = w.load(Relaxed);
            if old & bit == 0 {
                w.store(old | bit, Relaxed);
            }
            let r = &self.recent_cpus[cpu / 64];
            if r.load(Relaxed) & bit == 0 {
                r.fetch_or(bit, Relaxed);
            }
        }
    }

    /// Worker side, on a change of CPU: counts the LLC and node crossed, if any.
    #[cold]
    fn moved(&self, last: u32, cpu: usize) {
        self.seldom.last_cpu.store(cpu as u32, Relaxed);
        if last == NO_CPU {
            return;
        }
        let last = last as usize;
        for (unit, count) in [
            (places::llc as places::UnitOf, &self.seldom.llc_crossings),
            (places::node, &self.seldom.node_crossings),
        ] {
            if places::crosses(unit, last, cpu) {
                count.fetch_add(1, Relaxed);
            }
        }
    }

    /// PID 1 side: the CPUs seen since the last call.
    pub fn take_recent_cpus(&self) -> CpuMask {
        let mut m = CpuMask::default();
        for (i, w) in self.recent_cpus.iter().enumerate() {
            m.0[i] = w.swap(0, Relaxed);
        }
        m
    }

    pub fn cpus_seen(&self) -> CpuMask {
        let mut m = CpuMask::default();
        for (i, w) in self.cpus.iter().enumerate() {
            m.0[i] = w.load(Relaxed);
        }
        m
    }
}

/// How many workers have finished setting up (ready or failed), for PID 1 to sleep on
/// instead of polling their slots: the worker that brings the count to `awaited` wakes
/// it.
#[repr(C, align(64))]
pub struct Readiness {
    settled: AtomicU32,
    awaited: AtomicU32,
}

impl Readiness {
    /// Worker side, once its slot says `READY` or `FAILED`.
    pub fn settle(&self) {
        let n = self.settled.fetch_add(1, SeqCst).wrapping_add(1);
        if n == self.awaited.load(SeqCst) {
            let _ = futex::wake(&self.settled, futex::Flags::empty(), 1);
        }
    }

    /// PID 1 side: the count, read before looking at the slots.
    pub fn count(&self) -> u32 {
        self.settled.load(SeqCst)
    }

    /// PID 1 side: sleeps for at most `timeout_ns` while the count is still `seen`,
    /// to be woken when `pending` more workers have settled. Returns at once if any
    /// settled since `seen`; may return early: the caller looks at the slots again.
    pub fn wait(&self, seen: u32, pending: u32, timeout_ns: u64) {
        // A full fence between publishing the target and the kernel's reading of the
        // count: either the last worker sees the target and wakes, or the count has
        // already moved and the wait returns at once.
        self.awaited.swap(seen.wrapping_add(pending), SeqCst);
        let t = rustix::time::Timespec {
            tv_sec: (timeout_ns / crate::platform::sys::NS_PER_S) as i64,
            tv_nsec: (timeout_ns % crate::platform::sys::NS_PER_S) as i64,
        };
        let _ = futex::wait(&self.settled, futex::Flags::empty(), seen, Some(&t));
    }
}

/// The slots and their wake histograms, mapped shared before any fork so every worker
/// sees the same pages.
pub struct Shared {
    slots: &'static [Slot],
    wakes: &'static [Wakes],
    readiness: &'static Readiness,
}

/// `count` zeroed `T`s in a fresh shared anonymous mapping, never unmapped. Pages are
/// allocated as they are first written, so what no worker touches costs nothing.
///
/// # Safety
/// All-zero bytes must be a valid `T`.
unsafe fn map_zeroed<T>(count: usize) -> Res<&'static [T]> {
    use rustix::mm::{MapFlags, ProtFlags};
    let len = count * core::mem::size_of::<T>();
    let prot = ProtFlags::READ | ProtFlags::WRITE;
    let p = rustix::mm::mmap_anonymous(core::ptr::null_mut(), len, prot, MapFlags::SHARED)
        .map_err(|e| fail!(Init, "mmap of {} bytes of shared memory: {}", len, Errno(e)))?;
    Ok(core::slice::from_raw_parts(p as *const T, count))
}

impl Shared {
    pub fn map() -> Res<Self> {
        // SAFETY: Slot, Wakes and Readiness are atomics only, for which zero is a valid
        // value.
        let (slots, wakes, readiness) = unsafe {
            (
                map_zeroed(MAX_SLOTS)?,
                map_zeroed(MAX_SLOTS)?,
                map_zeroed(1)?,
            )
        };
        Ok(Shared {
            slots,
            wakes,
            readiness: &readiness[0],
        })
    }

    pub fn readiness(&self) -> &'static Readiness {
        self.readiness
    }

    pub fn slot(&self, i: usize) -> &'static Slot {
        &self.slots[i]
    }

    pub fn slots(&self) -> &'static [Slot] {
        self.slots
    }

    /// The wake histogram of slot `i`.
    pub fn wakes(&self, i: usize) -> &'static Wakes {
        &self.wakes[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot() -> Box<Slot> {
        // SAFETY: all-zero is a valid Slot (atomics only).
        unsafe { Box::new(core::mem::zeroed()) }
    }

    #[test]
    fn slot_is_cache_line_aligned() {
        assert_eq!(core::mem::align_of::<Slot>(), 64);
        assert_eq!(core::mem::size_of::<Slot>() % 64, 0);
    }

    #[test]
    fn a_slot_is_small() {
        // What each of the MAX_SLOTS workers costs in the shared mapping, beside its
        // wake histogram (docs/protocol.md, "Limits").
        assert_eq!(core::mem::size_of::<Slot>(), 192);
    }

    #[test]
    fn a_change_of_cpu_across_an_llc_or_a_node_is_counted() {
        // CPUs 200-203, which no other test places: LLC 200-201 on node 0, LLC 202-203
        // on node 1.
        for cpu in 200..204 {
            let (llc, node): (&[u8], u64) = if cpu < 202 {
                (b"200-201", 0)
            } else {
                (b"202-203", 1)
            };
            places::set(cpu, None, Some(llc), Some(node));
        }
        let s = slot();
        s.reset();
        for cpu in [200, 201, 202, 202, 203, 200] {
            s.saw_cpu(cpu);
        }
        assert_eq!(s.seldom.llc_crossings.load(Relaxed), 2);
        assert_eq!(s.seldom.node_crossings.load(Relaxed), 2);
    }

    #[test]
    fn the_last_worker_to_settle_wakes_the_waiter() {
        // SAFETY: all-zero is a valid Readiness (atomics only).
        let r: &'static Readiness = Box::leak(unsafe { Box::new(core::mem::zeroed()) });
        let seen = r.count();
        let start = std::time::Instant::now();
        let workers = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            r.settle();
            r.settle();
        });
        r.wait(seen, 2, 10 * crate::platform::sys::NS_PER_S);
        let mut took = start.elapsed();
        while r.count() != seen + 2 {
            // An early return (the first settle moved the count): wait for the rest.
            r.wait(
                r.count(),
                seen + 2 - r.count(),
                10 * crate::platform::sys::NS_PER_S,
            );
            took = start.elapsed();
        }
        workers.join().unwrap();
        assert!(took < std::time::Duration::from_secs(5), "{took:?}");
        // Nothing settles: the wait ends at its timeout.
        let start = std::time::Instant::now();
        r.wait(r.count(), 1, 30 * crate::platform::sys::NS_PER_MS);
        assert!(start.elapsed() >= std::time::Duration::from_millis(25));
    }

    #[test]
    fn cpus_seen_accumulate() {
        let s = slot();
        s.saw_cpu(0);
        s.saw_cpu(1);
        s.saw_cpu(1);
        s.saw_cpu(70);
        let m = s.cpus_seen();
        assert!(m.has(0) && m.has(1) && m.has(70));
        assert_eq!(m.count(), 3);
        assert_eq!(s.take_recent_cpus(), m);
        s.saw_cpu(1);
        assert_eq!(s.take_recent_cpus(), CpuMask::parse(b"1").unwrap());
        assert_eq!(s.cpus_seen(), m, "the full set is kept");
    }
}
