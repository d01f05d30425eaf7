//! `smt-sibling-spin`: workers 2k and 2k+1 spin on the two thread siblings of the k-th
//! core (wrapping) that has two threads among the CPUs they may use, one on each: two
//! busy threads sharing a core's execution units.

use super::{pin, spin, Ctx};
use crate::topology::places;

pub fn run(ctx: &Ctx) -> ! {
    let allowed = pin::allowed(ctx);
    let (pair, lead) = pin::pair_of(ctx);
    let Some([first, second]) = places::smt_pair(&allowed, pair, places::core) else {
        ctx.quit_with(format_args!(
            "no core with two thread siblings among the CPUs it may use"
        ))
    };
    let mut cpu = crate::topology::cpulist::CpuMask::default();
    cpu.set(if lead { first } else { second });
    pin::to(ctx, &cpu);
    spin::run(ctx)
}
