//! `spin`: pure CPU burn, never sleeps. One iteration is `CHUNK` arithmetic steps.

use super::{burn, Beat, Ctx};

/// Small enough that progress updates every few µs natively (tens of µs under TCG).
const CHUNK: u64 = 2048;

pub fn run(ctx: &Ctx) -> ! {
    let mut beat = Beat::new(ctx);
    loop {
        burn(CHUNK);
        beat.add(1);
    }
}
