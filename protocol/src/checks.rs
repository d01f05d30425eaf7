//! Checks the guest evaluates at the end of a scenario, with the limits the host
//! gives them by default (docs/protocol.md, "Checks").

use crate::vocab::{words, Word};
use core::fmt;

/// What a check may be restricted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Nothing: the check covers the whole scenario or the kernel.
    Scenario,
    /// Optionally one worker group.
    Group,
    /// A cgroup, which must be named.
    Cgroup,
    /// Optionally one worker group; without one, every worker of the scenario, which
    /// must then all run the same work type (their rates are compared).
    SameWork,
}

pub struct Check {
    pub kind: CheckKind,
    pub default_limit: u64,
    /// Largest limit that makes sense; above it the check could never fail.
    pub max_limit: u64,
    pub scope: Scope,
    /// Whether the measured value must be ≥ the limit (else ≤).
    pub at_least: bool,
    /// Unit of value and limit, for messages.
    pub unit: &'static str,
}

words! {
    /// The name of a check (`check name=`, and the `check` record's `name=`).
    CheckKind {
        Progress = "progress",
        Stall = "stall",
        Isolation = "isolation",
        Fairness = "fairness",
        Weight = "weight",
        Bandwidth = "bandwidth",
        WakeLatency = "wake-latency",
        KernelLog = "kernel-log",
        Scheduler = "scheduler",
        Expect = "expect",
        Migrations = "migrations",
        LlcCrossings = "llc-crossings",
        NodeCrossings = "node-crossings",
        NumaLocality = "numa-locality",
        ThroughputCv = "throughput-cv",
        MinRate = "min-rate",
        Imbalance = "imbalance",
        Latency = "latency",
    }
}

words! {
    /// Which figure of a worker's latencies the `latency` check judges (`percentile=`).
    Percentile {
        P50 = "p50",
        P90 = "p90",
        P99 = "p99",
        Max = "max",
    }
}

/// `check name=latency percentile=<p50|p90|p99|max>`: the figure judged.
pub const KEY_PERCENTILE: &str = "percentile";
/// The figure `latency` judges when the scenario names none: the tail a sleeper feels.
pub const DEFAULT_PERCENTILE: Percentile = Percentile::P99;
/// A latency beyond a minute is no latency but a stall, which `stall` judges.
pub const MAX_LATENCY_LIMIT_US: u64 = 60_000_000;

/// `check name=imbalance window_ms=N`: how long the ratio must hold to count.
pub const KEY_WINDOW_MS: &str = "window_ms";
/// How often the guest reads the runnable tasks of every CPU for `imbalance`: a policy,
/// coarse enough that reading the kernel's scheduler statistics (a few KiB a CPU)
/// costs PID 1 little, fine enough for windows of a fraction of a second.
pub const IMBALANCE_SAMPLE_MS: u64 = 100;
/// A window of at least two samples, so that one sample never decides alone; at most
/// 30 s of samples, which the guest keeps (a hard bound of its buffer).
pub const MIN_IMBALANCE_WINDOW_MS: u64 = 2 * IMBALANCE_SAMPLE_MS;
pub const MAX_IMBALANCE_WINDOW_MS: u64 = 30_000;
/// A load balancer evens out runnable tasks within a few of its periods (tens of
/// milliseconds); a full second of imbalance is no transient. A policy.
pub const DEFAULT_IMBALANCE_WINDOW_MS: u64 = 1000;
/// Twice as many runnable tasks on the busiest CPU as on the idlest, for a whole
/// window: more than an odd task out (3 on one CPU, 2 on the other is 1500 ‰). A policy.
pub const DEFAULT_IMBALANCE_PERMILLE: u64 = 2000;

/// Per-worker rates of identical workers under a fair scheduler differ by a few
/// percent; a third of the mean is unfairness. A policy.
pub const DEFAULT_THROUGHPUT_CV_PERMILLE: u64 = 300;

/// `min-rate` measures unless given a floor: what one iteration costs depends on the
/// work type and its parameters, so only the scenario knows what is too slow.
pub const DEFAULT_MIN_RATE: u64 = 0;

/// `migrations` measures unless limited: a scheduler migrates tasks as it sees fit, so
/// only the scenario knows how many are too many.
pub const DEFAULT_MIGRATIONS_LIMIT: u64 = u64::MAX;

/// A working set bound to its nodes keeps nearly every page there; a few may sit
/// elsewhere while the kernel falls back under memory pressure on the bound node.
pub const DEFAULT_NUMA_LOCALITY_PERMILLE: u64 = 950;

