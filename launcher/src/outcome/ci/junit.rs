//! The JUnit XML report (`--junit FILE`), as CI systems read it: a `<testsuite>` per VM
//! (named by its shape), a `<testcase>` per scenario; a `<failure>` per failed check or
//! payload with its value, limit and reason; an untestable scenario is an `<error>`, one
//! never run `<skipped>`; the VM's console tail, where it has one, is the suite's
//! `<system-out>` and that of each case that did not pass.

use super::{console_tail, failures, Suite, SuiteResult};
use crate::outcome::report::{Report, ScenarioReport};
use crate::outcome::verdict::ScenarioOutcome;

const MS_PER_S: f64 = 1e3;
/// The `classname` prefix of every case: the suite's shape follows it.
const CLASS_PREFIX: &str = "schedbox";

/// Counts of a suite's or the whole report's cases.
#[derive(Default, Clone, Copy)]
struct Counts {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
    ms: u64,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.tests += other.tests;
        self.failures += other.failures;
        self.errors += other.errors;
        self.skipped += other.skipped;
        self.ms += other.ms;
    }

    fn attributes(&self) -> String {
        format!(
            "tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\"",
            self.tests,
            self.failures,
            self.errors,
            self.skipped,
            self.ms as f64 / MS_PER_S
        )
    }
}

/// The whole document.
pub fn render(suites: &[Suite]) -> String {
    let mut total = Counts::default();
    let mut body = String::new();
    for suite in suites {
        let (counts, xml) = suite_xml(suite);
        total.add(counts);
        body += &xml;
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"{CLASS_PREFIX}\" {}>\n{body}</testsuites>\n",
        total.attributes()
    )
}

fn suite_xml(suite: &Suite) -> (Counts, String) {
    let class = format!("{CLASS_PREFIX}.{}", suite.name);
    let mut counts = Counts::default();
    let mut cases = String::new();
    let mut head = String::new();
    let mut out = String::new();
    match &suite.result {
        SuiteResult::Judged(report) => {
            let tail = console_tail(report).join("\n");
            head = properties(report);
            for s in &report.scenarios {
                counts.tests += 1;
                counts.ms += s.guest_ms.unwrap_or(0);
                match &s.verdict {
                    ScenarioOutcome::Pass => {}
                    ScenarioOutcome::Fail { .. } => counts.failures += 1,
                    ScenarioOutcome::Untestable { .. } => counts.errors += 1,
                }
                cases += &case_xml(&class, s, &tail);
            }
            if !tail.is_empty() {
                out = format!("    <system-out>{}</system-out>\n", escape(&tail));
            }
        }
        SuiteResult::NotJudged { error, scenarios } => {
            for name in scenarios.iter() {
                counts.tests += 1;
                let inner = match error {
                    Some(e) => {
                        counts.errors += 1;
                        format!("<error type=\"host\" message=\"{}\"/>", escape(e))
                    }
                    None => {
                        counts.skipped += 1;
                        "<skipped message=\"not run: the run was stopped first\"/>".to_string()
                    }
                };
                cases += &format!(
                    "    <testcase classname=\"{}\" name=\"{}\">{inner}</testcase>\n",
                    escape(&class),
                    escape(name)
                );
            }
        }
    }
    let xml = format!(
        "  <testsuite name=\"{}\" {}>\n{head}{cases}{out}  </testsuite>\n",
        escape(&suite.name),
        counts.attributes()
    );
    (counts, xml)
}

/// What the suite ran on, and how the run as a whole ended.
fn properties(report: &Report) -> String {
    let run = &report.run;
    let mut props = vec![
        ("outcome", report.outcome.word().to_string()),
        ("kernel", run.kernel.clone()),
        ("scheduler", report.scheduler.summary.clone()),
        ("backend", run.backend.clone()),
        ("memory_mib", run.memory_mib.to_string()),
        ("run_dir", run.run_dir.clone()),
    ];
    props.extend(report.repro.clone().map(|r| ("repro", r)));
    let lines: String = props
        .iter()
        .map(|(k, v)| format!("      <property name=\"{k}\" value=\"{}\"/>\n", escape(v)))
        .collect();
    format!("    <properties>\n{lines}    </properties>\n")
}

fn case_xml(class: &str, s: &ScenarioReport, tail: &str) -> String {
    let mut inner = String::new();
    match &s.verdict {
        ScenarioOutcome::Pass => {}
        ScenarioOutcome::Fail { .. } => {
            for f in failures(s) {
                inner += &format!(
                    "      <failure type=\"check\" message=\"{}\">{}</failure>\n",
                    escape(&f.message),
                    escape(&f.reason)
                );
            }
        }
        ScenarioOutcome::Untestable { reasons } => {
            inner += &format!(
                "      <error type=\"untestable\" message=\"{}\">{}</error>\n",
                escape(reasons.first().map_or("untestable", String::as_str)),
                escape(&reasons.join("\n"))
            );
        }
    }
    // A quiet kernel that the run stopped at done may have written nothing.
    if !inner.is_empty() && !tail.is_empty() {
        inner += &format!("      <system-out>{}</system-out>\n", escape(tail));
    }
    let time = s.guest_ms.unwrap_or(0) as f64 / MS_PER_S;
    let open = format!(
        "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\" time=\"{time:.3}\"",
        escape(class),
        escape(&s.name),
        escape(&s.source)
    );
    if inner.is_empty() {
        format!("{open}/>\n")
    } else {
        format!("{open}>\n{inner}    </testcase>\n")
    }
}

/// Text as XML character data or an attribute value: markup escaped, and characters
/// XML 1.0 cannot hold (a console's control characters) replaced.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || matches!(c, '\u{FFFE}' | '\u{FFFF}') => {
                out.push(char::REPLACEMENT_CHARACTER)
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_keeps_xml_well_formed() {
        assert_eq!(
            escape("a<b & \"c\" 'd'\x1b[0m\tok\n"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;\u{FFFD}[0m\tok\n"
        );
    }
}
