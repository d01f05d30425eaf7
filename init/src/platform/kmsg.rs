//! The kernel log, read from /dev/kmsg without blocking: lines that show a kernel
//! problem (warnings, BUGs, oopses, lockups, hung tasks, RCU stalls, sched_ext errors)
//! become `kmsg` records and are counted per scenario for the `kernel-log` check.

use crate::platform::buf::{parse_u64, Buf};
use crate::platform::record::{Record, RecordKind};
use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

const DEV_KMSG: &core::ffi::CStr = c"/dev/kmsg";
/// Room for one /dev/kmsg record: a smaller buffer makes read() fail with EINVAL.
/// The kernel's limit is 2048 bytes since 6.x and 8192 before.
pub const RECORD_MAX: usize = 8192;
/// `kmsg` records sent per scenario (and before the first); further matches are only
/// counted, and summed up in one last record.
pub use schedbox_protocol::limits::KMSG_REPORTS as MAX_REPORTS;
/// Records read per poll, so a flooding kernel cannot hold up the monitor's sampling.
const MAX_READS_PER_POLL: usize = 256;
/// Polls to empty the log at a period's end: more than the kernel's buffer holds, yet
/// bounded should the kernel log faster than PID 1 reads.
const MAX_POLLS_PER_DRAIN: usize = 64;
/// Bytes of the first problem line kept for the check's detail.
pub type FirstLine = Buf<160>;
type Text = Buf<1024>;
/// The scenario whose lines are forwarded.
type Scenario = Buf<64>;

pub use schedbox_protocol::kmsg::is_problem;
use schedbox_protocol::limits::KMSG_FORWARD_LINES;

/// The sequence number of a /dev/kmsg record (`prio,seq,usec,flags;...`).
pub fn seq(rec: &[u8]) -> Option<u64> {
    let semi = rec.iter().position(|&c| c == b';')?;
    rec[..semi].split(|&c| c == b',').nth(1).and_then(parse_u64)
}

/// Splits a /dev/kmsg record (`prio,seq,usec,flags[,...];message\n[ KEY=value\n...]`)
/// into its syslog level and message; None when it is not one.
pub fn parse(rec: &[u8]) -> Option<(u8, &[u8])> {
    let semi = rec.iter().position(|&c| c == b';')?;
    let prio = rec[..semi]
        .split(|&c| c == b',')
        .next()
        .and_then(parse_u64)?;
    let msg = &rec[semi + 1..];
    let end = msg.iter().position(|&c| c == b'\n').unwrap_or(msg.len());
    Some(((prio & 7) as u8, &msg[..end]))
}

/// Opens /dev/kmsg for non-blocking reads from the oldest record the kernel kept.
pub fn open() -> rustix::io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC;
    rustix::fs::open(DEV_KMSG, flags, Mode::empty())
}

/// [`open`], but in host mode from the next record: what the kernel logged before the
/// run is not the run's to judge.
fn open_for_run() -> rustix::io::Result<OwnedFd> {
    let fd = open()?;
    if crate::platform::host::active() {
        rustix::fs::seek(&fd, rustix::fs::SeekFrom::End(0))?;
    }
    Ok(fd)
}

/// What one read of an [`open`]ed /dev/kmsg gave.
pub enum Read {
    /// A record of this many bytes.
    Record(usize),
    /// Nothing this time, but more may follow: records were overwritten before they
    /// were read (the next read resumes at the oldest one left), or a signal.
    Lost,
    /// Nothing pending, or the log cannot be read.
    End,
}

pub fn read(fd: &OwnedFd, buf: &mut [u8; RECORD_MAX]) -> Read {
    match rustix::io::read(fd, buf) {
        Ok(0) => Read::End,
        Ok(n) => Read::Record(n),
        Err(Errno::PIPE) | Err(Errno::INTR) => Read::Lost,
        Err(_) => Read::End,
    }
}

pub struct Kmsg {
    fd: Option<OwnedFd>,
    /// Why the log is not read: `config kmsg=0`, or the open failed.
    pub off: Option<&'static str>,
    buf: [u8; RECORD_MAX],
    /// Problem lines since the last `begin`, reported or not.
    pub count: u64,
    pub first: FirstLine,
    reported: u64,
    dropped: u64,
    /// The last line not reported because of the cap, for the summary record.
    last_dropped: (u8, Text),
    /// The scenario whose every line is sent (`check name=kernel-log forward=1`).
    forward: Option<Scenario>,
    /// Lines of the period sent, and not sent (over the cap, or lost in the kernel's
    /// buffer before they were read), while forwarding.
    pub forwarded: u64,
    pub forward_dropped: u64,
    /// Sequence number of the last record read: a gap is lines the kernel overwrote.
    last_seq: Option<u64>,
}

