//! Record lines (`SBX1 <kind> key=value ...`) written to the records port.

use crate::platform::buf::{fmt_u64, Buf};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU8, AtomicUsize, Ordering};

pub use schedbox_protocol::limits::MAX_LINE;
pub use schedbox_protocol::vocab::{
    CheckResult, DoneStatus, ErrorPlace, EvidenceCause, EvidenceSource, OutputPart, OutputSource,
    RecordKind, ScenarioOutcome, SchedulerEvent, Word,
};
const MARKER: &[u8] = schedbox_protocol::limits::RECORD_MARKER.as_bytes();
const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// The records port; -1 until opened. A static so the panic handler can reach it.
static FD: AtomicI32 = AtomicI32::new(-1);
/// The console, where `error` records are echoed for the human reading it; -1 for none.
static ECHO_FD: AtomicI32 = AtomicI32::new(-1);
/// `error` records sent outside any scenario so far: any makes the run end with
/// `done status=error`. An error inside a scenario ends only that scenario.
static ERRORS: AtomicU32 = AtomicU32::new(0);
/// `error` records this process sent inside scenarios: a scenario that saw one ends
/// with `outcome=error`.
static CONTAINED: AtomicU32 = AtomicU32::new(0);
/// Writes that failed (not interrupted, not short), and the last one's errno: told to
/// the kernel log at the end, since the records port itself may be what fails.
static WRITE_FAILURES: AtomicU32 = AtomicU32::new(0);
static LAST_WRITE_ERRNO: AtomicI32 = AtomicI32::new(0);

/// The scenario running now (empty between scenarios), which every `error` record
/// names. A static so that workers, forked inside it, name it too.
const MAX_SCENARIO: usize = 64;

struct Current {
    name: [AtomicU8; MAX_SCENARIO],
    len: AtomicUsize,
}

impl Current {
    const fn new() -> Self {
        Current {
            name: [const { AtomicU8::new(0) }; MAX_SCENARIO],
            len: AtomicUsize::new(0),
        }
    }
}

#[cfg(not(test))]
static CURRENT: Current = Current::new();

#[cfg(not(test))]
fn with_current<R>(f: impl FnOnce(&Current) -> R) -> R {
    f(&CURRENT)
}

// Unit tests run in parallel threads: each has its own current scenario.
#[cfg(test)]
std::thread_local!(static CURRENT: Current = const { Current::new() });

#[cfg(test)]
fn with_current<R>(f: impl FnOnce(&Current) -> R) -> R {
    CURRENT.with(f)
}

/// Names the scenario that `error` records belong to from now on; empty for none.
pub fn set_scenario(name: &[u8]) {
    with_current(|c| {
        let n = name.len().min(MAX_SCENARIO);
        for (a, &b) in c.name.iter().zip(&name[..n]) {
            a.store(b, Ordering::Relaxed);
        }
        c.len.store(n, Ordering::Relaxed);
    })
}

fn scenario() -> Buf<{ MAX_SCENARIO + 1 }> {
    with_current(|c| {
        let mut b = Buf::new();
        for a in &c.name[..c.len.load(Ordering::Relaxed)] {
            b.push_byte(a.load(Ordering::Relaxed));
        }
        b
    })
}

pub fn set_fd(fd: i32) {
    FD.store(fd, Ordering::Relaxed);
}

pub fn set_echo_fd(fd: i32) {
    ECHO_FD.store(fd, Ordering::Relaxed);
}

pub fn errors() -> u32 {
    ERRORS.load(Ordering::Relaxed)
}

pub fn contained_errors() -> u32 {
    CONTAINED.load(Ordering::Relaxed)
}

/// Failed writes so far and the last one's errno.
pub fn write_failures() -> (u32, i32) {
    (
        WRITE_FAILURES.load(Ordering::Relaxed),
        LAST_WRITE_ERRNO.load(Ordering::Relaxed),
    )
}

pub fn fd() -> i32 {
    FD.load(Ordering::Relaxed)
}

/// True when `b` is written as `%XX` in a value: what the protocol requires (not
/// printable ASCII, `%`, `=`) plus `"`, as the protocol's examples do.
pub fn needs_escape(b: u8) -> bool {
    !schedbox_protocol::escape::is_plain(b)
}

