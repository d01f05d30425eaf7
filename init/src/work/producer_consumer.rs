//! `producer-consumer`: workers 2k and 2k+1 are a producer and its consumer, joined by
//! a pipe of one page. The producer spends `produce_us` of CPU on each item and writes
//! it; the consumer reads it and spends `consume_us` on it. With unequal rates the
//! faster side waits: a fast producer for room in the pipe, a fast consumer for items.
//! An iteration is an item written or consumed; the consumer records how late it ran
//! after an item woke it.

use super::link::MAX_FDS;
use super::pipe_pingpong::pipe;
use super::{busy_for, Beat, Ctx};
use crate::platform::sys::{self, NS_PER_US};
use rustix::fd::BorrowedFd;
use rustix::io::Errno;

const READ_END: usize = 0;
const WRITE_END: usize = 1;
/// An item's size: writes up to `PIPE_BUF` are atomic, so the pipe holds whole items.
const ITEM: usize = 64;
/// The pipe's capacity, a page: `PIPE_BYTES / ITEM` items at most are in flight.
const PIPE_BYTES: usize = 4096;
const WORK_CHUNK: u64 = 256;

/// Runs in PID 1 before the pair's first fork.
pub fn prepare(fds: &mut [i32; MAX_FDS]) -> Result<(), Errno> {
    [fds[READ_END], fds[WRITE_END]] = pipe()?;
    let args = [
        fds[WRITE_END] as usize,
        linux_raw_sys::general::F_SETPIPE_SZ as usize,
    ];
    // SAFETY: fcntl on a pipe this function just made, with integer arguments only.
    let ret = unsafe {
        sys::syscall6(
            linux_raw_sys::general::__NR_fcntl,
            [args[0], args[1], PIPE_BYTES, 0, 0, 0],
        )
    };
    if ret < 0 {
        return Err(Errno::from_raw_os_error(-ret as i32));
    }
    Ok(())
}

pub fn run(ctx: &Ctx) -> ! {
    let producer = ctx.index.is_multiple_of(2);
    let (mine, other) = if producer {
        (WRITE_END, READ_END)
    } else {
        (READ_END, WRITE_END)
    };
    // SAFETY: the inherited end this worker never uses; nothing else refers to it.
    unsafe { rustix::io::close(ctx.link.fds[other]) };
    // SAFETY: the worker's end stays open for its whole life.
    let fd = unsafe { BorrowedFd::borrow_raw(ctx.link.fds[mine]) };
    if producer {
        produce(ctx, fd)
    } else {
        consume(ctx, fd)
    }
}

fn produce(ctx: &Ctx, tx: BorrowedFd<'_>) -> ! {
    let cost = ctx.param("produce_us") * NS_PER_US;
    let item = [0u8; ITEM];
    let mut beat = Beat::new(ctx);
    loop {
        busy_for(&mut beat, cost, WORK_CHUNK);
        // Only a consumer blocked on the empty pipe is woken by this write. A full
        // pipe is waited on unstamped: a read need not free room for a whole item.
        ctx.link.stamp_mates(ctx.slot);
        loop {
            match beat.block(|| rustix::io::write(tx, &item)).0 {
                Ok(ITEM) => break,
                Err(Errno::INTR) => {}
                // A short item is as broken as an error.
                r => ctx.quit("writing the pipe", r.err().unwrap_or(Errno::PIPE)),
            }
        }
        beat.add(1);
    }
}

fn consume(ctx: &Ctx, rx: BorrowedFd<'_>) -> ! {
    let cost = ctx.param("consume_us") * NS_PER_US;
    let mut item = [0u8; ITEM];
    let mut beat = Beat::new(ctx);
    loop {
        let (got, late) = beat.block(|| rustix::io::read(rx, &mut item));
        match got {
            Ok(ITEM) => {}
            Err(Errno::INTR) => continue,
            // A short item is as broken as an error.
            r => ctx.quit("reading the pipe", r.err().unwrap_or(Errno::PIPE)),
        }
        if let Some(ns) = late {
            beat.add_wake(ns);
        }
        busy_for(&mut beat, cost, WORK_CHUNK);
        beat.add(1);
    }
}
