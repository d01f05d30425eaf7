//! Runs one VM to its end under the host watchdog: collects console lines and records,
//! writes them to the run directory, and kills a guest that overruns or goes silent.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::mpsc::{channel, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::protocol::record::{self, Line, ProtocolErrors, Record};
use crate::vm::backend::{Backend, BackendError, Machine, RecordsChannel, VmEvent, VmExit, VmSpec};
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
/// How long the console may go on after a panic line (its stack trace, the end line)
/// before the VM is stopped; `panic=0` would otherwise hang it until the timeout.
const PANIC_GRACE: Duration = Duration::from_millis(1000);

/// Watchdog limits for one run.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wall-clock limit for the whole run, from launch.
    pub timeout: Duration,
    pub silence: Duration,
    pub power_off_grace: Duration,
    /// Stop the VM once the `done` record is in rather than wait for the guest to
    /// power off: nothing judged comes after it, and a power-off under emulation
    /// takes a large share of a short run.
    pub stop_at_done: bool,
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
    /// The guest sent `done`, its last record, and schedbox stopped the VM there.
    StoppedAtDone,
    /// The kernel panicked (or an oops stopped it); the VM was stopped at once rather
    /// than left to hang (`panic=0`) until the timeout.
    Panicked,
    /// schedbox got this signal (SIGINT, SIGTERM) and stopped the VM.
    Interrupted(i32),
    /// The host could not record the run (e.g. the run directory's disk is full).
    HostFault(String),
}

impl RunEnd {
    /// Ends that say nothing about the kernel: the run cannot be judged bad.
    pub fn is_host_side(&self) -> bool {
        matches!(
            self,
            RunEnd::Interrupted(_) | RunEnd::HostFault(_) | RunEnd::Exited(VmExit::Crashed(_))
        )
    }
}

impl RunEnd {
    /// How the run ended, in the words of the machine it ran in.
    pub fn describe(&self, machine: Machine) -> String {
        let host = machine == Machine::Host;
        let it = if host { "schedbox-init" } else { "the VM" };
        match self {
            RunEnd::TimedOut(after) => {
                format!("timed out after {} s and was killed", after.as_secs())
            }
            RunEnd::Silent(after) => format!(
                "sent no record for {} s (hung?) and was killed",
                after.as_secs()
            ),
            RunEnd::NoPowerOff if host => "did not exit after done and was killed".into(),
            RunEnd::NoPowerOff => "did not power off after done and was killed".into(),
            RunEnd::StoppedAtDone => "schedbox stopped the VM after its done record".into(),
            RunEnd::Panicked => format!("schedbox stopped {it} at the kernel panic"),
            RunEnd::Interrupted(signal) => format!(
                "schedbox got {} and stopped {it}",
                crate::signals::name(*signal)
            ),
            RunEnd::HostFault(why) => {
                format!("the host could not record the run ({why}); {it} was stopped")
            }
            RunEnd::Exited(VmExit::PowerOff) if host => "schedbox-init exited".into(),
            RunEnd::Exited(VmExit::PowerOff) => "the VM powered off".into(),
            RunEnd::Exited(VmExit::Reset) => format!("{it} reset"),
            RunEnd::Exited(VmExit::Stopped) => format!(
                "{it} stopped by itself (powered off or reset: the console did not say which)"
            ),
            RunEnd::Exited(VmExit::Crashed(why)) if host => format!("schedbox-init failed: {why}"),
            RunEnd::Exited(VmExit::Crashed(why)) => format!("the VM crashed: {why}"),
            RunEnd::Exited(VmExit::Killed) => format!("{it} was killed"),
        }
    }
}

impl std::fmt::Display for RunEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe(Machine::Vm))
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
    /// When each of `records` arrived, in ms from launch.
    pub arrivals_ms: Vec<u64>,
    /// Record lines that could not be read: a protocol error, the run is untestable.
    pub malformed: ProtocolErrors,
    pub console_tail: Vec<String>,
    /// The kernel's panic message, if it panicked.
    pub panic: Option<String>,
    /// The channels that carried records, in the order their first records came.
    pub records_channels: Vec<RecordsChannel>,
    pub end: RunEnd,
    pub timings: Timings,
    /// What the run happened in, for the words of its reasons.
    pub machine: Machine,
}

impl Observed {
    /// How the run ended, in words.
    pub fn end_text(&self) -> String {
        self.end.describe(self.machine)
    }
}

/// Where the raw streams go (the run directory's console.log and records.log).
pub struct Sinks<'a> {
    pub console: &'a mut dyn Write,
    pub records: &'a mut dyn Write,
    /// Echo console lines to stderr as they arrive.
    pub echo_console: bool,
    /// Told of each record and tick as the run goes (progress for the user).
    pub watcher: Option<&'a mut (dyn Watcher + 'static)>,
}

/// Follows a run as it goes, for a person watching: each record as it arrives, with
/// everything observed so far, and each turn of the watch loop (about every
/// [`TICK`]); `end` once the VM is gone.
pub trait Watcher {
    fn record(&mut self, observed: &Observed);
    fn tick(&mut self);
    fn end(&mut self);
}

