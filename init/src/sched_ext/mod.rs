//! The sched_ext scheduler under test: started before the scenarios, waited for until
//! the kernel reports it enabled, watched while they run, stopped at the end.

pub mod scheduler;
