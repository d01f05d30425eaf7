//! How fast workers of one work type got their work done: the spread of their rates
//! (`throughput-cv`) and their work per CPU-second (`min-rate`).

use super::verdict::{at_most, cannot, detail, Sbx, Verdict};
use crate::engine::worker::Outcome;
use crate::platform::sys::NS_PER_MS;

const NS_PER_S: u128 = 1_000_000_000;
/// Rates are kept in thousandths of an iteration a second, so that slow workers (a
/// few iterations a second) still differ.
const MILLI: u128 = 1000;
const PER_MILLE: u128 = 1000;

/// A worker's iterations per second of its life, in thousandths.
fn rate_milli(o: &Outcome) -> Option<u128> {
    (o.alive_ns > 0).then(|| u128::from(o.iterations) * NS_PER_S * MILLI / u128::from(o.alive_ns))
}

/// The integer square root (Newton's method from above).
fn isqrt(n: u128) -> u128 {
    if n < 2 {
        return n;
    }
    let mut x = n;
    let mut y = x.div_ceil(2);
    while y < x {
        x = y;
        y = (x + n / x) / 2;
    }
    x
}

/// The (population) standard deviation of the selected workers' rates over their mean,
/// per mille, naming the slowest and the fastest worker.
pub fn throughput_cv<'a>(picked: impl Iterator<Item = &'a Outcome> + Clone, limit: u64) -> Verdict {
    let rated = picked.filter_map(|o| rate_milli(o).map(|r| (r, o)));
    let n = rated.clone().count() as u128;
    if n < 2 {
        return cannot(format_args!(
            "throughput-cv needs 2 or more workers, got {n}"
        ));
    }
    let mean = rated.clone().map(|(r, _)| r).sum::<u128>() / n;
    if mean == 0 {
        return cannot(format_args!("the workers made no progress"));
    }
    let variance = rated
        .clone()
        .map(|(r, _)| r.abs_diff(mean).pow(2))
        .sum::<u128>()
        / n;
    let value = u64::try_from(isqrt(variance) * PER_MILLE / mean).unwrap_or(u64::MAX);
    // The slowest is the worker the spread hurts; the fastest shows the span.
    let slow = rated.clone().min_by_key(|(r, _)| *r);
    let fast = rated.max_by_key(|(r, _)| *r);
    let (Some((lo, slow)), Some((hi, fast))) = (slow, fast) else {
        return cannot(format_args!("no workers"));
    };
    let d = detail(format_args!(
        "slowest {} at {} iterations/s, fastest {} at {}/s, the mean of {n} workers {}/s",
        Sbx(slow),
        whole(lo / MILLI),
        Sbx(fast),
        whole(hi / MILLI),
        whole(mean / MILLI)
    ));
    at_most(value, limit, d)
}

/// Iterations per CPU-second of the selected workers together, naming the worker that
/// got the least done with its CPU time.
pub fn min_rate<'a>(picked: impl Iterator<Item = &'a Outcome> + Clone, limit: u64) -> Verdict {
    if picked.clone().next().is_none() {
        return cannot(format_args!("no workers"));
    }
    let iterations: u128 = picked.clone().map(|o| u128::from(o.iterations)).sum();
    let cpu_ns: u128 = picked.clone().map(|o| u128::from(o.cpu_ns)).sum();
    if cpu_ns == 0 {
        return cannot(format_args!("the workers got no CPU time"));
    }
    let value = whole(iterations * NS_PER_S / cpu_ns);
    let per_cpu_s = |o: &Outcome| u128::from(o.iterations) * NS_PER_S / u128::from(o.cpu_ns);
    let slowest = picked.filter(|o| o.cpu_ns > 0).min_by_key(|o| per_cpu_s(o));
    let d = match slowest {
        Some(o) => detail(format_args!(
            "slowest {}: {} iterations in {} ms of CPU; all: {} in {} ms",
            Sbx(o),
            o.iterations,
            o.cpu_ns / NS_PER_MS,
            whole(iterations),
            whole(cpu_ns / u128::from(NS_PER_MS))
        )),
        None => detail(format_args!("no worker ran")),
    };
    Verdict {
        pass: value >= limit,
        value,
        detail: d,
    }
}

/// A u128 printed as a u64 (formatting a u128 would cost the guest a kilobyte of code).
fn whole(v: u128) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::worker::Name;

    fn worker(index: u32, iterations: u64, alive_ms: u64, cpu_ms: u64) -> Outcome {
        Outcome {
            group: Name::from_bytes(b"w"),
            index,
            pid: 40 + index as i32,
            iterations,
            alive_ns: alive_ms * NS_PER_MS,
            cpu_ns: cpu_ms * NS_PER_MS,
            ..Outcome::default()
        }
    }

    fn says(v: &Verdict) -> String {
        String::from_utf8(v.detail.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn the_spread_is_the_deviation_of_rates_over_their_mean() {
        // Rates 100/s and 300/s: mean 200, deviation 100, 500 per mille.
        let outs = [worker(0, 100, 1000, 1000), worker(1, 600, 2000, 2000)];
        let v = throughput_cv(outs.iter(), 300);
        assert!(!v.pass && v.value == 500, "{}", v.value);
        assert_eq!(
            says(&v),
            "slowest sbx-w-0 (pid 40) at 100 iterations/s, fastest sbx-w-1 (pid 41) at 300/s, \
             the mean of 2 workers 200/s"
        );
        let even = [worker(0, 300, 1000, 1), worker(1, 600, 2000, 1)];
        let v = throughput_cv(even.iter(), 300);
        assert!(v.pass && v.value == 0);
        let v = throughput_cv(outs[..1].iter(), 300);
        assert!(!v.pass && says(&v).contains("2 or more"));
        let idle = [worker(0, 0, 1000, 0), worker(1, 0, 1000, 0)];
        assert!(says(&throughput_cv(idle.iter(), 300)).contains("no progress"));
    }

    #[test]
    fn the_rate_per_cpu_second_is_the_groups_and_names_the_slowest() {
        // 1000 iterations in 1 s of CPU and 100 in 1 s: 550 per CPU-second.
        let outs = [worker(0, 1000, 5000, 1000), worker(1, 100, 5000, 1000)];
        let v = min_rate(outs.iter(), 600);
        assert!(!v.pass && v.value == 550, "{}", v.value);
        assert_eq!(
            says(&v),
            "slowest sbx-w-1 (pid 41): 100 iterations in 1000 ms of CPU; all: 1100 in 2000 ms"
        );
        assert!(min_rate(outs.iter(), 500).pass);
        let none = [worker(0, 0, 1000, 0)];
        assert!(says(&min_rate(none.iter(), 1)).contains("no CPU time"));
        assert!(says(&min_rate([].iter(), 1)).contains("no workers"));
    }

    #[test]
    fn integer_square_roots() {
        for (n, r) in [
            (0, 0),
            (1, 1),
            (3, 1),
            (4, 2),
            (99, 9),
            (100, 10),
            (1 << 100, 1 << 50),
        ] {
            assert_eq!(isqrt(n), r, "{n}");
        }
    }
}
