//! What a run came to: the verdict judged from the guest's records, the report that
//! presents it with the evidence the guest gathered on failures, and the run directory
//! that keeps it all.

pub mod ci;
pub mod evidence;
pub mod gauntlet;
pub mod report;
pub mod rundir;
pub mod timeline;
pub mod verdict;
