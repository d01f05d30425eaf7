//! Evidence on a failure: what the kernel knew when a worker stalled or the sched_ext
//! scheduler was ejected, sent as `evidence` records (a line each) for the host to keep
//! with the failure. Under a sched_ext scheduler: the kernel's state dump, which it
//! writes to its `sched_ext_dump` trace event (when it ejects a scheduler, and on
//! SysRq-D); without one: the stalled worker's CPU's section of /proc/sched_debug.
//! Read through fixed buffers, once per failure, never in the monitor's regular sample.

use crate::platform::record::{EvidenceCause, EvidenceSource, Record, RecordKind};
use crate::platform::sys;
use core::ffi::CStr;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::mount::MountFlags;
use schedbox_protocol::limits::EVIDENCE_BYTES;

const TRACEFS: &CStr = c"/sys/kernel/tracing";
const BUFFER_KB: &CStr = c"/sys/kernel/tracing/buffer_size_kb";
const DUMP_EVENT: &CStr = c"/sys/kernel/tracing/events/sched_ext/sched_ext_dump/enable";
const TRACE: &CStr = c"/sys/kernel/tracing/trace";
const SYSRQ: &CStr = c"/proc/sysrq-trigger";
/// The scheduler's debug file: in debugfs since Linux 5.13, in /proc before.
const SCHED_DEBUG: [&CStr; 2] = [c"/sys/kernel/debug/sched/debug", c"/proc/sched_debug"];
/// The trace buffer of each CPU, KiB: a whole dump is written by one CPU, and the
/// kernel's default (over a MiB a CPU) would take a small guest's memory at many CPUs.
const TRACE_BUFFER_KB: &[u8] = b"128";
/// What precedes a dump line in the trace (after the task, CPU and time).
const DUMP_MARK: &[u8] = b"sched_ext_dump: ";
/// Where a CPU's section of /proc/sched_debug starts (`cpu#3, 2994.374 MHz`).
const CPU_SECTION: &[u8] = b"cpu#";
/// Longest line sent; longer ones are cut (the kernel's dump lines are at most 1 KiB).
const MAX_TEXT: usize = 1024;
/// Read buffer: a line longer than this is taken as several.
const READ_BYTES: usize = 4096;

/// Whether the dump's trace event is enabled (the kernel has it and tracefs).
static DUMP_READY: AtomicBool = AtomicBool::new(false);
/// Pieces sent in the run: `capture=` tells the host which lines belong together.
static CAPTURES: AtomicU64 = AtomicU64::new(0);

/// Before a scheduler starts: turns the kernel's dump trace event on (with a small
/// buffer, emptied), so that an ejection's dump is kept. Without tracing in the
/// kernel there is no dump to read, and nothing fails.
pub fn prepare_sched_ext_dump() {
    let mounted = rustix::mount::mount(TRACEFS, TRACEFS, c"tracefs", MountFlags::empty(), None);
    if !matches!(mounted, Ok(()) | Err(Errno::BUSY)) && !sys::exists(DUMP_EVENT) {
        return;
    }
    let _ = sys::write_file(BUFFER_KB, TRACE_BUFFER_KB);
    let ready = sys::write_file(DUMP_EVENT, b"1").is_ok();
    if ready {
        clear_trace();
    }
    DUMP_READY.store(ready, Relaxed);
}

/// One piece of evidence being sent: its lines up to `EVIDENCE_BYTES`, then counted.
struct Piece {
    capture: u64,
    cause: EvidenceCause,
    source: EvidenceSource,
    pid: Option<i32>,
    cpu: Option<u64>,
    lines: u64,
    sent: usize,
    dropped: usize,
}

impl Piece {
    fn new(
        cause: EvidenceCause,
        source: EvidenceSource,
        pid: Option<i32>,
        cpu: Option<u64>,
    ) -> Self {
        Piece {
            capture: CAPTURES.fetch_add(1, Relaxed) + 1,
            cause,
            source,
            pid,
            cpu,
            lines: 0,
            sent: 0,
            dropped: 0,
        }
    }

