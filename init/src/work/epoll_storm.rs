//! `epoll-storm`: worker 0 makes one pipe readable, and every other worker, each
//! waiting in `epoll_wait` on its own epoll instance (edge-triggered) that watches the
//! pipe, is woken by that one write. Worker 0 waits until every one has run and checked
//! in, then reads the byte back so that the next write is a new edge. An iteration is
//! a round for worker 0 and an event for the others, which record how late they ran
//! after worker 0 woke them.

use super::futex_fanout::{await_arrivals, check_in};
use super::link::MAX_FDS;
use super::pipe_pingpong::pipe;
use super::{Beat, Ctx};
use crate::platform::sys;
use linux_raw_sys::general::{
    __NR_epoll_create1, __NR_epoll_ctl, __NR_epoll_pwait, epoll_event, EPOLLET, EPOLLIN,
    EPOLL_CLOEXEC, EPOLL_CTL_ADD,
};
use rustix::fd::BorrowedFd;
use rustix::io::Errno;

const READ_END: usize = 0;
const WRITE_END: usize = 1;
/// `epoll_pwait`'s timeout that waits for ever.
const NO_TIMEOUT: usize = -1isize as usize;

/// Runs in PID 1 before the spawn's first fork.
pub fn prepare(fds: &mut [i32; MAX_FDS]) -> Result<(), Errno> {
    [fds[READ_END], fds[WRITE_END]] = pipe()?;
    Ok(())
}

pub fn run(ctx: &Ctx) -> ! {
    // SAFETY: the spawn's pipe ends stay open for the worker's whole life.
    let (rx, tx) = unsafe {
        (
            BorrowedFd::borrow_raw(ctx.link.fds[READ_END]),
            BorrowedFd::borrow_raw(ctx.link.fds[WRITE_END]),
        )
    };
    let mut beat = Beat::new(ctx);
    if ctx.index == 0 {
        loop {
            ctx.link.stamp_mates(ctx.slot);
            if let Err(e) = rustix::io::write(tx, b"x") {
                ctx.quit("writing the pipe", e);
            }
            await_arrivals(ctx, &mut beat);
            if let Err(e) = rustix::io::read(rx, &mut [0u8; 1]) {
                ctx.quit("reading the pipe", e);
            }
            beat.add(1);
        }
    }
    let ep = watch(ctx.link.fds[READ_END]).unwrap_or_else(|e| ctx.quit("watching the pipe", e));
    let mut event = epoll_event { events: 0, data: 0 };
    loop {
        let (got, late) = beat.block(|| {
            // SAFETY: epoll_pwait writes at most one event into `event`.
            unsafe {
                sys::syscall6(
                    __NR_epoll_pwait,
                    [ep, &raw mut event as usize, 1, NO_TIMEOUT, 0, 0],
                )
            }
        });
        if got != 1 {
            continue;
        }
        if let Some(ns) = late {
            beat.add_wake(ns);
        }
        beat.add(1);
        check_in(ctx);
    }
}

/// A new epoll instance watching `fd` for input, edge-triggered.
fn watch(fd: i32) -> Result<usize, Errno> {
    let mut event = epoll_event {
        events: EPOLLIN | EPOLLET,
        data: 0,
    };
    // SAFETY: integer arguments, and an event that epoll_ctl only reads.
    let ep = unsafe { sys::syscall6(__NR_epoll_create1, [EPOLL_CLOEXEC as usize, 0, 0, 0, 0, 0]) };
    let ret = if ep < 0 {
        ep
    } else {
        let args = [ep as usize, EPOLL_CTL_ADD as usize, fd as usize];
        // SAFETY: as above.
        unsafe {
            sys::syscall6(
                __NR_epoll_ctl,
                [args[0], args[1], args[2], &raw mut event as usize, 0, 0],
            )
        }
    };
    if ret < 0 {
        return Err(Errno::from_raw_os_error(-ret as i32));
    }
    Ok(ep as usize)
}
