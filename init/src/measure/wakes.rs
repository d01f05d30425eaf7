//! A worker's wake-up latencies: a log-linear histogram fine enough that a percentile
//! read from it is within 1 % of the true one, in shared memory beside the worker's
//! slot, written only by the worker and read by PID 1.
//!
//! Each power of two is cut in `SUB` equal buckets, so a bucket is at most 1/`SUB` of
//! the values in it wide; a percentile is reported as its bucket's midpoint (capped by
//! the largest latency seen), off by at most half a bucket: under 1/(2·`SUB`) = 0.78 %.
//! Latencies below 2·`SUB` ns have a bucket each (exact).

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

const SUB_BITS: u32 = 6;
const SUB: usize = 1 << SUB_BITS;
/// The largest power of two with buckets of its own: latencies from 2^36 ns (69 s)
/// on share one last bucket, where the maximum seen stands in for a percentile.
const TOP_EXP: u32 = 35;
pub const WAKE_BUCKETS: usize = (TOP_EXP as usize - SUB_BITS as usize + 2) * SUB + 1;

/// The histogram bucket of a latency.
pub fn bucket(ns: u64) -> usize {
    if ns < 2 * SUB as u64 {
        return ns as usize;
    }
    let exp = (63 - ns.leading_zeros()).min(TOP_EXP + 1);
    if exp > TOP_EXP {
        return WAKE_BUCKETS - 1;
    }
    let sub = (ns >> (exp - SUB_BITS)) as usize & (SUB - 1);
    (exp - SUB_BITS + 1) as usize * SUB + sub
}

/// The smallest and largest latency that fall in bucket `b` (the last bucket's upper
/// bound is open: `u64::MAX`).
pub fn bounds(b: usize) -> (u64, u64) {
    if b < 2 * SUB {
        return (b as u64, b as u64);
    }
    if b >= WAKE_BUCKETS - 1 {
        return (1 << (TOP_EXP + 1), u64::MAX);
    }
    let exp = (b / SUB) as u32 + SUB_BITS - 1;
    let width = 1u64 << (exp - SUB_BITS);
    let lo = (1u64 << exp) + (b % SUB) as u64 * width;
    (lo, lo + width - 1)
}

/// Percentiles of a worker's wake-ups, in ns, and how many wake-ups they are of.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct WakeStats {
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
    pub samples: u64,
}

/// One worker's histogram: 8 KiB, page aligned, so a worker that never wakes up never
/// touches it and costs no memory for it (the mapping is shared anonymous memory,
/// allocated a page at a time on first write).
#[repr(C, align(4096))]
pub struct Wakes {
    /// Wake-ups counted, bumped before their bucket: nonzero whenever a bucket is.
    count: AtomicU64,
    max_ns: AtomicU64,
    /// Counts per bucket: 2^32 wake-ups would take a worker over an hour at one per µs.
    hist: [AtomicU32; WAKE_BUCKETS],
}

impl Wakes {
    /// Worker side: record one wake-up latency.
    pub fn add(&self, ns: u64) {
        self.count.store(self.count.load(Relaxed) + 1, Relaxed);
        let b = &self.hist[bucket(ns)];
        b.store(b.load(Relaxed).wrapping_add(1), Relaxed);
        if ns > self.max_ns.load(Relaxed) {
            self.max_ns.store(ns, Relaxed);
        }
    }

    /// PID 1 side, before the slot serves a new worker: clears what an earlier one
    /// left, touching the pages only if it wrote any.
    pub fn reset(&self) {
        if self.count.load(Relaxed) == 0 {
            return;
        }
        for b in &self.hist {
            b.store(0, Relaxed);
        }
        self.max_ns.store(0, Relaxed);
        self.count.store(0, Relaxed);
    }

    /// p50, p90, p99 and max of the wake-ups counted; None without any. The buckets are
    /// read only when there are some, so an idle histogram stays untouched.
    pub fn stats(&self) -> Option<WakeStats> {
        if self.count.load(Relaxed) == 0 {
            return None;
        }
        // The buckets' own sum: a worker killed between its count and its bucket
        // leaves the count one ahead.
        let samples: u64 = self.hist.iter().map(|b| u64::from(b.load(Relaxed))).sum();
        if samples == 0 {
            return None;
        }
        let max_ns = self.max_ns.load(Relaxed);
        Some(WakeStats {
            p50_ns: self.percentile(samples, 500, max_ns),
            p90_ns: self.percentile(samples, 900, max_ns),
            p99_ns: self.percentile(samples, 990, max_ns),
            max_ns,
            samples,
        })
    }

