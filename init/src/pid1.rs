//! PID 1's life: mount, open the records port, report boot, run the plan, report
//! done, end the VM. Every failure becomes an `error` record; PID 1 never exits.

use crate::engine::runner::Runner;
use crate::engine::worker::Pool;
use crate::engine::{cgroup, plan};
use crate::measure::shared::Shared;
use crate::platform::buf::{trim_end, Buf};
use crate::platform::fail::{Errno, Fail, Res};
use crate::platform::record::{self, DoneStatus, Record, RecordKind};
use crate::platform::{mount, power, serial, sys};
use crate::topology;
use core::sync::atomic::{AtomicBool, Ordering};

const PLAN: &core::ffi::CStr = c"/plan";
const MAX_PLAN: u64 = schedbox_protocol::limits::MAX_PLAN_BYTES as u64;
const SCHED_EXT_STATE: &core::ffi::CStr = c"/sys/kernel/sched_ext/state";
/// PID 1 runs as a top real-time task so the monitor samples on time and can always
/// stop workers, whatever they and the scheduler under test do.
const PID1_RT_PRIO: u32 = 99;

/// Set once PID 1 has started; the panic handler uses it to tell PID 1 from a worker.
static IS_PID1: AtomicBool = AtomicBool::new(false);

pub fn is_pid1() -> bool {
    IS_PID1.load(Ordering::Relaxed)
}

pub fn main() -> ! {
    // Before anything else: the host's timeline splits the kernel's boot from PID 1's.
    let started_ms = sys::now_ms();
    IS_PID1.store(rustix::process::getpid().is_init(), Ordering::Relaxed);
    let dev = mount::mount_dev();
    if !serial::open_ports() {
        // Nowhere to report: end the VM; the host sees no boot record (untestable).
        power::end_vm();
    }
    let result = dev.and_then(|()| setup(started_ms)).and_then(|()| run());
    match result {
        Ok(()) => finish(true),
        Err(f) => fatal(f),
    }
}

fn setup(started_ms: u64) -> Res<()> {
    mount::mount_rest()?;
    let policy = sys::SCHED_FIFO | sys::SCHED_RESET_ON_FORK;
    sys::set_scheduler(0, policy, PID1_RT_PRIO)
        .map_err(|e| fail!(Init, "sched_setscheduler(FIFO) for PID 1: {}", Errno(e)))?;
    report_boot(started_ms);
    topology::report::report();
    Ok(())
}

fn run() -> Res<()> {
    let text = read_plan()?;
    plan::validate(text).map_err(|e| {
        if e.line == 0 {
            fail!(Plan, "{}", e.msg)
        } else {
            fail!(Plan, "line {}: {}", e.line, e.msg)
        }
    })?;
    cgroup::setup_base()?;
    let mut runner = Runner::new(text, Pool::new(Shared::map()?)?);
    runner.heartbeat();
    let r = runner.run();
    if r.is_err() {
        runner.pool.kill_all();
    }
    runner.shutdown();
    r
}

/// Maps /plan read-only; it lives as long as PID 1.
fn read_plan() -> Res<&'static [u8]> {
    use rustix::fs::{Mode, OFlags};
    use rustix::mm::{MapFlags, ProtFlags};
    let fd = rustix::fs::open(PLAN, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| fail!(Plan, "open /plan: {}", Errno(e)))?;
    let size = rustix::fs::fstat(&fd)
        .map_err(|e| fail!(Plan, "stat /plan: {}", Errno(e)))?
        .st_size as u64;
    if size == 0 {
        return Ok(&[]);
    }
    if size > MAX_PLAN {
        return Err(fail!(
            Plan,
            "/plan is {} bytes, more than {}",
            size,
            MAX_PLAN
        ));
    }
    // SAFETY: a private read-only mapping of a file nobody writes, never unmapped.
    unsafe {
        let p = rustix::mm::mmap(
            core::ptr::null_mut(),
            size as usize,
            ProtFlags::READ,
            MapFlags::PRIVATE,
            &fd,
            0,
        )
        .map_err(|e| fail!(Plan, "mmap /plan: {}", Errno(e)))?;
        Ok(core::slice::from_raw_parts(p as *const u8, size as usize))
    }
}

/// The boot record; `started_ms` is when PID 1 started (CLOCK_BOOTTIME).
fn report_boot(started_ms: u64) {
    let uname = rustix::system::uname();
    let cpus = rustix::thread::sched_getaffinity(None)
        .map(|s| s.count())
        .unwrap_or(0);
    let mut state: Buf<32> = Buf::from_bytes(b"absent");
    let mut buf = [0u8; 32];
    if let Ok(n) = sys::read_file(SCHED_EXT_STATE, &mut buf) {
        state = Buf::from_bytes(trim_end(&buf[..n]));
    }
    Record::new(RecordKind::Boot)
        .str("release", uname.release().to_bytes())
        .num("cpus", u64::from(cpus))
        .num("uptime_ms", sys::now_ms())
        .num("init_ms", started_ms)
        .str("sched_ext", state.as_bytes())
        .send();
}

/// Reports the failure, then ends like any run.
pub fn fatal(f: Fail) -> ! {
    Record::new(RecordKind::Error)
        .word("where", f.place)
        .str("msg", f.msg.as_bytes())
        .send();
    finish(false)
}

fn finish(ok: bool) -> ! {
    let ok = ok && record::errors() == 0;
    Record::new(RecordKind::Done)
        .word(
            "status",
            if ok {
                DoneStatus::Ok
            } else {
                DoneStatus::Error
            },
        )
        .num("t_ms", sys::now_ms())
        .send();
    power::end_vm()
}
