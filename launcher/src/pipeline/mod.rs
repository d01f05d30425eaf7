//! The run pipeline, one stage a module, shared by `run`, `bench`, `soak` and the tests:
//! [`preflight`] and [`prepare`] (checks and inputs, before any VM), [`boot`] (the VM run
//! and observed), [`judge`] (verdict and report), [`publish`] (report written and
//! printed). [`programs`] gathers what a run packs into the guest.

pub mod boot;
pub mod judge;
pub mod preflight;
pub mod prepare;
pub mod programs;
pub mod publish;
