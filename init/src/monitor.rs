//! Holding a step: heartbeats, and sampling every worker's progress to find the longest
//! stretch in which a runnable worker made none (a stall).

use crate::buf::Buf;
use crate::record::Record;
use crate::shared::BLOCKED;
use crate::sys::{self, now_ns, NS_PER_MS};
use crate::worker::{Pool, Stall, Worker};
use core::sync::atomic::Ordering::{Acquire, Relaxed};

pub const DEFAULT_HEARTBEAT_MS: u64 = 200;
pub const DEFAULT_SAMPLE_MS: u64 = 10;

pub struct Monitor {
    heartbeat_ns: u64,
    sample_ns: u64,
    next_heartbeat_ns: u64,
    /// The scenario's stall limit: gaps longer than this are checked against the
    /// worker's state and reported. None when the scenario has no stall check.
    pub stall_limit_ms: Option<u64>,
}

impl Default for Monitor {
    fn default() -> Self {
        Monitor {
            heartbeat_ns: DEFAULT_HEARTBEAT_MS * NS_PER_MS,
            sample_ns: DEFAULT_SAMPLE_MS * NS_PER_MS,
            next_heartbeat_ns: 0,
            stall_limit_ms: None,
        }
    }
}

impl Monitor {
    pub fn configure(&mut self, heartbeat_ms: Option<u64>, sample_ms: Option<u64>) {
        if let Some(ms) = heartbeat_ms {
            self.heartbeat_ns = ms * NS_PER_MS;
        }
        if let Some(ms) = sample_ms {
            self.sample_ns = ms * NS_PER_MS;
        }
    }

    pub fn heartbeat_if_due(&mut self) {
        let now = now_ns();
        if now >= self.next_heartbeat_ns {
            Record::new("heartbeat").num("t_ms", now / NS_PER_MS).send();
            self.next_heartbeat_ns = now + self.heartbeat_ns;
        }
    }

    /// Holds for `ms`, sampling on a fixed grid and sending heartbeats when due.
    pub fn hold(&mut self, pool: &mut Pool, scenario: &[u8], ms: u64) {
        let start = now_ns();
        let end = start + ms * NS_PER_MS;
        let mut tick = start;
        loop {
            self.heartbeat_if_due();
            let now = now_ns();
            self.sample(pool, scenario, now);
            if now >= end {
                return;
            }
            while tick <= now {
                tick += self.sample_ns;
            }
            sys::sleep_until_ns(tick.min(end).min(self.next_heartbeat_ns));
        }
    }

    /// One look at every live worker. A gap over the stall limit is confirmed against
    /// the worker's state (only a runnable worker can be stalled by the scheduler) and
    /// reported with its full length once progress resumes or the worker is stopped.
    pub fn sample(&mut self, pool: &mut Pool, scenario: &[u8], now: u64) {
        let limit_ns = self.stall_limit_ms.map(|ms| ms * NS_PER_MS);
        for i in 0..pool.live.len() {
            let slot = pool.shared.slot(pool.live.as_slice()[i].slot);
            let w = &mut pool.live.as_mut_slice()[i];
            let until = slot.sleep_until_ns.load(Acquire);
            if until == BLOCKED || until > now {
                close_stall(scenario, w);
                continue;
            }
            let since = slot.beat_ns.load(Relaxed).max(until).max(w.excused_ns);
            let gap = now.saturating_sub(since);
            if limit_ns.is_none_or(|l| gap <= l) {
                close_stall(scenario, w);
                w.max_gap_ns = w.max_gap_ns.max(gap);
                continue;
            }
            let stat = proc_stat(w.pid);
            if stat.state != b'R' {
                // Not runnable (frozen, blocked, dead): not the scheduler's doing.
                close_stall(scenario, w);
                w.excused_ns = now;
                continue;
            }
            w.max_gap_ns = w.max_gap_ns.max(gap);
            let s = w.stall.get_or_insert(Stall {
                cpu: stat.cpu,
                state: stat.state,
                gap_ns: 0,
            });
            s.gap_ns = gap;
        }
    }

    /// Reports the stalls still open (before workers are stopped).
    pub fn close_stalls(
        &mut self,
        pool: &mut Pool,
        scenario: &[u8],
        pick: impl Fn(&Worker) -> bool,
    ) {
        for w in pool.live.as_mut_slice().iter_mut().filter(|w| pick(w)) {
            close_stall(scenario, w);
        }
    }
}

/// Ends a watched stall, reporting the first of each worker.
fn close_stall(scenario: &[u8], w: &mut Worker) {
    if let Some(s) = w.stall.take() {
        if !w.stall_reported {
            w.stall_reported = true;
            report_stall(scenario, w, &s);
        }
    }
}

/// The fields of /proc/<pid>/stat a stall record needs.
pub struct ProcStat {
    pub state: u8,
    pub cpu: u64,
}

/// Reads state and last CPU from /proc/<pid>/stat; state `?` if unreadable.
pub fn proc_stat(pid: i32) -> ProcStat {
    /// `processor` is field 39; the state is field 3, the first after the comm.
    const CPU_AFTER_STATE: usize = 36;
    let mut path: Buf<48> = Buf::from_bytes(b"/proc/");
    path.push_u64(pid as u64);
    path.push(b"/stat");
    let mut buf = [0u8; 1024];
    let mut out = ProcStat {
        state: b'?',
        cpu: 0,
    };
    let Ok(n) = sys::read_file(path.as_cstr(), &mut buf) else {
        return out;
    };
    // The comm may contain spaces and parentheses: fields start after the last ')'.
    let Some(close) = buf[..n].iter().rposition(|&c| c == b')') else {
        return out;
    };
    let mut fields = buf[close + 1..n]
        .split(|&c| c == b' ')
        .filter(|f| !f.is_empty());
    if let Some(s) = fields.next() {
        out.state = s[0];
    }
    if let Some(cpu) = fields.nth(CPU_AFTER_STATE - 1) {
        out.cpu = crate::buf::parse_u64(cpu).unwrap_or(0);
    }
    out
}

fn report_stall(scenario: &[u8], w: &Worker, s: &Stall) {
    Record::new("stall")
        .str("scenario", scenario)
        .str("group", w.group.as_bytes())
        .num("index", u64::from(w.index))
        .num("pid", w.pid as u64)
        .str("cgroup", w.cgroup.as_bytes())
        .num("cpu", s.cpu)
        .str("state", &[s.state])
        .num("gap_ms", s.gap_ns / NS_PER_MS)
        .send();
}
