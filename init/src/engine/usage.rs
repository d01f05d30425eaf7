//! CPU time a cgroup used while it had workers, measured by the monitor for the
//! `bandwidth` check.

use crate::engine::worker::RelPath;

/// CPU time a cgroup used (`cpu.stat` usage_usec) from when it first had workers to
/// the last time it had any, for the bandwidth check.
#[derive(Clone, Default)]
pub struct Usage {
    pub cgroup: RelPath,
    pub start_us: u64,
    pub start_ns: u64,
    pub end_us: u64,
    pub end_ns: u64,
}
