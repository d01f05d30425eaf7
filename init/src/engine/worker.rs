//! Worker processes: forked into their cgroup with their scheduling settings, watched
//! through their shared slot, and at `stop`/`end` measured, killed, reaped and reported.

use crate::engine::cgroup::{self, Path};
use crate::engine::isolation::Isolation;
use crate::engine::setup::{self, settle, stage_name, SchedParams};
use crate::engine::threads::{self, Stacks, Start};
use crate::measure::migrations::{self, Moves};
use crate::measure::shared::{Shared, Slot, BLOCKED, FAILED, MAX_SLOTS, READY};
use crate::measure::wakes::WakeStats;
use crate::platform::buf::{parse_u64, Buf};
use crate::platform::fail::{Errno, Res};
use crate::platform::proc_stat::{task_path, ProcPath, StatFile};
use crate::platform::record::{self, ErrorPlace, Record, RecordKind};
use crate::platform::sys;
use crate::platform::table::Table;
use crate::topology::cpulist::{to_cpuset, CpuMask};
use crate::work::Expect;
use crate::work::{self, Ctx, Params, WorkSpec};
use core::sync::atomic::Ordering::{Acquire, Relaxed};
use rustix::process::{waitid, Pid, Signal, WaitId, WaitIdOptions, WaitOptions};
use schedbox_protocol::works::{CGROUP_CHURN, NUMA_WORKING_SET};

pub const MAX_WORKERS: usize = MAX_SLOTS;
pub type Name = Buf<64>;
pub type RelPath = Buf<192>;

/// A running worker, as PID 1 tracks it.
#[derive(Default)]
pub struct Worker {
    /// Its process's id, or its thread's for a worker run as a thread (0 until its
    /// process has started it: `Slot::tid`).
    pub pid: i32,
    /// A worker run as a thread: its thread group, the process PID 1 forked.
    pub tgid: Option<i32>,
    pub slot: usize,
    pub group: Name,
    pub cgroup: RelPath,
    pub index: u32,
    pub work: usize,
    /// Stall monitor state: longest no-progress gap seen while runnable, the instant
    /// gaps are measured from when the worker was seen not runnable (before that, from
    /// its fork: `Slot::reset`), when it was last seen runnable, the stall being watched
    /// (reported once it ends), and whether one was reported already.
    pub max_gap_ns: u64,
    pub excused_ns: u64,
    pub runnable_ns: u64,
    pub stall: Option<Stall>,
    pub stall_reported: bool,
    /// Its /proc/<pid>/stat, kept open for the monitor's state reads.
    pub stat_file: StatFile,
    pub iso: Isolation,
    pub expect: Expect,
    /// When it was forked: its rate is its iterations over the time since.
    pub spawned_ns: u64,
}

/// A gap over the stall limit still going on: where the worker was, how long, when it
/// last made progress and when the monitor first saw the gap over the limit.
#[derive(Clone, Copy, Default)]
pub struct Stall {
    pub cpu: u64,
    pub state: u8,
    pub gap_ns: u64,
    pub since_ns: u64,
    pub detected_ns: u64,
}

/// What a stopped worker did; kept until the scenario's checks are evaluated.
#[derive(Default, Clone)]
pub struct Outcome {
    pub group: Name,
    pub cgroup: RelPath,
    pub index: u32,
    pub pid: i32,
    pub tgid: Option<i32>,
    pub work: usize,
    pub iterations: u64,
    pub cpu_ns: u64,
    pub wait_ns: u64,
    pub slices: u64,
    pub cpus: CpuMask,
    pub max_gap_ns: u64,
    pub iso: Isolation,
    /// Wake latency percentiles, for work that sleeps or blocks.
    pub wake: Option<WakeStats>,
    /// The task name the kernel had for it (`/proc/<pid>/comm`).
    pub comm: Buf<{ COMM_LEN + 1 }>,
    /// The limit it was meant to meet, and what PID 1 saw of it: forks refused, and
    /// whether the OOM killer ended it.
    pub expect: Expect,
    pub forks_refused: u64,
    pub oom_killed: bool,
    pub moves: Moves,
    /// `numa-working-set`: pages of its working set, and those on its policy's nodes.
    pub numa: Option<Locality>,
    /// `cgroup-churn`: how many of its scenario's cgroups it saw itself in.
    pub cgroups_seen: Option<u32>,
    /// How long it lived, from its fork to its stop.
    pub alive_ns: u64,
}

