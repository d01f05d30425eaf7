//! Worker groups run as threads of one process (`threads=1`): PID 1 forks one process
//! that joins the group's cgroup and starts the group's other workers as threads of its
//! own, each on a stack of its own with a guard page below it; at the end PID 1 stops
//! the whole thread group at once, so every thread can be measured before it is killed
//! (a killed thread's /proc entry goes with it, unlike a process's).

use crate::engine::setup::{fail_setup, settle, SchedParams, Stage};
use crate::platform::buf::Buf;
use crate::platform::fail::{Errno, Res};
use crate::platform::sys::{self, NS_PER_MS};
use crate::work::Ctx;
use core::sync::atomic::{AtomicU32, Ordering::Relaxed};
use linux_raw_sys::general as raw;
use rustix::mm::{mmap_anonymous, mprotect, munmap, MapFlags, MprotectFlags, ProtFlags};
use rustix::process::{waitid, Pid, WaitId, WaitIdOptions};

/// Policy: each thread's stack. The work bodies run as threads are plain loops with a
/// few small buffers; a record line is built on the stack too.
const STACK_BYTES: usize = 128 * 1024;
/// The guard page below each stack: an overflow faults instead of writing over the
/// next thread's stack.
const GUARD_BYTES: usize = 4096;
const STRIDE: usize = STACK_BYTES + GUARD_BYTES;
/// A thread shares memory, files, the file system view, signal handlers and System V
/// semaphore undo lists with its process; the kernel stores its id for PID 1 and
/// clears a word of its own when it ends.
const THREAD_FLAGS: u32 = raw::CLONE_VM
    | raw::CLONE_FS
    | raw::CLONE_FILES
    | raw::CLONE_SIGHAND
    | raw::CLONE_THREAD
    | raw::CLONE_SYSVSEM
    | raw::CLONE_PARENT_SETTID
    | raw::CLONE_CHILD_CLEARTID;
/// Policy: how long PID 1 waits for a thread group to stop when it is stopped. A
/// thread that never takes the stop (one frozen in its cgroup) does not hold PID 1:
/// the group is measured as it is then, and killed.
const STOP_WAIT_MS: u64 = 1000;
const STOP_POLL_NS: u64 = NS_PER_MS;

/// What a thread starts with, kept at the top of its stack.
pub struct Start {
    pub ctx: Ctx,
    sched: SchedParams,
    name: Buf<16>,
    /// Cleared by the kernel when the thread ends (`CLONE_CHILD_CLEARTID`).
    alive: AtomicU32,
}

impl Start {
    pub fn new(ctx: Ctx, sched: SchedParams, name: Buf<16>) -> Self {
        Start {
            ctx,
            sched,
            name,
            alive: AtomicU32::new(1),
        }
    }
}

/// The stacks of one thread group, a private mapping PID 1 makes and fills before its
/// fork: the forked process gets its own copy, PID 1 unmaps its own.
pub struct Stacks {
    base: *mut u8,
    count: usize,
}

impl Stacks {
    pub fn map(count: u32) -> Res<Self> {
        let count = count as usize;
        let nomem = |e| fail!(Spawn, "mmap for {} thread stacks: {}", count, Errno(e));
        // SAFETY: a fresh anonymous mapping, at an address the kernel picks.
        let base = unsafe {
            mmap_anonymous(
                core::ptr::null_mut(),
                count * STRIDE,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE,
            )
        }
        .map_err(nomem)?
        .cast::<u8>();
        let stacks = Stacks { base, count };
        for i in 0..count {
            // SAFETY: the first page of stack `i`'s stride, inside the mapping.
            unsafe {
                mprotect(
                    base.add(i * STRIDE).cast(),
                    GUARD_BYTES,
                    MprotectFlags::empty(),
                )
            }
            .map_err(|e| fail!(Spawn, "mprotect of a thread's guard page: {}", Errno(e)))?;
        }
        Ok(stacks)
    }

    /// Where thread `i`'s start is: at the top of its stack, which grows down below it.
    fn start_ptr(&self, i: usize) -> *mut Start {
        assert!(i < self.count, "thread {i} of {}", self.count);
        let top = self.base as usize + (i + 1) * STRIDE;
        let at = (top - core::mem::size_of::<Start>()) & !(core::mem::align_of::<Start>() - 1);
        at as *mut Start
    }

    pub fn put(&self, i: u32, start: Start) {
        // SAFETY: `start_ptr` is aligned, inside stack `i` and written by no one else.
        unsafe { self.start_ptr(i as usize).write(start) };
    }

    pub fn start(&self, i: usize) -> &'static Start {
        // SAFETY: `put` wrote it before the fork; the mapping lives as long as the
        // forked process, which is the only one that calls this.
        unsafe { &*self.start_ptr(i) }
    }
}

impl Drop for Stacks {
    fn drop(&mut self) {
        // SAFETY: the mapping `map` made; no one in this process uses it any more.
        let _ = unsafe { munmap(self.base.cast(), self.count * STRIDE) };
    }
}

