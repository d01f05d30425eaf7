//! The report of a run on several shapes or kernels (one VM each): every VM's own report
//! as it was judged, and the run's outcome over all of them, by the rule of a single run:
//! interrupted stops everything, then fail > untestable > pass. Its summary is a table of
//! VMs (kernel and shape) × scenarios.

use serde::Serialize;

use crate::outcome::report::Report;
use crate::outcome::verdict::{Outcome, ScenarioOutcome};

/// A table cell of a scenario that does not run on that shape.
const NOT_ON_SHAPE: &str = "-";
/// Narrowest table column, so that the verdict words line up.
const MIN_COLUMN: usize = 10;
const MS_PER_S: f64 = 1e3;

/// How one shape's VM ended.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum ShapeResult {
    /// It ran and was judged: its report, as its own report.json has it.
    Judged { report: Box<Report> },
    /// The host could not run it and there is no report (counts as untestable).
    Error { error: String },
    /// A signal stopped the run before this shape's VM.
    NotRun,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShapeReport {
    /// Its kernel in a kernel matrix (`--kernel A,B`); absent otherwise.
    #[serde(flatten)]
    pub kernel: Option<MatrixKernel>,
    pub shape: String,
    /// Its own run directory, a sub-folder of the run's.
    pub run_dir: String,
    /// The scenarios it runs, in order: the table's cells.
    pub scenario_names: Vec<String>,
    #[serde(flatten)]
    pub result: ShapeResult,
}

/// A kernel of a kernel matrix: its path as given, and the short name its table row
/// and folder have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatrixKernel {
    pub kernel: String,
    pub kernel_label: String,
}

impl ShapeReport {
    /// What names it in reasons and CI suites: its shape, after its kernel's label in a
    /// kernel matrix (`LABEL/SHAPE`).
    pub fn row(&self) -> String {
        match &self.kernel {
            Some(k) => format!("{}/{}", k.kernel_label, self.shape),
            None => self.shape.clone(),
        }
    }

    /// Its outcome for the run's; None for a shape that never ran.
    pub fn outcome(&self) -> Option<Outcome> {
        match &self.result {
            ShapeResult::Judged { report } => Some(report.outcome),
            ShapeResult::Error { .. } => Some(Outcome::Untestable),
            ShapeResult::NotRun => None,
        }
    }

    /// Its reasons, each after its shape.
    fn reasons(&self) -> Vec<String> {
        let reasons = match &self.result {
            ShapeResult::Judged { report } => report.reasons.clone(),
            ShapeResult::Error { error } => vec![error.clone()],
            ShapeResult::NotRun => vec!["not run: the run was stopped first".to_string()],
        };
        reasons
            .into_iter()
            .map(|r| format!("{}: {r}", self.row()))
            .collect()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct GauntletReport {
    pub schema_version: u32,
    pub outcome: Outcome,
    pub exit_code: i32,
    pub reasons: Vec<String>,
    pub run_dir: String,
    pub shapes: Vec<ShapeReport>,
    /// The command that reproduces the shapes that failed or were untestable.
    pub repro: Option<String>,
}

impl GauntletReport {
    pub fn new(run_dir: String, shapes: Vec<ShapeReport>) -> GauntletReport {
        let outcome = combine(shapes.iter().filter_map(ShapeReport::outcome));
        GauntletReport {
            schema_version: crate::outcome::report::SCHEMA_VERSION,
            outcome,
            exit_code: outcome.exit().code(),
            reasons: shapes.iter().flat_map(ShapeReport::reasons).collect(),
            run_dir,
            shapes,
            repro: None,
        }
    }

    /// As [`Report::host_fault`]: the host could not record the run.
    pub fn host_fault(&mut self, reason: String) {
        if !matches!(self.outcome, Outcome::Interrupted(_)) {
            self.outcome = Outcome::Untestable;
        }
        self.exit_code = self.outcome.exit().code();
        self.reasons.insert(0, reason);
    }
}

/// The run's outcome from its shapes': interrupted (it stopped the run), else fail >
/// untestable > pass.
pub fn combine(outcomes: impl Iterator<Item = Outcome>) -> Outcome {
    let rank = |o: &Outcome| match o {
        Outcome::Pass => 0,
        Outcome::Untestable => 1,
        Outcome::Fail => 2,
        Outcome::Interrupted(_) => 3,
    };
    outcomes.max_by_key(rank).unwrap_or(Outcome::Pass)
}

/// The cell of `scenario` on a shape: its verdict there, in capitals.
fn cell(shape: &ShapeReport, scenario: &str) -> &'static str {
    if !shape.scenario_names.iter().any(|n| n == scenario) {
        return NOT_ON_SHAPE;
    }
    let report = match &shape.result {
        ShapeResult::Judged { report } => report,
        ShapeResult::Error { .. } => return "ERROR",
        ShapeResult::NotRun => return "NOT RUN",
    };
    match report.scenarios.iter().find(|s| s.name == scenario) {
        Some(s) => match s.verdict {
            ScenarioOutcome::Pass => "PASS",
            ScenarioOutcome::Fail { .. } => "FAIL",
            ScenarioOutcome::Untestable { .. } => "UNTESTABLE",
        },
        None => "ERROR",
    }
}

/// The word of a shape's own verdict, the table's last column.
fn shape_word(shape: &ShapeReport) -> &'static str {
    match shape.outcome() {
        None => "NOT RUN",
        Some(_) if matches!(shape.result, ShapeResult::Error { .. }) => "ERROR",
        Some(o) => word(o),
    }
}

