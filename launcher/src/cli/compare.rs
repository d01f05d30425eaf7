//! `schedbox compare A.json B.json` and `schedbox ab --scheduler-a X --scheduler-b Y`:
//! their own options.

use std::ffi::OsString;
use std::path::PathBuf;

use lexopt::prelude::*;

use super::args::{next_arg, number, UsageError};
use super::{Command, RunOptions};

/// Default `--threshold` of compare and ab, in percent (docs/compare.md).
pub use crate::commands::compare::DEFAULT_THRESHOLD_PERCENT;
/// Default `--repeat` of ab: Welch's test needs at least two runs a side; three show a
/// spread worth the name.
pub const DEFAULT_AB_REPEATS: u32 = 3;
/// The word for the kernel's own scheduler (no sched_ext scheduler) in ab.
pub use crate::scheduler::manifest::KERNEL_OWN;

/// One side of `ab`: the kernel's own scheduler, or a sched_ext one (a path or a NAME,
/// as `--scheduler` takes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AbSide {
    KernelOwn,
    Scheduler(PathBuf),
}

impl AbSide {
    fn parse(option: &str, value: OsString) -> Result<AbSide, UsageError> {
        if value.is_empty() {
            return Err(UsageError(format!(
                "--{option} is empty: give {KERNEL_OWN}, a scheduler's path or a NAME of the \
                 manifest"
            )));
        }
        Ok(if value == KERNEL_OWN {
            AbSide::KernelOwn
        } else {
            AbSide::Scheduler(value.into())
        })
    }
}

impl std::fmt::Display for AbSide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AbSide::KernelOwn => write!(f, "{KERNEL_OWN}"),
            AbSide::Scheduler(p) => write!(f, "{}", p.display()),
        }
    }
}

/// `--scheduler-a` and `--scheduler-b` as they come.
#[derive(Default)]
pub(super) struct AbSides {
    a: Option<AbSide>,
    b: Option<AbSide>,
    threshold: Option<u64>,
    manifest: Option<PathBuf>,
}

impl AbSides {
    pub(super) fn take(&mut self, option: &str, value: OsString) -> Result<(), UsageError> {
        if option == "manifest" {
            self.manifest = Some(super::path("--manifest", value)?);
            return Ok(());
        }
        if option == "threshold" {
            let text = value
                .into_string()
                .map_err(|v| UsageError(format!("--threshold {v:?} is not a number")))?;
            self.threshold = Some(percent(&text)?);
            return Ok(());
        }
        let side = AbSide::parse(option, value)?;
        let slot = if option == "scheduler-a" {
            &mut self.a
        } else {
            &mut self.b
        };
        if slot.replace(side).is_some() {
            return Err(UsageError(format!("--{option} given twice: give it once")));
        }
        Ok(())
    }

    /// The ab command, once the run options are parsed.
    pub(super) fn command(self, mut options: RunOptions) -> Result<Command, UsageError> {
        let (Some(a), Some(b)) = (self.a, self.b) else {
            return Err(UsageError(format!(
                "ab needs --scheduler-a X and --scheduler-b Y (a path, a NAME of the \
                 manifest, or {KERNEL_OWN} for the kernel's own scheduler)"
            )));
        };
        let refused = [
            (
                options.scheduler.is_some(),
                "--scheduler: give --scheduler-a and --scheduler-b",
            ),
            (
                !options.kernel_list.is_empty(),
                "a --kernel list: ab runs one kernel",
            ),
            (
                options.vm.topology.len() > 1,
                "a --topology list: ab runs one shape",
            ),
            (
                options.workflow.junit.is_some(),
                "--junit: ab writes a.json and b.json in its run directory",
            ),
            (
                options.workflow.summary.is_some(),
                "--summary: ab writes a.json and b.json in its run directory",
            ),
            (
                options.payload.is_some(),
                "--payload: compare schedulers on scenarios' own payloads",
            ),
        ];
        if let Some((_, why)) = refused.iter().find(|(given, _)| *given) {
            return Err(UsageError(format!("ab does not take {why}")));
        }
        let repeats = options.workflow.repeat.take().unwrap_or(DEFAULT_AB_REPEATS);
        Ok(Command::Ab {
            options,
            a,
            b,
            repeats,
            threshold: self.threshold.unwrap_or(DEFAULT_THRESHOLD_PERCENT),
            manifest: self.manifest,
        })
    }
}

/// `schedbox compare A.json B.json [--threshold PCT] [--json FILE]`.
pub(super) fn parse_compare(parser: &mut lexopt::Parser) -> Result<Command, UsageError> {
    let mut files = Vec::new();
    let (mut threshold, mut json) = (DEFAULT_THRESHOLD_PERCENT, None);
    while let Some(arg) = next_arg(parser)? {
        match arg {
            Long("threshold") => threshold = percent(&parser.value()?.string()?)?,
            Long("json") => json = Some(super::path("--json", parser.value()?)?),
            Value(file) => files.push(super::path("a report", file)?),
            other => return Err(other.unexpected().into()),
        }
    }
    let [a, b]: [PathBuf; 2] = files.try_into().map_err(|_| {
        UsageError("compare takes two reports: A.json (the baseline) and B.json".into())
    })?;
    Ok(Command::Compare {
        a,
        b,
        threshold,
        json,
    })
}

/// `--threshold PCT`: 1 to 1000 percent of A's room to the limit.
pub(super) fn percent(text: &str) -> Result<u64, UsageError> {
    const MAX_PERCENT: u64 = 1000;
    let n = number("threshold", text)?;
    if n == 0 || n > MAX_PERCENT {
        return Err(UsageError(format!(
            "--threshold {n} is out of range: give 1 to {MAX_PERCENT} (percent of the \
             baseline's room to the limit)"
        )));
    }
    Ok(n)
}
