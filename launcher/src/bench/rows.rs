//! The rows of the benchmark's table: what each measures, with what, and its samples.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::stats::Samples;
use crate::topology::Shape;
use crate::vm::backend::Backend;

/// What a Linux row measures in each run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Launch to the `boot` record, and launch to the VM's end (two samples per run).
    Spin,
    /// PID 1's CPU share during the hold (the monitor) and over the whole scenario.
    Monitor,
    /// Stall detection latency.
    Stall,
}

/// One line of the table: measured each run, or why it is not.
pub struct Row {
    pub label: String,
    pub measure: Measure,
    /// The machine it boots, when not the command line's.
    pub(super) shape: Option<Shape>,
    /// Its backend emulates guest instructions (TCG).
    pub emulated: bool,
    pub(super) backend: Option<Box<dyn Backend>>,
    pub(super) kernel: PathBuf,
    pub(super) plan: String,
    pub(super) hold_ms: u64,
    /// Launch to first record (Spin), PID 1's CPU share (Monitor), latency (Stall).
    pub first: Samples,
    /// Launch to the VM's end (Spin), PID 1's CPU time in ms (Monitor).
    pub total: Samples,
    /// Monitor rows: PID 1's CPU share during the hold, and its CPU time then in ms.
    pub hold: Samples,
    pub hold_cpu: Samples,
    /// Why the row has no (more) samples.
    pub not_measured: Option<String>,
}

impl Row {
    pub(super) fn new(
        label: &str,
        measure: Measure,
        backend: Result<Box<dyn Backend>, String>,
    ) -> Row {
        let (backend, not_measured) = match backend {
            Ok(b) => (Some(b), None),
            Err(why) => (None, Some(why)),
        };
        Row {
            label: label.to_string(),
            measure,
            shape: None,
            emulated: backend.as_ref().is_some_and(|b| b.emulated()),
            backend,
            kernel: PathBuf::new(),
            plan: String::new(),
            hold_ms: 0,
            first: Samples::default(),
            total: Samples::default(),
            hold: Samples::default(),
            hold_cpu: Samples::default(),
            not_measured,
        }
    }

    pub(super) fn with(mut self, kernel: &Path, plan: String, hold_ms: u64) -> Row {
        self.kernel = kernel.to_path_buf();
        self.plan = plan;
        self.hold_ms = hold_ms;
        self
    }

    pub fn hold_ms(&self) -> u64 {
        self.hold_ms
    }
}

/// A tiny-guest row: a measuring function and its samples.
pub struct TinyRow {
    pub label: String,
    pub(super) run: fn() -> Result<Duration, String>,
    pub ms: Samples,
    pub not_measured: Option<String>,
}

/// The floor: a bare QEMU/TCG boot of the kernel against an empty scenario's launch to
/// verdict through the run pipeline, measured in the same runs.
#[derive(Default)]
pub struct FloorRow {
    pub bare_ms: Samples,
    pub schedbox_ms: Samples,
    /// Each empty run's timeline: where its time went.
    pub timelines: Vec<crate::outcome::timeline::Timeline>,
    pub not_measured: Option<String>,
}
