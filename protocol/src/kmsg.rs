//! Which kernel log lines show a problem: warnings, BUGs, oopses, lockups, hung tasks,
//! RCU stalls, sched_ext errors. The guest counts them for the `kernel-log` check; the
//! host classifies the lines the guest forwards the same way.

/// Substrings that mark a problem line. One line counts once however many match.
/// The hung-task splat's second line (`hung_task_timeout_secs`) is left out so that a
/// hung task counts once.
pub const PATTERNS: &[&[u8]] = &[
    b"WARNING:",
    b"BUG:",
    b"kernel BUG at",
    b"Oops",
    b"general protection fault",
    b"Kernel panic",
    b"blocked for more than",
    b"self-detected stall",
    b"detected stalls on CPU",
    b"RCU stall",
    b"rcu: INFO:",
    b"soft lockup",
    b"hard LOCKUP",
    b"runnable task stall",
    b"failed to run for",
];

/// sched_ext reports errors at this syslog level or more urgent; a normal unload is info.
pub const LOG_ERR: u8 = 3;

/// True when a kernel log line at syslog `level` shows a problem.
pub fn is_problem(level: u8, msg: &[u8]) -> bool {
    PATTERNS.iter().any(|p| contains(msg, p)) || (level <= LOG_ERR && contains(msg, b"sched_ext:"))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
