//! The sched_ext scheduler under test: started before the scenarios and waited for
//! until the kernel reports it enabled, watched while they run (its sysfs state each
//! sample, its process, its output), detached and attached again when a step asks,
//! judged by the `scheduler` check over the windows it was meant to be attached,
//! stopped at the end.

use crate::engine::check::{self, CheckSpec};
use crate::engine::evidence;
use crate::engine::plan::{Line, Lossy};
use crate::platform::buf::{parse_u64, trim_end, Buf};
use crate::platform::capture::Capture;
use crate::platform::exec::{self, Argv, End};
use crate::platform::fail::{Errno, Res};
use crate::platform::kmsg;
use crate::platform::record::{EvidenceCause, OutputSource, Record, RecordKind, SchedulerEvent};
use crate::platform::sys::{self, NS_PER_MS};
use core::ffi::CStr;
use core::fmt::Write;
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed};
use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags};
use rustix::process::Signal;
use schedbox_protocol::limits::SCHEDULER_OUTPUT_LINES as MAX_OUTPUT_LINES;
use schedbox_protocol::vocab::Op;

const SCX_DIR: &CStr = c"/sys/kernel/sched_ext";
const STATE: &CStr = c"/sys/kernel/sched_ext/state";
const OPS: &CStr = c"/sys/kernel/sched_ext/root/ops";
pub use schedbox_protocol::limits::DEFAULT_ATTACH_MS;
const POLL_NS: u64 = 10 * NS_PER_MS;
/// How long the scheduler gets to detach after SIGINT before it is killed.
const STOP_MS: u64 = 5_000;
/// How long after leaving `enabled` the kernel's reason is waited for.
const REASON_WAIT_MS: u64 = 2_000;
/// Kernel log records read looking for the reason, at most: the log is finite, but a
/// kernel that logs faster than PID 1 reads must not hold it up.
const KMSG_MAX_RECORDS: usize = 100_000;
/// How long after a CPU hotplug the kernel gets to exit a scheduler that has no CPU
/// hotplug callbacks: it asks from the hotplug itself and a real-time kernel thread
/// disables the scheduler right after. A scheduler still enabled by then has the
/// callbacks (or the kernel's exit comes later and is judged as an ejection).
const HOTPLUG_EXIT_WAIT_MS: u64 = 1_000;
/// The kernel's reason when it exits a scheduler itself, as it does on a CPU hotplug
/// for one without the callbacks (`SCX_EXIT_UNREG_KERN`).
const REASON_UNREG_KERN: &[u8] = b"unregistered from the main kernel";

type Word = Buf<64>;
type Why = Buf<256>;

#[derive(Default)]
enum Health {
    /// The plan starts no scheduler.
    #[default]
    Absent,
    Starting,
    Enabled,
    /// Seen out of `enabled` at `at_ms`; the kernel's reason may not be logged yet.
    Leaving {
        at_ms: u64,
    },
    /// Detached on a step's request: not meant to be attached until a step attaches it.
    Detached,
    /// Not (or no longer) the plan's scheduler running; `why` says what happened.
    Failed,
}

#[derive(Default)]
pub struct Scheduler {
    /// The plan's `name` (what root/ops must say), or empty to accept any.
    want: Word,
    /// What records call it: the line's label, else its name, else the binary's file name.
    label: Word,
    /// The `label=` of the scheduler line it runs now; empty for the run's own.
    line_label: Word,
    ops: Word,
    /// 0 once the process is reaped.
    pid: i32,
    /// The process's pid for records, kept after it is reaped.
    shown_pid: i32,
    out: Capture,
    state_fd: Option<OwnedFd>,
    health: Health,
    /// What happened to it, for the check's detail, once `Failed`.
    why: Why,
    /// The first failure in the current scenario (empty: none); kept across a later
    /// attach, so that an ejection is not forgiven by a restart.
    scenario_why: Why,
    /// The kernel log's noted departures when it last attached: a reason noted before
    /// (a detach's) is not this attachment's.
    noted_at_attach: u32,
    /// When an attach began (ms), for its `took_ms`.
    attach_began_ms: u64,
}

/// The scheduler as a transition found it: its state and ops name, and when.
pub struct Before {
    op: Option<Op>,
    state: Word,
    ops: Word,
    t_ms: u64,
}

