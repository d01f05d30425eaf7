use super::*;
use crate::protocol::examples;
use crate::scenario::{self, VmShape};
use crate::vm::backend::VmExit;
use crate::vm::session::{RunEnd, Timings};

const VM: VmShape = VmShape::flat(2, 256);

fn scenario(name: &str, ms: u64) -> Scenario {
    let text = format!(
        "name = \"{name}\"\nduration_ms = {ms}\n[[workers]]\ngroup = \"g\"\nwork = \"spin\"\n"
    );
    scenario::parse(&text, "test", &VM).unwrap()
}

/// Each check of `s` as the guest reports it: passed at its limit, or failed above it.
fn checks(s: &Scenario, failing: Option<&str>) -> String {
    s.checks
        .iter()
        .map(|c| {
            let (result, value) = match failing {
                Some(f) if f == c.name => ("fail", c.limit + 1000),
                _ => ("pass", c.limit),
            };
            format!(
                "SBX1 check scenario={} name={} result={result} value={value} limit={}\n",
                s.name, c.name, c.limit
            )
        })
        .collect()
}

/// Feeds `lines` of records one by one, as the session does; the lines said.
fn feed(progress: &mut Progress, observed: &mut Observed, lines: &str) -> Vec<String> {
    let mut said = Vec::new();
    for record in examples::records(lines) {
        observed.records.push(record.clone());
        said.extend(progress.take(&record, observed));
        progress.seen = observed.records.len();
    }
    said
}

fn empty() -> Observed {
    Observed {
        records: Vec::new(),
        arrivals_ms: Vec::new(),
        malformed: Default::default(),
        console_tail: Vec::new(),
        panic: None,
        end: RunEnd::Exited(VmExit::PowerOff),
        machine: crate::vm::backend::Machine::Vm,
        timings: Timings::default(),
        records_channels: Vec::new(),
    }
}

#[test]
fn plain_lines_name_each_scenario_in_order_with_its_verdict() {
    let (alpha, beta) = (scenario("alpha", 1000), scenario("beta", 2000));
    let mut progress = Progress::new(Mode::Plain, &[alpha.clone(), beta.clone()]);
    let mut seen = empty();
    let mut said = feed(
        &mut progress,
        &mut seen,
        "SBX1 boot release=6.12.1 cpus=2 uptime_ms=700 init_ms=690 sched_ext=disabled\n\
         SBX1 scenario name=alpha t_ms=760\n",
    );
    said.extend(feed(&mut progress, &mut seen, &checks(&alpha, None)));
    said.extend(feed(
        &mut progress,
        &mut seen,
        "SBX1 scenario-end name=alpha t_ms=1770 outcome=pass\nSBX1 scenario name=beta t_ms=1780\n",
    ));
    let failing = &beta.checks[0].name;
    said.extend(feed(
        &mut progress,
        &mut seen,
        &checks(&beta, Some(failing)),
    ));
    said.extend(feed(
        &mut progress,
        &mut seen,
        "SBX1 scenario-end name=beta t_ms=3790 outcome=fail\nSBX1 done status=ok t_ms=3800\n",
    ));
    assert_eq!(said.len(), 5, "{said:#?}");
    assert!(said[0].contains("guest up") && said[0].contains("2 scenario(s), 3.0 s declared"));
    assert!(said[1].starts_with("schedbox: scenario 1/2 alpha: started (1.0 s declared)"));
    assert!(
        said[2].starts_with("schedbox: scenario 1/2 alpha: pass ("),
        "{}",
        said[2]
    );
    assert!(said[3].starts_with("schedbox: scenario 2/2 beta: started (2.0 s declared)"));
    assert!(
        said[4].starts_with(&format!(
            "schedbox: scenario 2/2 beta: FAIL: scenario beta: check {failing} failed"
        )),
        "{}",
        said[4]
    );
}

#[test]
fn a_scenario_the_guest_could_not_carry_out_is_said_untestable() {
    let alpha = scenario("alpha", 500);
    let mut progress = Progress::new(Mode::Plain, std::slice::from_ref(&alpha));
    let mut seen = empty();
    let said = feed(
        &mut progress,
        &mut seen,
        "SBX1 boot release=6.12.1 cpus=2 uptime_ms=700 sched_ext=disabled\n\
         SBX1 scenario name=alpha t_ms=760\n\
         SBX1 scenario-end name=alpha t_ms=900 outcome=error\n",
    );
    let last = said.last().unwrap();
    assert!(
        last.starts_with("schedbox: scenario 1/1 alpha: untestable: "),
        "{said:#?}"
    );
}

#[test]
fn the_live_line_counts_scenarios_and_the_time_declared_left() {
    let (alpha, beta) = (scenario("alpha", 1000), scenario("beta", 2000));
    let mut progress = Progress::new(Mode::Live, &[alpha, beta]);
    let line = progress.line();
    assert!(
        line.starts_with("schedbox: scenario 0/2 booting, "),
        "{line}"
    );
    assert!(line.ends_with("ETA 3.0 s"), "{line}");
    let mut seen = empty();
    // On a terminal the start of a scenario is the live line's, not a line of its own.
    let said = feed(
        &mut progress,
        &mut seen,
        "SBX1 boot release=6.12.1 cpus=2 uptime_ms=700 sched_ext=disabled\n\
         SBX1 scenario name=alpha t_ms=760\n",
    );
    assert!(said.is_empty(), "{said:?}");
    let line = progress.line();
    assert!(line.starts_with("schedbox: scenario 1/2 alpha, "), "{line}");
    let eta: f64 = line
        .rsplit("ETA ")
        .next()
        .unwrap()
        .trim_end_matches(" s")
        .parse()
        .unwrap();
    assert!(eta > 2.0 && eta <= 3.0, "{line}");
    feed(
        &mut progress,
        &mut seen,
        "SBX1 scenario-end name=alpha t_ms=1770 outcome=error\n",
    );
    let line = progress.line();
    assert!(
        line.starts_with("schedbox: scenario 1/2 between scenarios"),
        "{line}"
    );
    assert!(line.ends_with("ETA 2.0 s"), "{line}");
}

#[test]
fn quiet_says_nothing_but_still_follows() {
    let alpha = scenario("alpha", 1000);
    let mut progress = Progress::new(Mode::Quiet, std::slice::from_ref(&alpha));
    let mut seen = empty();
    let said = feed(
        &mut progress,
        &mut seen,
        "SBX1 boot release=6.12.1 cpus=2 uptime_ms=700 sched_ext=disabled\n\
         SBX1 scenario name=alpha t_ms=760\n",
    );
    assert!(said.is_empty(), "{said:?}");
    assert_eq!(progress.running.map(|(at, _)| at), Some(0));
}