impl Worker {
    /// The process PID 1 forked for it: its own, or its thread group.
    pub fn process(&self) -> i32 {
        self.tgid.unwrap_or(self.pid)
    }

    /// Whether PID 1 collects its process: every process worker, and the first thread
    /// of a group (whose id is its process's).
    fn leads(&self) -> bool {
        self.tgid.is_none_or(|t| t == self.pid)
    }

    /// A thread's id once its process has started it.
    pub fn learn_tid(&mut self, slot: &Slot) {
        if self.pid == 0 {
            self.pid = slot.tid.load(Relaxed) as i32;
        }
    }

    /// Where /proc keeps `file` of its task.
    fn proc_path(&self, file: &[u8]) -> ProcPath {
        task_path(self.pid, self.tgid, file)
    }
}

#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Locality {
    pub pages: u64,
    pub local_pages: u64,
}

/// A spawn op, decoded.
pub struct SpawnReq<'a> {
    pub group: &'a [u8],
    pub cgroup: &'a [u8],
    pub work: &'static WorkSpec,
    pub count: u32,
    pub sched: SchedParams,
    pub params: Params,
    pub expect: Expect,
    /// Run the workers as threads of one process.
    pub threads: bool,
}

/// Which slots serve a live worker, one bit each.
struct Used([u64; MAX_SLOTS / 64]);

impl Default for Used {
    fn default() -> Self {
        Used([0; MAX_SLOTS / 64])
    }
}

impl Used {
    fn first_free(&self) -> Option<usize> {
        let (w, bits) = self.0.iter().enumerate().find(|(_, b)| **b != u64::MAX)?;
        Some(w * 64 + (!bits).trailing_zeros() as usize)
    }

    fn set(&mut self, slot: usize, on: bool) {
        let bit = 1u64 << (slot % 64);
        if on {
            self.0[slot / 64] |= bit;
        } else {
            self.0[slot / 64] &= !bit;
        }
    }
}

/// The workers: their tables are in memory of their own, too big for the stack at
/// `MAX_WORKERS`.
pub struct Pool {
    pub shared: Shared,
    pub live: &'static mut Table<Worker, MAX_WORKERS>,
    pub done: &'static mut Table<Outcome, MAX_WORKERS>,
    used: Used,
}

impl Pool {
    pub fn new(shared: Shared) -> Res<Self> {
        let nomem = |e| fail!(Init, "mmap for the worker tables: {}", Errno(e));
        Ok(Pool {
            shared,
            live: Table::mapped().map_err(nomem)?,
            done: Table::mapped().map_err(nomem)?,
            used: Used::default(),
        })
    }

    fn next_index(&self, group: &[u8]) -> u32 {
        let live = self
            .live
            .as_slice()
            .iter()
            .filter(|w| w.group.eq_bytes(group))
            .count();
        let done = self
            .done
            .as_slice()
            .iter()
            .filter(|o| o.group.eq_bytes(group))
            .count();
        (live + done) as u32
    }

