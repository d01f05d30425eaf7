//! Every bound of protocol version 1. The host refuses what exceeds them before it
//! boots; the guest's fixed tables are sized by them. Each says whether it is a *hard
//! bound* (a buffer, a table, the kernel: raising it means changing code) or *policy*
//! (a chosen value that could change alone).

/// The plan's first line is `schedbox-plan 1`; records start with `SBX1`.
pub const PLAN_VERSION: &str = "1";
pub const RECORD_MARKER: &str = "SBX1";

/// Longest plan or record line, its newline included.
/// Hard bound: line buffers on both sides.
pub const MAX_LINE: usize = 4096;
/// Most `key=value` fields on one line.
/// Hard bound: the parser's field table.
pub const MAX_FIELDS: usize = 64;
/// Largest plan the guest maps.
/// Hard bound: what the guest maps.
pub const MAX_PLAN_BYTES: usize = 16 << 20;

/// Longest scenario, group, cgroup component, check or payload name: names end up in
/// fixed buffers with a NUL after them.
/// Hard bound: fixed buffers.
pub const MAX_NAME: usize = 63;
/// Longest cgroup path below the scenario root, and longest `write` op path.
/// Hard bound: fixed buffers.
pub const MAX_PATH: usize = 191;
/// Deepest cgroup below the scenario root.
/// Policy.
pub const MAX_CGROUP_DEPTH: usize = 8;
/// Cgroups one scenario may create.
/// Hard bound: the guest's table.
pub const MAX_CGROUPS: usize = 64;
/// Checks one scenario may carry.
/// Hard bound: the guest's table.
pub const MAX_CHECKS: usize = 32;
/// Payloads the guest runs at once; a scenario may start no more.
/// Hard bound: the guest's table.
pub const MAX_PAYLOADS: usize = 16;
/// Schedulers a plan names: the run's and those labelled for scheduler ops.
/// Hard bound: the validator's table of labels.
pub const MAX_SCHEDULERS: usize = 16;
/// Workers one scenario may fork in all (the guest keeps each one's slot and result).
/// Hard bound: the guest's slots.
pub const MAX_WORKERS: usize = 4096;
/// CPUs a CPU list may name.
/// Hard bound: the bits of a CPU set.
pub const MAX_CPUS: usize = 256;

/// Longest single hold: an hour is far beyond any scheduler test.
/// Policy.
pub const MAX_HOLD_MS: u64 = 3_600_000;
/// `nice` values, inclusive.
/// Hard bound: the kernel's.
pub const NICE_RANGE: (i64, i64) = (-20, 19);
/// Real-time priorities of fifo/rr workers, inclusive: PID 1 runs at SCHED_FIFO 99 so
/// that it can always sample and stop workers; a worker at 99 would tie with it.
/// Hard bound: the kernel's, less PID 1's.
pub const RT_PRIO_RANGE: (u64, u64) = (1, 98);

/// A heartbeat every 200 ms keeps the host's silence watchdog (seconds) far from firing;
/// sampling every 10 ms resolves stalls well below the default stall limit.
/// Policy, both.
pub const DEFAULT_HEARTBEAT_MS: u64 = 200;
pub const DEFAULT_SAMPLE_MS: u64 = 10;

/// How long the guest waits for the scheduler to attach when the plan gives no
/// `attach_ms` (`--attach-timeout`): loading BPF programs under TCG emulation on a busy
/// host takes seconds.
/// Policy.
pub const DEFAULT_ATTACH_MS: u64 = 20_000;

/// Output lines forwarded from the scheduler under test; the rest are counted.
/// Policy.
pub const SCHEDULER_OUTPUT_LINES: u32 = 2_000;
/// Problem lines of the kernel log sent as `kmsg` records per scenario.
/// Policy.
pub const KMSG_REPORTS: u64 = 16;
/// Kernel log lines sent per scenario whose `kernel-log` check has `forward=1`: far more
/// than a scenario logs unless the kernel floods the log; the rest are counted.
/// Policy.
pub const KMSG_FORWARD_LINES: u64 = 100_000;
/// Bytes of one piece of evidence on a failure (a sched_ext state dump, a CPU's section
/// of /proc/sched_debug) that the guest sends and the report keeps; the rest are counted.
/// The kernel's own dump buffer defaults to 32 KiB.
/// Policy.
pub const EVIDENCE_BYTES: usize = 32 << 10;
/// Pieces of evidence the guest gathers on stalls per scenario: the first stall's.
/// Each costs PID 1 (at the highest priority) a read of the kernel's state and its
/// lines through the emulated serial port, time the other workers wait: later stalls
/// are as often the gathering's doing as the scheduler's. An ejection's dump is always
/// gathered.
/// Policy.
pub const EVIDENCE_CAPTURES: u32 = 1;
/// Bytes of a payload's output forwarded from its start (the head); the lines after it
/// are counted, and the last [`PAYLOAD_TAIL_BYTES`] of them sent when it ends. Enough
/// for a payload printing 50 MB to be kept whole (seconds over the virtio console under
/// TCG). The host keeps a run's records in memory until it judges it: 50 MB of 70-byte
/// lines took the launcher to about 290 MiB resident.
/// Policy.
pub const PAYLOAD_OUTPUT_BYTES: u64 = 64 << 20;
/// Bytes of a payload's output kept from its end when it printed more than
/// [`PAYLOAD_OUTPUT_BYTES`].
/// Hard bound: the guest's buffer.
pub const PAYLOAD_TAIL_BYTES: usize = 64 << 10;

