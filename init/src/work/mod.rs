//! Work types: what a worker process does once it is set up in its cgroup. Each runs
//! forever (PID 1 kills it) and reports progress through its shared slot. This file is
//! the table of them; what a work's body is given is `ctx`, teams are `link` (a
//! worker's side) and `team` (PID 1's).

mod affinity_churn;
mod bursty;
mod cache;
mod cgroup_churn;
mod cross_llc_pingpong;
mod ctx;
mod epoll_storm;
mod expect;
mod fork_churn;
mod futex;
mod futex_fanout;
mod futex_pingpong;
mod idle_churn;
mod link;
mod mixed;
mod mutex;
mod nice_sweep;
mod numa_working_set;
mod page_fault;
mod pin;
mod pipe_pingpong;
mod policy_churn;
mod preempt_storm;
mod priority_inversion;
mod producer_consumer;
mod request_loop;
mod rt_starvation;
mod signal_storm;
mod sleep_wake;
mod smt_sibling_spin;
mod spin;
mod stress_mix;
mod team;
mod thundering_herd;
mod timer_latency;
mod wake_chain;
mod r#yield;

pub use ctx::{Beat, CheckFn, Ctx, Params, RunFn, WorkSpec};
pub use expect::Expect;
pub use link::{Link, Teams};
pub use team::TeamSetup;

use ctx::{at_least_one, burn, busy_for, spin_for};
use link::PrepareFn;
use schedbox_protocol::works as proto;

const fn w(work: &'static proto::Work, run: RunFn) -> WorkSpec {
    WorkSpec {
        name: work.name,
        keys: work.keys,
        run,
        teams: Teams::Solo,
        prepare: None,
        check: None,
    }
}

impl WorkSpec {
    const fn teams(mut self, teams: Teams) -> Self {
        self.teams = teams;
        self
    }

    const fn prepare(mut self, f: PrepareFn) -> Self {
        self.prepare = Some(f);
        self
    }

    const fn check(mut self, f: CheckFn) -> Self {
        self.check = Some(f);
        self
    }
}

/// Every work type of protocol version 1.
pub static WORKS: &[WorkSpec] = &[
    w(&proto::SPIN, spin::run),
    w(&proto::YIELD, r#yield::run),
    w(&proto::MIXED, mixed::run),
    w(&proto::BURSTY, bursty::run),
    w(&proto::SLEEP_WAKE, sleep_wake::run),
    w(&proto::PIPE_PINGPONG, pipe_pingpong::run)
        .teams(Teams::Pairs)
        .prepare(pipe_pingpong::prepare),
    w(&proto::FUTEX_PINGPONG, futex_pingpong::run).teams(Teams::Pairs),
    w(&proto::FUTEX_FANOUT, futex_fanout::run).teams(Teams::Spawn),
    w(&proto::FORK_CHURN, fork_churn::run),
    w(&proto::NICE_SWEEP, nice_sweep::run),
    w(&proto::AFFINITY_CHURN, affinity_churn::run),
    w(&proto::POLICY_CHURN, policy_churn::run),
    w(&proto::PAGE_FAULT, page_fault::run).check(page_fault::check),
    w(&proto::CACHE, cache::run).check(cache::check),
    w(&proto::MUTEX, mutex::run).teams(Teams::Spawn),
    w(&proto::SMT_SIBLING_SPIN, smt_sibling_spin::run).teams(Teams::Pairs),
    w(&proto::CROSS_LLC_PINGPONG, cross_llc_pingpong::run).teams(Teams::Pairs),
    w(&proto::NUMA_WORKING_SET, numa_working_set::run).check(numa_working_set::check),
    w(&proto::REQUEST_LOOP, request_loop::run).teams(Teams::Spawn),
    w(&proto::THUNDERING_HERD, thundering_herd::run).teams(Teams::Spawn),
    w(&proto::WAKE_CHAIN, wake_chain::run).teams(Teams::Spawn),
    w(&proto::PRODUCER_CONSUMER, producer_consumer::run)
        .teams(Teams::Pairs)
        .prepare(producer_consumer::prepare),
    w(&proto::TIMER_LATENCY, timer_latency::run),
    w(&proto::EPOLL_STORM, epoll_storm::run)
        .teams(Teams::Spawn)
        .prepare(epoll_storm::prepare),
    w(&proto::SIGNAL_STORM, signal_storm::run).teams(Teams::Spawn),
    w(&proto::PREEMPT_STORM, preempt_storm::run),
    w(&proto::IDLE_CHURN, idle_churn::run),
    w(&proto::FAN_OUT_COMPUTE, futex_fanout::run).teams(Teams::Spawn),
    w(&proto::PRIORITY_INVERSION, priority_inversion::run).teams(Teams::Spawn),
    w(&proto::RT_STARVATION, rt_starvation::run),
    w(&proto::CGROUP_CHURN, cgroup_churn::run),
    w(&proto::STRESS_MIX, stress_mix::run),
];

pub fn spec(name: &[u8]) -> Option<&'static WorkSpec> {
    WORKS.iter().find(|w| w.name.as_bytes() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_protocol_work_runs_here_with_its_pairing() {
        assert_eq!(WORKS.len(), proto::WORKS.len());
        for (ours, theirs) in WORKS.iter().zip(proto::WORKS) {
            assert_eq!(ours.name, theirs.name);
            assert_eq!(
                matches!(ours.teams, Teams::Pairs),
                theirs.paired,
                "{}",
                ours.name
            );
        }
    }
}
