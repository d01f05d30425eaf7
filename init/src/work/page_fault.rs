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
        let base = map(ctx, len);
        // One fault per small page, even where huge pages are on. Kernels without
        // them refuse the advice, which changes nothing.
        // SAFETY: advice on the mapping just made.
        let _ = unsafe { madvise(base.cast(), len, Advice::LinuxNoHugepage) };
        write_pages(&mut beat, base, len, 1);
        // SAFETY: the whole mapping made above; nothing refers to it any more.
        if let Err(e) = unsafe { munmap(base.cast(), len) } {
            ctx.quit("unmapping its memory", e);
        }
    }
}

/// A fresh private anonymous read-write mapping of `len` bytes, the caller's to use
/// and to unmap; a worker that cannot have it quits.
pub fn map(ctx: &Ctx, len: usize) -> *mut u8 {
    // SAFETY: a new mapping, not aliasing anything; the caller owns it.
    unsafe {
        mmap_anonymous(
            core::ptr::null_mut(),
            len,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::PRIVATE,
        )
    }
    .unwrap_or_else(|e| ctx.quit("mapping size_kb of memory", e))
    .cast::<u8>()
}

/// Writes `value` to the first byte of every page of the mapping at `base`, counting an
/// iteration a page, `PAGES_PER_BEAT` pages between progress updates.
pub fn write_pages(beat: &mut Beat, base: *mut u8, len: usize, value: u8) {
    let mut off = 0;
    while off < len {
        let end = (off + PAGES_PER_BEAT * PAGE).min(len);
        let pages = (end - off) / PAGE;
        while off < end {
            // SAFETY: inside the mapping, which is writable.
            unsafe { base.add(off).write_volatile(value) };
            off += PAGE;
        }
        beat.add(pages as u64);
    }
}
