//! What the guest knows how to run and check: the protocol crate's tables of work types
//! (with their keys, defaults and ranges) and checks (with default limits), looked up by
//! the names scenario files use.

pub use schedbox_protocol::checks::{
    default_stall_limit_ms, Check as CheckSpec, CheckKind, Percentile, Scope, CHECKS,
    DEFAULT_BANDWIDTH_LIMIT, DEFAULT_CHECKS, DEFAULT_IMBALANCE_WINDOW_MS, DEFAULT_PERCENTILE,
    DEFAULT_STALL_LIMIT_MS, KEY_FORWARD, KEY_PERCENTILE, KEY_WINDOW_MS, MAX_IMBALANCE_WINDOW_MS,
    MIN_IMBALANCE_WINDOW_MS, STALL_MS_PER_QUEUED_TASK,
};
pub use schedbox_protocol::vocab::{Expect, Policy, Until, Word};
pub use schedbox_protocol::works::{Key, Work as WorkType, THREAD_WORKS, WORKS as WORK_TYPES};

pub fn work_type(name: &str) -> Option<&'static WorkType> {
    schedbox_protocol::works::work(name.as_bytes())
}

pub fn check_kind(name: &str) -> Option<&'static CheckSpec> {
    schedbox_protocol::checks::check(name.as_bytes())
}

pub fn names<T>(items: &[T], name: impl Fn(&T) -> &'static str) -> String {
    items.iter().map(name).collect::<Vec<_>>().join(", ")
}

/// Every word of a vocabulary, joined for messages.
pub fn words<W: Word>() -> String {
    names(W::ALL, |w| w.word())
}
