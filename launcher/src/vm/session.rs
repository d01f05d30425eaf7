//! Runs one VM to its end under the host watchdog: collects console lines and records,
//! writes them to the run directory, and kills a guest that overruns or goes silent.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::mpsc::{channel, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::protocol::record::{self, Line, Record};
use crate::vm::backend::{Backend, BackendError, VmEvent, VmExit, VmSpec};
use crate::vm::console::{self, PanicScanner};

/// Console lines kept for reports of untestable runs.
pub const CONSOLE_TAIL_LINES: usize = 40;
/// How long a guest that has booted may go without sending any record.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(10);
/// How long the guest may take to power off after its `done` record.
pub const POWER_OFF_GRACE: Duration = Duration::from_secs(10);
/// How often the watchdog looks at the clock when no event arrives.
const TICK: Duration = Duration::from_millis(100);
/// How long a killed backend may take to report its exit before the run ends anyway.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// Watchdog limits for one run.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wall-clock limit for the whole run, from launch.
    pub timeout: Duration,
    pub silence: Duration,
    pub power_off_grace: Duration,
}

/// Why the run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    /// The VM ended by itself.
    Exited(VmExit),
    /// The run overran its timeout and was killed.
    TimedOut(Duration),
    /// The booted guest sent no record for this long and was killed.
    Silent(Duration),
    /// The guest sent `done` but did not power off in time, and was killed.
    NoPowerOff,
}

impl std::fmt::Display for RunEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunEnd::TimedOut(after) => {
                write!(f, "timed out after {} s and was killed", after.as_secs())
            }
            RunEnd::Silent(after) => {
                write!(
                    f,
                    "sent no record for {} s (hung?) and was killed",
                    after.as_secs()
                )
            }
            RunEnd::NoPowerOff => f.write_str("did not power off after done and was killed"),
            RunEnd::Exited(VmExit::PowerOff) => f.write_str("the VM powered off"),
            RunEnd::Exited(VmExit::Reset) => f.write_str("the VM reset (kernel panic or reboot)"),
            RunEnd::Exited(VmExit::Crashed(why)) => write!(f, "the VM crashed: {why}"),
            RunEnd::Exited(VmExit::Killed) => f.write_str("the VM was killed"),
        }
    }
}

/// Milliseconds from launch to each milestone, where it was reached.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Timings {
    pub first_console_ms: Option<u64>,
    pub boot_record_ms: Option<u64>,
    pub done_record_ms: Option<u64>,
    pub total_ms: u64,
}

/// Everything seen during a run.
#[derive(Debug, Clone)]
pub struct Observed {
    pub records: Vec<Record>,
    /// Record lines that could not be parsed, with the reason.
    pub malformed: Vec<String>,
    pub console_tail: Vec<String>,
    /// The kernel's panic message, if it panicked.
    pub panic: Option<String>,
    pub end: RunEnd,
    pub timings: Timings,
}

/// Where the raw streams go (the run directory's console.log and records.log).
pub struct Sinks<'a> {
    pub console: &'a mut dyn Write,
    pub records: &'a mut dyn Write,
    /// Echo console lines to stderr as they arrive.
    pub echo_console: bool,
}

/// State of a run in progress.
struct Watch {
    start: Instant,
    last_record: Option<Instant>,
    done_at: Option<Instant>,
    tail: VecDeque<String>,
    scanner: PanicScanner,
    observed: Observed,
}

/// Boots the VM and watches it until it ends.
pub fn run(
    backend: &dyn Backend,
    spec: &VmSpec,
    limits: &Limits,
    sinks: &mut Sinks,
) -> Result<Observed, BackendError> {
    let (tx, rx) = channel();
    let start = Instant::now();
    let mut handle = backend.launch(spec, tx)?;
    let mut watch = Watch::new(start);
    let mut kill_reason: Option<RunEnd> = None;
    let mut killed_at: Option<Instant> = None;
    loop {
        match rx.recv_timeout(TICK) {
            Ok(VmEvent::Console(line)) => watch.console(&line, sinks),
            Ok(VmEvent::Record(line)) => watch.record(&line, sinks),
            Ok(VmEvent::Exited(exit)) => {
                watch.observed.end = kill_reason.unwrap_or(RunEnd::Exited(exit));
                break;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                let why = "the backend stopped reporting without an exit".to_string();
                watch.observed.end = kill_reason.unwrap_or(RunEnd::Exited(VmExit::Crashed(why)));
                break;
            }
        }
        if let (Some(reason), Some(at)) = (&kill_reason, killed_at) {
            if at.elapsed() > KILL_WAIT {
                watch.observed.end = reason.clone();
                break;
            }
        } else if let Some(reason) = watch.overrun(limits) {
            kill_reason = Some(reason);
            killed_at = Some(Instant::now());
            handle.kill();
        }
    }
    Ok(watch.finish())
}

impl Watch {
    fn new(start: Instant) -> Self {
        Self {
            start,
            last_record: None,
            done_at: None,
            tail: VecDeque::new(),
            scanner: PanicScanner::default(),
            observed: Observed {
                records: Vec::new(),
                malformed: Vec::new(),
                console_tail: Vec::new(),
                panic: None,
                end: RunEnd::Exited(VmExit::Killed),
                timings: Timings::default(),
            },
        }
    }

    fn elapsed_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn console(&mut self, line: &str, sinks: &mut Sinks) {
        // A full disk must not kill the run: the report still says what happened.
        let _ = writeln!(sinks.console, "{line}");
        if sinks.echo_console {
            eprintln!("console: {line}");
        }
        let timings = &mut self.observed.timings;
        timings
            .first_console_ms
            .get_or_insert(self.start.elapsed().as_millis() as u64);
        if self.tail.len() == CONSOLE_TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(console::clean(line));
        self.scanner.feed(line);
    }

    fn record(&mut self, line: &str, sinks: &mut Sinks) {
        let _ = writeln!(sinks.records, "{line}");
        let now_ms = self.elapsed_ms();
        match record::parse_line(line) {
            Line::Record(record) => {
                self.last_record = Some(Instant::now());
                match &record {
                    Record::Boot { .. } => self.observed.timings.boot_record_ms = Some(now_ms),
                    Record::Done { .. } => {
                        self.observed.timings.done_record_ms = Some(now_ms);
                        self.done_at = Some(Instant::now());
                    }
                    _ => {}
                }
                self.observed.records.push(record);
            }
            Line::Malformed(why) => self.observed.malformed.push(why),
            Line::NotRecord => {}
        }
    }

    /// The reason to kill the VM now, if any.
    fn overrun(&self, limits: &Limits) -> Option<RunEnd> {
        if let Some(done) = self.done_at {
            return (done.elapsed() > limits.power_off_grace).then_some(RunEnd::NoPowerOff);
        }
        if self.start.elapsed() > limits.timeout {
            return Some(RunEnd::TimedOut(limits.timeout));
        }
        let booted = self.observed.timings.boot_record_ms.is_some();
        match self.last_record {
            Some(last) if booted && last.elapsed() > limits.silence => {
                Some(RunEnd::Silent(limits.silence))
            }
            _ => None,
        }
    }

    fn finish(mut self) -> Observed {
        self.observed.timings.total_ms = self.elapsed_ms();
        self.observed.console_tail = self.tail.into_iter().collect();
        self.observed.panic = self.scanner.panic();
        self.observed
    }
}

#[cfg(test)]
mod tests;
