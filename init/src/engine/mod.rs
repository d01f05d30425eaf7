//! The plan and what runs it: the plan read and validated, its interpreter, the
//! scenario's cgroups, the worker pool (processes, or threads of one process),
//! payloads, the monitor that watches a scenario, the checks that judge it at its
//! end, and the evidence kept on a failure.

pub mod cgroup;
pub mod check;
pub mod evidence;
pub mod hotplug;
pub mod isolation;
pub mod monitor;
pub mod payload;
pub mod plan;
pub mod runner;
pub mod setup;
pub mod threads;
pub mod usage;
pub mod worker;