    /// Forks `count` workers into their cgroup with their settings (or one process that
    /// runs them as its threads); returns the index in `live` of the first new one. They
    /// set themselves up on their own: `ready` says when they are done.
    pub fn spawn(&mut self, root: &Path, req: &SpawnReq<'_>) -> Res<usize> {
        let procs = cgroup::join(
            cgroup::join(root.as_bytes(), req.cgroup).as_bytes(),
            b"cgroup.procs",
        );
        let base = self.next_index(req.group);
        let first = self.live.len();
        let mut team = work::TeamSetup::new(req.work, req.count, &req.params)?;
        if req.threads {
            self.spawn_threads(&procs, base, req, &mut team)?;
            return Ok(first);
        }
        for i in 0..req.count {
            let (slot, ctx) = self.prepare(req, i, &mut team)?;
            let pid = fork_for(req.group)?;
            if pid == 0 {
                crate::platform::host::die_with_parent();
                let name = comm(req.group, base + i);
                child(&req.sched, &ctx, name.as_cstr());
            }
            setup::join_cgroup(procs.as_cstr(), pid, &ctx);
            team.forked(i);
            self.enlist(req, slot, base + i, pid, None)?;
        }
        Ok(first)
    }

    /// One process for the whole spawn, which starts the workers as its threads: their
    /// slots and their starts are ready before its fork.
    fn spawn_threads(
        &mut self,
        procs: &Path,
        base: u32,
        req: &SpawnReq<'_>,
        team: &mut work::TeamSetup,
    ) -> Res<()> {
        let stacks = Stacks::map(req.count)?;
        let mut slots = [0usize; MAX_WORKERS];
        for i in 0..req.count {
            let (slot, ctx) = self.prepare(req, i, team)?;
            slots[i as usize] = slot;
            stacks.put(i, Start::new(ctx, req.sched, comm(req.group, base + i)));
        }
        let tgid = fork_for(req.group)?;
        if tgid == 0 {
            crate::platform::host::die_with_parent();
            threads::lead(&stacks);
        }
        // Before the process starts its threads, so that each starts in the cgroup.
        setup::join_cgroup(procs.as_cstr(), tgid, &stacks.start(0).ctx);
        for (i, &slot) in slots[..req.count as usize].iter().enumerate() {
            team.forked(i as u32);
            // The first thread is the process itself; the others' ids come later.
            let pid = if i == 0 { tgid } else { 0 };
            self.enlist(req, slot, base + i as u32, pid, Some(tgid))?;
        }
        Ok(())
    }

    /// Takes a slot for worker `i` of a spawn, clears it and joins the worker to its
    /// team: what the worker will run with.
    fn prepare(
        &mut self,
        req: &SpawnReq<'_>,
        i: u32,
        team: &mut work::TeamSetup,
    ) -> Res<(usize, Ctx)> {
        let Some(slot) = self.used.first_free() else {
            return Err(fail!(Spawn, "more than {} workers at once", MAX_SLOTS));
        };
        let s = self.shared.slot(slot);
        let wakes = self.shared.wakes(slot);
        if s.woke.load(Relaxed) != 0 {
            wakes.reset();
        }
        s.reset();
        let ctx = Ctx {
            slot: s,
            wakes,
            spec: req.work,
            params: req.params,
            index: i,
            count: req.count,
            link: team.join(&self.shared, i, slot)?,
            expect: req.expect,
            readiness: self.shared.readiness(),
        };
        self.used.set(slot, true);
        Ok((slot, ctx))
    }

    /// A forked worker (`pid`; a thread of `tgid`) joins the live ones.
    fn enlist(
        &mut self,
        req: &SpawnReq<'_>,
        slot: usize,
        index: u32,
        pid: i32,
        tgid: Option<i32>,
    ) -> Res<()> {
        let work = work::WORKS
            .iter()
            .position(|w| core::ptr::eq(w, req.work))
            .unwrap_or(0);
        let w = Worker {
            pid,
            tgid,
            slot,
            group: Name::from_bytes(req.group),
            cgroup: RelPath::from_bytes(req.cgroup),
            index,
            work,
            expect: req.expect,
            spawned_ns: sys::now_ns(),
            ..Worker::default()
        };
        if self.live.push(w).is_err() {
            return Err(fail!(Spawn, "more than {} live workers", MAX_WORKERS));
        }
        Ok(())
    }

