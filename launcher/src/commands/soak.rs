//! `schedbox soak`: the same scenarios run N times, and how often a verdict differed
//! from the first run's: the flake rate a user can measure on their own machine. Exit
//! 125 when a run was untestable, else 1 when one differed, else 0; 128+signal when
//! interrupted.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::cli::RunOptions;
use crate::exit::Exit;
use crate::outcome::report::Report;
use crate::outcome::rundir;
use crate::outcome::verdict::Outcome;
use crate::output;
use crate::pipeline::{boot, publish};
use crate::signals;

/// Runs `options` `runs` times, each in `<--out>/run-NNN`, then prints the comparison.
pub fn run(options: &RunOptions, runs: u32) -> Exit {
    signals::install();
    let parent = options.out.clone().unwrap_or_else(|| {
        let stamp = rundir::utc_stamp(std::time::SystemTime::now());
        Path::new(rundir::DEFAULT_PARENT).join(format!("soak-{stamp}-{}", std::process::id()))
    });
    let mut verdicts = Vec::new();
    for i in 1..=runs {
        let started = Instant::now();
        let mut one = options.clone();
        one.out = Some(run_dir(&parent, i));
        let report = match boot::run_once(&one) {
            Ok((report, dir)) => {
                let target = dir.path().join(rundir::REPORT);
                if let Err(why) = publish::write_report(&report, &[target]) {
                    output::note(&format!("schedbox: soak: {why}"));
                }
                report
            }
            Err(stop) if verdicts.is_empty() => return stop.report(),
            Err(stop) => {
                output::note(&format!("schedbox: soak: run {i} stopped: {stop}"));
                break;
            }
        };
        output::note(&format!(
            "schedbox: soak: run {i}/{runs}: {} ({:.1} s, {})",
            report.outcome.word(),
            started.elapsed().as_secs_f64(),
            report.run.run_dir
        ));
        verdicts.push(RunVerdicts::of(&report));
        if let Outcome::Interrupted(signal) = report.outcome {
            output::print(&human(&compare(&verdicts)));
            return Exit::Interrupted(signal);
        }
    }
    let soak = compare(&verdicts);
    output::print(&human(&soak));
    soak.exit()
}

fn run_dir(parent: &Path, i: u32) -> PathBuf {
    parent.join(format!("run-{i:03}"))
}

/// One check of one scenario: its name and which occurrence of that name it is (a
/// scenario may check `progress` of two groups).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CheckKey {
    pub scenario: String,
    pub check: String,
    pub occurrence: usize,
}

/// What one run judged: its outcome and each check's result and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunVerdicts {
    pub outcome: Outcome,
    pub checks: BTreeMap<CheckKey, (bool, u64)>,
}

impl RunVerdicts {
    pub fn of(report: &Report) -> Self {
        let mut checks = BTreeMap::new();
        for scenario in &report.scenarios {
            let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
            for check in &scenario.checks {
                let occurrence = seen.entry(check.name.as_str()).or_default();
                let key = CheckKey {
                    scenario: scenario.name.clone(),
                    check: check.name.clone(),
                    occurrence: *occurrence,
                };
                *occurrence += 1;
                checks.insert(key, (check.passed, check.value));
            }
        }
        RunVerdicts {
            outcome: report.outcome,
            checks,
        }
    }
}

/// One row of the soak table: a check across the runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub key: CheckKey,
    /// Runs (after the first) whose result for this check differed from the first's,
    /// a run that did not report the check counting as different.
    pub differing: usize,
    /// Its value in each run that reported it, in run order.
    pub values: Vec<u64>,
}

/// The soak's finding over all runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Soak {
    pub runs: usize,
    /// Runs (after the first) whose overall verdict or any check differed from the first.
    pub differing_runs: usize,
    pub outcomes: Vec<Outcome>,
    pub rows: Vec<Row>,
}

impl Soak {
    /// A run the host could not judge makes the soak untestable: its difference from
    /// the first run says nothing about the kernel, so it must not read as a flake (1).
    pub fn exit(&self) -> Exit {
        if self.outcomes.contains(&Outcome::Untestable) {
            Exit::Untestable
        } else if self.differing_runs > 0 {
            Exit::Fail
        } else {
            Exit::Pass
        }
    }
}