/// Appends `val` percent-encoded, leaving one byte of `out` free for the newline.
/// Stops at the first byte that would not fit whole.
pub fn encode_into<const N: usize>(out: &mut Buf<N>, val: &[u8]) {
    let room = N - 2;
    let mut rest = val;
    while !rest.is_empty() {
        // Plain bytes go in runs, one copy each: most values are all plain.
        let plain = rest
            .iter()
            .position(|&b| needs_escape(b))
            .unwrap_or(rest.len());
        let fit = plain.min(room.saturating_sub(out.len()));
        out.push(&rest[..fit]);
        if fit < plain || plain == rest.len() {
            return;
        }
        let b = rest[plain];
        if out.len() + 3 > room {
            return;
        }
        out.push(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
        rest = &rest[plain + 1..];
    }
}

/// One record being built. Values that do not fit are cut; the line always ends in `\n`.
pub struct Record {
    line: Buf<MAX_LINE>,
    error: bool,
    /// An `error` record inside a scenario, which does not end the run.
    contained: bool,
    /// It may wait in PID 1's batch.
    hold: bool,
}

impl Record {
    /// A record of `kind`; an `error` record inside a scenario starts with its
    /// `scenario=`.
    pub fn new(kind: RecordKind) -> Self {
        let mut r = Record::empty();
        r.begin(kind);
        r
    }

    const fn empty() -> Self {
        Record {
            line: Buf::new(),
            error: false,
            contained: false,
            hold: false,
        }
    }

    /// Starts the line anew as a record of `kind`.
    fn begin(&mut self, kind: RecordKind) {
        self.line.clear();
        self.line.push(MARKER);
        self.line.push_byte(b' ');
        self.line.push(kind.word().as_bytes());
        self.error = kind == RecordKind::Error;
        self.hold = batched(kind);
        let scenario = scenario();
        self.contained = self.error && !scenario.is_empty();
        if self.contained {
            self.add_str("scenario", scenario.as_bytes());
        }
    }

    fn key(&mut self, key: &str) {
        self.line.push_byte(b' ');
        self.line.push(key.as_bytes());
        self.line.push_byte(b'=');
    }

    pub fn str(mut self, key: &str, val: &[u8]) -> Self {
        self.add_str(key, val);
        self
    }

    /// A value from the protocol's vocabulary.
    pub fn word(self, key: &str, val: impl Word) -> Self {
        self.str(key, val.word().as_bytes())
    }

    pub fn num(mut self, key: &str, val: u64) -> Self {
        self.add_num(key, val);
        self
    }

    /// [`Record::str`] in place, for [`send_with`].
    pub fn add_str(&mut self, key: &str, val: &[u8]) -> &mut Self {
        self.key(key);
        encode_into(&mut self.line, val);
        self
    }

    /// [`Record::word`] in place.
    pub fn add_word(&mut self, key: &str, val: impl Word) -> &mut Self {
        self.add_str(key, val.word().as_bytes())
    }

    /// [`Record::num`] in place.
    pub fn add_num(&mut self, key: &str, val: u64) -> &mut Self {
        self.key(key);
        let mut tmp = [0; 20];
        self.line.push(fmt_u64(val, &mut tmp));
        self
    }

    /// The finished line, newline included.
    pub fn line(&mut self) -> &[u8] {
        self.line.truncate(MAX_LINE - 2);
        self.line.push_byte(b'\n');
        self.line.as_bytes()
    }

    /// Writes the record to the records port; errors also go to the console, without
    /// the marker so the host never counts them twice.
    pub fn send(mut self) {
        self.transmit();
    }

    fn transmit(&mut self) {
        let fd = fd();
        let echo = ECHO_FD.load(Ordering::Relaxed);
        let (error, contained) = (self.error, self.contained);
        let hold = self.hold;
        let line = self.line();
        if fd >= 0 && !send_batched(fd, line, hold) {
            write_all(fd, line);
        }
        if error {
            let count = if contained { &CONTAINED } else { &ERRORS };
            count.fetch_add(1, Ordering::Relaxed);
        }
        if error && echo >= 0 && echo != fd {
            write_all(echo, b"schedbox-init: ");
            write_all(echo, &line[MARKER.len() + 1..]);
        }
    }
}

/// Bytes of records PID 1 holds back to send in one write(): each write to the virtio
/// console is a VM exit (a 4 KiB page per exit at most), so a batch of 16 KiB costs 4
/// exits where 230 output records of 70 bytes, one write each, cost 230. Policy.
pub const BATCH_BYTES: usize = 16 << 10;

/// Records waiting for the next write, oldest first.
pub struct Batch {
    bytes: [u8; BATCH_BYTES],
    len: usize,
}

impl Batch {
    pub const fn new() -> Self {
        Batch {
            bytes: [0; BATCH_BYTES],
            len: 0,
        }
    }

    /// Appends `line`, first handing `out` what waits when `line` would not fit. A line
    /// is at most [`MAX_LINE`] bytes, far below the batch, so it always fits then.
    pub fn push(&mut self, line: &[u8], out: &mut dyn FnMut(&[u8])) {
        if self.len + line.len() > BATCH_BYTES {
            self.take(out);
        }
        let n = line.len().min(BATCH_BYTES);
        self.bytes[self.len..self.len + n].copy_from_slice(&line[..n]);
        self.len += n;
    }

    /// Hands `out` everything waiting, in one piece, and empties the batch.
    pub fn take(&mut self, out: &mut dyn FnMut(&[u8])) {
        if self.len > 0 {
            out(&self.bytes[..self.len]);
            self.len = 0;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Default for Batch {
    fn default() -> Self {
        Batch::new()
    }
}

/// PID 1's batch. It has one thread; `BATCHING` is set only in PID 1 (a forked child
/// clears it, see [`forked`]) and `IN_BATCH` keeps a record sent from inside a flush
/// (the panic handler's) from touching the batch while it is borrowed.
struct Pending(UnsafeCell<Batch>);
// SAFETY: only the single thread of PID 1 reaches the cell, guarded by IN_BATCH.
unsafe impl Sync for Pending {}
static PENDING: Pending = Pending(UnsafeCell::new(Batch::new()));
static BATCHING: AtomicBool = AtomicBool::new(false);
static IN_BATCH: AtomicBool = AtomicBool::new(false);

/// From now on this process batches the bulk records (payload output, the forwarded
/// kernel log, per-worker reports): they go out when the batch fills, when any other
/// record is sent (right behind them), or at [`flush`], which PID 1 calls before it
/// sleeps, blocks, forks or ends. So no record waits longer than PID 1's work between
/// two sleeps (one monitor tick), the order is the order of `send`, and a failure
/// record is never held back behind a step that could crash the guest.
pub fn start_batching() {
    BATCHING.store(true, Ordering::Relaxed);
}

/// Called in a child right after fork: it writes its records itself, at once (the
/// batch it inherited is empty: [`flush`] runs before every fork).
pub fn forked() {
    BATCHING.store(false, Ordering::Relaxed);
}

/// Runs `f` on PID 1's batch; None when batching is off or the batch is in use.
fn with_batch<R>(f: impl FnOnce(&mut Batch) -> R) -> Option<R> {
    if !BATCHING.load(Ordering::Relaxed) || IN_BATCH.swap(true, Ordering::Acquire) {
        return None;
    }
    // SAFETY: IN_BATCH was false and is now ours: no other borrow of the cell exists.
    let r = f(unsafe { &mut *PENDING.0.get() });
    IN_BATCH.store(false, Ordering::Release);
    Some(r)
}

/// Sends every record still waiting in the batch.
pub fn flush() {
    let fd = fd();
    let _ = with_batch(|b| {
        if !b.is_empty() && fd >= 0 {
            b.take(&mut |bytes| write_all(fd, bytes));
        }
    });
}

/// Whether records of `kind` may wait in the batch: the ones that come in bulk and
/// decide nothing on their own.
fn batched(kind: RecordKind) -> bool {
    matches!(
        kind,
        RecordKind::Output | RecordKind::Kmsg | RecordKind::Worker
    )
}

/// Sends `line` through PID 1's batch (held back when `hold`, else with everything
/// before it at once); false when this process does not batch.
fn send_batched(fd: i32, line: &[u8], hold: bool) -> bool {
    with_batch(|b| {
        b.push(line, &mut |bytes| write_all(fd, bytes));
        if !hold {
            b.take(&mut |bytes| write_all(fd, bytes));
        }
    })
    .is_some()
}

/// PID 1's line for [`send_with`], reused from record to record; `IN_LINE` guards it
/// as `IN_BATCH` guards the batch.
struct Scratch(UnsafeCell<Record>);
// SAFETY: as for Pending.
unsafe impl Sync for Scratch {}
static SCRATCH: Scratch = Scratch(UnsafeCell::new(Record::empty()));
static IN_LINE: AtomicBool = AtomicBool::new(false);

/// Builds a record of `kind` with `fill` and sends it, as `Record::new(kind)...send()`
/// does, but in PID 1 in a line kept for reuse: a record built by value is a 4 KiB line
/// zeroed and copied at each step, which under TCG costs more than sending it. For
/// the records that come by the thousand (payload output).
pub fn send_with(kind: RecordKind, fill: impl FnOnce(&mut Record)) {
    let reuse = BATCHING.load(Ordering::Relaxed) && !IN_LINE.swap(true, Ordering::Acquire);
    if !reuse {
        let mut r = Record::new(kind);
        fill(&mut r);
        r.transmit();
        return;
    }
    // SAFETY: IN_LINE was false and is now ours: no other borrow of the cell exists.
    let r = unsafe { &mut *SCRATCH.0.get() };
    r.begin(kind);
    fill(r);
    r.transmit();
    IN_LINE.store(false, Ordering::Release);
}

/// Writes everything, retrying short writes and EINTR; gives up on other errors since
/// there is nowhere left to report them.
pub fn write_all(fd: i32, mut data: &[u8]) {
    // SAFETY: the fd is one this process opened and keeps open; borrowing it is sound.
    let fd = unsafe { rustix::fd::BorrowedFd::borrow_raw(fd) };
    while !data.is_empty() {
        match rustix::io::write(fd, data) {
            Ok(0) => return,
            Ok(n) => data = &data[n..],
            Err(rustix::io::Errno::INTR) | Err(rustix::io::Errno::AGAIN) => {}
            Err(e) => {
                WRITE_FAILURES.fetch_add(1, Ordering::Relaxed);
                LAST_WRITE_ERRNO.store(e.raw_os_error(), Ordering::Relaxed);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(mut r: Record) -> String {
        String::from_utf8(r.line().to_vec()).unwrap()
    }

    #[test]
    fn matches_the_protocol_error_example() {
        let example = include_str!("../../../docs/examples/error.records");
        let r = Record::new(RecordKind::Error)
            .word("where", ErrorPlace::Plan)
            .str("msg", b"line 3: unknown verb \"frobnicate\"");
        assert_eq!(text(r), example.lines().next().unwrap().to_string() + "\n");
    }

    #[test]
    fn escapes_percent_equals_space_and_non_ascii() {
        let r = Record::new(RecordKind::Kmsg)
            .str("text", "a=b%c d\té~".as_bytes())
            .num("level", 3);
        assert_eq!(text(r), "SBX1 kmsg text=a%3Db%25c%20d%09%C3%A9~ level=3\n");
    }

    #[test]
    fn empty_values_and_numbers() {
        let r = Record::new(RecordKind::Done)
            .word("status", DoneStatus::Ok)
            .num("t_ms", 2775)
            .str("x", b"");
        assert_eq!(text(r), "SBX1 done status=ok t_ms=2775 x=\n");
    }

    #[test]
    fn reproduces_a_worker_line_of_the_spin_example() {
        let example = include_str!("../../../docs/examples/spin.records");
        let want = example
            .lines()
            .find(|l| l.contains("worker") && l.contains("index=0"))
            .unwrap();
        let r = Record::new(RecordKind::Worker)
            .str("scenario", b"spin-basic")
            .str("group", b"spin")
            .num("index", 0)
            .num("pid", 42)
            .str("work", b"spin")
            .num("iterations", 1234567)
            .num("cpu_ns", 1995000000)
            .num("wait_ns", 3000000)
            .num("slices", 12)
            .str("cpus", b"0-1")
            .str("comm", b"sbx-spin-0")
            .num("migrations", 3)
            .num("llc_crossings", 0)
            .num("node_crossings", 0);
        assert_eq!(text(r), format!("{want}\n"));
    }

    #[test]
    fn reproduces_the_scenario_end_of_the_spin_example() {
        let example = include_str!("../../../docs/examples/spin.records");
        let want = example
            .lines()
            .find(|l| l.starts_with("SBX1 scenario-end "))
            .unwrap();
        let r = Record::new(RecordKind::ScenarioEnd)
            .str("name", b"spin-basic")
            .num("t_ms", 2770)
            .num("init_cpu_ns", 31_000_000)
            .word("outcome", ScenarioOutcome::Pass);
        assert_eq!(text(r), format!("{want}\n"));
    }

    #[test]
    fn errors_inside_a_scenario_name_it_and_do_not_end_the_run() {
        set_scenario(b"s2");
        let r = Record::new(RecordKind::Error).word("where", ErrorPlace::Write);
        assert_eq!(text(r), "SBX1 error scenario=s2 where=write\n");
        assert!(Record::new(RecordKind::ScenarioEnd)
            .line()
            .starts_with(b"SBX1 scenario-end\n"));
        set_scenario(b"");
        let r = Record::new(RecordKind::Error).word("where", ErrorPlace::Plan);
        assert!(r.error && !r.contained);
        assert_eq!(text(r), "SBX1 error where=plan\n");
        set_scenario(b"s3");
        let r = Record::new(RecordKind::Error);
        assert!(r.error && r.contained, "not counted against the run");
        set_scenario(b"");
    }

    #[test]
    fn long_values_are_cut_to_one_line() {
        let big = vec![b' '; 10_000];
        let mut r = Record::new(RecordKind::Error).str("msg", &big);
        let line = r.line();
        assert!(line.len() <= MAX_LINE);
        assert!(line.ends_with(b"\n"));
        let body = &line[..line.len() - 1];
        assert!(!body.contains(&b'\n'));
        assert!(body.ends_with(b"%20"), "escapes are never split");
    }

    #[test]
    fn a_batch_keeps_the_order_and_hands_over_whole_lines_when_full() {
        let mut batch = Batch::new();
        let mut writes: Vec<Vec<u8>> = Vec::new();
        let line = |n: usize| format!("SBX1 output text={n:0>60}\n").into_bytes();
        let per_batch = BATCH_BYTES / line(0).len();
        for n in 0..per_batch + 1 {
            batch.push(&line(n), &mut |b| writes.push(b.to_vec()));
        }
        assert_eq!(
            writes.len(),
            1,
            "one write when the next line would not fit"
        );
        assert_eq!(writes[0].len(), per_batch * line(0).len());
        batch.take(&mut |b| writes.push(b.to_vec()));
        assert!(batch.is_empty());
        batch.take(&mut |_| panic!("nothing to write"));
        let all: Vec<u8> = writes.concat();
        let want: Vec<u8> = (0..per_batch + 1).flat_map(line).collect();
        assert_eq!(all, want);
    }

    #[test]
    fn only_bulk_records_wait_in_the_batch() {
        assert!(batched(RecordKind::Output) && batched(RecordKind::Kmsg));
        for kind in [
            RecordKind::Error,
            RecordKind::Done,
            RecordKind::ScenarioEnd,
            RecordKind::Evidence,
            RecordKind::Scheduler,
            RecordKind::Check,
            RecordKind::Stall,
        ] {
            assert!(!batched(kind), "{kind:?} goes out at once");
        }
        assert!(Record::new(RecordKind::Output).hold);
        assert!(!Record::new(RecordKind::Error).hold);
    }

    #[test]
    fn plain_runs_and_escapes_encode_as_byte_by_byte() {
        let val = b"ab%c=d\"e f\x01gh\xffij";
        let mut fast: Buf<64> = Buf::new();
        encode_into(&mut fast, val);
        let mut slow = String::new();
        schedbox_protocol::escape::encode(val, &mut slow).unwrap();
        assert_eq!(fast.as_bytes(), slow.as_bytes());
        // Cut at the room left, never inside an escape.
        let mut small: Buf<8> = Buf::new();
        encode_into(&mut small, b"abcd%efgh");
        assert_eq!(small.as_bytes(), b"abcd");
        let mut small: Buf<10> = Buf::new();
        encode_into(&mut small, b"abcd%efgh");
        assert_eq!(small.as_bytes(), b"abcd%25e");
    }
}