    /// Learns the ids of threads their process has started since the last look.
    pub fn learn_tids(&mut self) {
        for w in self.live.as_mut_slice() {
            w.learn_tid(self.shared.slot(w.slot));
        }
    }

    /// How many workers from `first` on have not reported ready yet; one whose setup
    /// failed is an error naming the stage and the errno.
    pub fn unready(&mut self, first: usize) -> Res<u32> {
        self.learn_tids();
        let mut unready = 0;
        for w in &self.live.as_slice()[first..] {
            let s = self.shared.slot(w.slot);
            match s.state.load(Acquire) {
                READY => {}
                FAILED => {
                    let (stage, errno) = (s.err_stage.load(Relaxed), s.err_errno.load(Relaxed));
                    return Err(fail!(
                        Spawn,
                        "worker {} {} (pid {}) failed {}: {}",
                        w.group,
                        w.index,
                        w.pid,
                        stage_name(stage),
                        Errno(rustix::io::Errno::from_raw_os_error(errno as i32))
                    ));
                }
                _ => unready += 1,
            }
        }
        Ok(unready)
    }

    /// `sched_setaffinity` on every live worker of `group`.
    pub fn set_affinity(&mut self, group: &[u8], cpus: &CpuMask) -> Res<()> {
        let set = to_cpuset(cpus);
        self.learn_tids();
        for w in self
            .live
            .as_slice()
            .iter()
            .filter(|w| w.group.eq_bytes(group))
        {
            if w.pid == 0 {
                return Err(fail!(
                    Affinity,
                    "worker {} {} (thread of pid {}): its process has not started it yet",
                    w.group,
                    w.index,
                    w.process()
                ));
            }
            rustix::thread::sched_setaffinity(Pid::from_raw(w.pid), &set).map_err(|e| {
                fail!(
                    Affinity,
                    "worker {} {} (pid {}): {}",
                    w.group,
                    w.index,
                    w.pid,
                    Errno(e)
                )
            })?;
        }
        Ok(())
    }

    /// Renames the cgroup of workers in `from` after a `move` op.
    pub fn moved(&mut self, from: &[u8], to: &[u8]) {
        for w in self
            .live
            .as_mut_slice()
            .iter_mut()
            .filter(|w| w.cgroup.eq_bytes(from))
        {
            w.cgroup = RelPath::from_bytes(to);
        }
    }

    /// Stops the live workers `pick` selects: measures them, SIGKILLs and reaps them,
    /// and reports a `worker` record for each. `root` is the scenario's cgroup, where
    /// a worker's OOM kill is confirmed.
    pub fn stop(
        &mut self,
        scenario: &[u8],
        root: &Path,
        pick: impl Fn(&Worker) -> bool,
    ) -> Res<()> {
        let mut chosen = [0usize; MAX_WORKERS];
        let mut n = 0;
        for (i, w) in self.live.as_slice().iter().enumerate() {
            if pick(w) {
                chosen[n] = i;
                n += 1;
            }
        }
        self.learn_tids();
        // A worker that already ended (the OOM killer's SIGKILL, a crash) is reported as
        // such, so that its end is not taken for PID 1's own kill.
        let mut gone = [false; MAX_WORKERS];
        let mut due = [0u64; MAX_WORKERS];
        let now = sys::now_ns();
        for (k, &i) in chosen[..n].iter().enumerate() {
            let w = &self.live.as_slice()[i];
            gone[k] = has_ended(w.process());
            due[k] = self.shared.slot(w.slot).sleep_until_ns.load(Acquire);
        }
        for (k, &i) in chosen[..n].iter().enumerate() {
            if !gone[k] {
                halt(&self.live.as_slice()[i]);
            }
        }
        // Measure only once every chosen worker is dead, as a zombie (its slot and its
        // /proc entry last until it is reaped), or stopped: workers that work together,
        // like a ping-pong pair, are then read at one instant, not one after the other
        // while the rest still run.
        for &i in &chosen[..n] {
            wait_halted(&self.live.as_slice()[i]);
        }
        let first = self.done.len();
        let mut full = false;
        for (k, &i) in chosen[..n].iter().enumerate() {
            let w = &self.live.as_slice()[i];
            self.count_overdue_wake(w, due[k], now);
            full |= self.done.push(self.measure(w)).is_err();
        }
        for (k, &i) in chosen[..n].iter().enumerate() {
            self.collect(i, gone[k], first, root);
        }
        // Remove from the back so earlier indices stay valid.
        for &i in chosen[..n].iter().rev() {
            let w = self.live.swap_remove(i);
            self.used.set(w.slot, false);
        }
        for o in &self.done.as_slice()[first..] {
            report(scenario, o);
        }
        if full {
            return Err(fail!(
                Stop,
                "more than {} workers in one scenario",
                MAX_WORKERS
            ));
        }
        Ok(())
    }

