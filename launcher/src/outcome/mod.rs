//! What a run came to: the verdict judged from the guest's records, the report that
//! presents it, and the run directory that keeps the evidence.

pub mod ci;
pub mod gauntlet;
pub mod report;
pub mod rundir;
pub mod timeline;
pub mod verdict;
