//! `schedbox compare A.json B.json`: per scenario and check, the change from A (the
//! baseline) to B, whether it is beyond the noise the repeats showed, and whether it is
//! a regression. The rule (docs/compare.md): a change is beyond the noise when Welch's
//! t-test over the two sides' values gives p < 0.05 and the means differ by at least 5 %
//! of A's (and by at least 1); it is a regression when a check that passed in every A
//! run failed in a B run, or when it is beyond the noise, in the check's bad direction,
//! and used up at least the threshold (50 % by default) of the room A left below (or
//! above) the limit.

mod welch;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use schedbox_protocol::checks;

use crate::exit::{Exit, Stop};
use crate::outcome::report::SCHEMA_VERSION;
use crate::output;

pub use crate::cli::DEFAULT_THRESHOLD_PERCENT;
/// Welch's test's significance level (policy).
const ALPHA: f64 = 0.05;
/// The least change, in percent of A's mean, that counts as beyond the noise (policy:
/// with few repeats a tiny shift can be significant and still mean nothing).
const MIN_EFFECT_PERCENT: f64 = 5.0;
/// Largest report read: reports of long repeats with console tails are a few MiB.
const MAX_REPORT_BYTES: u64 = 256 << 20;

/// One check of one scenario (`part`: the shape or kernel of a matrix report).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    part: String,
    scenario: String,
    check: String,
    occurrence: usize,
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    passed: bool,
    value: u64,
    limit: u64,
}

/// One side of a comparison: every check's values over the side's runs.
#[derive(Debug, Default)]
pub struct Side {
    runs: usize,
    order: Vec<Key>,
    samples: BTreeMap<Key, Vec<Sample>>,
    /// Scenarios (part, name) that ran and were judged in some run.
    judged: Vec<(String, String)>,
}

impl Side {
    /// Reads a report: of one VM, of `--repeat N`, or of a gauntlet or kernel matrix.
    pub fn read(path: &Path) -> Result<Side, String> {
        let size = std::fs::metadata(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .len();
        if size > MAX_REPORT_BYTES {
            return Err(format!("{}: {size} bytes is not a report", path.display()));
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let value: Value = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{}: not JSON ({e}): give a schedbox report.json",
                path.display()
            )
        })?;
        Side::of(&value).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// A report document as JSON.
    pub fn of(report: &Value) -> Result<Side, String> {
        match report.get("schema_version").and_then(Value::as_u64) {
            Some(v) if v == u64::from(SCHEMA_VERSION) => {}
            Some(v) => {
                return Err(format!(
                    "schema_version {v}: this schedbox reads version {SCHEMA_VERSION}"
                ))
            }
            None => return Err("no schema_version: not a schedbox report.json".into()),
        }
        let mut side = Side::default();
        if let Some(repeats) = report.get("repeats").and_then(Value::as_array) {
            repeats.iter().try_for_each(|r| side.add_run("", r))?;
        } else if let Some(shapes) = report.get("shapes").and_then(Value::as_array) {
            for shape in shapes {
                let Some(one) = shape.get("report").filter(|r| r.is_object()) else {
                    continue;
                };
                let name = text(shape, "shape");
                let part = match shape.get("kernel_label").and_then(Value::as_str) {
                    Some(label) => format!("{label}/{name}"),
                    None => name,
                };
                side.add_run(&part, one)?;
            }
        } else if report.get("scenarios").is_some() {
            side.add_run("", report)?;
        } else {
            return Err("no scenarios, repeats or shapes: not a schedbox report.json".into());
        }
        Ok(side)
    }

    fn add_run(&mut self, part: &str, report: &Value) -> Result<(), String> {
        let scenarios = report
            .get("scenarios")
            .and_then(Value::as_array)
            .ok_or("a run without `scenarios`: not a schedbox report.json")?;
        self.runs += 1;
        for scenario in scenarios {
            let name = text(scenario, "name");
            let mut seen: BTreeMap<String, usize> = BTreeMap::new();
            let checks = scenario.get("checks").and_then(Value::as_array);
            for check in checks.into_iter().flatten() {
                let check_name = text(check, "name");
                let occurrence = seen.entry(check_name.clone()).or_default();
                let key = Key {
                    part: part.to_string(),
                    scenario: name.clone(),
                    check: check_name,
                    occurrence: *occurrence,
                };
                *occurrence += 1;
                let sample = Sample {
                    passed: check
                        .get("passed")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                    value: number(check, "value")?,
                    limit: number(check, "limit")?,
                };
                if !self.samples.contains_key(&key) {
                    self.order.push(key.clone());
                }
                self.samples.entry(key).or_default().push(sample);
            }
            let whole = (part.to_string(), name);
            if checks.is_some_and(|c| !c.is_empty()) && !self.judged.contains(&whole) {
                self.judged.push(whole);
            }
        }
        Ok(())
    }
}