    /// Collects the process of measured worker `i` (once, by its first thread for a
    /// thread group, killed now): one that had `gone` before it was stopped is
    /// reported, as the OOM kill it was meant to meet (its outcome from `first` on in
    /// `done` says so) or as an early end.
    fn collect(&mut self, i: usize, gone: bool, first: usize, root: &Path) {
        let w = &self.live.as_slice()[i];
        if !w.leads() {
            return;
        }
        if !gone {
            if w.tgid.is_some() {
                let _ = rustix::process::kill_process(pid(w.process()), Signal::KILL);
            }
            reap(w, true);
            return;
        }
        let status = reap_status(w.process());
        if oom_killed(w, status, root) {
            let done = &mut self.done.as_mut_slice()[first..];
            if let Some(o) = done.iter_mut().find(|o| o.pid == w.pid) {
                o.oom_killed = true;
            }
        } else {
            report_early_end(w, status);
        }
    }

    /// A worker that measures its wake-ups and was still waiting to run at `now`, past
    /// the instant `due` it was to wake (or was woken), gets that wait as one more
    /// wake-up: else a sleeper starved until the end would show only its earlier,
    /// timely wake-ups. Only once it is dead, so it cannot write its histogram too.
    fn count_overdue_wake(&self, w: &Worker, due: u64, now: u64) {
        let s = self.shared.slot(w.slot);
        let still_waiting = s.sleep_until_ns.load(Acquire) == due;
        if s.woke.load(Relaxed) != 0 && due != 0 && due != BLOCKED && now > due && still_waiting {
            self.shared.wakes(w.slot).add(now - due);
        }
    }

    /// Snapshot of a live worker: its slot's counters and its /proc schedstat.
    fn measure(&self, w: &Worker) -> Outcome {
        let s = self.shared.slot(w.slot);
        let [cpu_ns, wait_ns, slices] = schedstat(&w.proc_path(b"schedstat"));
        Outcome {
            group: w.group.clone(),
            cgroup: w.cgroup.clone(),
            index: w.index,
            pid: w.pid,
            tgid: w.tgid,
            work: w.work,
            iterations: s.progress.load(Relaxed),
            cpu_ns,
            wait_ns,
            slices,
            cpus: s.cpus_seen(),
            max_gap_ns: w.max_gap_ns,
            iso: w.iso,
            wake: (s.woke.load(Relaxed) != 0)
                .then(|| self.shared.wakes(w.slot).stats())
                .flatten(),
            comm: read_comm(&w.proc_path(b"comm")),
            expect: w.expect,
            forks_refused: s.forks_refused.load(Relaxed),
            oom_killed: false,
            // `/proc/<tid>/sched` is the thread's own, as for a process.
            moves: migrations::measure(w.pid, s),
            numa: (work::WORKS[w.work].name == NUMA_WORKING_SET.name).then(|| Locality {
                pages: s.seldom.numa_pages.load(Relaxed),
                local_pages: s.seldom.numa_local_pages.load(Relaxed),
            }),
            cgroups_seen: (work::WORKS[w.work].name == CGROUP_CHURN.name)
                .then(|| s.seldom.cgroups_seen.load(Relaxed).count_ones()),
            alive_ns: sys::now_ns().saturating_sub(w.spawned_ns),
        }
    }