impl Scheduler {
    /// Starts the `scheduler` line's binary and waits, calling `tick` (heartbeats),
    /// until the kernel has it enabled or it failed to get there. Errors only when the
    /// kernel cannot run a sched_ext scheduler at all; a scheduler that does not
    /// attach is a `scheduler` record and failing checks. `detached`: the first
    /// scenario starts without it, so it is only made ready, not started.
    pub fn start(line: &Line<'_>, detached: bool, tick: &mut dyn FnMut()) -> Res<Self> {
        let mut s = Scheduler {
            out: Capture::closed(MAX_OUTPUT_LINES),
            ..Scheduler::default()
        };
        s.open_state()?;
        evidence::prepare_sched_ext_dump();
        if detached {
            s.name_after(line);
            s.health = Health::Detached;
            return Ok(s);
        }
        let before = s.before(None);
        s.launch(line, before, tick)?;
        Ok(s)
    }

    /// Takes the names of the scheduler line it is about to run.
    fn name_after(&mut self, line: &Line<'_>) {
        let path = line.get("path").unwrap_or_default();
        let label = line.get("label");
        self.want = Word::from_bytes(line.get("name").unwrap_or_default());
        self.label = Word::from_bytes(label.or(line.get("name")).unwrap_or(basename(path)));
        self.line_label = Word::from_bytes(label.unwrap_or_default());
        self.ops = Word::new();
    }

    /// The `label=` of the scheduler line it runs (or last ran); None for the run's own.
    pub fn line_label(&self) -> Option<&[u8]> {
        Some(self.line_label.as_bytes()).filter(|l| !l.is_empty())
    }

    /// Starts the process of the `scheduler` line and waits for it to attach.
    fn launch(&mut self, line: &Line<'_>, before: Before, tick: &mut dyn FnMut()) -> Res<()> {
        self.name_after(line);
        let path = line.get("path").unwrap_or_default();
        let argv = Argv::new(path, line.all("arg"))
            .ok_or_else(|| fail!(Scheduler, "arguments of {:?} do not fit", Lossy(path)))?;
        self.health = Health::Starting;
        self.attach_began_ms = before.t_ms;
        let child = exec::spawn(&argv, None, exec::Output::Pipe)?;
        self.pid = child.pid;
        self.shown_pid = child.pid;
        self.out = Capture::new(child.out, MAX_OUTPUT_LINES);
        self.wait_attached(
            line.num("attach_ms").unwrap_or(DEFAULT_ATTACH_MS),
            &before,
            tick,
        );
        Ok(())
    }

    /// What a transition starts from.
    pub fn before(&self, op: Option<Op>) -> Before {
        Before {
            op,
            state: self.state(),
            ops: read_word(OPS),
            t_ms: sys::now_ms(),
        }
    }

    /// A scenario begins: its `scheduler` check judges from here. A scheduler that
    /// failed earlier is not attached now, as it was meant to be.
    pub fn begin_scenario(&mut self) {
        self.scenario_why = match self.health {
            Health::Failed => self.why.clone(),
            _ => Why::new(),
        };
    }

    /// Whether the kernel has it enabled, as last seen.
    pub fn is_enabled(&self) -> bool {
        matches!(self.health, Health::Enabled)
    }

    /// Whether a step detached it and none attached it again.
    pub fn is_detached(&self) -> bool {
        matches!(self.health, Health::Detached)
    }

    /// `scheduler-detach` (and the first half of `scheduler-restart`): stops the
    /// process, which unregisters the scheduler, and waits for the kernel to have
    /// sched_ext disabled. A scheduler that already failed has nothing to detach;
    /// its failure stays the scenario's. `op` is None when PID 1 detaches it between
    /// scenarios (a replacement's, or before a scenario that starts detached).
    pub fn detach(&mut self, op: Option<Op>, tick: &mut dyn FnMut()) {
        self.poll();
        self.resolve(true);
        let before = self.before(op);
        let mut status = None;
        if self.pid != 0 {
            let end = self.stop_process(tick);
            self.finish_output();
            status = Some(end);
        }
        let disabled = self.wait_state(b"disabled", STOP_MS, tick);
        let was_enabled = matches!(self.health, Health::Enabled);
        self.health = Health::Detached;
        let mut r = self.transition(SchedulerEvent::Detached, &before);
        if let Some(end) = status {
            r = r.str("status", end.text().as_bytes());
        }
        r.send();
        if was_enabled && !disabled {
            let mut why = Why::new();
            let _ = write!(
                why,
                "scheduler {} did not detach within {} ms (state {})",
                self.label,
                STOP_MS,
                self.state()
            );
            self.failed(why);
        }
    }

