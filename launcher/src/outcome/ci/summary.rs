//! The Markdown summary (`--summary FILE`, and `$GITHUB_STEP_SUMMARY`): the run's
//! verdict, what it ran on, a table of scenario × shape with what failed, and the
//! command that reproduces a run that did not pass.

use super::{failures, Suite, SuiteResult};
use crate::outcome::verdict::{Outcome, ScenarioOutcome};

const MS_PER_S: f64 = 1e3;

/// The whole summary of a run whose outcome is `outcome`; `repro` the command that
/// reproduces it, if it did not pass.
pub fn render(outcome: Outcome, suites: &[Suite], repro: Option<&str>) -> String {
    let mut out = format!("### schedbox: {}\n\n", outcome.word().to_uppercase());
    for suite in suites {
        if let SuiteResult::Judged(report) = &suite.result {
            out += &format!(
                "- {}: kernel `{}` ({}), scheduler {}, {} MiB, {}\n",
                suite.name,
                report.run.kernel,
                report
                    .release
                    .as_deref()
                    .or(report.run.kernel_release.as_deref())
                    .unwrap_or("unknown release"),
                report.scheduler.summary,
                report.run.memory_mib,
                report.run.backend
            );
        }
    }
    let vm = if suites.iter().any(|s| s.by_kernel) {
        "kernel/shape"
    } else {
        "shape"
    };
    out += &format!(
        "\n| scenario | {vm} | outcome | time | what failed |\n| --- | --- | --- | --- | --- |\n"
    );
    for suite in suites {
        out += &rows(suite);
    }
    if let Some(command) = repro {
        out += &format!("\nReproduce:\n\n```sh\n{command}\n```\n");
    }
    out
}

fn rows(suite: &Suite) -> String {
    let shape = cell(&suite.name);
    match &suite.result {
        SuiteResult::Judged(report) => report
            .scenarios
            .iter()
            .map(|s| {
                let (word, why) = match &s.verdict {
                    ScenarioOutcome::Pass => ("pass", String::new()),
                    ScenarioOutcome::Fail { .. } => {
                        let what: Vec<String> =
                            failures(s).into_iter().map(|f| f.message).collect();
                        ("**FAIL**", what.join("; "))
                    }
                    ScenarioOutcome::Untestable { reasons } => ("UNTESTABLE", reasons.join("; ")),
                };
                let time = s.guest_ms.map_or("-".to_string(), |ms| {
                    format!("{:.2} s", ms as f64 / MS_PER_S)
                });
                format!(
                    "| {} | {shape} | {word} | {time} | {} |\n",
                    cell(&s.name),
                    cell(&why)
                )
            })
            .collect(),
        SuiteResult::NotJudged { error, scenarios } => scenarios
            .iter()
            .map(|name| {
                let (word, why) = match error {
                    Some(e) => ("ERROR", cell(e)),
                    None => ("NOT RUN", String::new()),
                };
                format!("| {} | {shape} | {word} | - | {why} |\n", cell(name))
            })
            .collect(),
    }
}

/// Text for one table cell: no line breaks, and `|` escaped.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}
