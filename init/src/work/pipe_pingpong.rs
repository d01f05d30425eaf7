//! `pipe-pingpong`: workers 2k and 2k+1 bounce one byte over two pipes that PID 1 made
//! before forking them. An iteration is a round trip for the pair's lead and an echo
//! for its partner; each side records how late it ran after the other woke it.

use super::link::MAX_FDS;
use super::{Beat, Ctx};
use crate::platform::sys;
use rustix::fd::BorrowedFd;
use rustix::io::Errno;

/// `fds`: the lead writes `TO_MATE`, the partner writes `TO_LEAD`.
const TO_MATE_R: usize = 0;
const TO_MATE_W: usize = 1;
const TO_LEAD_R: usize = 2;
const TO_LEAD_W: usize = 3;

/// Runs in PID 1 before the pair's first fork.
pub fn prepare(fds: &mut [i32; MAX_FDS]) -> Result<(), Errno> {
    [fds[TO_MATE_R], fds[TO_MATE_W]] = pipe()?;
    [fds[TO_LEAD_R], fds[TO_LEAD_W]] = pipe()?;
    Ok(())
}

pub(super) fn pipe() -> Result<[i32; 2], Errno> {
    let mut fds = [0i32; 2];
    let flags = linux_raw_sys::general::O_CLOEXEC as usize;
    // SAFETY: pipe2 writes two ints to a buffer that holds two.
    let ret = unsafe {
        sys::syscall6(
            linux_raw_sys::general::__NR_pipe2,
            [fds.as_mut_ptr() as usize, flags, 0, 0, 0, 0],
        )
    };
    if ret < 0 {
        return Err(Errno::from_raw_os_error(-ret as i32));
    }
    Ok(fds)
}

pub fn run(ctx: &Ctx) -> ! {
    let mut beat = Beat::new(ctx);
    let f = ctx.link.fds;
    let lead = ctx.index.is_multiple_of(2);
    let (rx, tx, unused) = if lead {
        (f[TO_LEAD_R], f[TO_MATE_W], [f[TO_MATE_R], f[TO_LEAD_W]])
    } else {
        (f[TO_MATE_R], f[TO_LEAD_W], [f[TO_LEAD_R], f[TO_MATE_W]])
    };
    for fd in unused {
        // SAFETY: inherited ends this worker never uses; nothing else refers to them.
        unsafe { rustix::io::close(fd) };
    }
    // SAFETY: the pair's pipe ends stay open for the worker's whole life.
    let (rx, tx) = unsafe { (BorrowedFd::borrow_raw(rx), BorrowedFd::borrow_raw(tx)) };
    if lead {
        send(ctx, tx);
    }
    let mut byte = [0u8; 1];
    loop {
        let (got, late) = beat.block(|| rustix::io::read(rx, &mut byte));
        match got {
            Ok(1) => {}
            Ok(_) => ctx.quit("reading the pipe", Errno::PIPE),
            Err(Errno::INTR) => continue,
            Err(e) => ctx.quit("reading the pipe", e),
        }
        if let Some(ns) = late {
            beat.add_wake(ns);
        }
        beat.add(1);
        send(ctx, tx);
    }
}

fn send(ctx: &Ctx, tx: BorrowedFd<'_>) {
    ctx.link.stamp_mates(ctx.slot);
    loop {
        match rustix::io::write(tx, b"x") {
            Ok(1) => return,
            Err(Errno::INTR) => {}
            Ok(_) => ctx.quit("writing the pipe", Errno::PIPE),
            Err(e) => ctx.quit("writing the pipe", e),
        }
    }
}