    /// `scheduler-attach` (and the second half of `scheduler-restart`): starts the
    /// program of `line` (the run's scheduler line, or a labelled one) and waits for the
    /// kernel to have it enabled.
    pub fn attach(&mut self, line: &Line<'_>, op: Option<Op>, tick: &mut dyn FnMut()) -> Res<()> {
        if !self.is_detached() {
            return Ok(());
        }
        let before = self.before(op);
        self.launch(line, before, tick)
    }

    /// After a CPU hotplug: a scheduler without CPU hotplug callbacks is exited by the
    /// kernel (`unregistered from the main kernel`) and its process attaches it again,
    /// which is what sched_ext asks of it: a `restarted` record, not a failure. Any
    /// other departure is left to [`Scheduler::poll`], which reports an ejection.
    /// `before` was taken before the CPUs changed; the kernel log's departures noted
    /// then are in `noted_at_attach`.
    pub fn after_hotplug(&mut self, before: Before, attach_ms: u64, tick: &mut dyn FnMut()) {
        if !matches!(self.health, Health::Enabled) {
            return;
        }
        let op = before.op.unwrap_or(Op::CpuOnline);
        let seq = self.noted_at_attach;
        if self.wait_state_not(b"enabled", HOTPLUG_EXIT_WAIT_MS, tick) {
            return;
        }
        let left_ms = sys::now_ms();
        // The kernel logs its reason once the scheduler is disabled.
        self.wait_state(b"disabled", REASON_WAIT_MS, tick);
        scan_kmsg();
        let noted = NOTED.seq.load(Relaxed) != seq;
        if !noted || !NOTED.reason.get().eq_bytes(REASON_UNREG_KERN) {
            self.health = Health::Leaving { at_ms: left_ms };
            return;
        }
        let deadline = sys::now_ms().saturating_add(attach_ms);
        loop {
            tick();
            self.drain();
            if let Some(end) = exec::try_reap(self.pid) {
                self.pid = 0;
                return self.exited(end);
            }
            if self.state().eq_bytes(b"enabled") && self.ops_match() {
                scan_kmsg();
                self.noted_at_attach = NOTED.seq.load(Relaxed);
                self.transition(SchedulerEvent::Restarted, &before)
                    .str("reason", REASON_UNREG_KERN)
                    .send();
                return;
            }
            if sys::now_ms() >= deadline {
                let mut why = Why::new();
                let _ = write!(
                    why,
                    "exited by the kernel on {} and not attached again within {} ms (state {})",
                    op,
                    attach_ms,
                    self.state()
                );
                let end = self.stop_process(tick);
                return self.attach_failed(&why, Some(end));
            }
            sys::sleep_ns(POLL_NS);
        }
    }

    /// Waits (bounded by `ms`) until the state reads `want`; whether it did.
    fn wait_state(&mut self, want: &[u8], ms: u64, tick: &mut dyn FnMut()) -> bool {
        let deadline = sys::now_ms().saturating_add(ms);
        loop {
            if self.state().eq_bytes(want) {
                return true;
            }
            if sys::now_ms() >= deadline {
                return false;
            }
            tick();
            self.drain();
            sys::sleep_ns(POLL_NS);
        }
    }

    /// Waits (bounded by `ms`) while the state reads `word`; whether it still does.
    fn wait_state_not(&mut self, word: &[u8], ms: u64, tick: &mut dyn FnMut()) -> bool {
        let deadline = sys::now_ms().saturating_add(ms);
        loop {
            if !self.state().eq_bytes(word) {
                return false;
            }
            if sys::now_ms() >= deadline {
                return true;
            }
            tick();
            self.drain();
            sys::sleep_ns(POLL_NS);
        }
    }

    fn ops_match(&self) -> bool {
        self.want.is_empty() || read_word(OPS).eq_bytes(self.want.as_bytes())
    }