    /// Kills every live worker without reporting (the error path).
    pub fn kill_all(&mut self) {
        for w in self.live.as_slice().iter().filter(|w| w.leads()) {
            let _ = rustix::process::kill_process(pid(w.process()), Signal::KILL);
        }
        for w in self.live.as_slice().iter().filter(|w| w.leads()) {
            reap(w, false);
        }
        self.live.clear();
        self.used = Used::default();
    }
}

/// Forks a worker's process (0 in the child).
fn fork_for(group: &[u8]) -> Res<i32> {
    sys::fork().map_err(|e| {
        fail!(
            Spawn,
            "fork for group {}: {}",
            Name::from_bytes(group),
            Errno(e)
        )
    })
}

fn pid(raw: i32) -> Pid {
    Pid::from_raw(raw).unwrap_or(Pid::INIT)
}

/// Halts a worker's process for its measurement, once per process: a process of its
/// own is killed (as a zombie it keeps its /proc entry until reaped), a thread group
/// stopped (a killed thread's /proc entry goes at once).
fn halt(w: &Worker) {
    if w.leads() {
        let signal = if w.tgid.is_some() {
            Signal::STOP
        } else {
            Signal::KILL
        };
        let _ = rustix::process::kill_process(pid(w.process()), signal);
    }
}

/// Waits until [`halt`] has taken effect on a worker's process.
fn wait_halted(w: &Worker) {
    match w.tgid {
        Some(tgid) if w.leads() => threads::wait_stopped(tgid),
        Some(_) => {}
        None => wait_ended(w.pid),
    }
}

/// Whether a worker that ended before it was stopped is one the OOM killer ended, as
/// it was meant to be: SIGKILLed, and its cgroup's `memory.events` counts an OOM kill.
fn oom_killed(w: &Worker, status: Option<rustix::process::WaitStatus>, root: &Path) -> bool {
    let by_kill = status.is_some_and(|s| s.terminating_signal() == Some(Signal::KILL.as_raw()));
    w.expect == Expect::OomKilled
        && by_kill
        && cgroup::oom_kills(root.as_bytes(), w.cgroup.as_bytes()).is_some_and(|n| n > 0)
}

/// Waits for a killed worker; with `check`, one that had ended on its own before is
/// reported as an error.
fn reap(w: &Worker, check: bool) {
    let status = reap_status(w.process());
    let killed = status.is_some_and(|s| s.terminating_signal() == Some(Signal::KILL.as_raw()));
    if check && !killed {
        report_early_end(w, status);
    }
}

/// Waits for the child `p` to end and collects it; None when there is none to collect.
fn reap_status(p: i32) -> Option<rustix::process::WaitStatus> {
    record::flush();
    loop {
        match rustix::process::waitpid(Pid::from_raw(p), WaitOptions::empty()) {
            Err(rustix::io::Errno::INTR) => continue,
            Ok(Some((_, st))) => return Some(st),
            _ => return None,
        }
    }
}

/// Whether the child `p` has ended, leaving it to be collected later.
fn has_ended(p: i32) -> bool {
    let opts = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
    matches!(waitid(WaitId::Pid(pid(p)), opts), Ok(Some(_)))
}

/// Waits until the child `p` has ended, leaving it to be collected later.
fn wait_ended(p: i32) {
    let opts = WaitIdOptions::EXITED | WaitIdOptions::NOWAIT;
    record::flush();
    while let Err(rustix::io::Errno::INTR) = waitid(WaitId::Pid(pid(p)), opts) {}
}