fn text(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn number(check: &Value, key: &str) -> Result<u64, String> {
    check
        .get(key)
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("a check without a whole-number `{key}`: not a schedbox report"))
}

/// One side's values of a check.
#[derive(Debug, Clone, Serialize)]
pub struct Stat {
    pub runs: usize,
    pub passed: usize,
    pub median: u64,
    pub mean: f64,
}

impl Stat {
    fn of(samples: &[Sample]) -> Stat {
        let mut values: Vec<u64> = samples.iter().map(|s| s.value).collect();
        values.sort_unstable();
        Stat {
            runs: samples.len(),
            passed: samples.iter().filter(|s| s.passed).count(),
            median: values
                .get((values.len().max(1) - 1) / 2)
                .copied()
                .unwrap_or(0),
            mean: welch::mean(&values.iter().map(|&v| v as f64).collect::<Vec<_>>()),
        }
    }
}

/// One check compared.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub part: String,
    pub scenario: String,
    pub check: String,
    pub occurrence: usize,
    pub limit: u64,
    pub a: Stat,
    pub b: Stat,
    /// B's median less A's.
    pub delta: i128,
    /// Welch's p; None when a side has one run (no spread to judge by).
    pub p_value: Option<f64>,
    /// None: one run on a side, so only a pass turned fail counts.
    pub beyond_noise: Option<bool>,
    /// Whether B moved toward the limit (or past it).
    pub worse: bool,
    pub regression: bool,
    /// Why it is a regression.
    pub why: Option<String>,
}

/// The whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub threshold_percent: u64,
    pub rows: Vec<Row>,
    /// Scenarios A judged that B did not (absent, or untestable in every run).
    pub missing_in_b: Vec<String>,
    pub regressions: usize,
}

impl Comparison {
    /// 1 for a regression; else 125 when B lacks a scenario A judged; else 0.
    pub fn exit(&self) -> Exit {
        if self.regressions > 0 {
            Exit::Fail
        } else if !self.missing_in_b.is_empty() {
            Exit::Untestable
        } else {
            Exit::Pass
        }
    }
}

pub fn compare(a: &Side, b: &Side, threshold_percent: u64) -> Result<Comparison, String> {
    let rows: Vec<Row> = a
        .order
        .iter()
        .filter_map(|key| {
            let (sa, sb) = (a.samples.get(key)?, b.samples.get(key)?);
            Some(row(key, sa, sb, threshold_percent))
        })
        .collect();
    if rows.is_empty() {
        return Err(
            "the two reports have no scenario and check in common: compare reports \
                    of the same scenarios"
                .into(),
        );
    }
    let missing_in_b = a
        .judged
        .iter()
        .filter(|s| !b.judged.contains(s))
        .map(|(part, name)| label(part, name))
        .collect();
    let regressions = rows.iter().filter(|r| r.regression).count();
    Ok(Comparison {
        threshold_percent,
        rows,
        missing_in_b,
        regressions,
    })
}

fn label(part: &str, scenario: &str) -> String {
    if part.is_empty() {
        scenario.to_string()
    } else {
        format!("{part}/{scenario}")
    }
}

