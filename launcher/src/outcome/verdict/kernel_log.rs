//! Judging `kernel-log` checks that carry `allow` or `expect` patterns: the guest
//! forwards every line of the scenario, the host applies the patterns. The result
//! replaces the guest's check record, so the verdict and the report agree.

use regex::Regex;

use crate::protocol::record::{CheckRecord, Record};
use crate::scenario::LogRules;
use schedbox_protocol::kmsg::is_problem;
use schedbox_protocol::limits::KMSG_FORWARD_LINES;

/// A line the guest forwarded for a scenario.
struct Line<'a> {
    level: u8,
    text: &'a str,
}

fn forwarded<'a>(records: &'a [Record], scenario: &str) -> Vec<Line<'a>> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Kmsg {
                level,
                text,
                scenario: Some(s),
            } if s == scenario => Some(Line {
                // A level that is not a number is treated as the most urgent.
                level: level.parse().unwrap_or(0),
                text,
            }),
            _ => None,
        })
        .collect()
}

fn compile(patterns: &[String]) -> Vec<Regex> {
    // Validated when the scenario was loaded; one that fails here matches nothing.
    patterns.iter().filter_map(|p| Regex::new(p).ok()).collect()
}

/// The check judged on the forwarded lines: value = problem lines no `allow` pattern
/// matches; it fails when that is over the limit, when an `expect` pattern matched no
/// line, or when lines were not forwarded and an allow list needs to see them all.
pub fn judge(guest: &CheckRecord, rules: &LogRules, records: &[Record]) -> CheckRecord {
    let mut judged = guest.clone();
    let Some(sent) = guest.forwarded else {
        // The log was not read (the guest's detail says why), or an init that does not
        // forward: the patterns cannot be applied.
        judged.passed = false;
        if guest.detail.is_none() || guest.passed {
            judged.detail = Some(
                "the guest did not forward the kernel log, so allow and expect cannot be \
                 judged (rebuild the init)"
                    .to_string(),
            );
        }
        return judged;
    };
    let lines = forwarded(records, &guest.scenario);
    // Lines the guest sent that did not arrive are as unknown as those it did not send.
    let dropped = guest.dropped.unwrap_or(0) + sent.saturating_sub(lines.len() as u64);
    let allow = compile(&rules.allow);
    let allowed = |text: &str| allow.iter().any(|re| re.is_match(text));
    let problems: Vec<&Line> = lines
        .iter()
        .filter(|l| is_problem(l.level, l.text.as_bytes()))
        .collect();
    let counted: Vec<&Line> = problems
        .iter()
        .copied()
        .filter(|l| !allowed(l.text))
        .collect();
    let allowed_count = problems.len() - counted.len();
    let missing: Vec<&String> = rules
        .expect
        .iter()
        .zip(compile(&rules.expect))
        .filter(|(_, re)| !lines.iter().any(|l| re.is_match(l.text)))
        .map(|(p, _)| p)
        .collect();
    judged.value = if allow.is_empty() {
        guest.value
    } else {
        counted.len() as u64
    };
    let unsure = dropped > 0 && !allow.is_empty();
    judged.passed = judged.value <= guest.limit && missing.is_empty() && !unsure;
    // The guest's detail names its first problem line, which may be an allowed one.
    judged.detail = detail(&counted, &missing, dropped, unsure).or_else(|| {
        (allowed_count > 0).then(|| format!("{allowed_count} problem line(s) allowed"))
    });
    judged
}

