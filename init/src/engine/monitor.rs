//! Watching a scenario: heartbeats; sampling every worker's progress to find the longest
//! stretch in which a runnable worker made none (a stall) and the CPUs it ran on against
//! its cgroup's cpuset (isolation); the kernel log; the CPU time of the cgroups.

use crate::engine::cgroup::{self, Path};
use crate::engine::evidence;
use crate::engine::payload::Payloads;
use crate::engine::usage::Usage;
use crate::engine::worker::{Pool, RelPath, Stall, Worker};
use crate::measure::runqueues::Runqueues;
use crate::measure::shared::BLOCKED;
use crate::platform::fail::Res;
use crate::platform::kmsg::Kmsg;
use crate::platform::record::{Record, RecordKind};
use crate::platform::sys::{self, now_ns, NS_PER_MS};
use crate::platform::table::Table;
use crate::sched_ext::scheduler::Scheduler;
use core::sync::atomic::Ordering::{Acquire, Relaxed};

use schedbox_protocol::limits::EVIDENCE_CAPTURES;
pub use schedbox_protocol::limits::{DEFAULT_HEARTBEAT_MS, DEFAULT_SAMPLE_MS};
/// Cgroups whose CPU time one scenario tracks.
const MAX_USAGE: usize = 64;
/// How long new workers get to join their cgroup and apply their settings (TCG is
/// slow). PID 1 sleeps meanwhile until the last of them wakes it, or its next sample.
const READY_TIMEOUT_MS: u64 = 10_000;
/// How soon the monitor reads a printing payload's output again, between samples: its
/// terminal holds 4 KiB, so one read per 10 ms sample would cap it near 400 KB/s.
const PAYLOAD_POLL_NS: u64 = sys::NS_PER_MS;
/// A gap without progress longer than this is checked against the worker's state, and
/// counts only while the worker is runnable: time frozen or blocked outside the work's
/// own marked waits (memory reclaim, a cgroup freeze) is no stall. Shorter gaps are
/// counted unchecked, so the error is bounded by this.
const STATE_CHECK_NS: u64 = 50 * NS_PER_MS;
/// With many workers waiting their turn, a waiting worker's state is re-read only
/// this often per live worker (at most 2000 reads a second in all): at 1000 workers a
/// read each `STATE_CHECK_NS` would take PID 1 most of a CPU under TCG, which it would
/// take from the workers it watches.
const STATE_READ_SPACING_NS: u64 = 500 * sys::NS_PER_US;

/// How long a waiting worker's runnable state is trusted before it is read again.
fn state_recheck_ns(live: usize) -> u64 {
    STATE_CHECK_NS.max(live as u64 * STATE_READ_SPACING_NS)
}

/// What ends a step's hold.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Its `hold_ms`.
    Time,
    /// Its `hold_ms`, or earlier once no payload of the scenario is running.
    PayloadsEnded,
}

pub struct Monitor {
    heartbeat_ns: u64,
    sample_ns: u64,
    next_heartbeat_ns: u64,
    /// The scenario's stall limit: gaps longer than this are checked against the
    /// worker's state and reported. None when the scenario has no stall check.
    pub stall_limit_ms: Option<u64>,
    pub kmsg: Kmsg,
    pub usage: Table<Usage, MAX_USAGE>,
    /// The sched_ext scheduler under test and the running payloads, looked at each sample.
    pub sched: Scheduler,
    pub payloads: Payloads,
    /// Pieces of evidence this scenario may still gather on stalls.
    evidence_left: u32,
    /// Runnable tasks per CPU, for a scenario with an `imbalance` check.
    pub runqueues: Runqueues,
    /// The scenario's holds: their wall time and PID 1's CPU time in them, which is
    /// the monitor's own cost apart from forking, readying and stopping workers.
    pub held_ns: u64,
    pub held_cpu_ns: u64,
}

impl Default for Monitor {
    fn default() -> Self {
        Monitor {
            heartbeat_ns: DEFAULT_HEARTBEAT_MS * NS_PER_MS,
            sample_ns: DEFAULT_SAMPLE_MS * NS_PER_MS,
            next_heartbeat_ns: 0,
            stall_limit_ms: None,
            kmsg: Kmsg::default(),
            usage: Table::default(),
            sched: Scheduler::default(),
            payloads: Payloads::default(),
            evidence_left: EVIDENCE_CAPTURES,
            runqueues: Runqueues::default(),
            held_ns: 0,
            held_cpu_ns: 0,
        }
    }
}

impl Monitor {
    pub fn configure(&mut self, heartbeat_ms: Option<u64>, sample_ms: Option<u64>, kmsg: bool) {
        if let Some(ms) = heartbeat_ms {
            self.heartbeat_ns = ms * NS_PER_MS;
        }
        if let Some(ms) = sample_ms {
            self.sample_ns = ms * NS_PER_MS;
        }
        if !kmsg {
            self.kmsg.disable();
        }
    }