/// Stalls are judged on TCG too, where a vCPU thread can lose its host CPU for a few
/// hundred milliseconds on a busy machine; a second is still far below what a real
/// scheduler bug produces (sched_ext's own watchdog waits 30 s).
pub const DEFAULT_STALL_LIMIT_MS: u64 = 1000;

/// What the default stall limit grants for each further task that may be runnable on
/// the same CPU: a fair scheduler runs them in turn, so a task waits about one slice for
/// each. sched_ext's default slice is 20 ms (EEVDF's is shorter); 5 ms more covers a
/// tick's lateness under TCG.
pub const STALL_MS_PER_QUEUED_TASK: u64 = 25;

/// What the default stall limit grants for each switch between the fair class and
/// sched_ext that one step asks for (a detach, an attach; a restart or a CPU hotplug
/// is two): the kernel moves every task between classes while it holds the CPUs in
/// bypass mode. Under TCG on a busy 2-CPU host a detach took up to 1.0 s and an attach
/// up to 0.9 s with 64 spinners, and a light sleep-wake worker waited 1.46 s across the
/// switches of the kernel's selftests. A policy: a longer wait is still a stall.
pub const STALL_MS_PER_CLASS_SWITCH: u64 = 1000;

/// The default stall limit of a scenario that may have `runnable_per_cpu` workers
/// runnable on its busiest CPU and asks for at most `class_switches` switches of
/// scheduling class in one step: [`DEFAULT_STALL_LIMIT_MS`], plus
/// [`STALL_MS_PER_QUEUED_TASK`] for each worker beyond the first, plus
/// [`STALL_MS_PER_CLASS_SWITCH`] for each switch (docs/scenarios.md). 256 spinners on
/// 2 CPUs (128 a CPU) get 1000 + 127 × 25 = 4175 ms; with a restart, 4175 + 2 × 1000.
pub const fn default_stall_limit_ms(runnable_per_cpu: u64, class_switches: u64) -> u64 {
    let queued = runnable_per_cpu.saturating_sub(1);
    let limit = DEFAULT_STALL_LIMIT_MS
        .saturating_add(queued.saturating_mul(STALL_MS_PER_QUEUED_TASK))
        .saturating_add(class_switches.saturating_mul(STALL_MS_PER_CLASS_SWITCH));
    if limit > MAX_STALL_LIMIT_MS {
        MAX_STALL_LIMIT_MS
    } else {
        limit
    }
}

/// The largest stall limit: an hour, as the longest hold.
pub const MAX_STALL_LIMIT_MS: u64 = 3_600_000;

/// A correct kernel keeps a cgroup within about 1000 ‰ of its quota (the guest counts
/// the period in progress at the window's start), but on TCG a vCPU the host holds
/// back at the window's end overruns the quota until its next tick: up to 1100 ‰ was
/// seen on a busy two-CPU host. A scheduler that ignores cpu.max shows several times
/// the quota.
pub const DEFAULT_BANDWIDTH_LIMIT: u64 = 1250;

const fn kind(
    kind: CheckKind,
    default_limit: u64,
    max_limit: u64,
    scope: Scope,
    at_least: bool,
    unit: &'static str,
) -> Check {
    Check {
        kind,
        default_limit,
        max_limit,
        scope,
        at_least,
        unit,
    }
}

