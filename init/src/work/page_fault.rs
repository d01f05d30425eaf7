//! `page-fault`: map `size_kb` of fresh anonymous memory, touch every page, unmap,
//! repeat: page-fault and memory-management load. One iteration is one page faulted.

use super::{at_least_one, Beat, Ctx, Params, WorkSpec};
use rustix::mm::{madvise, mmap_anonymous, munmap, Advice, MapFlags, ProtFlags};

const PAGE: usize = 4096;
/// Pages between progress updates.
const PAGES_PER_BEAT: usize = 16;

pub fn check(spec: &WorkSpec, p: &Params) -> Result<(), &'static str> {
    if !at_least_one(spec, p, "size_kb") {
        return Err("size_kb must be at least 1");
    }
    Ok(())
}

/// `size_kb` in bytes, whole pages.
pub fn map_len(size_kb: u64) -> usize {
    (size_kb as usize)
        .saturating_mul(1024)
        .next_multiple_of(PAGE)
}

pub fn run(ctx: &Ctx) -> ! {
    let len = map_len(ctx.param("size_kb"));
    let mut beat = Beat::new(ctx);
    loop {
        // SAFETY: a fresh private anonymous mapping, used only here and unmapped below.
        let base = unsafe {
            mmap_anonymous(
                core::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE,
            )
        }
        .unwrap_or_else(|e| ctx.quit("mapping size_kb of memory", e));
        // One fault per small page, even where huge pages are on. Kernels without
        // them refuse the advice, which changes nothing.
        // SAFETY: advice on the mapping just made.
        let _ = unsafe { madvise(base, len, Advice::LinuxNoHugepage) };
        let base = base.cast::<u8>();
        let mut off = 0;
        while off < len {
            let end = (off + PAGES_PER_BEAT * PAGE).min(len);
            let pages = (end - off) / PAGE;
            while off < end {
                // SAFETY: inside the mapping, which is writable.
                unsafe { base.add(off).write_volatile(1) };
                off += PAGE;
            }
            beat.add(pages as u64);
        }
        // SAFETY: the whole mapping made above; nothing refers to it any more.
        if let Err(e) = unsafe { munmap(base.cast(), len) } {
            ctx.quit("unmapping its memory", e);
        }
    }
}