/// An `error` record for a worker that ended before PID 1 stopped it, with how.
fn report_early_end(w: &Worker, status: Option<rustix::process::WaitStatus>) {
    let mut msg: Buf<160> = Buf::new();
    let _ = core::fmt::Write::write_fmt(
        &mut msg,
        format_args!(
            "worker {} {} (pid {}) ended before it was stopped",
            w.group, w.index, w.pid
        ),
    );
    match status {
        Some(s) if s.exit_status().is_some() => {
            let _ = core::fmt::Write::write_fmt(
                &mut msg,
                format_args!(": exit status {}", s.exit_status().unwrap_or(0)),
            );
        }
        Some(s) if s.terminating_signal().is_some() => {
            let _ = core::fmt::Write::write_fmt(
                &mut msg,
                format_args!(": signal {}", s.terminating_signal().unwrap_or(0)),
            );
        }
        _ => {}
    }
    Record::new(RecordKind::Error)
        .word("where", ErrorPlace::Worker)
        .str("msg", msg.as_bytes())
        .send();
}

/// Microseconds, rounded to the nearest: a percentile within 1 % stays so in µs from
/// 50 µs up.
pub fn ns_to_us(ns: u64) -> u64 {
    ns.saturating_add(sys::NS_PER_US / 2) / sys::NS_PER_US
}

/// A task's `comm` file: its name as the kernel has it; empty when unreadable.
fn read_comm(path: &ProcPath) -> Buf<{ COMM_LEN + 1 }> {
    let mut buf = [0u8; COMM_LEN + 1];
    let n = sys::read_file(path.as_cstr(), &mut buf).unwrap_or(0);
    Buf::from_bytes(crate::platform::buf::trim_end(&buf[..n]))
}

/// A task's `schedstat` file: time on CPU, time waiting on a runqueue, timeslices.
pub fn schedstat(path: &ProcPath) -> [u64; 3] {
    let mut buf = [0u8; 96];
    let mut out = [0u64; 3];
    if let Ok(n) = sys::read_file(path.as_cstr(), &mut buf) {
        for (o, f) in out
            .iter_mut()
            .zip(buf[..n].split(|c| c.is_ascii_whitespace()))
        {
            *o = parse_u64(f).unwrap_or(0);
        }
    }
    out
}

fn report(scenario: &[u8], o: &Outcome) {
    let mut cpus: Buf<128> = Buf::new();
    // A Buf never fails a write: what does not fit is cut and flagged.
    let _ = o.cpus.write_list(&mut cpus);
    let mut r = Record::new(RecordKind::Worker)
        .str("scenario", scenario)
        .str("group", o.group.as_bytes())
        .num("index", u64::from(o.index))
        .num("pid", o.pid as u64)
        .str("work", work::WORKS[o.work].name.as_bytes())
        .num("iterations", o.iterations)
        .num("cpu_ns", o.cpu_ns)
        .num("wait_ns", o.wait_ns)
        .num("slices", o.slices)
        .str("cpus", cpus.as_bytes());
    if let Some(tgid) = o.tgid {
        r = r.num("tgid", tgid as u64);
    }
    if let Some(w) = o.wake {
        r = r
            .num("wake_p50_us", ns_to_us(w.p50_ns))
            .num("wake_p90_us", ns_to_us(w.p90_ns))
            .num("wake_p99_us", ns_to_us(w.p99_ns))
            .num("wake_max_us", ns_to_us(w.max_ns))
            .num("wake_samples", w.samples);
    }
    if !o.comm.is_empty() {
        r = r.str("comm", o.comm.as_bytes());
    }
    if o.expect != Expect::Nothing {
        r = r.str("expect", o.expect.name().as_bytes());
    }
    match o.expect {
        Expect::Nothing => {}
        Expect::ForkRefused => r = r.num("forks_refused", o.forks_refused),
        Expect::OomKilled => r = r.num("oom_killed", u64::from(o.oom_killed)),
    }
    if let Some(m) = o.moves.migrations {
        r = r.num("migrations", m);
    }
    r = r
        .num("llc_crossings", o.moves.llc_crossings)
        .num("node_crossings", o.moves.node_crossings);
    if let Some(n) = o.numa {
        r = r
            .num("numa_pages", n.pages)
            .num("numa_local_pages", n.local_pages);
    }
    if let Some(n) = o.cgroups_seen {
        r = r.num("cgroups_seen", u64::from(n));
    }
    r.send();
}