    /// What PID 1 does whenever it waits: heartbeats and reading the kernel log.
    pub fn idle(&mut self) {
        self.heartbeat_if_due();
        self.kmsg.poll();
        self.sched.poll();
    }

    /// A scenario starts: kernel log lines count from here (and are all forwarded as
    /// this scenario's with `forward`), CPU time is tracked anew.
    pub fn begin_scenario(&mut self, forward: Option<&[u8]>) {
        self.kmsg.start();
        self.kmsg.begin(forward);
        self.usage.clear();
        self.evidence_left = EVIDENCE_CAPTURES;
        self.held_ns = 0;
        self.held_cpu_ns = 0;
    }

    /// After an op that may change where workers are or may run (spawn, a cgroup
    /// write, a move): re-reads each live worker's cpuset and forgets the CPUs seen
    /// until now (a cpuset write migrates the tasks before it returns), and starts
    /// tracking the CPU time of new cgroups.
    pub fn after_change(&mut self, pool: &mut Pool, root: &Path) {
        let now = now_ns();
        for i in 0..pool.live.len() {
            let slot = pool.shared.slot(pool.live.as_slice()[i].slot);
            let w = &mut pool.live.as_mut_slice()[i];
            let cpuset =
                cgroup::effective_cpus(root.as_bytes(), w.cgroup.as_bytes()).unwrap_or_default();
            w.iso.changed(cpuset, slot.progress.load(Relaxed));
            slot.take_recent_cpus();
            let cg = w.cgroup.as_bytes();
            if !self.usage.as_slice().iter().any(|u| u.cgroup.eq_bytes(cg)) {
                let us = cgroup::usage_usec(root.as_bytes(), cg).unwrap_or(0);
                let _ = self.usage.push(Usage {
                    cgroup: RelPath::from_bytes(cg),
                    start_us: us,
                    start_ns: now,
                    end_us: us,
                    end_ns: now,
                });
            }
        }
    }

    /// Moves the end of the CPU time window of every cgroup that still has workers to
    /// now: called before workers are stopped or moved, and at the end.
    pub fn mark_usage(&mut self, pool: &Pool, root: &Path) {
        let now = now_ns();
        for u in self.usage.as_mut_slice() {
            let cg = u.cgroup.as_bytes();
            if pool.live.as_slice().iter().any(|w| w.cgroup.eq_bytes(cg)) {
                if let Some(us) = cgroup::usage_usec(root.as_bytes(), cg) {
                    u.end_us = us;
                    u.end_ns = now;
                }
            }
        }
    }

    pub fn heartbeat_if_due(&mut self) {
        let now = now_ns();
        if now >= self.next_heartbeat_ns {
            Record::new(RecordKind::Heartbeat)
                .num("t_ms", now / NS_PER_MS)
                .send();
            self.next_heartbeat_ns = now + self.heartbeat_ns;
        }
    }

    /// Holds for `ms`, sampling on a fixed grid and sending heartbeats when due.
    pub fn hold(&mut self, pool: &mut Pool, scenario: &[u8], ms: u64, until: Until) {
        let cpu_start = sys::own_cpu_ns();
        let start = now_ns();
        let end = start + ms * NS_PER_MS;
        let mut tick = start;
        // Woken only to read payload output: no sample is due.
        let mut for_output = false;
        loop {
            self.idle();
            let now = now_ns();
            if for_output && now < tick && now < end {
                self.payloads.poll(scenario, now);
            } else {
                self.watch(pool, scenario, now, &mut tick);
            }
            let payloads_ended = until == Until::PayloadsEnded && self.payloads.is_empty();
            if now >= end || payloads_ended {
                self.held_ns += now - start;
                self.held_cpu_ns += sys::own_cpu_ns().saturating_sub(cpu_start);
                return;
            }
            let due = tick.min(end).min(self.next_heartbeat_ns);
            let output = now + PAYLOAD_POLL_NS;
            for_output = self.payloads.printing() && output < due;
            sys::sleep_until_ns(if for_output { output } else { due });
        }
    }

