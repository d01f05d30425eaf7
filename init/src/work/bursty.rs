//! `bursty`: spin for `burst_ms`, sleep for `sleep_ms`, repeat. An iteration is one
//! spin chunk, so progress moves during bursts only.

use super::{spin_for, Beat, Ctx};
use crate::platform::sys::{now_ns, NS_PER_MS};

const CHUNK: u64 = 2048;

pub fn run(ctx: &Ctx) -> ! {
    let burst = ctx.param("burst_ms") * NS_PER_MS;
    let sleep = ctx.param("sleep_ms") * NS_PER_MS;
    let mut beat = Beat::new(ctx);
    loop {
        spin_for(&mut beat, burst, CHUNK);
        let late = beat.sleep_until(now_ns() + sleep);
        beat.add_wake(late);
    }
}
