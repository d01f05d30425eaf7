//! Record lines (`SBX1 <kind> key=value ...`) written to the records port.

use crate::platform::buf::{fmt_u64, Buf};
use core::sync::atomic::{AtomicI32, AtomicU32, AtomicU8, AtomicUsize, Ordering};

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
    for &b in val {
        let width = if needs_escape(b) { 3 } else { 1 };
        if out.len() + width > room {
            return;
        }
        if width == 3 {
            out.push(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
        } else {
            out.push_byte(b);
        }
    }
}

/// One record being built. Values that do not fit are cut; the line always ends in `\n`.
pub struct Record {
    line: Buf<MAX_LINE>,
    error: bool,
    /// An `error` record inside a scenario, which does not end the run.
    contained: bool,
}

impl Record {
    /// A record of `kind`; an `error` record inside a scenario starts with its
    /// `scenario=`.
    pub fn new(kind: RecordKind) -> Self {
        let mut line = Buf::new();
        line.push(MARKER);
        line.push_byte(b' ');
        line.push(kind.word().as_bytes());
        let mut r = Record {
            line,
            error: kind == RecordKind::Error,
            contained: false,
        };
        let scenario = scenario();
        if r.error && !scenario.is_empty() {
            r.contained = true;
            r = r.str("scenario", scenario.as_bytes());
        }
        r
    }

    fn key(&mut self, key: &str) {
        self.line.push_byte(b' ');
        self.line.push(key.as_bytes());
        self.line.push_byte(b'=');
    }

    pub fn str(mut self, key: &str, val: &[u8]) -> Self {
        self.key(key);
        encode_into(&mut self.line, val);
        self
    }

    /// A value from the protocol's vocabulary.
    pub fn word(self, key: &str, val: impl Word) -> Self {
        self.str(key, val.word().as_bytes())
    }

    pub fn num(mut self, key: &str, val: u64) -> Self {
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
        let fd = fd();
        let echo = ECHO_FD.load(Ordering::Relaxed);
        let (error, contained) = (self.error, self.contained);
        let line = self.line();
        if fd >= 0 {
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
}
