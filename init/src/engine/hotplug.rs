//! CPU hotplug in a scenario: CPUs taken offline and brought back by steps (through
//! `/sys/devices/system/cpu/cpuN/online`), each change a `cpu-state` record naming the
//! workers the kernel had to move off a CPU that went away, and every CPU brought back
//! when the scenario ends.

use crate::engine::worker::Pool;
use crate::platform::buf::Buf;
use crate::platform::fail::{Errno, Res};
use crate::platform::record::{Record, RecordKind};
use crate::platform::sys;
use crate::topology::cpulist::{from_cpuset, CpuMask, MAX_CPUS};
use core::fmt::Write;
use rustix::process::Pid;

/// Room for the moved workers' names in a record; more are counted, not named.
type Names = Buf<200>;

/// The CPUs a scenario's steps have taken offline and not brought back.
#[derive(Default)]
pub struct Offline(pub CpuMask);

impl Offline {
    /// Takes each CPU of `cpus` offline (`online` false) or brings it back, in order;
    /// a `cpu-state` record for each.
    pub fn change(
        &mut self,
        scenario: &[u8],
        pool: &Pool,
        cpus: &CpuMask,
        online: bool,
    ) -> Res<()> {
        for cpu in (0..MAX_CPUS).filter(|&c| cpus.has(c)) {
            let mut after = self.0;
            if online {
                after.0[cpu / 64] &= !(1 << (cpu % 64));
            } else {
                after.set(cpu);
            }
            let (moved, names) = if online {
                (0, Names::new())
            } else {
                stranded(pool, &after)
            };
            let start = sys::now_ms();
            write_online(cpu, online)?;
            self.0 = after;
            let mut r = Record::new(RecordKind::CpuState)
                .str("scenario", scenario)
                .num("cpu", cpu as u64)
                .num("online", u64::from(online))
                .num("t_ms", sys::now_ms())
                .num("took_ms", sys::now_ms().saturating_sub(start));
            if moved > 0 {
                r = r.num("moved", moved).str("workers", names.as_bytes());
            }
            r.send();
        }
        Ok(())
    }

    /// Brings every CPU the scenario took offline back (its end).
    pub fn restore(&mut self, scenario: &[u8], pool: &Pool) -> Res<()> {
        let all = self.0;
        self.change(scenario, pool, &all, true)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The live workers whose affinity has no CPU outside `offline`: the kernel moves them
/// elsewhere when the last of their CPUs goes. Their count and `group/index` names.
fn stranded(pool: &Pool, offline: &CpuMask) -> (u64, Names) {
    let mut names = Names::new();
    let mut count = 0;
    for w in pool.live.as_slice() {
        let Some(pid) = Pid::from_raw(w.pid) else {
            continue;
        };
        let Ok(set) = rustix::thread::sched_getaffinity(Some(pid)) else {
            continue;
        };
        let mask = from_cpuset(&set);
        let keeps_one = mask
            .0
            .iter()
            .zip(offline.0.iter())
            .any(|(m, o)| m & !o != 0);
        if keeps_one {
            continue;
        }
        count += 1;
        let before = names.len();
        let sep = if before == 0 { "" } else { "," };
        let _ = write!(names, "{sep}{}/{}", w.group, w.index);
        if names.overflowed() {
            names.truncate(before);
        }
    }
    (count, names)
}

/// Writes `1` or `0` to the CPU's `online` file.
fn write_online(cpu: usize, online: bool) -> Res<()> {
    let mut path: Buf<64> = Buf::from_bytes(b"/sys/devices/system/cpu/cpu");
    path.push_u64(cpu as u64);
    path.push(b"/online");
    let value: &[u8] = if online { b"1" } else { b"0" };
    sys::write_file(path.as_cstr(), value).map_err(|e| {
        let what = if online { "online" } else { "offline" };
        fail!(
            Hotplug,
            "taking CPU {} {}: {} ({})",
            cpu,
            what,
            Errno(e),
            path
        )
    })
}
