//! The protocol examples in docs/examples, which the tests of host and guest both read.

use crate::protocol::record::{decode, Line, Record};

/// The record examples, every record kind among them.
pub const RECORD_FILES: &[&str] = &[
    "spin.records",
    "stall.records",
    "error.records",
    "scheduler.records",
    "scheduler-ejected.records",
    "topology.records",
    "kernel-log.records",
    "lifecycle.records",
    "hotplug.records",
];

/// The text of docs/examples/`name`.
pub fn text(name: &str) -> String {
    let path = format!("{}/../docs/examples/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The records in `text`; console and other lines are skipped.
pub fn records(text: &str) -> Vec<Record> {
    text.lines()
        .filter_map(|l| match decode(l) {
            Line::Record(r) => Some(r),
            _ => None,
        })
        .collect()
}