fn word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "PASS",
        Outcome::Fail => "FAIL",
        Outcome::Untestable => "UNTESTABLE",
        Outcome::Interrupted(_) => "INTERRUPTED",
    }
}

/// The VM × scenario table: a row per VM (its kernel in a kernel matrix, then its shape),
/// a column per scenario in order of first appearance, and the VM's own verdict last.
pub fn table(report: &GauntletReport) -> String {
    let matrix = report.shapes.iter().any(|s| s.kernel.is_some());
    let mut scenarios: Vec<&str> = Vec::new();
    for name in report.shapes.iter().flat_map(|s| &s.scenario_names) {
        if !scenarios.contains(&name.as_str()) {
            scenarios.push(name);
        }
    }
    let mut header = if matrix { vec!["kernel"] } else { Vec::new() };
    header.push("shape");
    header.extend(&scenarios);
    header.push("verdict");
    let mut rows = vec![header];
    for shape in &report.shapes {
        let mut row = Vec::new();
        if matrix {
            row.extend(shape.kernel.as_ref().map(|k| k.kernel_label.as_str()));
        }
        row.push(shape.shape.as_str());
        row.extend(scenarios.iter().map(|s| cell(shape, s)));
        row.push(shape_word(shape));
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].len())
                .max()
                .unwrap_or(0)
                .max(MIN_COLUMN)
        })
        .collect();
    rows.iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(text, width)| format!("{text:<width$}"))
                .collect();
            format!("  {}\n", cells.join(" ").trim_end())
        })
        .collect()
}

/// The summary printed after every shape's own: the table and the run's verdict.
pub fn human(report: &GauntletReport) -> String {
    let total_ms: u64 = report
        .shapes
        .iter()
        .filter_map(|s| match &s.result {
            ShapeResult::Judged { report } => Some(report.timings.total_ms),
            _ => None,
        })
        .sum();
    let mut kernels: Vec<&MatrixKernel> = Vec::new();
    for k in report.shapes.iter().filter_map(|s| s.kernel.as_ref()) {
        if !kernels.contains(&k) {
            kernels.push(k);
        }
    }
    let what = if kernels.is_empty() {
        format!("{} shapes", report.shapes.len())
    } else {
        format!("{} kernels, {} VMs", kernels.len(), report.shapes.len())
    };
    let mut out = format!("schedbox: {what}, one VM each\n{}", table(report));
    for k in kernels {
        out += &format!("  kernel {}: {}\n", k.kernel_label, k.kernel);
    }
    let host_reasons = report
        .reasons
        .iter()
        .filter(|r| !report.shapes.iter().any(|s| r.starts_with(&s.row())));
    for reason in host_reasons {
        out += &format!("  reason: {reason}\n");
    }
    if let Some(repro) = &report.repro {
        out += &format!("  reproduce: {repro}\n");
    }
    out += &format!(
        "{} (total {:.2} s); run directory {}\n",
        word(report.outcome),
        total_ms as f64 / MS_PER_S,
        report.run_dir
    );
    out
}

#[cfg(test)]
mod tests;
