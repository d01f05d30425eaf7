//! `cache`: walk a `size_kb` buffer every `stride` bytes, reading and writing, over and
//! over: a working set that fits a cache or not, to see what sharing CPUs costs.
//! One iteration is one pass over the buffer.

use super::page_fault::map_len;
use super::{at_least_one, Beat, Ctx, Params, WorkSpec};
use rustix::mm::{mmap_anonymous, MapFlags, ProtFlags};

/// Accesses between liveness stamps within a pass (a large buffer takes long).
const ACCESSES_PER_TOUCH: usize = 4096;

pub fn check(spec: &WorkSpec, p: &Params) -> Result<(), &'static str> {
    if !at_least_one(spec, p, "size_kb") {
        return Err("size_kb must be at least 1");
    }
    if !at_least_one(spec, p, "stride") {
        return Err("stride must be at least 1");
    }
    Ok(())
}

pub fn run(ctx: &Ctx) -> ! {
    let len = map_len(ctx.param("size_kb"));
    let stride = usize::try_from(ctx.param("stride")).unwrap_or(usize::MAX);
    let mut beat = Beat::new(ctx);
    // SAFETY: a fresh private anonymous mapping, used only here for the worker's life.
    let buf = unsafe {
        mmap_anonymous(
            core::ptr::null_mut(),
            len,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::PRIVATE | MapFlags::POPULATE,
        )
    }
    .unwrap_or_else(|e| ctx.quit("mapping size_kb of memory", e))
    .cast::<u8>();
    loop {
        let mut off = 0;
        let mut n = 0usize;
        while off < len {
            // SAFETY: inside the mapping, which is readable and writable.
            unsafe {
                let p = buf.add(off);
                p.write_volatile(p.read_volatile().wrapping_add(1));
            }
            off = off.saturating_add(stride);
            n += 1;
            if n.is_multiple_of(ACCESSES_PER_TOUCH) {
                beat.touch();
            }
        }
        beat.add(1);
    }
}