impl Default for Kmsg {
    fn default() -> Self {
        Kmsg {
            fd: None,
            off: None,
            buf: [0; RECORD_MAX],
            count: 0,
            first: FirstLine::new(),
            reported: 0,
            dropped: 0,
            last_dropped: (0, Text::new()),
            forward: None,
            forwarded: 0,
            forward_dropped: 0,
            last_seq: None,
        }
    }
}

impl Kmsg {
    /// Opens /dev/kmsg at the oldest record the kernel kept, so problems logged
    /// during boot are reported too (in host mode at the run's start). Does nothing
    /// once opened or switched off.
    pub fn start(&mut self) {
        if self.fd.is_some() || self.off.is_some() {
            return;
        }
        match open_for_run() {
            Ok(fd) => self.fd = Some(fd),
            Err(_) => self.off = Some("cannot open /dev/kmsg"),
        }
    }

    /// `config kmsg=0`: never read the log.
    pub fn disable(&mut self) {
        self.fd = None;
        self.off = Some("kernel log reading is off (config kmsg=0)");
    }

    /// Reads what the kernel logged since the last poll, up to a bound.
    pub fn poll(&mut self) {
        self.read_some(MAX_READS_PER_POLL);
    }

    /// Reads up to `max` records; true when some may be left.
    fn read_some(&mut self, max: usize) -> bool {
        for _ in 0..max {
            let Some(fd) = &self.fd else { return false };
            match read(fd, &mut self.buf) {
                Read::Record(n) => self.line(n),
                Read::Lost => {}
                Read::End => return false,
            }
        }
        true
    }

    fn line(&mut self, n: usize) {
        let rec = &self.buf[..n];
        let Some((level, msg)) = parse(rec) else {
            return;
        };
        let seq = seq(rec);
        if let Some(scenario) = &self.forward {
            if let (Some(last), Some(seq)) = (self.last_seq, seq) {
                self.forward_dropped += seq.saturating_sub(last + 1);
            }
            if self.forwarded < KMSG_FORWARD_LINES {
                self.forwarded += 1;
                Record::new(RecordKind::Kmsg)
                    .num("level", u64::from(level))
                    .str("text", msg)
                    .str("scenario", scenario.as_bytes())
                    .send();
            } else {
                self.forward_dropped += 1;
            }
        }
        if seq.is_some() {
            self.last_seq = seq;
        }
        if !is_problem(level, msg) {
            return;
        }
        if self.count == 0 {
            self.first = FirstLine::from_bytes(msg);
        }
        self.count += 1;
        if self.forward.is_some() {
            // Forwarded above, with every other line.
        } else if self.reported < MAX_REPORTS {
            self.reported += 1;
            report(level, msg, None);
        } else {
            self.dropped += 1;
            self.last_dropped = (level, Text::from_bytes(msg));
        }
    }

    /// Starts a new counting period (a scenario): reads what is pending so it counts
    /// for the period before, and sums up the lines that were not reported.
    /// With `forward`, every line of the period is sent, naming that scenario.
    pub fn begin(&mut self, forward: Option<&[u8]>) {
        self.end();
        self.count = 0;
        self.first.clear();
        self.forwarded = 0;
        self.forward_dropped = 0;
        self.forward = forward.map(Scenario::from_bytes);
    }

    /// Stops forwarding lines (the scenario's checks are done).
    pub fn stop_forwarding(&mut self) {
        self.forward = None;
    }

    /// Ends a counting period: reads all that is pending (the boot log, the first
    /// time), and sends one record for the lines over the cap.
    pub fn end(&mut self) {
        for _ in 0..MAX_POLLS_PER_DRAIN {
            if !self.read_some(MAX_READS_PER_POLL) {
                break;
            }
        }
        if self.dropped > 0 {
            let (level, text) = &self.last_dropped;
            report(*level, text.as_bytes(), Some(self.dropped));
        }
        self.reported = 0;
        self.dropped = 0;
    }
}