fn detail(counted: &[&Line], missing: &[&String], dropped: u64, unsure: bool) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(first) = counted.first() {
        parts.push(first.text.to_string());
    }
    for pattern in missing {
        parts.push(format!("no kernel log line matched expect {pattern:?}"));
    }
    if dropped > 0 {
        let why = if unsure {
            ", so the allow list cannot be applied to them and the check cannot pass"
        } else {
            ""
        };
        parts.push(format!(
            "{dropped} kernel log line(s) were not forwarded (over the cap of \
             {KMSG_FORWARD_LINES} a scenario, or overwritten before they were read){why}"
        ));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Notes for the forwarded problem lines of a scenario: which counted, which were
/// allowed.
pub fn notes(rules: &LogRules, scenario: &str, records: &[Record]) -> Vec<String> {
    let allow = compile(&rules.allow);
    forwarded(records, scenario)
        .iter()
        .filter(|l| is_problem(l.level, l.text.as_bytes()))
        .map(|l| {
            let how = if allow.iter().any(|re| re.is_match(l.text)) {
                "allowed"
            } else {
                "counted"
            };
            format!(
                "scenario {scenario}: kernel log <{}> ({how}): {}",
                l.level, l.text
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::examples;

    const WARNING: &str = "WARNING: CPU: 1 PID: 40 at drivers/misc/lkdtm/bugs.c:97 lkdtm_WARNING";
    const DISABLED: &str =
        "sched_ext: BPF scheduler \"ddsp_bogus_dsq_fail\" disabled (runtime error)";

    fn run(check: &str, lines: &[(u8, &str)]) -> (CheckRecord, Vec<Record>) {
        let mut text = String::from("SBX1 scenario name=s t_ms=1\n");
        for (level, line) in lines {
            let escaped = crate::protocol::wire::encode_value(line);
            text.push_str(&format!(
                "SBX1 kmsg level={level} text={escaped} scenario=s\n"
            ));
        }
        text.push_str(check);
        text.push('\n');
        let records = examples::records(&text);
        let check = records
            .iter()
            .find_map(|r| match r {
                Record::Check(c) => Some(c.clone()),
                _ => None,
            })
            .unwrap();
        (check, records)
    }

    fn rules(allow: &[&str], expect: &[&str]) -> LogRules {
        LogRules {
            allow: allow.iter().map(|s| s.to_string()).collect(),
            expect: expect.iter().map(|s| s.to_string()).collect(),
        }
    }

    const TWO: &str = "SBX1 check scenario=s name=kernel-log result=fail value=2 limit=0 \
                       forwarded=3 dropped=0";

    fn lines() -> Vec<(u8, &'static str)> {
        vec![
            (6, "lkdtm: Performing direct entry WARNING"),
            (4, WARNING),
            (3, DISABLED),
        ]
    }

    #[test]
    fn allowed_problem_lines_do_not_count() {
        let (check, records) = run(TWO, &lines());
        let all = judge(
            &check,
            &rules(&["lkdtm_WARNING", "ddsp_bogus_dsq_fail"], &[]),
            &records,
        );
        assert!(all.passed, "{all:?}");
        assert_eq!(all.value, 0);
        assert_eq!(all.detail.as_deref(), Some("2 problem line(s) allowed"));
        let one = judge(&check, &rules(&["ddsp_bogus"], &[]), &records);
        assert!(!one.passed);
        assert_eq!(one.value, 1);
        assert_eq!(one.detail.as_deref(), Some(WARNING));
        let notes = notes(&rules(&["ddsp_bogus"], &[]), "s", &records);
        assert_eq!(notes.len(), 2);
        assert!(notes[1].contains("(allowed): sched_ext"), "{notes:?}");
    }

    #[test]
    fn an_expected_line_must_appear() {
        let (check, records) = run(TWO, &lines());
        let allow = ["lkdtm", "ddsp"];
        let present = judge(
            &check,
            &rules(&allow, &["Performing direct entry"]),
            &records,
        );
        assert!(present.passed, "{present:?}");
        let absent = judge(
            &check,
            &rules(&allow, &["Performing", "nothing like this"]),
            &records,
        );
        assert!(!absent.passed);
        assert_eq!(
            absent.detail.as_deref(),
            Some("no kernel log line matched expect \"nothing like this\"")
        );
    }

    #[test]
    fn missing_lines_never_pass_an_allow_list() {
        let dropped = TWO.replace("dropped=0", "dropped=5");
        let (check, records) = run(&dropped, &lines());
        let verdict = judge(&check, &rules(&[".*"], &[]), &records);
        assert!(!verdict.passed);
        assert!(verdict
            .detail
            .unwrap()
            .contains("5 kernel log line(s) were not forwarded"));
        // Lines announced but never received count as not forwarded.
        let (check, records) = run(TWO, &lines()[..2]);
        let verdict = judge(&check, &rules(&[".*"], &[]), &records);
        assert!(!verdict.passed, "{verdict:?}");
        // Without an allow list the guest's count is exact: only expect is judged.
        let (check, records) = run(&dropped.replace("value=2", "value=0"), &[]);
        let verdict = judge(&check, &rules(&[], &[]), &records);
        assert!(verdict.passed, "{verdict:?}");
    }

    #[test]
    fn a_guest_that_did_not_forward_fails_the_check() {
        let (check, records) = run(
            "SBX1 check scenario=s name=kernel-log result=pass value=0 limit=0",
            &[],
        );
        let verdict = judge(&check, &rules(&["x"], &[]), &records);
        assert!(!verdict.passed);
        assert!(verdict.detail.unwrap().contains("did not forward"));
    }
}
