//! The options for finding scenarios and feeding CI: `list`, `show` and `check`, and
//! `run`'s `--filter`, `--shard`, `--repeat`, `--junit` and `--summary`.

use std::path::PathBuf;

use lexopt::prelude::*;

use super::args::{number, UsageError};

/// Most shards a set may be split into: more CI jobs than that is a mistake.
const MAX_SHARDS: u64 = 1000;
/// Most repeats of one run: each is a VM boot.
const MAX_REPEATS: u64 = 100;

/// What `run` takes besides the VM: which scenarios of the named set, how often, and
/// the files CI reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkflowOptions {
    /// `--filter GLOB`: only scenarios whose name or file matches.
    pub filter: Option<String>,
    /// `--shard K/N`: only the K-th of N parts of the set.
    pub shard: Option<Shard>,
    /// `--repeat N`: the set N times; passes only if every repeat passes.
    pub repeat: Option<u32>,
    /// `--junit FILE`: a JUnit XML report.
    pub junit: Option<PathBuf>,
    /// `--summary FILE`: a Markdown table for a CI job summary.
    pub summary: Option<PathBuf>,
}

impl WorkflowOptions {
    /// Takes the option if it is one of these; false if not.
    pub(super) fn take(
        &mut self,
        name: &str,
        parser: &mut lexopt::Parser,
    ) -> Result<bool, UsageError> {
        match name {
            "filter" => self.filter = Some(glob(parser.value()?.string()?)?),
            "shard" => self.shard = Some(Shard::parse(&parser.value()?.string()?)?),
            "repeat" => self.repeat = Some(repeat(&parser.value()?.string()?)?),
            "junit" => self.junit = Some(parser.value()?.into()),
            "summary" => self.summary = Some(parser.value()?.into()),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// `--shard K/N`: the K-th (from 1) of N parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    pub fn parse(text: &str) -> Result<Shard, UsageError> {
        let bad = || {
            UsageError(format!(
                "--shard {text:?}: give K/N, the K-th of N parts, 1 <= K <= N <= {MAX_SHARDS} \
                 (e.g. 2/4)"
            ))
        };
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let (k, n) = (k.parse::<u64>(), n.parse::<u64>());
        match (k, n) {
            (Ok(k), Ok(n)) if k >= 1 && k <= n && n <= MAX_SHARDS => Ok(Shard {
                index: k as u32,
                count: n as u32,
            }),
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

pub(super) fn glob(pattern: String) -> Result<String, UsageError> {
    match ::glob::Pattern::new(&pattern) {
        Ok(_) => Ok(pattern),
        Err(e) => Err(UsageError(format!(
            "--filter {pattern:?}: not a glob pattern ({e}): use * ? [abc], e.g. 'fail-*'"
        ))),
    }
}

fn repeat(text: &str) -> Result<u32, UsageError> {
    let n = number("repeat", text)?;
    if n == 0 || n > MAX_REPEATS {
        return Err(UsageError(format!(
            "--repeat {n} is out of range: give 1 to {MAX_REPEATS}"
        )));
    }
    Ok(n as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Command;
    use std::ffi::OsString;

    fn parse(args: &[&str]) -> Result<Command, UsageError> {
        super::super::parse(args.iter().map(OsString::from).collect())
    }

    #[test]
    fn run_takes_the_workflow_options() {
        let Command::Run(run) = parse(&[
            "run",
            "--filter",
            "fail-*",
            "--shard",
            "2/3",
            "--repeat",
            "4",
            "--junit",
            "j.xml",
            "--summary",
            "s.md",
            "scenarios",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            run.workflow,
            WorkflowOptions {
                filter: Some("fail-*".into()),
                shard: Some(Shard { index: 2, count: 3 }),
                repeat: Some(4),
                junit: Some("j.xml".into()),
                summary: Some("s.md".into()),
            }
        );
        assert_eq!(run.vm.scenarios, [PathBuf::from("scenarios")]);
    }

    #[test]
    fn list_show_and_check_parse() {
        assert_eq!(
            parse(&["list", "--json", "--filter", "w*", "--shard", "1/2", "a", "b"]).unwrap(),
            Command::List {
                json: true,
                filter: Some("w*".into()),
                shard: Some(Shard { index: 1, count: 2 }),
                paths: vec!["a".into(), "b".into()],
            }
        );
        let Command::Show { target, vm } = parse(&["show", "--cpus", "4", "spin"]).unwrap() else {
            panic!()
        };
        assert_eq!((target.as_str(), vm.cpus), ("spin", 4));
        let Command::Check(vm) = parse(&["check", "a.toml", "dir"]).unwrap() else {
            panic!()
        };
        assert_eq!(vm.scenarios.len(), 2);
    }

    #[test]
    fn workflow_mistakes_are_usage_errors() {
        for (args, hint) in [
            (&["run", "--shard", "0/3"][..], "1 <= K <= N"),
            (&["run", "--shard", "4/3"], "1 <= K <= N"),
            (&["run", "--shard", "3"], "give K/N"),
            (&["run", "--repeat", "0"], "1 to 100"),
            (&["run", "--filter", "[a"], "not a glob pattern"),
            (&["show"], "one scenario"),
            (&["show", "a", "b"], "one scenario"),
            (&["check"], "needs scenario files"),
            (&["list", "--cpus", "2"], "invalid option '--cpus'"),
        ] {
            let err = parse(args).unwrap_err().to_string();
            assert!(err.contains(hint), "{args:?}: {err}");
        }
    }
}
