//! `latency`: a chosen figure of the wake-up latencies of workers that time them
//! (`LATENCY_WORKS`: how late a timer sleeper, a woken handler or waiter ran).

use super::verdict::{at_most, cannot, detail, Sbx, Verdict};
use crate::engine::worker::{ns_to_us, Outcome};
use crate::measure::wakes::WakeStats;
use schedbox_protocol::checks::Percentile;

fn figure(w: &WakeStats, p: Percentile) -> u64 {
    match p {
        Percentile::P50 => w.p50_ns,
        Percentile::P90 => w.p90_ns,
        Percentile::P99 => w.p99_ns,
        Percentile::Max => w.max_ns,
    }
}

/// The worst `p` (µs) among the selected workers that timed a wake-up, naming it.
pub fn latency<'a>(
    picked: impl Iterator<Item = &'a Outcome>,
    p: Percentile,
    limit: u64,
) -> Verdict {
    let timed = picked.filter_map(|o| o.wake.map(|w| (figure(&w, p), w.samples, o)));
    match timed.max_by_key(|(ns, _, _)| *ns) {
        Some((ns, samples, o)) => at_most(
            ns_to_us(ns),
            limit,
            detail(format_args!(
                "{p} of {}: {} µs over {samples} wake-ups",
                Sbx(o),
                ns_to_us(ns)
            )),
        ),
        None => cannot(format_args!("no selected worker timed a wake-up")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::worker::Name;

    fn timed(index: u32, p90_us: u64) -> Outcome {
        Outcome {
            group: Name::from_bytes(b"t"),
            index,
            pid: 50,
            wake: Some(WakeStats {
                p50_ns: 1_000,
                p90_ns: p90_us * 1000,
                p99_ns: p90_us * 2000,
                max_ns: p90_us * 3000,
                samples: 10,
            }),
            ..Outcome::default()
        }
    }

    #[test]
    fn the_worst_workers_chosen_figure_is_judged() {
        let outs = [timed(0, 100), timed(1, 900), Outcome::default()];
        let v = latency(outs.iter(), Percentile::P90, 500);
        assert!(!v.pass && v.value == 900);
        assert_eq!(
            v.detail.as_bytes(),
            "p90 of sbx-t-1 (pid 50): 900 µs over 10 wake-ups".as_bytes()
        );
        assert_eq!(latency(outs.iter(), Percentile::Max, 0).value, 2700);
        assert_eq!(latency(outs.iter(), Percentile::P50, 0).value, 1);
        assert!(latency(outs[..1].iter(), Percentile::P99, 500).pass);
        let v = latency(outs[2..].iter(), Percentile::P99, 500);
        assert!(!v.pass && !v.detail.is_empty());
    }
}
