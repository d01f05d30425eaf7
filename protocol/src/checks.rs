//! Checks the guest evaluates at the end of a scenario, with the limits the host
//! gives them by default (docs/protocol.md, "Checks").

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

pub struct Check {
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

pub const PROGRESS: &str = "progress";
pub const STALL: &str = "stall";
pub const ISOLATION: &str = "isolation";
pub const FAIRNESS: &str = "fairness";
pub const WEIGHT: &str = "weight";
pub const BANDWIDTH: &str = "bandwidth";
pub const WAKE_LATENCY: &str = "wake-latency";
pub const KERNEL_LOG: &str = "kernel-log";
pub const SCHEDULER: &str = "scheduler";
pub const EXPECT: &str = "expect";

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

const fn kind(
    name: &'static str,
    default_limit: u64,
    max_limit: u64,
    scope: Scope,
    at_least: bool,
    unit: &'static str,
) -> Check {
    Check {
        name,
        default_limit,
        max_limit,
        scope,
        at_least,
        unit,
    }
}

/// Every check of protocol version 1.
pub const CHECKS: &[Check] = &[
    kind(PROGRESS, 1, u64::MAX, Scope::Group, true, "iterations"),
    kind(
        STALL,
        DEFAULT_STALL_LIMIT_MS,
        3_600_000,
        Scope::Group,
        false,
        "ms",
    ),
    kind(ISOLATION, 0, u64::MAX, Scope::Group, false, "samples"),
    kind(FAIRNESS, 300, 100_000, Scope::Cgroup, false, "‰"),
    kind(WEIGHT, 250, 100_000, Scope::Cgroup, false, "‰"),
    kind(
        BANDWIDTH,
        DEFAULT_BANDWIDTH_LIMIT,
        100_000,
        Scope::Cgroup,
        false,
        "‰",
    ),
    kind(WAKE_LATENCY, 20_000, 60_000_000, Scope::Group, false, "µs"),
    kind(KERNEL_LOG, 0, u64::MAX, Scope::Scenario, false, "lines"),
    kind(SCHEDULER, 0, 1, Scope::Scenario, false, ""),
    kind(EXPECT, 0, u64::MAX, Scope::Group, false, "workers"),
];

/// Checks every scenario gets unless it lists a check of the same name. `kernel-log`
/// counts only lines logged while the scenario runs, so boot noise cannot fail it.
pub const DEFAULT_CHECKS: &[&str] = &[PROGRESS, STALL, KERNEL_LOG];

pub fn check(name: &[u8]) -> Option<&'static Check> {
    CHECKS.iter().find(|c| c.name.as_bytes() == name)
}
