//! Thin system-call helpers: clocks, files, and the calls rustix does not offer (fork,
//! a thread's clone, sched_setscheduler, exit).

use core::arch::asm;
use core::ffi::CStr;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::time::{ClockId, Timespec};

use crate::platform::record;

pub const NS_PER_MS: u64 = 1_000_000;
pub const NS_PER_US: u64 = 1_000;
pub const US_PER_MS: u64 = 1_000;
pub const NS_PER_S: u64 = 1_000_000_000;

/// Nanoseconds of `CLOCK_BOOTTIME`, the clock of every `t_ms` in the records.
pub fn now_ns() -> u64 {
    let t = rustix::time::clock_gettime(ClockId::Boottime);
    t.tv_sec as u64 * NS_PER_S + t.tv_nsec as u64
}

pub fn now_ms() -> u64 {
    now_ns() / NS_PER_MS
}

/// CPU time this process (PID 1: the monitor, never its workers) has used, user and system.
pub fn own_cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(ClockId::ProcessCPUTime);
    t.tv_sec as u64 * NS_PER_S + t.tv_nsec as u64
}

fn timespec(ns: u64) -> Timespec {
    Timespec {
        tv_sec: (ns / NS_PER_S) as i64,
        tv_nsec: (ns % NS_PER_S) as i64,
    }
}

/// Sleeps until the `CLOCK_BOOTTIME` instant `ns`, resuming after signals. The records
/// PID 1 holds back go out first: none waits while it sleeps.
pub fn sleep_until_ns(ns: u64) {
    record::flush();
    while rustix::thread::clock_nanosleep_absolute(ClockId::Boottime, &timespec(ns))
        == Err(Errno::INTR)
    {}
}

pub fn sleep_ns(ns: u64) {
    sleep_until_ns(now_ns().saturating_add(ns));
}

/// # Safety
/// A raw system call: the caller guarantees the arguments are valid for `nr`.
pub unsafe fn syscall6(nr: u32, a: [usize; 6]) -> isize {
    let ret: isize;
    asm!(
        "syscall",
        inlateout("rax") nr as isize => ret,
        in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
        in("r10") a[3], in("r8") a[4], in("r9") a[5],
        lateout("rcx") _, lateout("r11") _,
        options(nostack),
    );
    ret
}

fn check(ret: isize) -> Result<usize, Errno> {
    if (-4095..0).contains(&ret) {
        Err(Errno::from_raw_os_error(-ret as i32))
    } else {
        Ok(ret as usize)
    }
}

/// `fork()`: 0 in the child, the child's pid in the parent. This process never has
/// more than one thread, so the child's copy of memory is consistent. Records held back
/// go out first, so that whatever the child sends comes after them; the child sends
/// its own at once.
pub fn fork() -> Result<i32, Errno> {
    record::flush();
    let sigchld = linux_raw_sys::general::SIGCHLD as usize;
    // SAFETY: clone with only SIGCHLD and no stack behaves as fork.
    let pid =
        check(unsafe { syscall6(linux_raw_sys::general::__NR_clone, [sigchld, 0, 0, 0, 0, 0]) })
            .map(|p| p as i32);
    if pid == Ok(0) {
        record::forked();
    }
    pid
}

/// What a thread's entry point is given: the argument passed to [`clone_thread`].
pub type ThreadEntry = extern "C" fn(usize) -> !;

/// Starts a thread of this process (`flags` must make it one: `CLONE_VM`,
/// `CLONE_THREAD`...) that runs `entry(arg)` on the stack whose top is `stack_top`;
/// returns its thread id. The kernel stores the id at `parent_tid`, and clears the word
/// at `child_tid` (and wakes its futex) when the thread ends, as `flags` ask.
///
/// # Safety
/// `stack_top` is the 16-byte aligned end of memory no one else uses, big enough for
/// `entry`; `parent_tid` and `child_tid` stay valid for the thread's whole life.
pub unsafe fn clone_thread(
    flags: usize,
    stack_top: *mut u8,
    parent_tid: *const core::sync::atomic::AtomicU32,
    child_tid: *const core::sync::atomic::AtomicU32,
    entry: ThreadEntry,
    arg: usize,
) -> Result<i32, Errno> {
    let ret: isize;
    // The child starts on its new stack with every other register as the parent's:
    // it calls `entry` (kept in r12, its argument in r13) and never comes back here.
    asm!(
        "syscall",
        "test rax, rax",
        "jnz 2f",
        "xor ebp, ebp",
        "mov rdi, r13",
        "call r12",
        "ud2",
        "2:",
        inlateout("rax") linux_raw_sys::general::__NR_clone as isize => ret,
        in("rdi") flags, in("rsi") stack_top, in("rdx") parent_tid,
        in("r10") child_tid, in("r8") 0usize,
        in("r12") entry, in("r13") arg,
        lateout("rcx") _, lateout("r11") _,
        options(nostack),
    );
    check(ret).map(|t| t as i32)
}

