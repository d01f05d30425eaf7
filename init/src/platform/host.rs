//! Host mode: `schedbox run --host` runs this same binary as a child of schedbox on the
//! running kernel instead of as a VM's PID 1. It then mounts nothing, writes its records
//! to stdout (a pipe to schedbox), finds the plan and the programs it runs under a
//! directory of schedbox's, keeps every scenario's cgroups under one cgroup of its own,
//! and exits instead of ending a VM. Its arguments: `ROOT CGROUP`, both absolute.
//!
//! What it starts must not outlive it: it reaps orphans (a child subreaper), and each
//! child it forks gets SIGKILL when it dies. schedbox removes `CGROUP` (killing what is
//! left in it) once this process has ended, since a process cannot remove the cgroup it
//! is in. When schedbox is gone first (killed with SIGKILL), its parent-death signal,
//! SIGTERM, has this process do that itself ([`on_parent_gone`]).

use crate::platform::fail::{Errno, Res};
use crate::platform::sys;
use core::sync::atomic::{AtomicI32, AtomicPtr, AtomicUsize, Ordering};

/// The child cgroup of `CGROUP` this process (and the scheduler and payloads, which
/// start in its cgroup) runs in: a cgroup with children may hold no process.
pub const ENGINE_CGROUP: &[u8] = b"engine";
/// The child cgroup of `CGROUP` under which each scenario gets its own.
pub const SCENARIOS_CGROUP: &[u8] = b"scenarios";

/// An argument string, alive as long as the process (it points into the initial stack).
struct Arg {
    ptr: AtomicPtr<u8>,
    len: AtomicUsize,
}

impl Arg {
    const fn new() -> Self {
        Arg {
            ptr: AtomicPtr::new(core::ptr::null_mut()),
            len: AtomicUsize::new(0),
        }
    }

    fn set(&self, v: &'static [u8]) {
        self.len.store(v.len(), Ordering::Relaxed);
        self.ptr.store(v.as_ptr().cast_mut(), Ordering::Relaxed);
    }

    fn get(&self) -> &'static [u8] {
        let ptr = self.ptr.load(Ordering::Relaxed);
        if ptr.is_null() {
            return &[];
        }
        // SAFETY: set() stored a 'static slice's pointer and length.
        unsafe { core::slice::from_raw_parts(ptr, self.len.load(Ordering::Relaxed)) }
    }
}

static ROOT: Arg = Arg::new();
static CGROUP: Arg = Arg::new();
/// This process's pid, for its children to tell whether it is still there.
static MAIN_PID: AtomicI32 = AtomicI32::new(0);

/// Whether this process runs in host mode.
pub fn active() -> bool {
    !ROOT.get().is_empty()
}

/// The directory holding `plan` and the programs (`/payload/...` is found under it);
/// empty in a VM.
pub fn root() -> &'static [u8] {
    ROOT.get()
}

/// The cgroup schedbox gave this run (`/sys/fs/cgroup/schedbox-<pid>`); empty in a VM.
pub fn cgroup() -> &'static [u8] {
    CGROUP.get()
}

/// Hard bound on `ROOT`: it prefixes program paths in an argv buffer of fixed size.
pub const MAX_ROOT: usize = 128;

/// Why the arguments cannot start host mode.
pub fn check_args(root: &[u8], cgroup: &[u8]) -> Result<(), &'static str> {
    let absolute = |p: &[u8]| p.len() > 1 && p.starts_with(b"/") && !p.contains(&0);
    if !absolute(root) || !absolute(cgroup) || root.len() > MAX_ROOT {
        return Err(
            "usage: schedbox-init ROOT CGROUP (absolute paths, ROOT at most 128 bytes): \
             schedbox run --host starts it so",
        );
    }
    Ok(())
}

