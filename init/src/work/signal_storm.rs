//! `signal-storm`: worker 0 sends `SIGUSR1` to every other worker, each waiting for it
//! in `sigtimedwait` with the signal blocked, then waits until every one has run and
//! checked in; the last to check in wakes it. Every round is a burst of signal
//! deliveries, each waking its target. An iteration is a round for worker 0 and a
//! signal taken for the others, which record how late they ran after worker 0 sent it.

use super::futex_fanout::{await_arrivals, check_in};
use super::{Beat, Ctx};
use crate::platform::sys;
use core::sync::atomic::Ordering::{Acquire, Release};
use linux_raw_sys::general::{
    __NR_kill, __NR_rt_sigprocmask, __NR_rt_sigtimedwait, SIGUSR1, SIG_BLOCK,
};

/// The kernel's signal set: one bit a signal, 64 signals.
const SIGSET_BYTES: usize = 8;
static USR1: u64 = 1 << (SIGUSR1 - 1);

pub fn run(ctx: &Ctx) -> ! {
    let mut beat = Beat::new(ctx);
    if ctx.index == 0 {
        sender(ctx, &mut beat)
    }
    // Blocked, the signal waits for sigtimedwait instead of ending the worker; only
    // then may worker 0 learn the pid and send it.
    // SAFETY: rt_sigprocmask reads one signal set, which outlives the call.
    unsafe {
        sys::syscall6(
            __NR_rt_sigprocmask,
            [
                SIG_BLOCK as usize,
                &raw const USR1 as usize,
                0,
                SIGSET_BYTES,
                0,
                0,
            ],
        )
    };
    ctx.slot.seldom.knock.store(
        rustix::process::getpid().as_raw_nonzero().get() as u32,
        Release,
    );
    check_in(ctx);
    loop {
        // SAFETY: as above: a set that outlives the call, no info, no timeout.
        let (got, late) = beat.block(|| unsafe {
            sys::syscall6(
                __NR_rt_sigtimedwait,
                [&raw const USR1 as usize, 0, 0, SIGSET_BYTES, 0, 0],
            )
        });
        if got != SIGUSR1 as isize {
            continue;
        }
        if let Some(ns) = late {
            beat.add_wake(ns);
        }
        beat.add(1);
        check_in(ctx);
    }
}

fn sender(ctx: &Ctx, beat: &mut Beat) -> ! {
    // A first check-in from each worker says that its pid is there (and that it has
    // joined the team, which PID 1 does before forking it).
    await_arrivals(ctx, beat);
    loop {
        ctx.link.stamp_mates(ctx.slot);
        ctx.link.for_each_mate(ctx.slot, |w| {
            let pid = w.seldom.knock.load(Acquire) as usize;
            // SAFETY: kill takes integers only.
            unsafe { sys::syscall6(__NR_kill, [pid, SIGUSR1 as usize, 0, 0, 0, 0]) };
        });
        await_arrivals(ctx, beat);
        beat.add(1);
    }
}