    /// A transition's record: where it started, what it ended in, how long it took.
    fn transition(&self, event: SchedulerEvent, before: &Before) -> Record {
        let now = sys::now_ms();
        let mut r = self.record(event, now);
        if let Some(op) = before.op {
            r = r.word("op", op);
        }
        r.num("took_ms", now.saturating_sub(before.t_ms))
            .str("state_before", before.state.as_bytes())
            .str("ops_before", before.ops.as_bytes())
    }

    fn open_state(&mut self) -> Res<()> {
        if !sys::exists(SCX_DIR) {
            return Err(fail!(
                Scheduler,
                "this kernel has no sched_ext (no {:?}): the plan's scheduler needs a kernel built with CONFIG_SCHED_CLASS_EXT=y",
                SCX_DIR
            ));
        }
        let fd = rustix::fs::open(STATE, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| fail!(Scheduler, "open {:?}: {}", STATE, Errno(e)))?;
        self.state_fd = Some(fd);
        let state = self.state();
        if !state.eq_bytes(b"disabled") {
            return Err(fail!(
                Scheduler,
                "sched_ext is {} before the plan's scheduler started (ops {})",
                state,
                read_word(OPS)
            ));
        }
        Ok(())
    }

    fn wait_attached(&mut self, attach_ms: u64, before: &Before, tick: &mut dyn FnMut()) {
        let deadline = sys::now_ns().saturating_add(attach_ms.saturating_mul(NS_PER_MS));
        loop {
            tick();
            self.drain();
            if let Some(end) = exec::try_reap(self.pid) {
                self.pid = 0;
                let mut why = Why::new();
                let _ = write!(why, "exited with status {} before attaching", end.text());
                return self.attach_failed(&why, Some(end));
            }
            let state = self.state();
            if state.eq_bytes(b"enabled") {
                let ops = read_word(OPS);
                if self.want.is_empty() || ops.eq_bytes(self.want.as_bytes()) {
                    self.ops = ops;
                    self.health = Health::Enabled;
                    // Departures logged before (a detach's) are not this attachment's.
                    scan_kmsg();
                    self.noted_at_attach = NOTED.seq.load(Relaxed);
                    self.transition(SchedulerEvent::Attached, before).send();
                    return;
                }
                let mut why = Why::new();
                let _ = write!(why, "attached as {:?}, not {:?}", ops, self.want);
                self.ops = ops;
                let end = self.stop_process(tick);
                return self.attach_failed(&why, Some(end));
            }
            if sys::now_ns() >= deadline {
                self.ops = read_word(OPS);
                let mut why = Why::new();
                let _ = write!(
                    why,
                    "not attached within {} ms (state {}, ops {:?})",
                    attach_ms, state, self.ops
                );
                let end = self.stop_process(tick);
                return self.attach_failed(&why, Some(end));
            }
            sys::sleep_ns(POLL_NS);
        }
    }

    fn attach_failed(&mut self, why: &Why, end: Option<End>) {
        self.finish_output();
        let mut r = self
            .record(SchedulerEvent::AttachFailed, sys::now_ms())
            .str("reason", why.as_bytes());
        if let Some(end) = end {
            r = r.str("status", end.text().as_bytes());
        }
        r.str("output", self.out.tail().as_bytes()).send();
        let mut detail = Why::new();
        let _ = write!(detail, "scheduler {} {}", self.label, why);
        self.failed(detail);
    }

    fn failed(&mut self, why: Why) {
        if self.scenario_why.is_empty() {
            self.scenario_why = why.clone();
        }
        self.why = why;
        self.health = Health::Failed;
    }

    /// One look, each monitor sample: the state (a pread of the open sysfs file),
    /// the process, its output. Cheap while all is well.
    pub fn poll(&mut self) {
        if matches!(self.health, Health::Absent) {
            return;
        }
        if matches!(self.health, Health::Enabled) {
            let state = self.state();
            if !state.eq_bytes(b"enabled") {
                self.health = Health::Leaving {
                    at_ms: sys::now_ms(),
                };
            }
        }
        if self.pid != 0 {
            self.drain();
            if let Some(end) = exec::try_reap(self.pid) {
                self.resolve(true);
                self.pid = 0;
                self.exited(end);
                return;
            }
        }
        self.resolve(false);
    }

