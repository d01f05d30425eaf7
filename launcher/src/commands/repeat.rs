//! `schedbox run --repeat N`: the same set N times, one VM a repeat, each in
//! `<run dir>/repeat-NNN` with its own report; the run passes only if every repeat
//! passes (by the rule of a run over shapes: a signal stops it, else fail, then
//! untestable, then pass), and reports each check's value over the repeats: median,
//! min, max and spread (max - min), so that a limit can be set with the noise in view.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cli::RunOptions;
use crate::exit::{Exit, Stop};
use crate::outcome::ci::{Suite, SuiteResult};
use crate::outcome::gauntlet::combine;
use crate::outcome::report::{self, Report, SCHEMA_VERSION};
use crate::outcome::rundir;
use crate::outcome::verdict::Outcome;
use crate::output;
use crate::pipeline::{boot, ci_files, prepare, publish, repro, shapes};

use super::soak::{CheckKey, RunVerdicts};

/// One check of one scenario over the repeats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Metric {
    pub scenario: String,
    pub check: String,
    /// Which check of that name in its scenario (from 0).
    pub occurrence: usize,
    pub limit: u64,
    /// Repeats in which it passed, of those that reported it.
    pub passed: usize,
    pub values: Vec<u64>,
    pub median: u64,
    pub min: u64,
    pub max: u64,
    pub spread: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RepeatReport {
    pub schema_version: u32,
    pub outcome: Outcome,
    pub exit_code: i32,
    pub run_dir: String,
    pub repeats: Vec<Report>,
    pub metrics: Vec<Metric>,
    /// The command that reproduces the first repeat that did not pass.
    pub repro: Option<String>,
}

/// Runs the set `count` times; one VM each (scenarios of several shapes need a run
/// without --repeat).
pub fn run(options: &RunOptions, count: u32) -> Result<Exit, Stop> {
    let inputs = prepare::inputs(options)?;
    let one = shapes::single(&options.vm)
        .map_err(|e| Stop::Usage(format!("--repeat runs one VM a repeat: {e}")))?;
    let parent = rundir::create(options.out.as_deref())?;
    let mut repeats: Vec<Report> = Vec::new();
    for i in 1..=count {
        let dir = parent.path().join(format!("repeat-{i:03}"));
        let prepared = prepare::prepare(options, &inputs, one.clone(), Some(&dir))?;
        output::print(&format!("== repeat {i}/{count} ==\n"));
        let (mut report, dir) = boot::run_prepared(options, prepared)?;
        report.repro = repro::command(options, &report, &[report.run.shape.clone()]);
        if let Err(why) = publish::write_report(&report, &[dir.path().join(rundir::REPORT)]) {
            report.host_fault(why);
        }
        output::print(&report::human(&report));
        let stop = matches!(report.outcome, Outcome::Interrupted(_));
        repeats.push(report);
        if stop {
            break;
        }
    }
    let whole = summarize(parent.path().display().to_string(), repeats);
    Ok(publish_all(options, whole))
}

/// The report of `repeats`, the runs of one set.
pub fn summarize(run_dir: String, repeats: Vec<Report>) -> RepeatReport {
    let outcome = combine(repeats.iter().map(|r| r.outcome));
    let repro = repeats.iter().find_map(|r| r.repro.clone());
    RepeatReport {
        schema_version: SCHEMA_VERSION,
        outcome,
        exit_code: outcome.exit().code(),
        run_dir,
        metrics: metrics(&repeats),
        repeats,
        repro,
    }
}

/// Each check's values over the repeats, in the order of the first report.
pub fn metrics(repeats: &[Report]) -> Vec<Metric> {
    let mut order: Vec<CheckKey> = Vec::new();
    let mut seen: BTreeMap<CheckKey, (u64, usize, Vec<u64>)> = BTreeMap::new();
    for report in repeats {
        for (key, (passed, value)) in RunVerdicts::of(report).checks {
            let limit = limit_of(report, &key);
            let entry = seen.entry(key.clone()).or_insert_with(|| {
                order.push(key);
                (limit, 0, Vec::new())
            });
            entry.1 += usize::from(passed);
            entry.2.push(value);
        }
    }
    order
        .into_iter()
        .filter_map(|key| {
            let (limit, passed, values) = seen.remove(&key)?;
            let mut sorted = values.clone();
            sorted.sort_unstable();
            let (min, max) = (*sorted.first()?, *sorted.last()?);
            Some(Metric {
                scenario: key.scenario,
                check: key.check,
                occurrence: key.occurrence,
                limit,
                passed,
                median: median(&sorted),
                values,
                min,
                max,
                spread: max - min,
            })
        })
        .collect()
}

/// The middle value of sorted `values`; of an even count, the lower of the two.
fn median(sorted: &[u64]) -> u64 {
    sorted
        .get((sorted.len().max(1) - 1) / 2)
        .copied()
        .unwrap_or(0)
}

fn limit_of(report: &Report, key: &CheckKey) -> u64 {
    report
        .scenarios
        .iter()
        .filter(|s| s.name == key.scenario)
        .flat_map(|s| s.checks.iter().filter(|c| c.name == key.check))
        .nth(key.occurrence)
        .map_or(0, |c| c.limit)
}

/// Writes the report of all repeats (and --json, --junit, --summary), then prints the
/// table of metrics and the verdict.
fn publish_all(options: &RunOptions, mut whole: RepeatReport) -> Exit {
    let suites: Vec<Suite> = whole
        .repeats
        .iter()
        .enumerate()
        .map(|(i, r)| Suite {
            name: format!("{} repeat {}", r.run.shape, i + 1),
            by_kernel: false,
            result: SuiteResult::Judged(r),
        })
        .collect();
    let written = ci_files::write(
        &options.workflow,
        whole.outcome,
        &suites,
        whole.repro.as_deref(),
    );
    drop(suites);
    let mut targets = vec![std::path::Path::new(&whole.run_dir).join(rundir::REPORT)];
    targets.extend(options.json.clone());
    if let Err(why) = written.and_then(|()| publish::write_json(&whole, &targets)) {
        output::note(&format!("schedbox: {why}"));
        if !matches!(whole.outcome, Outcome::Interrupted(_)) {
            whole.outcome = Outcome::Untestable;
            whole.exit_code = whole.outcome.exit().code();
        }
        let _ = publish::write_json(&whole, &targets);
    }
    output::print(&human(&whole));
    whole.outcome.exit()
}

fn human(whole: &RepeatReport) -> String {
    let mut out = format!(
        "schedbox: {} repeats; every check over them (median, min-max, spread):\n",
        whole.repeats.len()
    );
    for m in &whole.metrics {
        out += &format!(
            "  {} {:<12} passed {}/{}  median {} ({}-{}, spread {}), limit {}\n",
            m.scenario,
            m.check,
            m.passed,
            m.values.len(),
            m.median,
            m.min,
            m.max,
            m.spread,
            m.limit
        );
    }
    if let Some(r) = &whole.repro {
        out += &format!("  reproduce: {r}\n");
    }
    let words: Vec<&str> = whole.repeats.iter().map(|r| r.outcome.word()).collect();
    out += &format!(
        "{} (repeats: {}); run directory {}\n",
        whole.outcome.word().to_uppercase(),
        words.join(", "),
        whole.run_dir
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_is_the_middle_or_the_lower_middle() {
        assert_eq!(median(&[1, 5, 9]), 5);
        assert_eq!(median(&[1, 5, 9, 20]), 5);
        assert_eq!(median(&[7]), 7);
        assert_eq!(median(&[]), 0);
    }
}
