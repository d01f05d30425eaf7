//! Memory shared between PID 1 and its workers: one cache-line-aligned slot per worker,
//! written only by that worker (progress, CPUs seen, wake latencies) and read by PID 1.

use crate::cpulist::{CpuMask, MAX_CPUS};
use crate::fail;
use crate::fail::{Errno, Res};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::AcqRel, Ordering::Relaxed};

pub const MAX_SLOTS: usize = 256;
/// Wake latency histogram in ns: log2 buckets, each split in `SUB` linear parts, so a
/// percentile is known within 25%. Covers up to 2^41 ns (about 37 minutes).
const SUB_BITS: u32 = 2;
const SUB: usize = 1 << SUB_BITS;
pub const WAKE_BUCKETS: usize = 40 * SUB;

/// The histogram bucket of a latency.
pub fn wake_bucket(ns: u64) -> usize {
    if ns < SUB as u64 {
        return ns as usize;
    }
    let exp = 63 - ns.leading_zeros();
    let sub = (ns >> (exp - SUB_BITS)) as usize & (SUB - 1);
    (((exp - SUB_BITS + 1) as usize) * SUB + sub).min(WAKE_BUCKETS - 1)
}

/// The largest latency that falls in bucket `b`.
pub fn wake_bucket_max(b: usize) -> u64 {
    if b < SUB {
        return b as u64;
    }
    let exp = (b / SUB) as u32 + SUB_BITS - 1;
    let sub = (b % SUB) as u64;
    ((SUB as u64 + sub + 1) << (exp - SUB_BITS)) - 1
}
/// `sleep_until_ns` value of a worker blocked with no deadline (on a pipe, a futex).
pub const BLOCKED: u64 = u64::MAX;

/// Futex words a team of workers (a pair, or a whole spawn) shares.
pub const TEAM_WORDS: usize = 4;

/// What a team's first worker (its lead) carries for the whole team. On its own cache
/// line, away from the lead's progress counters that it writes constantly.
#[repr(C, align(64))]
pub struct Team {
    pub words: [AtomicU32; TEAM_WORDS],
    /// One bit per slot index of the team's members, set by PID 1 as it forks them.
    pub members: [AtomicU64; MAX_SLOTS / 64],
}

pub const STARTING: u32 = 0;
pub const READY: u32 = 1;
pub const FAILED: u32 = 2;

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
    pub cpus: [AtomicU64; MAX_CPUS / 64],
    pub wake_count: AtomicU64,
    pub wake_max_ns: AtomicU64,
    pub wake_hist: [AtomicU64; WAKE_BUCKETS],
    /// Used only while this worker leads a team.
    pub team: Team,
}

impl Slot {
    /// Clears the slot for a new worker, whose progress is then counted from now.
    pub fn reset(&self) {
        // A worker not yet run since its fork has made no progress since the fork,
        // not since boot.
        self.beat_ns.store(crate::sys::now_ns(), Relaxed);
        for a in [
            &self.progress,
            &self.sleep_until_ns,
            &self.wake_count,
            &self.wake_max_ns,
        ] {
            a.store(0, Relaxed);
        }
        let team = &self.team;
        for a in self.cpus.iter().chain(&self.wake_hist).chain(&team.members) {
            a.store(0, Relaxed);
        }
        for a in [&self.state, &self.err_stage, &self.err_errno]
            .into_iter()
            .chain(&team.words)
        {
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

    /// Worker side: record one more CPU seen. Single writer, so load+store suffices.
    pub fn saw_cpu(&self, cpu: usize) {
        if cpu < MAX_CPUS {
            let w = &self.cpus[cpu / 64];
            let bit = 1u64 << (cpu % 64);
            let old = w.load(Relaxed);
            if old & bit == 0 {
                w.store(old | bit, Relaxed);
            }
        }
    }

    pub fn cpus_seen(&self) -> CpuMask {
        let mut m = CpuMask::default();
        for (i, w) in self.cpus.iter().enumerate() {
            m.0[i] = w.load(Relaxed);
        }
        m
    }

    /// Worker side: record one wake-up latency.
    pub fn add_wake(&self, ns: u64) {
        let b = wake_bucket(ns);
        self.wake_hist[b].store(self.wake_hist[b].load(Relaxed) + 1, Relaxed);
        self.wake_count
            .store(self.wake_count.load(Relaxed) + 1, Relaxed);
        if ns > self.wake_max_ns.load(Relaxed) {
            self.wake_max_ns.store(ns, Relaxed);
        }
    }

    /// The latency below which `permille`/1000 of wake-ups fall, as the upper bound
    /// of its bucket (capped by the maximum seen); None without wake-ups.
    pub fn wake_percentile_ns(&self, permille: u64) -> Option<u64> {
        let total = self.wake_count.load(Relaxed);
        if total == 0 {
            return None;
        }
        let want = (total * permille).div_ceil(1000).max(1);
        let mut seen = 0;
        for (i, b) in self.wake_hist.iter().enumerate() {
            seen += b.load(Relaxed);
            if seen >= want {
                return Some(wake_bucket_max(i).min(self.wake_max_ns.load(Relaxed)));
            }
        }
        Some(self.wake_max_ns.load(Relaxed))
    }
}

/// The slots, mapped shared before any fork so every worker sees the same pages.
pub struct Shared {
    slots: &'static [Slot],
}

impl Shared {
    pub fn map() -> Res<Self> {
        use rustix::mm::{MapFlags, ProtFlags};
        let len = MAX_SLOTS * core::mem::size_of::<Slot>();
        // SAFETY: a fresh anonymous mapping; zeroed memory is a valid array of Slots
        // (all atomics), and it is never unmapped.
        let slots = unsafe {
            let p = rustix::mm::mmap_anonymous(
                core::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
            )
            .map_err(|e| {
                fail!(
                    "init",
                    "mmap of {} bytes of shared memory: {}",
                    len,
                    Errno(e)
                )
            })?;
            core::slice::from_raw_parts(p as *const Slot, MAX_SLOTS)
        };
        Ok(Shared { slots })
    }

    pub fn slot(&self, i: usize) -> &'static Slot {
        &self.slots[i]
    }

    pub fn slots(&self) -> &'static [Slot] {
        self.slots
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
    fn wake_percentiles_use_bucket_bounds() {
        let s = slot();
        for _ in 0..98 {
            s.add_wake(1000); // 896..1023
        }
        s.add_wake(100_000); // 98304..114687
        s.add_wake(5_000_000);
        assert_eq!(s.wake_percentile_ns(500), Some(1023));
        assert_eq!(s.wake_percentile_ns(990), Some(114_687));
        assert_eq!(s.wake_percentile_ns(1000), Some(5_000_000));
        assert_eq!(slot().wake_percentile_ns(500), None);
    }

    #[test]
    fn buckets_cover_every_latency_in_order() {
        let mut last = 0;
        for ns in (0..5000).chain([1 << 20, (1 << 20) + 1, u64::MAX / 2, u64::MAX]) {
            let b = wake_bucket(ns);
            assert!(b >= last, "{ns}");
            last = b;
            if b < WAKE_BUCKETS - 1 {
                assert!(ns <= wake_bucket_max(b), "{ns} in bucket {b}");
                assert!(b == 0 || ns > wake_bucket_max(b - 1), "{ns} in bucket {b}");
            }
        }
        assert_eq!(wake_bucket_max(wake_bucket(1000)), 1023);
        assert_eq!(wake_bucket_max(wake_bucket(800)), 895);
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
    }
}