fn report(level: u8, text: &[u8], suppressed: Option<u64>) {
    let mut r = Record::new(RecordKind::Kmsg)
        .num("level", u64::from(level))
        .str("text", text);
    if let Some(n) = suppressed {
        r = r.num("suppressed", n);
    }
    r.send();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kmsg_records() {
        let rec = b"4,321,1234567,-;WARNING: CPU: 1 PID: 40 at drivers/misc/lkdtm/bugs.c:97 lkdtm_WARNING+0x12/0x20\n SUBSYSTEM=x\n";
        let (level, msg) = parse(rec).unwrap();
        assert_eq!(level, 4);
        assert!(msg.starts_with(b"WARNING: CPU: 1") && msg.ends_with(b"0x12/0x20"));
        // Facility bits above the level are dropped.
        assert_eq!(parse(b"30,1,2,-;x\n").unwrap().0, 6);
        assert!(parse(b"no header").is_none());
        assert!(parse(b"x,1,2,-;y").is_none());
    }

    #[test]
    fn matches_problem_lines() {
        let problems: &[(u8, &[u8])] = &[
            (4, b"WARNING: CPU: 0 PID: 1 at kernel/x.c:1 f+0x1/0x2"),
            (
                1,
                b"BUG: kernel NULL pointer dereference, address: 0000000000000000",
            ),
            (4, b"Oops: 0002 [#1] PREEMPT SMP NOPTI"),
            (
                3,
                b"INFO: task kworker/0:1:12 blocked for more than 120 seconds.",
            ),
            (3, b"rcu: INFO: rcu_sched self-detected stall on CPU"),
            (
                0,
                b"watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [spin:40]",
            ),
            (0, b"Watchdog detected hard LOCKUP on cpu 1"),
            (
                3,
                b"sched_ext: BPF scheduler \"qmap\" disabled (runnable task stall)",
            ),
            (3, b"sched_ext: qmap: spin[42] failed to run for 6.5s"),
            (
                3,
                b"sched_ext: BPF scheduler \"x\" disabled (runtime error)",
            ),
        ];
        for (level, msg) in problems {
            assert!(is_problem(*level, msg), "{}", String::from_utf8_lossy(msg));
        }
        let fine: &[(u8, &[u8])] = &[
            (
                6,
                b"sched_ext: BPF scheduler \"simple\" disabled (unregistered from user space)",
            ),
            (6, b"sched_ext: BPF scheduler \"simple\" enabled"),
            (6, b"lkdtm: Performing direct entry WARNING"),
            (
                3,
                b"\"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message.",
            ),
            (6, b"Run /init as init process"),
        ];
        for (level, msg) in fine {
            assert!(!is_problem(*level, msg), "{}", String::from_utf8_lossy(msg));
        }
    }

    fn feed(k: &mut Kmsg, rec: &[u8]) {
        k.buf[..rec.len()].copy_from_slice(rec);
        k.line(rec.len());
    }

    #[test]
    fn forwarding_counts_lines_and_the_gaps_between_their_numbers() {
        let mut k = Kmsg::default();
        k.begin(Some(b"s"));
        feed(&mut k, b"6,10,1,-;lkdtm: Performing direct entry WARNING\n");
        feed(&mut k, b"4,11,2,-;WARNING: CPU: 0 PID: 1 at x\n");
        // Records 12 to 14 were overwritten before they were read.
        feed(&mut k, b"6,15,3,-;all is well\n");
        assert_eq!((k.forwarded, k.forward_dropped), (3, 3));
        assert_eq!(
            (k.count, k.reported),
            (1, 0),
            "problems counted, not sent twice"
        );
        k.begin(None);
        assert_eq!((k.forwarded, k.forward_dropped), (0, 0));
        feed(&mut k, b"6,16,3,-;quiet again\n");
        assert_eq!(k.forwarded, 0);
    }

    #[test]
    fn counts_every_match_but_reports_up_to_the_cap() {
        let mut k = Kmsg::default();
        let rec = b"4,1,1,-;WARNING: CPU: 0 PID: 1 at x\n";
        for _ in 0..MAX_REPORTS + 5 {
            k.buf[..rec.len()].copy_from_slice(rec);
            k.line(rec.len());
        }
        let ok = b"6,2,2,-;all is well\n";
        k.buf[..ok.len()].copy_from_slice(ok);
        k.line(ok.len());
        assert_eq!(k.count, MAX_REPORTS + 5);
        assert_eq!((k.reported, k.dropped), (MAX_REPORTS, 5));
        assert_eq!(k.first.as_bytes(), b"WARNING: CPU: 0 PID: 1 at x");
        k.end();
        assert_eq!(
            k.count,
            MAX_REPORTS + 5,
            "kept until the next period begins"
        );
        k.begin(None);
        assert_eq!((k.count, k.reported, k.dropped), (0, 0, 0));
        assert!(k.first.is_empty());
    }
}
