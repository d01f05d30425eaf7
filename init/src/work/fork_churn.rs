//! `fork-churn`: fork a child that exits at once, wait for it, repeat: process creation
//! and teardown as fast as the scheduler lets the pair run. One iteration is one child.

use super::{Beat, Ctx};
use crate::sys::{self, now_ns};
use rustix::io::Errno;
use rustix::process::{Pid, WaitOptions};

pub fn run(ctx: &Ctx) -> ! {
    let mut beat = Beat::new(ctx);
    loop {
        let pid = match sys::fork() {
            Ok(0) => {
                // The parent waits blocked: mark when it should run again.
                ctx.slot.stamp_wake(now_ns());
                sys::exit(0)
            }
            Ok(pid) => pid,
            Err(e) => ctx.quit("fork", e),
        };
        let (waited, _) = beat.block(|| reap(pid));
        if let Err(e) = waited {
            ctx.quit("waiting for its child", e);
        }
        beat.add(1);
    }
}

fn reap(pid: i32) -> Result<(), Errno> {
    loop {
        match rustix::process::waitpid(Pid::from_raw(pid), WaitOptions::empty()) {
            Err(Errno::INTR) => {}
            Ok(Some(_)) => return Ok(()),
            Ok(None) => return Err(Errno::CHILD),
            Err(e) => return Err(e),
        }
    }
}