    fn record(&self) -> Record {
        let mut r = Record::new(RecordKind::Evidence)
            .num("capture", self.capture)
            .word("cause", self.cause)
            .word("source", self.source);
        if let Some(pid) = self.pid {
            r = r.num("pid", pid as u64);
        }
        if let Some(cpu) = self.cpu {
            r = r.num("cpu", cpu);
        }
        r
    }

    fn line(&mut self, text: &[u8]) {
        let text = &text[..text.len().min(MAX_TEXT)];
        if self.dropped > 0 || self.sent + text.len() + 1 > EVIDENCE_BYTES {
            self.dropped += text.len() + 1;
            return;
        }
        self.sent += text.len() + 1;
        self.lines += 1;
        self.record().str("text", text).send();
    }

    /// The closing record: how many lines were sent and how many bytes were not.
    fn end(self) -> u64 {
        self.record()
            .num("lines", self.lines)
            .num("dropped_bytes", self.dropped as u64)
            .send();
        self.lines
    }
}

/// Evidence of a stall of `pid`, last seen on `cpu`: with a sched_ext scheduler
/// enabled, the dump SysRq-D asks the kernel for; otherwise (or when the kernel wrote
/// none) the run queue of that CPU from /proc/sched_debug.
pub fn stall(pid: i32, cpu: u64, sched_ext: bool) {
    if sched_ext && sched_ext_dump(EvidenceCause::Stall, Some(pid), Some(cpu), true) > 0 {
        return;
    }
    sched_debug(pid, cpu);
}

/// The kernel's sched_ext dump as its trace event kept it (asked for first with
/// SysRq-D when `ask`); the lines sent. The trace may hold several dumps (an ejection
/// can dump beside a SysRq-D asked for a stall): the last one of the kind wanted is
/// sent, so each capture gets its own dump whatever the order they were written in.
pub fn sched_ext_dump(cause: EvidenceCause, pid: Option<i32>, cpu: Option<u64>, ask: bool) -> u64 {
    let ready = DUMP_READY.load(Relaxed);
    if ask && (!ready || sys::write_file(SYSRQ, b"D").is_err()) {
        return 0;
    }
    let wanted = if ask { DumpKind::Asked } else { DumpKind::Exit };
    let mut piece = Piece::new(cause, EvidenceSource::SchedExtDump, pid, cpu);
    // An ejection's or exit's piece is sent even without a dump: the host keeps the
    // scheduler's own output with it.
    let first = if ready { last_dump(wanted) } else { None };
    if let Some(first) = first {
        let mut index = 0u64;
        each_dump_line(&mut |text| {
            let inside = index == first || (index > first && dump_kind(text).is_none());
            if inside {
                piece.line(text);
            }
            index += 1;
            inside || index <= first
        });
    }
    piece.end()
}

/// What starts a dump in the trace: SysRq-D's header, or an exit's.
#[derive(Clone, Copy, PartialEq, Eq)]
enum DumpKind {
    Asked,
    Exit,
}

/// The kernel's first line of an asked-for dump (`Debug dump triggered by SysRq-D`).
const ASKED_HEADER: &[u8] = b"Debug dump triggered by ";
/// In the first line of an exit's dump (`comm[pid] triggered exit kind 1026:`).
const EXIT_HEADER: &[u8] = b" triggered exit kind ";

fn dump_kind(text: &[u8]) -> Option<DumpKind> {
    if text.starts_with(ASKED_HEADER) {
        Some(DumpKind::Asked)
    } else if find(text, EXIT_HEADER).is_some() {
        Some(DumpKind::Exit)
    } else {
        None
    }
}

/// The index, among the trace's dump lines, of the last header of a `wanted` dump.
fn last_dump(wanted: DumpKind) -> Option<u64> {
    let (mut index, mut last) = (0u64, None);
    each_dump_line(&mut |text| {
        if dump_kind(text) == Some(wanted) {
            last = Some(index);
        }
        index += 1;
        true
    });
    last
}

/// Calls `f` with the text of each dump line of the trace, until it returns false.
fn each_dump_line(f: &mut dyn FnMut(&[u8]) -> bool) {
    each_line(TRACE, &mut |line| match find(line, DUMP_MARK) {
        Some(at) => f(&line[at + DUMP_MARK.len()..]),
        None => true,
    });
}