/// Guest memory: what the kernel and PID 1 need before any worker, in MiB.
/// Policy: measured, with margin.
pub const GUEST_BASE_MIB: u64 = 96;
/// Guest memory one live worker costs, in KiB: its kernel stack, page tables and task,
/// the private pages of the forked init (stack, data) and its shared slot. 82 KiB was
/// measured with 1024 spinners on the 6.12 kernel; the rest is margin.
/// Policy: measured, with margin.
pub const WORKER_KIB: u64 = 100;

/// The least `--memory` (MiB) a VM running `workers` workers at once needs.
pub const fn memory_needed_mib(workers: u64) -> u64 {
    GUEST_BASE_MIB + (workers * WORKER_KIB).div_ceil(1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;
    use std::string::String;

    const DOC: &str = include_str!("../../docs/protocol.md");

    /// The doc's limits table row for `name`, as its value column.
    fn documented(name: &str) -> String {
        let key = format!("| `{name}` | ");
        let row = DOC
            .lines()
            .find(|l| l.starts_with(&key))
            .unwrap_or_else(|| panic!("docs/protocol.md has no limits row for {name}"));
        row[key.len()..].split(" |").next().unwrap().into()
    }

    #[test]
    fn the_protocol_doc_lists_every_limit_with_its_value() {
        let range = |(lo, hi): (i64, i64)| format!("{lo}..{hi}");
        let rows = [
            ("MAX_LINE", format!("{MAX_LINE}")),
            ("MAX_FIELDS", format!("{MAX_FIELDS}")),
            ("MAX_PLAN_BYTES", format!("{MAX_PLAN_BYTES}")),
            ("MAX_NAME", format!("{MAX_NAME}")),
            ("MAX_PATH", format!("{MAX_PATH}")),
            ("MAX_CGROUP_DEPTH", format!("{MAX_CGROUP_DEPTH}")),
            ("MAX_CGROUPS", format!("{MAX_CGROUPS}")),
            ("MAX_CHECKS", format!("{MAX_CHECKS}")),
            ("MAX_PAYLOADS", format!("{MAX_PAYLOADS}")),
            ("MAX_SCHEDULERS", format!("{MAX_SCHEDULERS}")),
            ("MAX_WORKERS", format!("{MAX_WORKERS}")),
            ("MAX_CPUS", format!("{MAX_CPUS}")),
            ("MAX_HOLD_MS", format!("{MAX_HOLD_MS}")),
            ("NICE_RANGE", range(NICE_RANGE)),
            (
                "RT_PRIO_RANGE",
                range((RT_PRIO_RANGE.0 as i64, RT_PRIO_RANGE.1 as i64)),
            ),
            (
                "SCHEDULER_OUTPUT_LINES",
                format!("{SCHEDULER_OUTPUT_LINES}"),
            ),
            ("KMSG_REPORTS", format!("{KMSG_REPORTS}")),
            ("KMSG_FORWARD_LINES", format!("{KMSG_FORWARD_LINES}")),
            ("PAYLOAD_OUTPUT_BYTES", format!("{PAYLOAD_OUTPUT_BYTES}")),
            ("PAYLOAD_TAIL_BYTES", format!("{PAYLOAD_TAIL_BYTES}")),
            ("EVIDENCE_BYTES", format!("{EVIDENCE_BYTES}")),
            ("EVIDENCE_CAPTURES", format!("{EVIDENCE_CAPTURES}")),
            ("GUEST_BASE_MIB", format!("{GUEST_BASE_MIB}")),
            ("WORKER_KIB", format!("{WORKER_KIB}")),
        ];
        for (name, value) in rows {
            assert_eq!(documented(name), value, "{name}");
        }
    }

    #[test]
    fn memory_grows_with_workers() {
        assert_eq!(memory_needed_mib(0), GUEST_BASE_MIB);
        assert_eq!(memory_needed_mib(1024), GUEST_BASE_MIB + 100);
    }
}
