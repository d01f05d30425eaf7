//! `fork-churn`: fork a child that exits at once, wait for it, repeat: process creation
//! and teardown as fast as the scheduler lets the pair run. One iteration is one child,
//! or, for a worker that expects refused forks (`expect=fork-refused`, under
//! `pids.max`), one fork the kernel refused: it counts them and tries again shortly.

use super::Expect;
use super::{Beat, Ctx};
use crate::platform::sys::{self, now_ns, NS_PER_MS};
use core::sync::atomic::Ordering::Relaxed;
use rustix::io::Errno;
use rustix::process::{Pid, WaitOptions};

/// How long a worker whose fork was refused sleeps before it tries again.
const REFUSED_RETRY_NS: u64 = NS_PER_MS;

pub fn run(ctx: &Ctx) -> ! {
    let mut beat = Beat::new(ctx);
    let refusals_expected = ctx.expect == Expect::ForkRefused;
    loop {
        let pid = match sys::fork() {
            Ok(0) => {
                // The parent waits blocked: mark when it should run again.
                ctx.slot.stamp_wake(now_ns());
                sys::exit(0)
            }
            Ok(pid) => pid,
            Err(Errno::AGAIN) if refusals_expected => {
                let refused = &ctx.slot.forks_refused;
                refused.store(refused.load(Relaxed) + 1, Relaxed);
                beat.add(1);
                beat.sleep_until(now_ns() + REFUSED_RETRY_NS);
                continue;
            }
            Err(e) => ctx.quit("fork", e),
        };
        let (waited, _) = beat.block(|| reap(pid));
        if let Err(e) = waited {
            ctx.quit("waiting for its child", e);
        }
        beat.add(1);
    }
}

pub(super) fn reap(pid: i32) -> Result<(), Errno> {
    loop {
        match rustix::process::waitpid(Pid::from_raw(pid), WaitOptions::empty()) {
            Err(Errno::INTR) => {}
            Ok(Some(_)) => return Ok(()),
            Ok(None) => return Err(Errno::CHILD),
            Err(e) => return Err(e),
        }
    }
}