/// The forked process: waits until PID 1 has moved it into the cgroup, so that every
/// thread it starts is there from its first instant, starts threads 1.. and becomes
/// thread 0.
pub fn lead(stacks: &Stacks) -> ! {
    let first = stacks.start(0);
    let _ = rustix::thread::set_name(first.name.as_cstr());
    crate::engine::setup::wait_joined(&first.ctx);
    for i in 1..stacks.count {
        let start = stacks.start(i);
        let top = (start as *const Start as usize) & !0xf;
        // SAFETY: the stack below `start` is this thread's alone; `start` lives as
        // long as the process.
        let started = unsafe {
            sys::clone_thread(
                THREAD_FLAGS as usize,
                top as *mut u8,
                &start.ctx.slot.tid,
                &start.alive,
                thread_main,
                start as *const Start as usize,
            )
        };
        if let Err(e) = started {
            fail_setup(&start.ctx, Stage::Thread, e);
        }
    }
    thread_main(first as *const Start as usize)
}

/// A thread: takes its name and settings, reports ready, works.
extern "C" fn thread_main(arg: usize) -> ! {
    // SAFETY: `lead` passes a `Start` of the process's stacks mapping.
    let start = unsafe { &*(arg as *const Start) };
    // A name is only a label: a kernel that refuses it does not stop the work.
    let _ = rustix::thread::set_name(start.name.as_cstr());
    let tid = rustix::thread::gettid().as_raw_nonzero().get() as u32;
    start.ctx.slot.tid.store(tid, Relaxed);
    settle(&start.sched, &start.ctx)
}

/// Waits, for at most [`STOP_WAIT_MS`], until the thread group `tgid` (a child sent
/// SIGSTOP) has stopped or ended, leaving it to be collected later.
pub fn wait_stopped(tgid: i32) {
    let Some(pid) = Pid::from_raw(tgid) else {
        return;
    };
    let opts = WaitIdOptions::STOPPED
        | WaitIdOptions::EXITED
        | WaitIdOptions::NOHANG
        | WaitIdOptions::NOWAIT;
    let deadline = sys::now_ns() + STOP_WAIT_MS * NS_PER_MS;
    loop {
        match waitid(WaitId::Pid(pid), opts) {
            Ok(Some(_)) | Err(rustix::io::Errno::CHILD) => return,
            _ if sys::now_ns() >= deadline => return,
            _ => sys::sleep_ns(STOP_POLL_NS),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static SEEN_TID: AtomicU32 = AtomicU32::new(0);

    /// Names itself, says its id, and waits for the test process to end.
    extern "C" fn named_thread(_: usize) -> ! {
        let _ = rustix::thread::set_name(c"sbx-t-1");
        SEEN_TID.store(
            rustix::thread::gettid().as_raw_nonzero().get() as u32,
            Relaxed,
        );
        loop {
            sys::sleep_ns(1000 * NS_PER_MS);
        }
    }

    #[test]
    fn a_cloned_thread_runs_in_this_process_on_its_stack_with_its_name() {
        let stacks = Stacks::map(2).ok().unwrap();
        let (tid_word, alive) = (Box::leak(Box::new(AtomicU32::new(0))), AtomicU32::new(1));
        let top = (stacks.start_ptr(1) as usize) & !0xf;
        // SAFETY: stack 1 of a mapping leaked to the thread (below, `forget`).
        let tid = unsafe {
            sys::clone_thread(
                THREAD_FLAGS as usize,
                top as *mut u8,
                tid_word,
                Box::leak(Box::new(alive)),
                named_thread,
                0,
            )
        }
        .ok()
        .unwrap();
        core::mem::forget(stacks);
        assert!(tid > 0);
        assert_eq!(tid_word.load(Relaxed), tid as u32, "CLONE_PARENT_SETTID");
        let deadline = sys::now_ns() + 5000 * NS_PER_MS;
        while SEEN_TID.load(Relaxed) == 0 && sys::now_ns() < deadline {
            sys::sleep_ns(NS_PER_MS);
        }
        assert_eq!(SEEN_TID.load(Relaxed), tid as u32);
        let me = rustix::process::getpid().as_raw_nonzero().get();
        let comm = crate::platform::proc_stat::task_path(tid, Some(me), b"comm");
        let mut buf = [0u8; 32];
        let n = sys::read_file(comm.as_cstr(), &mut buf).ok().unwrap();
        assert_eq!(
            &buf[..n],
            b"sbx-t-1\n",
            "the thread is a task of this process"
        );
    }

    #[test]
    fn each_stack_has_a_guard_page_below_it() {
        let stacks = Stacks::map(3).ok().unwrap();
        for i in 0..3 {
            let start = stacks.start_ptr(i) as usize;
            let stack_lo = stacks.base as usize + i * STRIDE + GUARD_BYTES;
            assert!(start >= stack_lo + STACK_BYTES - 2 * core::mem::size_of::<Start>());
            assert!(start + core::mem::size_of::<Start>() <= stack_lo + STACK_BYTES);
        }
        let mut maps = [0u8; 65536];
        let n = sys::read_file(c"/proc/self/maps", &mut maps).ok().unwrap();
        let text = core::str::from_utf8(&maps[..n]).unwrap();
        let guard = std::format!("{:x}-", stacks.base as usize);
        let line = text.lines().find(|l| l.starts_with(&guard)).unwrap();
        assert!(line.contains(" ---p "), "{line}");
    }
}
