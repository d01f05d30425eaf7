//! `nice-sweep`: step its own nice value through -20..19 and round again, spinning a
//! little at each level, so the scheduler reweighs a running task constantly. Levels
//! it may not set (no CAP_SYS_NICE) are skipped. One iteration is one level.

use super::{burn, Beat, Ctx};
use rustix::io::Errno;

const NICE_MIN: i32 = -20;
const NICE_MAX: i32 = 19;
/// Spin chunks at each level, each stamped for the monitor.
const CHUNKS_PER_LEVEL: u32 = 16;
const CHUNK: u64 = 2048;

pub fn run(ctx: &Ctx) -> ! {
    let mut beat = Beat::new(ctx);
    let mut lowest = NICE_MIN;
    let mut nice = NICE_MIN;
    loop {
        match rustix::process::setpriority_process(None, nice) {
            Ok(()) => {}
            Err(Errno::ACCESS | Errno::PERM) if nice < NICE_MAX => {
                lowest = nice + 1;
                nice = lowest;
                continue;
            }
            Err(e) => ctx.quit("setting its nice value", e),
        }
        for _ in 0..CHUNKS_PER_LEVEL {
            burn(CHUNK);
            beat.touch();
        }
        beat.add(1);
        nice = if nice >= NICE_MAX { lowest } else { nice + 1 };
    }
}