    /// Waits until the workers from `first` on (just forked) are ready, watching like
    /// a hold meanwhile: a worker the scheduler does not run while it sets itself up
    /// is stalled like any other, its gap counted from its fork.
    pub fn wait_ready(&mut self, pool: &mut Pool, scenario: &[u8], first: usize) -> Res<()> {
        let start = now_ns();
        let deadline = start + READY_TIMEOUT_MS * NS_PER_MS;
        let mut tick = start;
        loop {
            self.idle();
            let now = now_ns();
            if now >= tick {
                self.watch(pool, scenario, now, &mut tick);
            }
            // Read before the slots: a worker settling after it moves the count, and
            // the wait then returns at once.
            let seen = pool.shared.readiness().count();
            let unready = pool.unready(first)?;
            if unready == 0 {
                return Ok(());
            }
            if now >= deadline {
                // Not ready in time is no setup failure (that is `FAILED`): workers
                // the scheduler never ran go on under the watch, and the stall and
                // progress checks judge them.
                return Ok(());
            }
            let wake = tick.min(self.next_heartbeat_ns).min(deadline);
            let timeout = wake.saturating_sub(now_ns());
            // Records held back go out before PID 1 blocks.
            crate::platform::record::flush();
            pool.shared.readiness().wait(seen, unready, timeout);
        }
    }

    /// What PID 1 does while an op waits on the kernel (a scheduler attaching, a CPU
    /// going offline): heartbeats and the kernel log, and a sample on the grid whose
    /// next instant is `tick`, so that the workers' stall and progress checks cover it.
    pub fn watch_due(&mut self, pool: &mut Pool, scenario: &[u8], tick: &mut u64) {
        self.idle();
        let now = now_ns();
        if now >= *tick {
            self.watch(pool, scenario, now, tick);
        }
    }

    /// A sample of the workers and a look at the payloads, then the next sampling
    /// `tick` of the grid after `now`.
    fn watch(&mut self, pool: &mut Pool, scenario: &[u8], now: u64, tick: &mut u64) {
        self.sample(pool, scenario, now);
        self.runqueues.sample_if_due(now);
        self.payloads.poll(scenario, now);
        while *tick <= now {
            *tick += self.sample_ns;
        }
    }