    /// Reports a departure from `enabled` once the kernel has logged why (or waiting
    /// longer is pointless, or `now`).
    fn resolve(&mut self, now: bool) {
        let Health::Leaving { at_ms } = self.health else {
            return;
        };
        let state = self.state();
        let noted = NOTED.seq.load(Relaxed) != self.noted_at_attach;
        let settled = state.eq_bytes(b"disabled") || noted;
        if !now && !settled && sys::now_ms() < at_ms + REASON_WAIT_MS {
            return;
        }
        if !noted {
            scan_kmsg();
        }
        let (reason, msg) = (NOTED.reason.get(), NOTED.msg.get());
        let mut r = self.record(SchedulerEvent::Ejected, at_ms);
        let t_us = NOTED.t_us.load(Relaxed);
        if t_us != 0 {
            r = r.num("kmsg_t_ms", t_us / sys::US_PER_MS);
        }
        let r = if reason.is_empty() {
            r.str("reason", b"unknown (the kernel logged none)")
        } else {
            r.str("reason", reason.as_bytes())
        };
        if msg.is_empty() {
            r
        } else {
            r.str("msg", msg.as_bytes())
        }
        .send();
        // The kernel wrote its state dump as it ejected the scheduler.
        evidence::sched_ext_dump(EvidenceCause::Ejected, None, None, false);
        let mut why = Why::new();
        let _ = write!(
            why,
            "scheduler {} stopped being enabled at t_ms={}",
            self.label, at_ms
        );
        if !reason.is_empty() {
            let _ = write!(why, ": {}", reason);
        }
        self.failed(why);
    }

    /// The process ended on its own while the scenarios ran.
    fn exited(&mut self, end: End) {
        self.finish_output();
        let t_ms = sys::now_ms();
        self.record(SchedulerEvent::Exited, t_ms)
            .str("status", end.text().as_bytes())
            .str("output", self.out.tail().as_bytes())
            .send();
        if let Health::Enabled | Health::Starting = self.health {
            if let Health::Enabled = self.health {
                // A dump if the kernel wrote one as the program went (a BPF error), and
                // the program's output with it on the host.
                evidence::sched_ext_dump(EvidenceCause::Exited, None, None, false);
            }
            let mut why = Why::new();
            let _ = write!(
                why,
                "scheduler {} exited with status {} at t_ms={}",
                self.label,
                end.text(),
                t_ms
            );
            self.failed(why);
        }
    }

    /// The `scheduler` check of a scenario: 0 when the plan's scheduler was enabled
    /// whenever it was meant to be (a detach a step asked for is no failure), else 1
    /// with what happened to it. Reports the check; returns whether it passed.
    pub fn check(&mut self, scenario: &[u8], spec: &CheckSpec) -> bool {
        self.poll();
        self.resolve(true);
        let (value, detail): (u64, &[u8]) = match &self.health {
            _ if !self.scenario_why.is_empty() => (1, self.scenario_why.as_bytes()),
            Health::Enabled | Health::Detached => (0, b""),
            Health::Failed => (1, self.why.as_bytes()),
            Health::Absent => (1, b"the plan starts no scheduler"),
            Health::Starting | Health::Leaving { .. } => (1, b"scheduler not enabled"),
        };
        let pass = value <= spec.limit;
        check::report_detail(scenario, spec, pass, value, detail);
        pass
    }

    /// Stops the scheduler at the end of the run (SIGINT, then SIGKILL) and reports how
    /// it ended.
    pub fn stop(&mut self, tick: &mut dyn FnMut()) {
        if self.pid == 0 {
            return;
        }
        self.poll();
        if self.pid == 0 {
            return;
        }
        self.resolve(true);
        let end = self.stop_process(tick);
        self.finish_output();
        self.record(SchedulerEvent::Stopped, sys::now_ms())
            .str("status", end.text().as_bytes())
            .send();
        self.health = Health::Absent;
    }

    /// SIGINT, a bounded wait draining output, SIGKILL if it is still there.
    fn stop_process(&mut self, tick: &mut dyn FnMut()) -> End {
        exec::signal(self.pid, Signal::INT);
        let deadline = sys::now_ms() + STOP_MS;
        let end = loop {
            tick();
            self.drain();
            if let Some(end) = exec::try_reap(self.pid) {
                break end;
            }
            if sys::now_ms() >= deadline {
                exec::kill(self.pid);
                break End::Killed;
            }
            sys::sleep_ns(POLL_NS);
        };
        self.pid = 0;
        end
    }

    fn drain(&mut self) {
        let label = &self.label;
        self.out.drain(&mut |text| output(label, text));
    }

