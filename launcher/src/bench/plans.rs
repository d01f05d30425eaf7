//! The plans the benchmark boots besides the user's scenarios: many spinners to weigh the
//! monitor's own CPU time, and a starved worker to time stall detection.

/// Workers in the monitor-cost plan: many, so per-worker sampling work shows.
pub const MONITOR_WORKERS: u32 = 64;
pub const MONITOR_HOLD_MS: u64 = 2000;
/// The default sampling period, and a ten times slower one to compare it with.
pub const FAST_SAMPLE_MS: u64 = 10;
pub const SLOW_SAMPLE_MS: u64 = 100;
const HEARTBEAT_MS: u64 = 200;

/// The stall plan's limit and hold: the victim is starved from its first moments, so
/// the gap crosses the limit well before the hold ends.
pub const STALL_LIMIT_MS: u64 = 200;
pub const STALL_SAMPLE_MS: u64 = FAST_SAMPLE_MS;
const STALL_HOLD_MS: u64 = 1000;
pub const STALL_SCENARIO: &str = "starve";

/// 64 spinners in one cgroup for 2 s, with the default checks, sampled every `sample_ms`.
pub fn monitor(sample_ms: u64) -> String {
    format!(
        "schedbox-plan 1\n\
         config heartbeat_ms={HEARTBEAT_MS} sample_ms={sample_ms} kmsg=1\n\
         scenario name=monitor\n\
         step hold_ms={MONITOR_HOLD_MS}\n\
         op cgroup-add path=work\n\
         op spawn group=spin cgroup=work work=spin count={MONITOR_WORKERS}\n\
         check name=progress limit=1\n\
         check name=stall limit=1000\n\
         end\n"
    )
}

/// A SCHED_FIFO spinner pinned to CPU 0 with RT throttling and the fair server turned
/// off: the normal spinner pinned there stops progressing the moment the hog runs.
pub fn stall() -> String {
    format!(
        "schedbox-plan 1\n\
         config heartbeat_ms={HEARTBEAT_MS} sample_ms={STALL_SAMPLE_MS} kmsg=1\n\
         scenario name={STALL_SCENARIO}\n\
         step hold_ms={STALL_HOLD_MS}\n\
         op write path=/proc/sys/kernel/sched_rt_runtime_us value=-1\n\
         op write path=/sys/kernel/debug/sched/fair_server/cpu0/runtime value=0\n\
         op cgroup-add path=c\n\
         op spawn group=victim cgroup=c work=spin count=1 affinity=0\n\
         op spawn group=hog cgroup=c work=spin count=1 affinity=0 policy=fifo prio=10\n\
         check name=stall limit={STALL_LIMIT_MS}\n\
         end\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_are_well_formed_lines() {
        for plan in [monitor(FAST_SAMPLE_MS), monitor(SLOW_SAMPLE_MS), stall()] {
            schedbox_protocol::plan::validate(plan.as_bytes())
                .unwrap_or_else(|e| panic!("{plan}: {e}"));
        }
        assert!(monitor(SLOW_SAMPLE_MS).contains(" sample_ms=100 "));
        assert!(stall().contains("check name=stall limit=200\n"));
    }
}
