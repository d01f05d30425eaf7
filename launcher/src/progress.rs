//! What a person sees while a VM runs its scenarios: on a terminal, one live line on
//! stderr (scenario k/N, its name, the time so far and the time left by the scenarios'
//! declared durations), redrawn in place; elsewhere (a pipe, a CI log) a plain line as
//! each scenario starts; with `-q`, nothing. Either way each scenario's verdict is said
//! as soon as its records are in, judged by the rules the run's verdict uses.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use crate::outcome::verdict::{self, ExpectedCheck, ExpectedPayload, ScenarioOutcome};
use crate::output;
use crate::protocol::record::Record;
use crate::scenario::Scenario;
use crate::vm::backend::Machine;
use crate::vm::session::{Observed, Watcher};

/// How often the live line is redrawn at most: often enough to see the clock move,
/// seldom enough not to flood a slow terminal.
const REDRAW: Duration = Duration::from_millis(250);

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A terminal: one line redrawn in place, verdicts above it.
    Live,
    /// Not a terminal: plain lines, one per event.
    Plain,
    /// `-q`: nothing.
    Quiet,
}

impl Mode {
    /// The mode for this process's stderr: Live on a terminal, Plain elsewhere, Quiet
    /// when asked.
    pub fn for_stderr(quiet: bool) -> Mode {
        if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Live
        } else {
            Mode::Plain
        }
    }
}

/// One scenario of the plan, as progress counts it.
struct Planned {
    name: String,
    duration_ms: u64,
}

/// The progress of one VM's run of its scenarios (the plan's order is the guest's).
pub struct Progress {
    mode: Mode,
    start: Instant,
    planned: Vec<Planned>,
    expected: Vec<ExpectedCheck>,
    payloads: Vec<ExpectedPayload>,
    /// The scenario running (its index in `planned`) and when it began.
    running: Option<(usize, Instant)>,
    /// Scenarios that ended.
    ended: usize,
    /// Records already taken in.
    seen: usize,
    booted: bool,
    drawn: Option<Instant>,
}

impl Progress {
    pub fn new(mode: Mode, scenarios: &[Scenario]) -> Progress {
        Progress {
            mode,
            start: Instant::now(),
            planned: scenarios
                .iter()
                .map(|s| Planned {
                    name: s.name.clone(),
                    duration_ms: s.duration_ms(),
                })
                .collect(),
            expected: verdict::expected_checks(scenarios),
            payloads: verdict::expected_payloads(scenarios),
            running: None,
            ended: 0,
            seen: 0,
            booted: false,
            drawn: None,
        }
    }

    /// A line said as it happens: on a terminal above the live line (redrawn at once).
    fn say(&mut self, line: &str) {
        if self.mode != Mode::Quiet {
            output::note(line);
        }
        self.draw();
    }

    /// Takes one record in; the line it is worth, if any (the start of a scenario and
    /// the boot are lines only where no live line shows them).
    fn take(&mut self, record: &Record, observed: &Observed) -> Option<String> {
        let plain = self.mode == Mode::Plain;
        match record {
            Record::Boot { release, .. } => {
                self.booted = true;
                plain.then(|| {
                    format!(
                        "schedbox: {} up after {}, kernel {release}; {} scenario(s), {} \
                         declared",
                        match observed.machine {
                            Machine::Vm => "guest",
                            Machine::Host => "schedbox-init",
                        },
                        seconds(self.start.elapsed()),
                        self.planned.len(),
                        seconds(Duration::from_millis(self.left_ms(0))),
                    )
                })
            }
            Record::Scenario { name, .. } => {
                let at = self.index(name)?;
                self.running = Some((at, Instant::now()));
                plain.then(|| {
                    format!(
                        "schedbox: scenario {}/{} {name}: started ({} declared)",
                        at + 1,
                        self.planned.len(),
                        seconds(Duration::from_millis(self.planned[at].duration_ms))
                    )
                })
            }
            Record::ScenarioEnd { name, .. } => {
                let at = self.index(name)?;
                let took = self.running.map_or(Duration::ZERO, |(_, t)| t.elapsed());
                self.running = None;
                self.ended = self.ended.max(at + 1);
                let outcome =
                    verdict::judge_scenario(observed, name, &self.expected, &self.payloads);
                Some(format!(
                    "schedbox: scenario {}/{} {name}: {} ({})",
                    at + 1,
                    self.planned.len(),
                    describe(&outcome),
                    seconds(took)
                ))
            }
            _ => None,
        }
    }

    /// Where `name` is in the plan: the first not yet ended (a name may come twice).
    fn index(&self, name: &str) -> Option<usize> {
        let from = self.running.map_or(self.ended, |(at, _)| at);
        (from..self.planned.len()).find(|&i| self.planned[i].name == name)
    }

    /// Declared time left from scenario `from` on, in ms, less what the running one
    /// already held.
    fn left_ms(&self, from: usize) -> u64 {
        let rest: u64 = self.planned[from.min(self.planned.len())..]
            .iter()
            .map(|p| p.duration_ms)
            .sum();
        let held = self.running.map_or(0, |(at, since)| {
            (since.elapsed().as_millis() as u64).min(self.planned[at].duration_ms)
        });
        rest - held
    }

    /// The live line as it stands now.
    fn line(&self) -> String {
        let elapsed = seconds(self.start.elapsed());
        let count = self.planned.len();
        let (now, from) = match self.running {
            Some((at, _)) => (format!("{}/{count} {}", at + 1, self.planned[at].name), at),
            None if !self.booted => (format!("0/{count} booting"), 0),
            None if self.ended >= count => (format!("{count}/{count} shutting down"), count),
            None => (
                format!("{}/{count} between scenarios", self.ended),
                self.ended,
            ),
        };
        let left = seconds(Duration::from_millis(self.left_ms(from)));
        format!("schedbox: scenario {now}, {elapsed} elapsed, ETA {left}")
    }

    fn draw(&mut self) {
        if self.mode == Mode::Live {
            output::live(Some(&self.line()));
            self.drawn = Some(Instant::now());
        }
    }
}

impl Watcher for Progress {
    fn record(&mut self, observed: &Observed) {
        let new: Vec<Record> = observed.records[self.seen..].to_vec();
        self.seen = observed.records.len();
        for record in &new {
            if let Some(line) = self.take(record, observed) {
                self.say(&line);
            }
        }
    }

    fn tick(&mut self) {
        if self.drawn.is_none_or(|at| at.elapsed() >= REDRAW) {
            self.draw();
        }
    }

    fn end(&mut self) {
        if self.mode == Mode::Live {
            output::live(None);
        }
    }
}

/// A scenario's verdict in a few words: the outcome, and the first reason.
fn describe(outcome: &ScenarioOutcome) -> String {
    match outcome {
        ScenarioOutcome::Pass => "pass".into(),
        ScenarioOutcome::Fail { failed } => format!("FAIL: {}", first(failed)),
        ScenarioOutcome::Untestable { reasons } => format!("untestable: {}", first(reasons)),
    }
}

fn first(reasons: &[String]) -> String {
    match reasons {
        [] => String::new(),
        [one] => one.clone(),
        [one, rest @ ..] => format!("{one} (and {} more)", rest.len()),
    }
}

/// Seconds to a tenth: "12.3 s".
fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests;
