//! TAP (Test Anything Protocol) output, as kselftest prints it: `1..N` is the plan,
//! `ok N name` / `not ok N name` the results, `# SKIP` / `# TODO` their directives.
//! Only top-level lines count: kselftest's nested results are indented or start with
//! `#`.

use serde::Serialize;

/// One `ok` / `not ok` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TapResult {
    /// Its number, as printed, or its position when it has none.
    pub number: u64,
    pub name: String,
    pub ok: bool,
    /// `skip` or `todo`, when the line says so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directive: Option<String>,
}

impl TapResult {
    /// A `not ok` fails unless skipped or to do.
    pub fn fails(&self) -> bool {
        !self.ok && self.directive.is_none()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tap {
    /// N of the `1..N` plan line, if there was one.
    pub plan: Option<u64>,
    pub results: Vec<TapResult>,
    /// The reason of a `Bail out!` line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bail_out: Option<String>,
}

impl Tap {
    /// Why these results fail, one sentence each; empty when they pass.
    pub fn problems(&self) -> Vec<String> {
        let mut problems: Vec<String> = self
            .results
            .iter()
            .filter(|r| r.fails())
            .map(|r| format!("TAP test {} {} is not ok", r.number, r.name))
            .collect();
        if let Some(reason) = &self.bail_out {
            problems.push(format!("TAP bailed out: {reason}"));
        }
        let seen = self.results.len() as u64;
        match self.plan {
            Some(n) if n != seen => problems.push(format!(
                "TAP incomplete: the plan 1..{n} announces {n} test(s), {seen} reported"
            )),
            // Without a plan (the kernel's sched_ext runner prints none) the results are
            // all there are: the payload's exit status says whether it ran to its end.
            None if seen == 0 => problems.push("TAP output without any result".to_string()),
            Some(_) | None => {}
        }
        problems
    }
}

/// Reads TAP from output lines; other lines are ignored.
pub fn parse<'a>(lines: impl IntoIterator<Item = &'a str>) -> Tap {
    let mut tap = Tap::default();
    for line in lines {
        let line = line.trim_end();
        if let Some(n) = plan(line) {
            tap.plan.get_or_insert(n);
        } else if let Some(reason) = line.strip_prefix("Bail out!") {
            tap.bail_out = Some(reason.trim().to_string());
        } else if let Some(result) = result(line, tap.results.len() as u64 + 1) {
            tap.results.push(result);
        }
    }
    tap
}

/// `1..N`, possibly followed by a `# SKIP` comment.
fn plan(line: &str) -> Option<u64> {
    let rest = line.strip_prefix("1..")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let after = rest[digits.len()..].trim_start();
    (after.is_empty() || after.starts_with('#'))
        .then(|| digits.parse().ok())
        .flatten()
}

fn result(line: &str, position: u64) -> Option<TapResult> {
    let (ok, rest) = if let Some(rest) = line.strip_prefix("not ok") {
        (false, rest)
    } else {
        (true, line.strip_prefix("ok")?)
    };
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    let rest = rest.trim_start();
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let number = digits.parse().unwrap_or(position);
    let rest = rest[digits.len()..].trim_start();
    let rest = rest.strip_prefix("- ").unwrap_or(rest);
    let (name, directive) = match rest.split_once('#') {
        Some((name, comment)) => (name, directive_of(comment)),
        None => (rest, None),
    };
    Some(TapResult {
        number,
        name: name.trim().to_string(),
        ok,
        directive,
    })
}

fn directive_of(comment: &str) -> Option<String> {
    let word = comment.split_whitespace().next()?.to_ascii_lowercase();
    ["skip", "todo"]
        .iter()
        .find(|d| word.starts_with(*d))
        .map(|d| d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KSELFTEST: &str = "TAP version 13
1..4
# Starting 4 tests
ok 1 create_dsq
# ok 1 nested subtest, not counted
not ok 2 ddsp_bogus_dsq_fail
ok 3 exit # SKIP needs a feature
not ok 4 - todo_one # TODO later
  not ok 9 indented, not counted
# Totals: pass:1 fail:1 xfail:0 xpass:0 skip:1 error:0";

    #[test]
    fn reads_kselftest_results() {
        let tap = parse(KSELFTEST.lines());
        assert_eq!(tap.plan, Some(4));
        let names: Vec<(u64, &str, bool)> = tap
            .results
            .iter()
            .map(|r| (r.number, r.name.as_str(), r.fails()))
            .collect();
        assert_eq!(
            names,
            [
                (1, "create_dsq", false),
                (2, "ddsp_bogus_dsq_fail", true),
                (3, "exit", false),
                (4, "todo_one", false)
            ]
        );
        assert_eq!(tap.results[2].directive.as_deref(), Some("skip"));
        assert_eq!(tap.problems(), ["TAP test 2 ddsp_bogus_dsq_fail is not ok"]);
    }

    #[test]
    fn a_short_or_planless_run_is_incomplete() {
        let short = parse(["1..3", "ok 1 a", "ok 2 b"]);
        assert_eq!(
            short.problems(),
            ["TAP incomplete: the plan 1..3 announces 3 test(s), 2 reported"]
        );
        assert!(parse(["ok 1 a"]).problems().is_empty(), "no plan: what ran");
        assert_eq!(
            parse(["hello"]).problems(),
            ["TAP output without any result"]
        );
        let trailing_plan = parse(["ok 1 a", "ok", "1..2"]);
        assert!(trailing_plan.problems().is_empty(), "{trailing_plan:?}");
        assert_eq!(trailing_plan.results[1].number, 2);
        let bail = parse(["1..2", "ok 1 a", "Bail out! no kernel support"]);
        assert_eq!(bail.bail_out.as_deref(), Some("no kernel support"));
        assert!(!parse(["okay 1"]).results.iter().any(|r| r.ok));
    }
}