    fn finish_output(&mut self) {
        let label = &self.label;
        self.out.finish(&mut |text| output(label, text));
    }

    /// A `scheduler` record with the keys every event has.
    fn record(&self, event: SchedulerEvent, t_ms: u64) -> Record {
        let mut r = Record::new(RecordKind::Scheduler)
            .word("event", event)
            .str("name", self.label.as_bytes())
            .str("state", self.state().as_bytes())
            .str("ops", self.ops.as_bytes())
            .num("pid", self.shown_pid as u64)
            .num("t_ms", t_ms);
        if self.out.dropped > 0 {
            r = r.num("dropped", self.out.dropped);
        }
        r
    }

    /// `/sys/kernel/sched_ext/state`, re-read through the open file.
    fn state(&self) -> Word {
        let Some(fd) = &self.state_fd else {
            return Word::from_bytes(b"absent");
        };
        let mut buf = [0u8; 32];
        match rustix::io::pread(fd, &mut buf, 0) {
            Ok(n) => Word::from_bytes(trim_end(&buf[..n])),
            Err(_) => Word::from_bytes(b"unreadable"),
        }
    }
}

fn output(label: &Word, text: &[u8]) {
    Record::new(RecordKind::Output)
        .word("source", OutputSource::Scheduler)
        .str("name", label.as_bytes())
        .str("text", text)
        .send();
}

fn basename(path: &[u8]) -> &[u8] {
    path.rsplit(|&c| c == b'/').next().unwrap_or(path)
}

/// A small sysfs file's first word-like line; empty when unreadable.
fn read_word(path: &CStr) -> Word {
    let mut buf = [0u8; 64];
    match sys::read_file(path, &mut buf) {
        Ok(n) => Word::from_bytes(trim_end(&buf[..n])),
        Err(_) => Word::new(),
    }
}

const REASON_LEN: usize = 160;

/// Text kept in a static; PID 1 is single-threaded, atomics only make it `Sync`.
struct Text {
    len: AtomicUsize,
    bytes: [AtomicU8; REASON_LEN],
}

impl Text {
    const fn new() -> Self {
        Text {
            len: AtomicUsize::new(0),
            bytes: [const { AtomicU8::new(0) }; REASON_LEN],
        }
    }

    fn set(&self, b: &[u8]) {
        let n = b.len().min(REASON_LEN);
        for (dst, &src) in self.bytes.iter().zip(&b[..n]) {
            dst.store(src, Relaxed);
        }
        self.len.store(n, Relaxed);
    }

    fn get(&self) -> Buf<{ REASON_LEN + 1 }> {
        let mut out = Buf::new();
        for b in &self.bytes[..self.len.load(Relaxed).min(REASON_LEN)] {
            out.push_byte(b.load(Relaxed));
        }
        out
    }
}

/// The last "BPF scheduler ... disabled (reason)" of the kernel log and the message
/// line that follows it.
struct Noted {
    seq: AtomicU32,
    /// The kernel log's timestamp of the line, µs; 0 when the line came without it.
    t_us: AtomicU64,
    name: Text,
    reason: Text,
    msg: Text,
}

static NOTED: Noted = Noted {
    seq: AtomicU32::new(0),
    t_us: AtomicU64::new(0),
    name: Text::new(),
    reason: Text::new(),
    msg: Text::new(),
};

const DISABLED_HEAD: &[u8] = b"sched_ext: BPF scheduler \"";
const DISABLED_MID: &[u8] = b"\" disabled (";

