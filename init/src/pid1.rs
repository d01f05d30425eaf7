//! PID 1's life: mount, open the records port, report boot, run the plan, report
//! done, end the VM. Every failure becomes an `error` record; PID 1 never exits.
//! In host mode (not PID 1, see platform::host) the same life without the mounts, with
//! records on stdout, ending in an exit.

use crate::engine::runner::Runner;
use crate::engine::worker::Pool;
use crate::engine::{cgroup, plan};
use crate::measure::shared::Shared;
use crate::platform::buf::{trim_end, Buf};
use crate::platform::fail::{Errno, Fail, Res};
use crate::platform::record::{self, DoneStatus, Record, RecordKind};
use crate::platform::{host, mount, power, serial, sys};
use crate::topology;
use core::sync::atomic::{AtomicI32, Ordering};

const PLAN: &core::ffi::CStr = c"/plan";
/// The plan's file under host mode's root.
const HOST_PLAN: &[u8] = b"/plan";
/// Where host mode's records go: stdout, a pipe to schedbox.
const STDOUT: i32 = 1;
/// Where host mode echoes `error` records: stderr, schedbox's console log.
const STDERR: i32 = 2;
/// Exit status of host mode started with arguments it cannot use.
const EXIT_USAGE: i32 = 2;
const MAX_PLAN: u64 = schedbox_protocol::limits::MAX_PLAN_BYTES as u64;
const SCHED_EXT_STATE: &core::ffi::CStr = c"/sys/kernel/sched_ext/state";
/// PID 1 runs as a top real-time task so the monitor samples on time and can always
/// stop workers, whatever they and the scheduler under test do.
const PID1_RT_PRIO: u32 = 99;

/// The engine's own pid (1 in a VM), set once it has started; the panic handler uses it
/// to tell it from a worker, which has a copy of it.
static MAIN_PID: AtomicI32 = AtomicI32::new(0);

fn own_pid() -> i32 {
    rustix::process::getpid().as_raw_nonzero().get()
}

/// Whether this is the engine's main process (PID 1 in a VM), not a child of it.
pub fn is_pid1() -> bool {
    MAIN_PID.load(Ordering::Relaxed) == own_pid()
}

/// `args` are the process's arguments after its name: none for a VM's PID 1, `ROOT
/// CGROUP` in host mode.
pub fn main(args: &[&'static [u8]]) -> ! {
    // Before anything else: the host's timeline splits the kernel's boot from PID 1's.
    let started_ms = sys::now_ms();
    MAIN_PID.store(own_pid(), Ordering::Relaxed);
    let dev = if rustix::process::getpid().is_init() {
        let dev = mount::mount_dev();
        if !serial::open_ports() {
            // Nowhere to report: end the VM; the host sees no boot record (untestable).
            power::end_vm();
        }
        dev
    } else {
        enter_host(args)
    };
    record::start_batching();
    let result = dev.and_then(|()| setup(started_ms)).and_then(|()| run());
    match result {
        Ok(()) => finish(true),
        Err(f) => fatal(f),
    }
}

/// Host mode: records on stdout, errors echoed on stderr; wrong arguments end it at
/// once, as nothing can be reported.
fn enter_host(args: &[&'static [u8]]) -> Res<()> {
    let (root, cgroup) = match args {
        [root, cgroup] => (*root, *cgroup),
        _ => (&b""[..], &b""[..]),
    };
    if let Err(usage) = host::check_args(root, cgroup) {
        record::write_all(STDERR, usage.as_bytes());
        record::write_all(STDERR, b"\n");
        sys::exit(EXIT_USAGE);
    }
    record::set_fd(STDOUT);
    record::set_echo_fd(STDERR);
    host::enter(root, cgroup)?;
    host::on_parent_gone(parent_gone)
}

/// Host mode, schedbox gone: nothing is left behind, then the engine ends.
extern "C" fn parent_gone(_signal: i32) {
    cgroup::remove_host_tree();
    sys::exit(host::EXIT_PARENT_GONE);
}

fn setup(started_ms: u64) -> Res<()> {
    if !host::active() {
        mount::mount_rest()?;
    }
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

/// Maps /plan (in host mode, under its root) read-only; it lives as long as PID 1.
fn read_plan() -> Res<&'static [u8]> {
    use rustix::fs::{Mode, OFlags};
    use rustix::mm::{MapFlags, ProtFlags};
    let mut host_plan: Buf<{ host::MAX_ROOT + 8 }> = Buf::from_bytes(host::root());
    host_plan.push(HOST_PLAN);
    let path = if host::active() {
        host_plan.as_cstr()
    } else {
        PLAN
    };
    let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
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