fn row(key: &Key, a: &[Sample], b: &[Sample], threshold_percent: u64) -> Row {
    let at_least = checks::check(key.check.as_bytes()).is_some_and(|c| c.at_least);
    let (stat_a, stat_b) = (Stat::of(a), Stat::of(b));
    let limit = a.first().map_or(0, |s| s.limit);
    let values = |s: &[Sample]| s.iter().map(|s| s.value as f64).collect::<Vec<_>>();
    let p_value = welch::p_value(&values(a), &values(b));
    let effect = (stat_b.mean - stat_a.mean).abs();
    let min_effect = (stat_a.mean.abs() * MIN_EFFECT_PERCENT / 100.0).max(1.0);
    let beyond_noise = p_value.map(|p| p < ALPHA && effect >= min_effect);
    let worse = if at_least {
        stat_b.mean < stat_a.mean
    } else {
        stat_b.mean > stat_a.mean
    };
    let room = (limit as f64 - stat_a.mean).abs();
    let used = if room > 0.0 {
        effect / room * 100.0
    } else {
        0.0
    };
    let flipped = stat_a.passed == stat_a.runs && stat_b.passed < stat_b.runs;
    let why = if flipped {
        Some(format!(
            "passed in all {} runs of A, failed in {} of {} of B",
            stat_a.runs,
            stat_b.runs - stat_b.passed,
            stat_b.runs
        ))
    } else if beyond_noise == Some(true) && worse && used >= threshold_percent as f64 {
        Some(format!(
            "beyond the noise, toward the limit by {used:.0} % of A's room to it (threshold \
             {threshold_percent} %)"
        ))
    } else {
        None
    };
    Row {
        part: key.part.clone(),
        scenario: key.scenario.clone(),
        check: key.check.clone(),
        occurrence: key.occurrence,
        limit,
        delta: i128::from(stat_b.median) - i128::from(stat_a.median),
        a: stat_a,
        b: stat_b,
        p_value,
        beyond_noise,
        worse,
        regression: why.is_some(),
        why,
    }
}

/// The table's column names, aligned as [`table`] writes its rows.
const TABLE_HEADER: &str =
    "  scenario                     check              A median     B median      \
                            delta         p  verdict\n";

/// The table: a line per check, then the verdict.
pub fn table(c: &Comparison, a_name: &str, b_name: &str) -> String {
    let mut out = format!("schedbox compare: A {a_name} (baseline) and B {b_name}\n");
    out += TABLE_HEADER;
    for r in &c.rows {
        let p = r
            .p_value
            .map_or_else(|| "-".to_string(), |p| format!("{p:.3}"));
        let verdict = match (&r.why, r.beyond_noise) {
            (Some(why), _) => format!("REGRESSION: {why}"),
            (None, Some(true)) if r.worse => "worse, beyond noise".to_string(),
            (None, Some(true)) => "better, beyond noise".to_string(),
            (None, Some(false)) => "within noise".to_string(),
            (None, None) => "one run a side: no noise estimate".to_string(),
        };
        let check = match r.occurrence {
            0 => r.check.clone(),
            n => format!("{}#{}", r.check, n + 1),
        };
        out += &format!(
            "  {:<28} {:<14} {:>12} {:>12} {:>+10} {p:>9}  {verdict}\n",
            label(&r.part, &r.scenario),
            check,
            format!("{}{}", r.a.median, passes(&r.a)),
            format!("{}{}", r.b.median, passes(&r.b)),
            r.delta,
        );
    }
    for s in &c.missing_in_b {
        out += &format!("  {s}: judged in A, not in B (absent or untestable)\n");
    }
    let verdict = match c.exit() {
        Exit::Fail => format!("REGRESSION ({} checks)", c.regressions),
        Exit::Untestable => "INCOMPLETE: B lacks scenarios A judged".to_string(),
        _ => "NO REGRESSION".to_string(),
    };
    out + &format!(
        "{verdict} (Welch's t-test p < {ALPHA}, at least {MIN_EFFECT_PERCENT} % of A's mean; \
         threshold {} % of A's room to the limit)\n",
        c.threshold_percent
    )
}

/// ` (2/3 passed)` when not every run passed.
fn passes(s: &Stat) -> String {
    if s.passed == s.runs {
        String::new()
    } else {
        format!(" ({}/{} ok)", s.passed, s.runs)
    }
}

/// `schedbox compare A.json B.json [--threshold PCT] [--json FILE]`.
pub fn command(
    a: &Path,
    b: &Path,
    threshold_percent: u64,
    json: Option<&Path>,
) -> Result<Exit, Stop> {
    let (side_a, side_b) = (
        Side::read(a).map_err(Stop::Usage)?,
        Side::read(b).map_err(Stop::Usage)?,
    );
    let comparison = compare(&side_a, &side_b, threshold_percent).map_err(Stop::Usage)?;
    output::print(&table(
        &comparison,
        &a.display().to_string(),
        &b.display().to_string(),
    ));
    if let Some(path) = json {
        crate::pipeline::publish::write_json(&comparison, &[path.to_path_buf()])
            .map_err(Stop::Host)?;
    }
    Ok(comparison.exit())
}

#[cfg(test)]
mod tests;