/// Notes a kernel log line (a `/dev/kmsg` record or its text) that tells the kernel's
/// reason for an ejection, or the scheduler's message right after it. `NOTED.seq` is
/// the record's own sequence number (plus one), so reading the log again notes nothing
/// new; a line without one counts on from the last.
fn note_kmsg_line(line: &[u8]) {
    let (head, line) = split_kmsg(trim_end(line));
    if let Some(at) = find(line, DISABLED_HEAD) {
        let rest = &line[at + DISABLED_HEAD.len()..];
        let Some(q) = rest.iter().position(|&c| c == b'"') else {
            return;
        };
        let Some(reason) = rest[q..].strip_prefix(DISABLED_MID) else {
            return;
        };
        NOTED.name.set(&rest[..q]);
        NOTED
            .reason
            .set(reason.strip_suffix(b")").unwrap_or(reason));
        NOTED.msg.set(b"");
        NOTED.t_us.store(head.map_or(0, |h| h.t_us), Relaxed);
        let seq = match head {
            Some(h) => h.seq.saturating_add(1) as u32,
            None => NOTED.seq.load(Relaxed).saturating_add(1),
        };
        NOTED.seq.store(seq, Relaxed);
        return;
    }
    // `sched_ext: <name>: <message>`, logged right after an error exit.
    if NOTED.seq.load(Relaxed) == 0 || NOTED.msg.len.load(Relaxed) != 0 {
        return;
    }
    let name = NOTED.name.get();
    let Some(at) = find(line, b"sched_ext: ") else {
        return;
    };
    let rest = &line[at + b"sched_ext: ".len()..];
    if let Some(msg) = rest
        .strip_prefix(name.as_bytes())
        .and_then(|r| r.strip_prefix(b": "))
    {
        NOTED.msg.set(msg);
    }
}

/// What a `/dev/kmsg` record's head says: its sequence number and timestamp (µs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct KmsgHead {
    seq: u64,
    t_us: u64,
}

/// A `/dev/kmsg` record's head and text: `prio,seq,time_us,flags;text`. Plain text
/// passes through.
fn split_kmsg(line: &[u8]) -> (Option<KmsgHead>, &[u8]) {
    let Some(semi) = line.iter().position(|&c| c == b';') else {
        return (None, line);
    };
    let well_formed = line[..semi]
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b',' || *c == b'-');
    let mut head = line[..semi].split(|&c| c == b',');
    let seq = head.nth(1).and_then(parse_u64);
    let t_us = head.next().and_then(parse_u64);
    match (seq, t_us) {
        (Some(seq), Some(t_us)) if well_formed => (Some(KmsgHead { seq, t_us }), &line[semi + 1..]),
        _ => (None, line),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads the kernel log once from its start, on its own `/dev/kmsg` open (so it works
/// whether or not the kernel log check reads the log), noting each line.
fn scan_kmsg() {
    let Ok(fd) = kmsg::open() else {
        return;
    };
    let mut rec = [0u8; kmsg::RECORD_MAX];
    for _ in 0..KMSG_MAX_RECORDS {
        match kmsg::read(&fd, &mut rec) {
            kmsg::Read::Record(n) => {
                // The record's first line; continuation lines (` KEY=value`) follow.
                let r = &rec[..n];
                let end = r.iter().position(|&c| c == b'\n').unwrap_or(n);
                note_kmsg_line(&r[..end]);
            }
            kmsg::Read::Lost => {}
            kmsg::Read::End => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_the_kernels_reason_and_message() {
        note_kmsg_line(b"sched_ext: BPF scheduler \"simple\" enabled");
        assert_eq!(NOTED.seq.load(Relaxed), 0);
        note_kmsg_line(
            b"3,1233,8999000,-;sched_ext: BPF scheduler \"qmap\" disabled (runnable task stall)\n",
        );
        note_kmsg_line(b"3,1234,9000000,-;sched_ext: qmap: kworker/1:2[40] failed to run for 6.5s");
        note_kmsg_line(b"sched_ext: qmap: something later");
        assert_eq!(
            NOTED.seq.load(Relaxed),
            1234,
            "the record's sequence number + 1"
        );
        assert_eq!(NOTED.reason.get().as_bytes(), b"runnable task stall");
        assert_eq!(
            NOTED.msg.get().as_bytes(),
            b"kworker/1:2[40] failed to run for 6.5s"
        );
        assert_eq!(NOTED.name.get().as_bytes(), b"qmap");
        assert_eq!(NOTED.t_us.load(Relaxed), 8_999_000);
        assert_eq!(split_kmsg(b"a;b"), (None, &b"a;b"[..]));
        // The same record read again notes nothing new.
        note_kmsg_line(
            b"6,1233,8999000,-;sched_ext: BPF scheduler \"qmap\" disabled (runnable task stall)",
        );
        assert_eq!(NOTED.seq.load(Relaxed), 1234);
    }

    #[test]
    fn names_records_after_the_binary_without_a_name() {
        assert_eq!(basename(b"/payload/scx_simple"), b"scx_simple");
        assert_eq!(basename(b"scx"), b"scx");
    }
}
