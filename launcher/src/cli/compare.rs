//! `schedbox compare A.json B.json` and `schedbox ab --scheduler-a X --scheduler-b Y`:
//! their own options.

use std::ffi::OsString;
use std::path::PathBuf;

use lexopt::prelude::*;

use super::args::{next_arg, number, path, UsageError};

/// Default `--threshold` of compare and ab: a regression used up this much of the
/// baseline's room to the limit, in percent (policy; docs/compare.md).
pub const DEFAULT_THRESHOLD_PERCENT: u64 = 50;
/// Default `--repeat` of ab: Welch's test needs at least two runs a side; three show a
/// spread worth the name.
pub const DEFAULT_AB_REPEATS: u32 = 3;
/// The word for the kernel's own scheduler (no sched_ext scheduler) in ab; no entry of
/// the scheduler manifest may take it.
pub const KERNEL_OWN: &str = "eevdf";

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
            self.manifest = Some(path("--manifest", value)?);
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

    /// Both sides, the threshold and the manifest.
    pub(super) fn finish(self) -> Result<(AbSide, AbSide, u64, Option<PathBuf>), UsageError> {
        let (Some(a), Some(b)) = (self.a, self.b) else {
            return Err(UsageError(format!(
                "ab needs --scheduler-a X and --scheduler-b Y (a path, a NAME of the \
                 manifest, or {KERNEL_OWN} for the kernel's own scheduler)"
            )));
        };
        let threshold = self.threshold.unwrap_or(DEFAULT_THRESHOLD_PERCENT);
        Ok((a, b, threshold, self.manifest))
    }
}

/// `schedbox compare`'s arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompareArgs {
    /// The baseline's report.
    pub a: PathBuf,
    pub b: PathBuf,
    pub threshold: u64,
    pub json: Option<PathBuf>,
}

/// `schedbox compare A.json B.json [--threshold PCT] [--json FILE]`.
pub(super) fn parse_compare(parser: &mut lexopt::Parser) -> Result<CompareArgs, UsageError> {
    let mut files = Vec::new();
    let (mut threshold, mut json) = (DEFAULT_THRESHOLD_PERCENT, None);
    while let Some(arg) = next_arg(parser)? {
        match arg {
            Long("threshold") => threshold = percent(&parser.value()?.string()?)?,
            Long("json") => json = Some(path("--json", parser.value()?)?),
            Value(file) => files.push(path("a report", file)?),
            other => return Err(other.unexpected().into()),
        }
    }
    let [a, b]: [PathBuf; 2] = files.try_into().map_err(|_| {
        UsageError("compare takes two reports: A.json (the baseline) and B.json".into())
    })?;
    Ok(CompareArgs {
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

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::*;
    use crate::cli::Command;

    fn parse(args: &[&str]) -> Result<Command, UsageError> {
        crate::cli::parse(args.iter().map(OsString::from).collect())
    }

    #[test]
    fn compare_and_ab_parse() {
        assert_eq!(
            parse(&["compare", "--threshold", "30", "a.json", "b.json"]).unwrap(),
            Command::Compare(CompareArgs {
                a: "a.json".into(),
                b: "b.json".into(),
                threshold: 30,
                json: None,
            })
        );
        let Command::Ab {
            options,
            a,
            b,
            repeats,
            threshold,
            manifest,
        } = parse(&[
            "ab",
            "--scheduler-a",
            "eevdf",
            "--scheduler-b",
            "./scx_x",
            "--repeat",
            "4",
            "--manifest",
            "m.toml",
            "w.toml",
        ])
        .unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (a, b),
            (AbSide::KernelOwn, AbSide::Scheduler("./scx_x".into()))
        );
        assert_eq!((repeats, threshold), (4, DEFAULT_THRESHOLD_PERCENT));
        assert_eq!(manifest, Some("m.toml".into()));
        assert_eq!(options.workflow.repeat, None);
        assert_eq!(options.vm.scenarios, [PathBuf::from("w.toml")]);
    }

    #[test]
    fn compare_and_ab_mistakes_are_usage_errors() {
        for (args, hint) in [
            (&["compare", "a.json"][..], "two reports"),
            (&["compare", "a", "b", "c"], "two reports"),
            (&["compare", "--threshold", "0", "a", "b"], "1 to 1000"),
            (
                &["ab", "--scheduler-a", "eevdf", "w.toml"],
                "needs --scheduler-a X and",
            ),
            (
                &["ab", "--scheduler-a", "x", "--scheduler-a", "y"],
                "given twice",
            ),
            (
                &[
                    "ab",
                    "--scheduler-a",
                    "x",
                    "--scheduler-b",
                    "y",
                    "--scheduler",
                    "z",
                ],
                "ab does not take --scheduler",
            ),
            (
                &[
                    "ab",
                    "--scheduler-a",
                    "x",
                    "--scheduler-b",
                    "y",
                    "--junit",
                    "j",
                ],
                "ab does not take --junit",
            ),
            (&["run", "--scheduler-a", "x"], "invalid option"),
            (&["list", "--manifest", "m.toml"], "add --schedulers"),
            (
                &["list", "--schedulers", "scenarios"],
                "for listing scenarios",
            ),
            (&["run", "--manifest", "m.toml"], "need --scheduler PATH"),
        ] {
            let err = parse(args).unwrap_err().to_string();
            assert!(err.contains(hint), "{args:?}: {err}");
        }
        assert_eq!(
            parse(&["list", "--schedulers", "--json"]).unwrap(),
            Command::ListSchedulers {
                json: true,
                manifest: None
            }
        );
    }
}
