//! `cross-llc-pingpong`: a `futex-pingpong` pair whose lead runs in the k-th LLC
//! (wrapping) its CPUs reach and its partner in the next, so every turn hands the futex
//! word's cache line from one LLC to another.

use super::{futex_pingpong, pin, Ctx};
use crate::topology::places;

/// LLCs a pair needs: one for each side.
const LLCS_NEEDED: usize = 2;

pub fn run(ctx: &Ctx) -> ! {
    let allowed = pin::allowed(ctx);
    let (pair, lead) = pin::pair_of(ctx);
    let which = if lead { pair } else { pair + 1 };
    let (cpus, llcs) = places::unit_cpus(&allowed, which, places::llc);
    if llcs < LLCS_NEEDED {
        ctx.quit_with(format_args!(
            "the CPUs it may use reach {llcs} LLC, it needs {LLCS_NEEDED}"
        ))
    }
    pin::to(ctx, &cpus);
    futex_pingpong::run(ctx)
}