/// The section of the scheduler's debug file of `cpu`: its run queues and runnable tasks.
fn sched_debug(pid: i32, cpu: u64) {
    let mut piece = Piece::new(
        EvidenceCause::Stall,
        EvidenceSource::SchedDebug,
        Some(pid),
        Some(cpu),
    );
    let mut inside = false;
    let Some(path) = SCHED_DEBUG.into_iter().find(|p| sys::exists(p)) else {
        piece.end();
        return;
    };
    each_line(path, &mut |line| {
        if line.starts_with(CPU_SECTION) {
            if inside {
                return false;
            }
            inside = is_cpu(&line[CPU_SECTION.len()..], cpu);
        }
        if inside {
            piece.line(line);
        }
        true
    });
    piece.end();
}

/// Whether a section header's rest (`3, 2994.374 MHz`, or `3`) names `cpu`.
fn is_cpu(rest: &[u8], cpu: u64) -> bool {
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    digits > 0 && crate::platform::buf::parse_u64(&rest[..digits]) == Some(cpu)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn clear_trace() {
    let _ = rustix::fs::open(
        TRACE,
        OFlags::WRONLY | OFlags::TRUNC | OFlags::CLOEXEC,
        Mode::empty(),
    );
}

/// Calls `f` with each line of the file at `path` (without its newline) until it
/// returns false; a line longer than the read buffer comes in pieces.
fn each_line(path: &CStr, f: &mut dyn FnMut(&[u8]) -> bool) {
    let Ok(fd) = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) else {
        return;
    };
    let mut buf = [0u8; READ_BYTES];
    let mut have = 0;
    loop {
        let n = read(&fd, &mut buf[have..]);
        if n == 0 {
            if have > 0 {
                f(&buf[..have]);
            }
            return;
        }
        have += n;
        let mut start = 0;
        while let Some(len) = buf[start..have].iter().position(|&c| c == b'\n') {
            if !f(&buf[start..start + len]) {
                return;
            }
            start += len + 1;
        }
        if start == 0 && have == buf.len() {
            if !f(&buf[..have]) {
                return;
            }
            have = 0;
            continue;
        }
        buf.copy_within(start..have, 0);
        have -= start;
    }
}

/// A read that retries when interrupted; 0 at the end or on an error.
fn read(fd: &OwnedFd, buf: &mut [u8]) -> usize {
    loop {
        match rustix::io::read(fd, &mut *buf) {
            Ok(n) => return n,
            Err(Errno::INTR) => {}
            Err(_) => return 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_header_names_its_cpu() {
        assert!(is_cpu(b"3, 2994.374 MHz", 3));
        assert!(is_cpu(b"12", 12));
        assert!(!is_cpu(b"12, 1.0 MHz", 1));
        assert!(!is_cpu(b", 1.0 MHz", 0));
    }

    #[test]
    fn lines_are_read_whole_and_the_reader_stops_when_asked() {
        let mut seen = 0;
        let mut first = [0u8; 32];
        let mut first_len = 0;
        each_line(c"/proc/self/status", &mut |line| {
            if seen == 0 {
                first_len = line.len().min(32);
                first[..first_len].copy_from_slice(&line[..first_len]);
            }
            seen += 1;
            seen < 3
        });
        assert_eq!(seen, 3);
        assert!(first[..first_len].starts_with(b"Name:"));
    }

    #[test]
    fn dump_headers_are_told_apart() {
        assert!(dump_kind(b"Debug dump triggered by SysRq-D") == Some(DumpKind::Asked));
        let exit = b"kworker/u4:1[53] triggered exit kind 1026:";
        assert!(dump_kind(exit) == Some(DumpKind::Exit));
        assert!(dump_kind(b"  runnable task stall (sbx-victim-0[90] failed)").is_none());
        assert!(dump_kind(b"CPU states").is_none());
    }

    #[test]
    fn the_dump_mark_is_found_after_the_trace_header() {
        let line = b"  kworker/0:1-12 [000] d..1.  5.000: sched_ext_dump: CPU 0   : nr_run=2";
        let at = find(line, DUMP_MARK).unwrap();
        assert_eq!(&line[at + DUMP_MARK.len()..], b"CPU 0   : nr_run=2");
    }
}