    /// The latency of the wake-up at rank ⌈n·permille/1000⌉ in sorted order, as the
    /// midpoint of its bucket, capped by the maximum seen (which it cannot exceed).
    fn percentile(&self, samples: u64, permille: u64, max_ns: u64) -> u64 {
        let want = (samples * permille).div_ceil(1000).max(1);
        let mut seen = 0;
        for (i, b) in self.hist.iter().enumerate() {
            seen += u64::from(b.load(Relaxed));
            if seen >= want {
                if i == WAKE_BUCKETS - 1 {
                    return max_ns;
                }
                let (lo, hi) = bounds(i);
                return (lo + (hi - lo) / 2).min(max_ns);
            }
        }
        max_ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wakes() -> Box<Wakes> {
        // SAFETY: all-zero is a valid Wakes (atomics only).
        unsafe { Box::new(core::mem::zeroed()) }
    }

    #[test]
    fn a_histogram_is_two_pages() {
        assert_eq!(core::mem::size_of::<Wakes>(), 8192);
        assert_eq!(bucket(u64::MAX), WAKE_BUCKETS - 1);
    }

    #[test]
    fn buckets_cover_every_latency_in_order() {
        let mut last = 0;
        let edges = [1 << 20, (1 << 20) + 1, (1 << 36) - 1, 1 << 36, u64::MAX];
        for ns in (0..20_000).chain(edges) {
            let b = bucket(ns);
            assert!(b >= last, "{ns}");
            last = b;
            let (lo, hi) = bounds(b);
            assert!(lo <= ns && ns <= hi, "{ns} in bucket {b} = {lo}..={hi}");
            assert!(b == 0 || ns > bounds(b - 1).1, "{ns} in bucket {b}");
        }
        for b in 1..WAKE_BUCKETS {
            assert_eq!(bounds(b).0, bounds(b - 1).1 + 1, "bucket {b} follows on");
        }
    }

    /// The exact percentile: the value at rank ⌈n·permille/1000⌉ of the sorted samples.
    fn exact(sorted: &[u64], permille: u64) -> u64 {
        let rank = (sorted.len() as u64 * permille).div_ceil(1000).max(1);
        sorted[rank as usize - 1]
    }

    fn assert_within_1_percent(got: u64, want: u64, what: &str) {
        let err = got.abs_diff(want) as f64 / want.max(1) as f64;
        assert!(
            err < 0.01,
            "{what}: {got} vs exact {want} ({:.3} %)",
            err * 100.0
        );
    }

    #[test]
    fn percentiles_are_within_one_percent_over_a_sweep() {
        // A geometric sweep from 1 ns to 60 s, each value the p99 of a set whose other
        // samples lie below and above it, and the worst case: a single sample.
        let mut v = 1u64;
        let mut worst: f64 = 0.0;
        while v < 60_000_000_000 {
            let mut samples: Vec<u64> = (0..98).map(|i| v / 2 + i).collect();
            samples.extend([v, v + v / 2 + 1]);
            let w = wakes();
            for &s in &samples {
                w.add(s);
            }
            samples.sort_unstable();
            let st = w.stats().unwrap();
            assert_eq!(st.samples, 100);
            assert_eq!(st.max_ns, *samples.last().unwrap());
            assert_within_1_percent(st.p99_ns, exact(&samples, 990), "p99");
            assert_within_1_percent(st.p50_ns, exact(&samples, 500), "p50");
            assert_within_1_percent(st.p90_ns, exact(&samples, 900), "p90");
            let one = wakes();
            one.add(v);
            let p = one.stats().unwrap().p99_ns;
            assert!(p <= v, "capped by the max");
            worst = worst.max(v.abs_diff(p) as f64 / v as f64);
            v += v / 7 + 1;
        }
        assert!(worst < 1.0 / (2 * SUB) as f64, "worst error {worst}");
    }

    #[test]
    fn the_p99_between_old_bucket_edges_is_exact_enough() {
        // The old coarse histogram read every p99 from 16.8 to 20.97 ms as 20.97 ms.
        for p99 in [16_800_000u64, 17_500_000, 18_000_000, 19_999_999] {
            let w = wakes();
            for _ in 0..985 {
                w.add(1_000_000);
            }
            for _ in 0..15 {
                w.add(p99);
            }
            assert_within_1_percent(w.stats().unwrap().p99_ns, p99, "p99");
        }
    }

    #[test]
    fn reset_clears_and_an_empty_histogram_has_no_stats() {
        let w = wakes();
        assert_eq!(w.stats(), None);
        w.add(1000);
        w.add(5_000_000);
        assert_eq!(w.stats().unwrap().samples, 2);
        w.reset();
        assert_eq!(w.stats(), None);
        assert!(w.hist.iter().all(|b| b.load(Relaxed) == 0));
        w.add(70_000_000_000);
        assert_eq!(
            w.stats().unwrap().p99_ns,
            70_000_000_000,
            "past the top: the max"
        );
    }
}
