//! Checks evaluated at the end of a scenario over its workers' outcomes.

use crate::buf::Buf;
use crate::record::Record;
use crate::sys::{NS_PER_MS, NS_PER_US};
use crate::worker::{Name, Outcome, RelPath};

/// Every check of protocol version 1.
pub const NAMES: &[&str] = &[
    "progress",
    "stall",
    "isolation",
    "fairness",
    "weight",
    "bandwidth",
    "wake-latency",
    "kernel-log",
    "scheduler",
];

/// A `check` line of the plan.
#[derive(Default, Clone)]
pub struct CheckSpec {
    pub name: Buf<32>,
    pub limit: u64,
    pub group: Option<Name>,
    pub cgroup: Option<RelPath>,
}

impl CheckSpec {
    fn selects(&self, o: &Outcome) -> bool {
        self.group
            .as_ref()
            .is_none_or(|g| g.eq_bytes(o.group.as_bytes()))
            && self
                .cgroup
                .as_ref()
                .is_none_or(|c| c.eq_bytes(o.cgroup.as_bytes()))
    }
}

pub struct Verdict {
    pub pass: bool,
    pub value: u64,
    pub detail: Option<&'static str>,
}

/// At most the limit passes.
fn at_most(value: u64, limit: u64) -> Verdict {
    Verdict {
        pass: value <= limit,
        value,
        detail: None,
    }
}

pub fn evaluate(spec: &CheckSpec, outcomes: &[Outcome]) -> Verdict {
    let mut picked = outcomes.iter().filter(|o| spec.selects(o)).peekable();
    let none = picked.peek().is_none();
    match spec.name.as_bytes() {
        b"progress" if none => Verdict {
            pass: false,
            value: 0,
            detail: Some("no workers"),
        },
        b"progress" => {
            let value = picked.map(|o| o.iterations).min().unwrap_or(0);
            Verdict {
                pass: value >= spec.limit,
                value,
                detail: None,
            }
        }
        b"stall" => at_most(
            picked.map(|o| o.max_gap_ns / NS_PER_MS).max().unwrap_or(0),
            spec.limit,
        ),
        b"wake-latency" => wake_latency(picked, spec.limit),
        _ => Verdict {
            pass: false,
            value: 0,
            detail: Some("unsupported"),
        },
    }
}

/// The worst p99 wake latency (µs) among the selected sleep-wake workers.
fn wake_latency<'a>(picked: impl Iterator<Item = &'a Outcome>, limit: u64) -> Verdict {
    let p99s = picked
        .filter(|o| crate::work::WORKS[o.work].name == "sleep-wake")
        .filter_map(|o| o.wake.map(|w| w[1]));
    match p99s.max() {
        Some(ns) => at_most(ns / NS_PER_US, limit),
        None => Verdict {
            pass: false,
            value: 0,
            detail: Some("no sleep-wake workers woke"),
        },
    }
}

pub fn report(scenario: &[u8], spec: &CheckSpec, v: &Verdict) {
    let mut r = Record::new("check")
        .str("scenario", scenario)
        .str("name", spec.name.as_bytes())
        .str("result", if v.pass { b"pass" } else { b"fail" })
        .num("value", v.value)
        .num("limit", spec.limit);
    if let Some(d) = v.detail {
        r = r.str("detail", d.as_bytes());
    }
    r.send();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(group: &str, iterations: u64, gap_ms: u64) -> Outcome {
        Outcome {
            group: Name::from_bytes(group.as_bytes()),
            iterations,
            max_gap_ns: gap_ms * NS_PER_MS,
            ..Outcome::default()
        }
    }

    fn spec(name: &str, limit: u64, group: Option<&str>) -> CheckSpec {
        CheckSpec {
            name: Buf::from_bytes(name.as_bytes()),
            limit,
            group: group.map(|g| Name::from_bytes(g.as_bytes())),
            cgroup: None,
        }
    }

    #[test]
    fn progress_is_the_minimum() {
        let outs = [out("a", 10, 0), out("a", 3, 0), out("b", 1, 0)];
        let v = evaluate(&spec("progress", 2, Some("a")), &outs);
        assert!(v.pass && v.value == 3);
        let v = evaluate(&spec("progress", 2, None), &outs);
        assert!(!v.pass && v.value == 1);
        let v = evaluate(&spec("progress", 1, Some("zzz")), &outs);
        assert!(!v.pass && v.detail == Some("no workers"));
    }

    #[test]
    fn stall_is_the_longest_gap() {
        let outs = [out("a", 1, 12), out("a", 1, 1500)];
        let v = evaluate(&spec("stall", 1000, None), &outs);
        assert!(!v.pass && v.value == 1500);
        let v = evaluate(&spec("stall", 2000, None), &outs);
        assert!(v.pass);
    }

    #[test]
    fn wake_latency_is_the_worst_p99_of_sleep_wake_workers() {
        let sw = crate::work::WORKS
            .iter()
            .position(|w| w.name == "sleep-wake")
            .unwrap();
        let mut a = out("a", 1, 0);
        a.work = sw;
        a.wake = Some([10_000, 90_000, 200_000]);
        let mut b = a.clone();
        b.wake = Some([10_000, 300_000, 400_000]);
        let spin = out("a", 1, 0);
        let v = evaluate(
            &spec("wake-latency", 250, None),
            &[a.clone(), b, spin.clone()],
        );
        assert!(!v.pass && v.value == 300);
        let v = evaluate(&spec("wake-latency", 250, None), &[a]);
        assert!(v.pass && v.value == 90);
        let v = evaluate(&spec("wake-latency", 250, None), &[spin]);
        assert!(!v.pass && v.detail.is_some());
    }

    #[test]
    fn unknown_checks_fail_loudly() {
        let v = evaluate(&spec("fairness", 100, None), &[]);
        assert!(!v.pass && v.detail == Some("unsupported"));
    }
}
