//! The run pipeline's pieces that join the others: what is checked on the host before
//! any VM starts, and the programs a run packs into the guest (its scheduler and
//! payloads).

pub mod preflight;
pub mod programs;