/// Ends the calling process at once (no destructors; the child of a fork owns nothing).
pub fn exit(code: i32) -> ! {
    loop {
        // SAFETY: exit_group takes a plain int and does not return.
        unsafe {
            syscall6(
                linux_raw_sys::general::__NR_exit_group,
                [code as usize, 0, 0, 0, 0, 0],
            )
        };
    }
}

pub const SCHED_OTHER: u32 = 0;
pub const SCHED_FIFO: u32 = 1;
pub const SCHED_RR: u32 = 2;
pub const SCHED_BATCH: u32 = 3;
pub const SCHED_IDLE: u32 = 5;
/// Children go back to SCHED_OTHER, nice 0, instead of inheriting the policy.
pub const SCHED_RESET_ON_FORK: u32 = 0x4000_0000;

/// `sched_setscheduler(pid, policy, {prio})`; pid 0 is the caller.
pub fn set_scheduler(pid: i32, policy: u32, prio: u32) -> Result<(), Errno> {
    let param = prio as i32;
    // SAFETY: `param` is a valid struct sched_param (one int) for the call's duration.
    let ret = unsafe {
        syscall6(
            linux_raw_sys::general::__NR_sched_setscheduler,
            [
                pid as usize,
                policy as usize,
                &param as *const i32 as usize,
                0,
                0,
                0,
            ],
        )
    };
    check(ret).map(|_| ())
}

/// The CPU this thread runs on, from the per-CPU segment limit the kernel sets up for
/// the vDSO's getcpu (one instruction, no system call); the syscall if that fails.
pub fn current_cpu() -> usize {
    const CPUNODE_SEG: u32 = 15 * 8 + 3;
    const CPU_MASK: u32 = 0xfff;
    let (p, ok): (u32, u8);
    // SAFETY: LSL only reads a descriptor limit; a bad selector clears ZF, no fault.
    unsafe {
        asm!("lsl {p:e}, {seg:e}", "setz {ok}", seg = in(reg) CPUNODE_SEG, p = out(reg) p, ok = out(reg_byte) ok,
             options(nomem, nostack));
    }
    if ok != 0 {
        (p & CPU_MASK) as usize
    } else {
        rustix::thread::sched_getcpu()
    }
}

/// Reads a whole (small) file into `buf`, returning the length read.
pub fn read_file(path: &CStr, buf: &mut [u8]) -> Result<usize, Errno> {
    let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    let mut n = 0;
    while n < buf.len() {
        match rustix::io::read(&fd, &mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Writes `data` to a file in one `write` (kernfs files take one value per write). The
/// records held back go out first: such a write changes the kernel (a sysrq, a CPU
/// going offline, a cgroup's limits) and may be the last thing the guest does.
pub fn write_file(path: &CStr, data: &[u8]) -> Result<(), Errno> {
    record::flush();
    let fd = rustix::fs::open(path, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())?;
    let n = rustix::io::write(&fd, data)?;
    if n == data.len() {
        Ok(())
    } else {
        Err(Errno::IO)
    }
}

pub fn exists(path: &CStr) -> bool {
    rustix::fs::access(path, rustix::fs::Access::EXISTS).is_ok()
}

/// `prctl(PR_SET_TIMERSLACK, ns)`: how much later than asked the kernel may fire
/// this thread's timers.
pub fn set_timer_slack_ns(ns: u64) {
    const PR_SET_TIMERSLACK: usize = 29;
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer.
    unsafe {
        syscall6(
            linux_raw_sys::general::__NR_prctl,
            [PR_SET_TIMERSLACK, ns as usize, 0, 0, 0, 0],
        )
    };
}

/// Reaps any exited children without waiting (orphans re-parented to PID 1).
pub fn reap_strays() {
    while let Ok(Some(_)) = rustix::process::wait(rustix::process::WaitOptions::NOHANG) {}
}