    /// One look at every live worker: the CPUs it ran on since the last look against
    /// its cpuset, and its progress. A gap of more than `STATE_CHECK_NS` is confirmed
    /// against the worker's state, read at least that often (only a runnable worker
    /// can be stalled by the scheduler); one over the stall limit is reported with its
    /// full length once progress resumes or the worker is stopped.
    pub fn sample(&mut self, pool: &mut Pool, scenario: &[u8], now: u64) {
        let limit_ns = self.stall_limit_ms.map(|ms| ms * NS_PER_MS);
        let recheck_ns = state_recheck_ns(pool.live.len());
        for i in 0..pool.live.len() {
            let slot = pool.shared.slot(pool.live.as_slice()[i].slot);
            let w = &mut pool.live.as_mut_slice()[i];
            w.learn_tid(slot);
            let progress = slot.progress.load(Relaxed);
            w.iso.observe(&slot.take_recent_cpus(), progress);
            let until = slot.sleep_until_ns.load(Acquire);
            if until == BLOCKED || until > now {
                close_stall(scenario, w);
                continue;
            }
            let since = slot.beat_ns.load(Relaxed).max(until).max(w.excused_ns);
            let gap = now.saturating_sub(since);
            if gap <= STATE_CHECK_NS {
                close_stall(scenario, w);
                w.max_gap_ns = w.max_gap_ns.max(gap);
                continue;
            }
            let over = limit_ns.is_some_and(|l| gap > l);
            // The state is read again only after `recheck_ns`, or to name a new
            // stall: with many runnable workers waiting their turn, a read each sample
            // would be most of the monitor's cost.
            let stat =
                if now.saturating_sub(w.runnable_ns) > recheck_ns || (over && w.stall.is_none()) {
                    let stat = w.stat_file.read(w.pid, w.tgid);
                    if stat.state != b'R' {
                        // Not runnable (frozen, blocked, dead): not the scheduler's doing.
                        close_stall(scenario, w);
                        w.excused_ns = now;
                        continue;
                    }
                    w.runnable_ns = now;
                    Some(stat)
                } else {
                    None
                };
            w.max_gap_ns = w.max_gap_ns.max(gap);
            if !over {
                close_stall(scenario, w);
                continue;
            }
            if w.stall.is_none() {
                let stat = stat.unwrap_or_default();
                w.stall = Some(Stall {
                    cpu: stat.cpu,
                    state: stat.state,
                    gap_ns: 0,
                    since_ns: since,
                    detected_ns: now,
                });
                if !w.stall_reported && self.evidence_left > 0 {
                    self.evidence_left -= 1;
                    evidence::stall(w.pid, stat.cpu, self.sched.is_enabled());
                }
            }
            if let Some(s) = &mut w.stall {
                s.gap_ns = gap;
            }
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

fn report_stall(scenario: &[u8], w: &Worker, s: &Stall) {
    stall_record(scenario, w, s).send();
}

fn stall_record(scenario: &[u8], w: &Worker, s: &Stall) -> Record {
    Record::new(RecordKind::Stall)
        .str("scenario", scenario)
        .str("group", w.group.as_bytes())
        .num("index", u64::from(w.index))
        .num("pid", w.pid as u64)
        .str("cgroup", w.cgroup.as_bytes())
        .num("cpu", s.cpu)
        .str("state", &[s.state])
        .num("gap_ms", s.gap_ns / NS_PER_MS)
        .num("last_progress_ms", s.since_ns / NS_PER_MS)
        .num("detected_ms", s.detected_ns / NS_PER_MS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::worker::Name;

    #[test]
    fn many_workers_space_their_state_reads() {
        assert_eq!(state_recheck_ns(1), STATE_CHECK_NS);
        assert_eq!(state_recheck_ns(100), STATE_CHECK_NS);
        assert_eq!(state_recheck_ns(1000), 500 * NS_PER_MS);
        assert_eq!(state_recheck_ns(4096), 4096 * STATE_READ_SPACING_NS);
    }

    #[test]
    fn stall_record_matches_the_protocol_example() {
        let example = include_str!("../../../docs/examples/stall.records");
        let want = example
            .lines()
            .find(|l| l.starts_with("SBX1 stall "))
            .unwrap();
        let w = Worker {
            pid: 35,
            group: Name::from_bytes(b"victim"),
            cgroup: RelPath::from_bytes(b"c"),
            ..Worker::default()
        };
        let s = Stall {
            cpu: 0,
            state: b'R',
            gap_ns: 1003 * NS_PER_MS,
            since_ns: 1081 * NS_PER_MS + 400_000,
            detected_ns: 1584 * NS_PER_MS + 900_000,
        };
        let mut r = stall_record(b"starve", &w, &s);
        assert_eq!(r.line(), format!("{want}\n").as_bytes());
    }

    /// A pool with one live worker in slot 0 that is this (running) test thread, so
    /// /proc says it is runnable, forked `ago_ms` ago and never run since.
    fn pool_with_unrun_worker(ago_ms: u64) -> Pool {
        let pool = Pool::new(crate::measure::shared::Shared::map().ok().unwrap())
            .ok()
            .unwrap();
        let slot = pool.shared.slot(0);
        slot.reset();
        slot.beat_ns.store(now_ns() - ago_ms * NS_PER_MS, Relaxed);
        let w = Worker {
            pid: rustix::thread::gettid().as_raw_nonzero().get(),
            group: Name::from_bytes(b"spin"),
            ..Worker::default()
        };
        assert!(pool.live.push(w).is_ok());
        pool
    }

    #[test]
    fn a_worker_not_run_since_its_fork_is_stalled_from_its_fork() {
        let mut pool = pool_with_unrun_worker(3000);
        let mut mon = Monitor {
            stall_limit_ms: Some(1000),
            ..Monitor::default()
        };
        let root = Path::from_bytes(b"/nonexistent-schedbox-test");
        // The spawn is over: its own op must not restart the new worker's clock.
        mon.after_change(&mut pool, &root);
        mon.sample(&mut pool, b"s", now_ns());
        let w = &pool.live.as_slice()[0];
        assert!(w.max_gap_ns >= 3000 * NS_PER_MS, "{}", w.max_gap_ns);
        let stall = w.stall.expect("a stall is watched");
        assert_eq!(stall.state, b'R');
    }

    #[test]
    fn ready_waits_for_every_new_worker_and_names_a_failed_one() {
        use crate::measure::shared::{FAILED, READY};
        let mut pool = pool_with_unrun_worker(0);
        let second = Worker {
            slot: 1,
            index: 1,
            pid: 99,
            group: Name::from_bytes(b"spin"),
            ..Worker::default()
        };
        assert!(pool.live.push(second).is_ok());
        let (a, b) = (pool.shared.slot(0), pool.shared.slot(1));
        b.reset();
        assert_eq!(pool.unready(0).ok(), Some(2));
        a.state.store(READY, Relaxed);
        assert_eq!(pool.unready(0).ok(), Some(1));
        assert_eq!(pool.unready(2).ok(), Some(0), "no new workers: all ready");
        b.err_stage
            .store(crate::engine::setup::Stage::Cgroup as u32, Relaxed);
        b.err_errno.store(2, Relaxed);
        b.state.store(FAILED, Relaxed);
        let Err(e) = pool.unready(0) else {
            panic!("a failed worker is an error");
        };
        assert_eq!(e.place, crate::platform::fail::ErrorPlace::Spawn);
        assert_eq!(
            e.msg.as_bytes(),
            b"worker spin 1 (pid 99) failed joining its cgroup: ENOENT (2)"
        );
        b.state.store(READY, Relaxed);
        assert_eq!(pool.unready(0).ok(), Some(0));
    }
}