/// The kernel keeps at most this many bytes of a task's name (`comm`), less its NUL.
const COMM_LEN: usize = 15;
const COMM_PREFIX: &[u8] = b"sbx-";

/// A worker's task name, `sbx-<group>-<index>`, so the kernel's messages (a sched_ext
/// stall, the OOM killer) and /proc name the worker, not PID 1. A long group name is
/// cut, never the index.
pub fn comm(group: &[u8], index: u32) -> Buf<{ COMM_LEN + 1 }> {
    let mut tail: Buf<16> = Buf::from_bytes(b"-");
    tail.push_u64(u64::from(index));
    let room = COMM_LEN - COMM_PREFIX.len() - tail.len().min(COMM_LEN - COMM_PREFIX.len());
    let mut name: Buf<{ COMM_LEN + 1 }> = Buf::from_bytes(COMM_PREFIX);
    name.push(&group[..group.len().min(room)]);
    name.push(tail.as_bytes());
    name
}

/// The child side of a spawn: take its name, join the cgroup, then settle and work.
fn child(sched: &SchedParams, ctx: &Ctx, name: &core::ffi::CStr) -> ! {
    // A name is only a label: a kernel that refuses it does not stop the work.
    let _ = rustix::thread::set_name(name);
    setup::wait_joined(ctx);
    settle(sched, ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_is_named_by_its_group_and_index() {
        assert_eq!(comm(b"spin", 3).as_bytes(), b"sbx-spin-3");
        assert_eq!(comm(b"sleepers", 4095).as_bytes(), b"sbx-sleepe-4095");
        assert_eq!(comm(b"", 0).as_bytes(), b"sbx--0");
        let long = comm(b"a-very-long-group-name", 1_000_000);
        assert_eq!(long.as_bytes(), b"sbx-a-v-1000000");
        assert_eq!(long.len(), COMM_LEN);
    }

    #[test]
    fn a_thread_group_is_signalled_and_collected_through_its_first_thread() {
        let thread = |pid, tgid| Worker {
            pid,
            tgid,
            ..Worker::default()
        };
        let (first, other, process) =
            (thread(40, Some(40)), thread(42, Some(40)), thread(50, None));
        assert_eq!(
            [first.process(), other.process(), process.process()],
            [40, 40, 50]
        );
        assert!(first.leads() && !other.leads() && process.leads());
        assert_eq!(
            other.proc_path(b"stat").as_bytes(),
            b"/proc/40/task/42/stat"
        );
        assert_eq!(process.proc_path(b"comm").as_bytes(), b"/proc/50/comm");
        let mut unstarted = thread(0, Some(40));
        let slot = crate::measure::shared::Shared::map().ok().unwrap();
        slot.slot(0).reset();
        unstarted.learn_tid(slot.slot(0));
        assert_eq!(unstarted.pid, 0, "not started yet");
        slot.slot(0).tid.store(43, Relaxed);
        unstarted.learn_tid(slot.slot(0));
        assert_eq!((unstarted.pid, unstarted.process()), (43, 40));
    }

    #[test]
    fn slots_are_taken_lowest_first_and_given_back() {
        let mut used = Used::default();
        for i in 0..MAX_SLOTS {
            assert_eq!(used.first_free(), Some(i));
            used.set(i, true);
        }
        assert_eq!(used.first_free(), None);
        used.set(130, false);
        assert_eq!(used.first_free(), Some(130));
    }

    #[test]
    fn microseconds_round_to_the_nearest() {
        assert_eq!(ns_to_us(1499), 1);
        assert_eq!(ns_to_us(1500), 2);
        assert_eq!(ns_to_us(u64::MAX), u64::MAX / 1000);
    }
}