/// Every check of protocol version 1.
pub const CHECKS: &[Check] = &[
    kind(
        CheckKind::Progress,
        1,
        u64::MAX,
        Scope::Group,
        true,
        "iterations",
    ),
    kind(
        CheckKind::Stall,
        DEFAULT_STALL_LIMIT_MS,
        MAX_STALL_LIMIT_MS,
        Scope::Group,
        false,
        "ms",
    ),
    kind(
        CheckKind::Isolation,
        0,
        u64::MAX,
        Scope::Group,
        false,
        "samples",
    ),
    kind(CheckKind::Fairness, 300, 100_000, Scope::Cgroup, false, "‰"),
    kind(CheckKind::Weight, 250, 100_000, Scope::Cgroup, false, "‰"),
    kind(
        CheckKind::Bandwidth,
        DEFAULT_BANDWIDTH_LIMIT,
        100_000,
        Scope::Cgroup,
        false,
        "‰",
    ),
    kind(
        CheckKind::WakeLatency,
        20_000,
        60_000_000,
        Scope::Group,
        false,
        "µs",
    ),
    kind(
        CheckKind::KernelLog,
        0,
        u64::MAX,
        Scope::Scenario,
        false,
        "lines",
    ),
    kind(CheckKind::Scheduler, 0, 1, Scope::Scenario, false, ""),
    kind(
        CheckKind::Expect,
        0,
        u64::MAX,
        Scope::Group,
        false,
        "workers",
    ),
    kind(
        CheckKind::Migrations,
        DEFAULT_MIGRATIONS_LIMIT,
        u64::MAX,
        Scope::Group,
        false,
        "migrations",
    ),
    kind(
        CheckKind::LlcCrossings,
        0,
        u64::MAX,
        Scope::Group,
        false,
        "crossings",
    ),
    kind(
        CheckKind::NodeCrossings,
        0,
        u64::MAX,
        Scope::Group,
        false,
        "crossings",
    ),
    kind(
        CheckKind::NumaLocality,
        DEFAULT_NUMA_LOCALITY_PERMILLE,
        1000,
        Scope::Group,
        true,
        "‰",
    ),
    kind(
        CheckKind::ThroughputCv,
        DEFAULT_THROUGHPUT_CV_PERMILLE,
        100_000,
        Scope::SameWork,
        false,
        "‰",
    ),
    kind(
        CheckKind::MinRate,
        DEFAULT_MIN_RATE,
        u64::MAX,
        Scope::SameWork,
        true,
        "iterations per CPU-second",
    ),
    kind(
        CheckKind::Imbalance,
        DEFAULT_IMBALANCE_PERMILLE,
        u64::MAX,
        Scope::Scenario,
        false,
        "‰",
    ),
    kind(
        CheckKind::Latency,
        20_000,
        MAX_LATENCY_LIMIT_US,
        Scope::Group,
        false,
        "µs",
    ),
];

/// Checks every scenario gets unless it lists a check of the same name. `kernel-log`
/// counts only lines logged while the scenario runs, so boot noise cannot fail it.
pub const DEFAULT_CHECKS: &[CheckKind] =
    &[CheckKind::Progress, CheckKind::Stall, CheckKind::KernelLog];

pub fn check(name: &[u8]) -> Option<&'static Check> {
    CheckKind::parse(name).map(CheckKind::check)
}

impl Check {
    pub fn name(&self) -> &'static str {
        self.kind.word()
    }
}

impl CheckKind {
    /// The check's defaults and scope.
    pub fn check(self) -> &'static Check {
        // CHECKS holds one entry per kind, in the same order (a test says so).
        &CHECKS[self as usize]
    }
}

/// `check name=kernel-log forward=1`: the guest sends every kernel log line of the
/// scenario (up to [`crate::limits::KMSG_FORWARD_LINES`]) so that the host can judge
/// them against the scenario's `allow` and `expect` patterns.
pub const KEY_FORWARD: &str = "forward";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_entry() {
        assert_eq!(CHECKS.len(), CheckKind::ALL.len());
        for kind in CheckKind::ALL {
            assert_eq!(kind.check().kind, *kind);
        }
    }

    #[test]
    fn the_new_checks_judge_in_their_direction_and_scope() {
        let min_rate = CheckKind::MinRate.check();
        assert!(min_rate.at_least && min_rate.scope == Scope::SameWork);
        assert_eq!(CheckKind::ThroughputCv.check().scope, Scope::SameWork);
        assert_eq!(CheckKind::Imbalance.check().scope, Scope::Scenario);
        assert!(!CheckKind::Latency.check().at_least);
        assert_eq!(Percentile::parse(b"p90"), Some(Percentile::P90));
        assert_eq!(Percentile::parse(b"p95"), None);
        assert!((MIN_IMBALANCE_WINDOW_MS..=MAX_IMBALANCE_WINDOW_MS)
            .contains(&DEFAULT_IMBALANCE_WINDOW_MS));
    }

    #[test]
    fn the_stall_limit_grows_with_the_tasks_sharing_a_cpu() {
        assert_eq!(default_stall_limit_ms(0, 0), DEFAULT_STALL_LIMIT_MS);
        assert_eq!(default_stall_limit_ms(1, 0), DEFAULT_STALL_LIMIT_MS);
        assert_eq!(default_stall_limit_ms(128, 0), 4175);
        assert_eq!(default_stall_limit_ms(u64::MAX, 0), MAX_STALL_LIMIT_MS);
    }

    #[test]
    fn the_stall_limit_grows_with_the_class_switches_of_a_step() {
        assert_eq!(
            default_stall_limit_ms(1, 2),
            DEFAULT_STALL_LIMIT_MS + 2 * STALL_MS_PER_CLASS_SWITCH
        );
        assert_eq!(default_stall_limit_ms(1, u64::MAX), MAX_STALL_LIMIT_MS);
    }
}