pub fn compare(runs: &[RunVerdicts]) -> Soak {
    let Some(first) = runs.first() else {
        return Soak {
            runs: 0,
            differing_runs: 0,
            outcomes: Vec::new(),
            rows: Vec::new(),
        };
    };
    let differs = |run: &RunVerdicts| {
        run.outcome != first.outcome
            || first.checks.len() != run.checks.len()
            || first
                .checks
                .iter()
                .any(|(k, (passed, _))| run.checks.get(k).map(|c| c.0) != Some(*passed))
    };
    let mut keys: Vec<&CheckKey> = runs.iter().flat_map(|r| r.checks.keys()).collect();
    keys.sort();
    keys.dedup();
    let rows = keys
        .into_iter()
        .map(|key| {
            let first_result = first.checks.get(key).map(|c| c.0);
            Row {
                key: key.clone(),
                differing: runs[1..]
                    .iter()
                    .filter(|r| r.checks.get(key).map(|c| c.0) != first_result)
                    .count(),
                values: runs
                    .iter()
                    .filter_map(|r| r.checks.get(key))
                    .map(|c| c.1)
                    .collect(),
            }
        })
        .collect();
    Soak {
        runs: runs.len(),
        differing_runs: runs[1..].iter().filter(|r| differs(r)).count(),
        outcomes: runs.iter().map(|r| r.outcome).collect(),
        rows,
    }
}

/// min / median / max of the values (the upper median of an even count).
fn spread(values: &[u64]) -> String {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    match (sorted.first(), sorted.last()) {
        (Some(min), Some(max)) => format!("{min} / {} / {max}", sorted[sorted.len() / 2]),
        _ => "-".to_string(),
    }
}

pub fn human(soak: &Soak) -> String {
    let mut out = String::new();
    let count = |o: Outcome| soak.outcomes.iter().filter(|&&x| x == o).count();
    let _ = writeln!(
        out,
        "soak: {} runs: {} pass, {} fail, {} untestable; {} of {} differed from the first run",
        soak.runs,
        count(Outcome::Pass),
        count(Outcome::Fail),
        count(Outcome::Untestable),
        soak.differing_runs,
        soak.runs.saturating_sub(1)
    );
    let _ = writeln!(
        out,
        "  {:<40} {:>9}  values min / median / max",
        "scenario/check", "differing"
    );
    for row in &soak.rows {
        let name = match row.key.occurrence {
            0 => format!("{}/{}", row.key.scenario, row.key.check),
            n => format!("{}/{}#{}", row.key.scenario, row.key.check, n + 1),
        };
        let _ = writeln!(
            out,
            "  {name:<40} {:>9}  {}",
            row.differing,
            spread(&row.values)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(outcome: Outcome, checks: &[(&str, bool, u64)]) -> RunVerdicts {
        RunVerdicts {
            outcome,
            checks: checks
                .iter()
                .map(|&(name, passed, value)| {
                    let key = CheckKey {
                        scenario: "s".into(),
                        check: name.into(),
                        occurrence: 0,
                    };
                    (key, (passed, value))
                })
                .collect(),
        }
    }

    #[test]
    fn counts_runs_and_checks_that_differ_from_the_first() {
        let runs = [
            run(Outcome::Pass, &[("stall", true, 40), ("progress", true, 9)]),
            run(Outcome::Pass, &[("stall", true, 60), ("progress", true, 8)]),
            run(
                Outcome::Fail,
                &[("stall", false, 1200), ("progress", true, 7)],
            ),
            run(Outcome::Pass, &[("stall", true, 50)]),
        ];
        let soak = compare(&runs);
        assert_eq!(soak.runs, 4);
        assert_eq!(soak.differing_runs, 2);
        let stall = soak.rows.iter().find(|r| r.key.check == "stall").unwrap();
        assert_eq!(stall.differing, 1);
        assert_eq!(stall.values, vec![40, 60, 1200, 50]);
        let progress = soak
            .rows
            .iter()
            .find(|r| r.key.check == "progress")
            .unwrap();
        assert_eq!(progress.differing, 1, "a run without the check differs");
        let text = human(&soak);
        assert!(text.contains("4 runs: 3 pass, 1 fail, 0 untestable; 2 of 3 differed"));
        assert!(text.contains("s/stall"));
        assert!(text.contains("40 / 60 / 1200"), "{text}");
        assert_eq!(soak.exit(), Exit::Fail);
        let untestable = run(Outcome::Untestable, &[("stall", true, 40)]);
        let host_fault = compare(&[runs[0].clone(), untestable]);
        assert_eq!(
            host_fault.exit(),
            Exit::Untestable,
            "a host fault is no flake"
        );
    }

    #[test]
    fn identical_runs_do_not_differ() {
        let one = run(Outcome::Pass, &[("stall", true, 40)]);
        let soak = compare(&[one.clone(), one.clone(), one]);
        assert_eq!(soak.differing_runs, 0);
        assert_eq!(soak.rows[0].differing, 0);
        assert!(compare(&[]).rows.is_empty());
    }
}