const PR_SET_PDEATHSIG: usize = 1;
const PR_SET_CHILD_SUBREAPER: usize = 36;
const SIGKILL: usize = 9;
/// Signals that say schedbox is gone: the parent-death signal it sets (SIGTERM), and a
/// records pipe nobody reads any more (SIGPIPE). Not SIGHUP: under `nohup` schedbox
/// lives on through a hang-up, and so must this process.
const PARENT_GONE: [u32; 2] = [
    linux_raw_sys::general::SIGTERM,
    linux_raw_sys::general::SIGPIPE,
];
const SIG_DFL: usize = 0;
/// Exit status of the engine ended by [`PARENT_GONE`]: 128 + SIGTERM, as if killed.
pub const EXIT_PARENT_GONE: i32 = 143;

/// The kernel's `struct sigaction` on x86-64.
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

/// Sets `signal`'s action to `handler` (an address, or SIG_DFL), with the other
/// [`PARENT_GONE`] signals blocked while it runs.
fn set_action(signal: u32, handler: usize) -> isize {
    let mask = PARENT_GONE.iter().fold(0u64, |m, &s| m | 1 << (s - 1));
    let action = KernelSigaction {
        handler,
        flags: u64::from(linux_raw_sys::general::SA_RESTORER),
        restorer: restorer as extern "C" fn() as usize,
        mask,
    };
    // SAFETY: rt_sigaction reads one struct sigaction, alive across the call; the old
    // action is not asked for; the set is 8 bytes.
    unsafe {
        sys::syscall6(
            linux_raw_sys::general::__NR_rt_sigaction,
            [signal as usize, &action as *const _ as usize, 0, 8, 0, 0],
        )
    }
}

/// The x86-64 kernel takes no handler without a restorer; the handler here never
/// returns, so the restorer only ends the process should it ever be reached.
extern "C" fn restorer() {
    sys::exit(EXIT_PARENT_GONE);
}

/// Host mode: `handler` runs on a [`PARENT_GONE`] signal. It runs in a signal handler:
/// raw system calls and stack buffers only, and it must end the process.
pub fn on_parent_gone(handler: extern "C" fn(i32)) -> Res<()> {
    for signal in PARENT_GONE {
        let ret = set_action(signal, handler as usize);
        if ret < 0 {
            let e = rustix::io::Errno::from_raw_os_error(-ret as i32);
            return Err(fail!(Init, "rt_sigaction({}): {}", signal, Errno(e)));
        }
    }
    Ok(())
}

fn prctl(option: usize, arg: usize) -> isize {
    // SAFETY: both prctl options used here take a plain integer argument.
    unsafe {
        sys::syscall6(
            linux_raw_sys::general::__NR_prctl,
            [option, arg, 0, 0, 0, 0],
        )
    }
}

/// Enters host mode with the process's arguments: orphans are reaped here from now on.
pub fn enter(root: &'static [u8], cgroup: &'static [u8]) -> Res<()> {
    ROOT.set(root);
    CGROUP.set(cgroup);
    MAIN_PID.store(own_pid(), Ordering::Relaxed);
    let ret = prctl(PR_SET_CHILD_SUBREAPER, 1);
    if ret < 0 {
        let e = rustix::io::Errno::from_raw_os_error(-ret as i32);
        return Err(fail!(Init, "prctl(PR_SET_CHILD_SUBREAPER): {}", Errno(e)));
    }
    Ok(())
}

fn own_pid() -> i32 {
    rustix::process::getpid().as_raw_nonzero().get()
}

/// In a child just forked by the engine's main process, in host mode: die with it.
pub fn die_with_parent() {
    if !active() {
        return;
    }
    // A forked worker keeps the engine's handlers until it execs: its own end is not
    // schedbox's.
    for signal in PARENT_GONE {
        let _ = set_action(signal, SIG_DFL);
    }
    let _ = prctl(PR_SET_PDEATHSIG, SIGKILL);
    // The parent died before prctl took effect: the signal will never come.
    let parent = rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get());
    if parent != MAIN_PID.load(Ordering::Relaxed) {
        sys::exit(EXIT_ORPHANED);
    }
}

/// Exit status of a child whose parent died as it was forked.
const EXIT_ORPHANED: i32 = 137;
