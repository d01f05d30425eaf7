//! The run pipeline's pieces that join the others: the programs a run packs into the
//! guest (its scheduler and payloads).

pub mod programs;
