//! What CI reads besides report.json: a JUnit XML file ([`junit`]) and a Markdown
//! summary table ([`summary`]), both from the same view of a run: a suite per VM (its
//! shape), a case per scenario.

pub mod junit;
pub mod summary;

use std::path::Path;

use crate::outcome::gauntlet::{GauntletReport, ShapeResult};
use crate::outcome::report::{Report, ScenarioReport};
use crate::outcome::rundir;
use crate::outcome::verdict::ScenarioOutcome;

/// Console lines a suite carries (the run directory keeps them all).
pub const CONSOLE_TAIL_LINES: usize = 50;

/// One VM of a run, as CI sees it.
pub struct Suite<'a> {
    /// Its shape, `NnLlCcTt`; `LABEL/NnLlCcTt` in a kernel matrix.
    pub name: String,
    /// Whether it is one of a kernel matrix's (its name then starts with the kernel).
    pub by_kernel: bool,
    pub result: SuiteResult<'a>,
}

pub enum SuiteResult<'a> {
    /// It ran and was judged.
    Judged(&'a Report),
    /// No report: the host could not run it (`error`), or a signal stopped the run
    /// before it (None); its scenarios were never judged.
    NotJudged {
        error: Option<&'a str>,
        scenarios: &'a [String],
    },
}

/// The suites of a run on one VM.
pub fn single(report: &Report) -> Vec<Suite<'_>> {
    vec![Suite {
        name: report.run.shape.clone(),
        by_kernel: false,
        result: SuiteResult::Judged(report),
    }]
}

/// The suites of a run on several shapes, in order.
pub fn gauntlet(report: &GauntletReport) -> Vec<Suite<'_>> {
    report
        .shapes
        .iter()
        .map(|s| Suite {
            name: s.row(),
            by_kernel: s.kernel.is_some(),
            result: match &s.result {
                ShapeResult::Judged { report } => SuiteResult::Judged(report),
                ShapeResult::Error { error } => SuiteResult::NotJudged {
                    error: Some(error),
                    scenarios: &s.scenario_names,
                },
                ShapeResult::NotRun => SuiteResult::NotJudged {
                    error: None,
                    scenarios: &s.scenario_names,
                },
            },
        })
        .collect()
}

/// The last [`CONSOLE_TAIL_LINES`] lines of a judged run's console.log, or the report's
/// own tail when the file cannot be read.
pub fn console_tail(report: &Report) -> Vec<String> {
    let path = Path::new(&report.run.run_dir).join(rundir::CONSOLE_LOG);
    let lines: Vec<String> = match std::fs::read(&path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_string)
            .collect(),
        Err(_) => report.console_tail.clone().unwrap_or_default(),
    };
    let skip = lines.len().saturating_sub(CONSOLE_TAIL_LINES);
    lines[skip..].to_vec()
}

/// A failed check or payload of a scenario: a short message and the whole reason.
pub struct Failure {
    pub message: String,
    pub reason: String,
}

/// What failed in a scenario: each failed check (value, limit and the verdict's
/// reason), each failed payload, and any other reason the verdict gave.
pub fn failures(scenario: &ScenarioReport) -> Vec<Failure> {
    let ScenarioOutcome::Fail { failed } = &scenario.verdict else {
        return Vec::new();
    };
    let mut told: Vec<&String> = Vec::new();
    let mut out = Vec::new();
    for c in scenario.checks.iter().filter(|c| !c.passed) {
        let said = format!("check {} failed", c.name);
        let reason = failed.iter().find(|r| r.contains(&said));
        told.extend(reason);
        out.push(Failure {
            message: format!("check {}: value {}, limit {}", c.name, c.value, c.limit),
            reason: reason
                .cloned()
                .or_else(|| c.detail.clone())
                .unwrap_or_else(|| said.clone()),
        });
    }
    for p in scenario.payloads.iter().filter(|p| !p.passed) {
        out.push(Failure {
            message: format!(
                "payload {}: status {} (expected {})",
                p.record.name, p.record.status, p.expect_status
            ),
            reason: p.problems.join("; "),
        });
    }
    let payload_said = |r: &String| {
        scenario
            .payloads
            .iter()
            .any(|p| !p.passed && r.contains(&p.record.name))
    };
    for reason in failed
        .iter()
        .filter(|r| !told.contains(r) && !payload_said(r))
    {
        out.push(Failure {
            message: reason.clone(),
            reason: reason.clone(),
        });
    }
    out
}

/// Writes `text` to `path`, or appends it; the error names the file.
pub fn write(path: &Path, text: &str, append: bool) -> Result<(), String> {
    use std::io::Write;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(path);
    file.and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