/// State of a run in progress.
struct Watch {
    start: Instant,
    last_record: Option<Instant>,
    done_at: Option<Instant>,
    tail: VecDeque<String>,
    scanner: PanicScanner,
    /// When the console first showed a panic, and whether its end line has come.
    panicked_at: Option<Instant>,
    panic_over: bool,
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
    watch.observed.machine = backend.machine();
    let mut kill: Option<(RunEnd, Instant)> = None;
    loop {
        let event = rx.recv_timeout(TICK);
        if let Some(watcher) = sinks.watcher.as_deref_mut() {
            watcher.tick();
        }
        let exit = match event {
            Ok(VmEvent::Console(line)) => watch.console(&line, sinks).err(),
            Ok(VmEvent::Record(line)) => watch.record(&line, sinks).err(),
            Ok(VmEvent::Channel(channel)) => {
                watch.observed.records_channels.push(channel);
                None
            }
            Ok(VmEvent::Exited(exit)) => {
                watch.observed.end = match kill {
                    // The guest may have powered off before the stop reached it.
                    Some((RunEnd::StoppedAtDone, _)) if exit != VmExit::Killed => {
                        RunEnd::Exited(exit)
                    }
                    Some((end, _)) => end,
                    None => RunEnd::Exited(exit),
                };
                break;
            }
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                let why = "the backend stopped reporting without an exit".to_string();
                let lost = RunEnd::Exited(VmExit::Crashed(why));
                watch.observed.end = kill.map_or(lost, |(end, _)| end);
                break;
            }
        };
        if let Some((end, at)) = &kill {
            if at.elapsed() > KILL_WAIT {
                watch.observed.end = end.clone();
                break;
            }
        } else if let Some(end) = exit.or_else(|| watch.overrun(limits)) {
            kill = Some((end, Instant::now()));
            handle.kill();
        }
    }
    // A signal that came as the VM ended still decides how the run is reported.
    if let Some(signal) = crate::signals::received() {
        watch.observed.end = RunEnd::Interrupted(signal);
    }
    if let Some(watcher) = sinks.watcher.as_deref_mut() {
        watcher.end();
    }
    Ok(watch.finish())
}

/// A run-directory write that failed: the run cannot be recorded.
fn unrecorded(what: &str, e: std::io::Error) -> RunEnd {
    RunEnd::HostFault(format!("cannot write the {what}: {e}"))
}

impl Watch {
    fn new(start: Instant) -> Self {
        Self {
            start,
            last_record: None,
            done_at: None,
            tail: VecDeque::new(),
            scanner: PanicScanner::default(),
            panicked_at: None,
            panic_over: false,
            observed: Observed {
                records: Vec::new(),
                arrivals_ms: Vec::new(),
                malformed: Default::default(),
                console_tail: Vec::new(),
                panic: None,
                records_channels: Vec::new(),
                end: RunEnd::Exited(VmExit::Killed),
                timings: Timings::default(),
                machine: Machine::Vm,
            },
        }
    }

    fn elapsed_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Takes a console line; Err is a write that failed.
    fn console(&mut self, line: &str, sinks: &mut Sinks) -> Result<(), RunEnd> {
        writeln!(sinks.console, "{line}")
            .and_then(|()| sinks.console.flush())
            .map_err(|e| unrecorded("console log", e))?;
        if sinks.echo_console {
            crate::output::note(&format!("console: {line}"));
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
        if self.panicked_at.is_none() && self.scanner.panic().is_some() {
            self.panicked_at = Some(Instant::now());
        }
        if console::panic_ended(line) {
            self.panic_over = true;
        }
        Ok(())
    }

    /// Takes a record line; Err is a write that failed.
    fn record(&mut self, line: &str, sinks: &mut Sinks) -> Result<(), RunEnd> {
        writeln!(sinks.records, "{line}")
            .and_then(|()| sinks.records.flush())
            .map_err(|e| unrecorded("record log", e))?;
        let now_ms = self.elapsed_ms();
        match record::decode(line) {
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
                self.observed.arrivals_ms.push(now_ms);
                if let Some(watcher) = sinks.watcher.as_deref_mut() {
                    watcher.record(&self.observed);
                }
            }
            Line::Malformed(why) => self.observed.malformed.push(why),
            Line::NotRecord => {}
        }
        Ok(())
    }

    /// The reason to kill the VM now, if any.
    fn overrun(&self, limits: &Limits) -> Option<RunEnd> {
        if let Some(signal) = crate::signals::received() {
            return Some(RunEnd::Interrupted(signal));
        }
        if let Some(at) = self.panicked_at {
            if self.panic_over || at.elapsed() > PANIC_GRACE {
                return Some(RunEnd::Panicked);
            }
        }
        // A panic on the console is left its grace, so the run's end names it.
        if limits.stop_at_done && self.done_at.is_some() && self.panicked_at.is_none() {
            return Some(RunEnd::StoppedAtDone);
        }
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
