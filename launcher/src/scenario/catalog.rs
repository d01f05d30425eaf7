//! What the guest knows how to run and check: work types with their parameters, and
//! checks with their default limits (docs/protocol.md, docs/scenarios.md).

/// A workload a worker group can run.
pub struct WorkType {
    pub name: &'static str,
    /// Parameters this work accepts.
    pub params: &'static [&'static str],
    /// Workers pair up, so the count must be even.
    pub paired: bool,
}

pub const WORK_TYPES: &[WorkType] = &[
    work("spin", &[]),
    work("yield", &[]),
    work("mixed", &["spin_us"]),
    work("bursty", &["burst_ms", "sleep_ms"]),
    work("sleep-wake", &["sleep_us"]),
    WorkType {
        name: "pipe-pingpong",
        params: &[],
        paired: true,
    },
    WorkType {
        name: "futex-pingpong",
        params: &[],
        paired: true,
    },
    work("futex-fanout", &[]),
    work("fork-churn", &[]),
    work("nice-sweep", &[]),
    work("affinity-churn", &[]),
    work("policy-churn", &[]),
    work("page-fault", &["size_kb"]),
    work("cache", &["size_kb", "stride"]),
    work("mutex", &["hold_us"]),
];

const fn work(name: &'static str, params: &'static [&'static str]) -> WorkType {
    WorkType {
        name,
        params,
        paired: false,
    }
}

pub fn work_type(name: &str) -> Option<&'static WorkType> {
    WORK_TYPES.iter().find(|w| w.name == name)
}

/// Allowed range of each work parameter, inclusive.
pub fn param_range(param: &str) -> (u64, u64) {
    match param {
        "spin_us" | "hold_us" => (1, 1_000_000),
        "burst_ms" | "sleep_ms" => (1, 10_000),
        "sleep_us" => (1, 10_000_000),
        "size_kb" => (4, 4 * 1024 * 1024),
        "stride" => (1, 1 << 20),
        _ => (0, u64::MAX),
    }
}

/// What a check may be restricted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Nothing: the check covers the whole scenario or the kernel.
    Scenario,
    /// Optionally one worker group.
    Group,
    /// A cgroup, which must be named.
    Cgroup,
}

/// A check the guest evaluates at the end of a scenario.
pub struct CheckKind {
    pub name: &'static str,
    pub default_limit: u64,
    /// Largest limit that makes sense; above it the check could never fail.
    pub max_limit: u64,
    pub scope: Scope,
    /// Whether the measured value must be ≥ the limit (else ≤).
    pub at_least: bool,
    /// Unit of value and limit, for messages.
    pub unit: &'static str,
}

/// Stalls are judged on TCG too, where a vCPU thread can lose its host CPU for a few
/// hundred milliseconds on a busy machine; a second is still far below what a real
/// scheduler bug produces (sched_ext's own watchdog waits 30 s).
pub const DEFAULT_STALL_LIMIT_MS: u64 = 1000;

/// A correct kernel keeps a cgroup within about 1000 ‰ of its quota (the guest counts
/// the period in progress at the window's start), but on TCG a vCPU the host holds
/// back at the window's end overruns the quota until its next tick: up to 1100 ‰ was
/// seen on a busy two-CPU host. A scheduler that ignores cpu.max shows several times
/// the quota.
pub const DEFAULT_BANDWIDTH_LIMIT: u64 = 1250;

pub const CHECKS: &[CheckKind] = &[
    check("progress", 1, u64::MAX, Scope::Group, true, "iterations"),
    check(
        "stall",
        DEFAULT_STALL_LIMIT_MS,
        3_600_000,
        Scope::Group,
        false,
        "ms",
    ),
    check("isolation", 0, u64::MAX, Scope::Group, false, "samples"),
    check("fairness", 300, 100_000, Scope::Cgroup, false, "‰"),
    check("weight", 250, 100_000, Scope::Cgroup, false, "‰"),
    check(
        "bandwidth",
        DEFAULT_BANDWIDTH_LIMIT,
        100_000,
        Scope::Cgroup,
        false,
        "‰",
    ),
    check(
        "wake-latency",
        20_000,
        60_000_000,
        Scope::Group,
        false,
        "µs",
    ),
    check("kernel-log", 0, u64::MAX, Scope::Scenario, false, "lines"),
    check("scheduler", 0, 1, Scope::Scenario, false, ""),
    check("expect", 0, u64::MAX, Scope::Group, false, "workers"),
];

/// Limits workers may be meant to meet (`[[workers]] expect`), judged by `expect`.
pub const EXPECTS: &[&str] = &["fork-refused", "oom-killed"];

/// Checks every scenario gets unless it lists a check of the same name. `kernel-log`
/// counts only lines logged while the scenario runs, so boot noise cannot fail it; a
/// problem line in the kernel log during a scheduler test is worth a failure (a
/// scenario that expects one can raise its limit).
pub const DEFAULT_CHECKS: &[&str] = &["progress", "stall", "kernel-log"];

const fn check(
    name: &'static str,
    default_limit: u64,
    max_limit: u64,
    scope: Scope,
    at_least: bool,
    unit: &'static str,
) -> CheckKind {
    CheckKind {
        name,
        default_limit,
        max_limit,
        scope,
        at_least,
        unit,
    }
}

pub fn check_kind(name: &str) -> Option<&'static CheckKind> {
    CHECKS.iter().find(|c| c.name == name)
}

pub fn names<T>(items: &[T], name: impl Fn(&T) -> &'static str) -> String {
    items.iter().map(name).collect::<Vec<_>>().join(", ")
}
