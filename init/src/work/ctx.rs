//! What a work's body gets (`Ctx`: its spec, key values, slot and team link), the
//! spec a work is run by, and the beat it reports progress with.

use super::expect::Expect;
use super::link::{Link, PrepareFn, Teams};
use crate::measure::shared::{Readiness, Slot, BLOCKED};
use crate::measure::wakes::Wakes;
use crate::platform::buf::Buf;
use crate::platform::fail::Errno;
use crate::platform::record::{ErrorPlace, Record, RecordKind};
use crate::platform::sys::{self, current_cpu, now_ns};
use core::sync::atomic::Ordering::{AcqRel, Relaxed, Release, SeqCst};

use schedbox_protocol::works::{Key, MAX_KEYS};

/// The body of a worker; never returns.
pub type RunFn = fn(&Ctx) -> !;
/// Checks a spawn's work keys before anything is forked; the error names the key.
pub type CheckFn = fn(&WorkSpec, &Params) -> Result<(), &'static str>;

pub struct WorkSpec {
    pub name: &'static str,
    /// Keys a spawn of this work may carry, with their defaults (the protocol's table).
    pub keys: &'static [Key],
    pub run: RunFn,
    pub teams: Teams,
    pub prepare: Option<PrepareFn>,
    pub check: Option<CheckFn>,
}

/// A spawn's work key values (defaults filled in), in the spec's key order.
#[derive(Clone, Copy, Default)]
pub struct Params {
    vals: [u64; MAX_KEYS],
}

impl Params {
    /// Takes each key of `spec` from its text in `get` (a number, or a word of a word
    /// key), or its default.
    pub fn from_fn<'a>(spec: &WorkSpec, mut get: impl FnMut(&str) -> Option<&'a [u8]>) -> Self {
        let mut p = Params::default();
        for (i, key) in spec.keys.iter().enumerate().take(MAX_KEYS) {
            p.vals[i] = get(key.name)
                .and_then(|text| key.value_of(text))
                .unwrap_or(key.default);
        }
        p
    }

    pub fn get(&self, spec: &WorkSpec, key: &str) -> u64 {
        spec.keys
            .iter()
            .position(|k| k.name == key)
            .map_or(0, |i| self.vals[i])
    }
}

/// What a worker gets to run with.
pub struct Ctx {
    pub slot: &'static Slot,
    pub wakes: &'static Wakes,
    pub spec: &'static WorkSpec,
    pub params: Params,
    /// Index within its spawn, and the spawn's count (for work that pairs up).
    pub index: u32,
    pub count: u32,
    pub link: Link,
    /// The limit the worker is meant to meet, which its work then takes in its stride.
    pub expect: Expect,
    /// Where the worker counts itself once set up (ready or failed), waking PID 1.
    pub readiness: &'static Readiness,
}

impl Ctx {
    pub fn param(&self, key: &str) -> u64 {
        self.params.get(self.spec, key)
    }

    /// Ends a worker that cannot go on, with an `error` record saying why; PID 1 then
    /// also reports that it ended before it was stopped.
    pub fn quit(&self, what: &str, e: rustix::io::Errno) -> ! {
        self.quit_with(format_args!("{}: {}", what, Errno(e)))
    }

    /// [`Ctx::quit`] for a reason that is no system call's error.
    pub fn quit_with(&self, why: core::fmt::Arguments<'_>) -> ! {
        let mut msg: Buf<256> = Buf::new();
        let _ = core::fmt::Write::write_fmt(
            &mut msg,
            format_args!("{} worker {}: {}", self.spec.name, self.index, why),
        );
        Record::new(RecordKind::Error)
            .word("where", ErrorPlace::Worker)
            .str("msg", msg.as_bytes())
            .send();
        sys::exit(1)
    }
}

/// A work key that must be at least 1, for `check` functions.
pub fn at_least_one(spec: &WorkSpec, p: &Params, key: &str) -> bool {
    p.get(spec, key) >= 1
}

/// Publishes a worker's progress: iterations, the time of the update, the CPU seen.
pub struct Beat {
    slot: &'static Slot,
    wakes: &'static Wakes,
    woke: bool,
    iterations: u64,
}

impl Beat {
    pub fn new(ctx: &Ctx) -> Self {
        Self::of(ctx.slot, ctx.wakes)
    }

    pub fn of(slot: &'static Slot, wakes: &'static Wakes) -> Self {
        let mut b = Beat {
            slot,
            wakes,
            woke: false,
            iterations: 0,
        };
        b.add(0);
        b
    }

    /// Records one wake-up latency, telling PID 1 (once) that the histogram is in use.
    pub fn add_wake(&mut self, ns: u64) {
        if !self.woke {
            self.woke = true;
            self.slot.woke.store(1, Relaxed);
        }
        self.wakes.add(ns);
    }

    /// Stamps liveness without counting an iteration (inside long iterations).
    pub fn touch(&mut self) {
        self.add(0);
    }

    /// Adds `n` finished iterations and stamps the update.
    pub fn add(&mut self, n: u64) {
        self.iterations += n;
        self.slot.progress.store(self.iterations, Relaxed);
        self.slot.beat_ns.store(now_ns(), Relaxed);
        self.slot.saw_cpu(current_cpu());
    }

    /// Sleeps until `deadline_ns`, telling the monitor not to count the sleep, and
    /// returns how late the worker ran again (the wake latency).
    pub fn sleep_until(&mut self, deadline_ns: u64) -> u64 {
        self.slot.sleep_until_ns.store(deadline_ns, Relaxed);
        crate::platform::sys::sleep_until_ns(deadline_ns);
        let now = now_ns();
        // Stamp before clearing the flag, so the monitor never sees an old stamp on an
        // awake worker.
        self.slot.beat_ns.store(now, Relaxed);
        self.slot.sleep_until_ns.store(0, Release);
        now.saturating_sub(deadline_ns)
    }

    /// Runs `wait`, a blocking wait on a teammate (a pipe read, a futex wait), marked
    /// so the monitor does not count it. Returns its result and, when a teammate
    /// stamped the wake-up (`Slot::stamp_wake`), how late the worker ran after it.
    pub fn block<R>(&mut self, wait: impl FnOnce() -> R) -> (R, Option<u64>) {
        // SeqCst: a waker's stamp must not miss a mark made just before its wake.
        self.slot.sleep_until_ns.store(BLOCKED, SeqCst);
        let r = wait();
        let now = now_ns();
        self.slot.beat_ns.store(now, Relaxed);
        let woken = self.slot.sleep_until_ns.swap(0, AcqRel);
        (r, (woken != BLOCKED).then(|| now.saturating_sub(woken)))
    }
}

/// Burns CPU for about `units` steps of integer arithmetic the optimizer cannot drop.
#[inline(never)]
pub fn burn(units: u64) {
    let mut x = core::hint::black_box(0x9e37_79b9_7f4a_7c15u64);
    for _ in 0..units {
        x = core::hint::black_box(
            x.wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407),
        );
    }
    core::hint::black_box(x);
}

/// Spins for `ns` of wall time, publishing progress every `units` of work.
pub fn spin_for(beat: &mut Beat, ns: u64, units: u64) {
    let end = now_ns() + ns;
    while now_ns() < end {
        burn(units);
        beat.add(1);
    }
}

/// Spins for `ns` of wall time in steps of `units`, stamping liveness without counting
/// iterations.
pub fn busy_for(beat: &mut Beat, ns: u64, units: u64) {
    let end = now_ns() + ns;
    while now_ns() < end {
        burn(units);
        beat.touch();
    }
}
