//! The run pipeline, one stage a module, shared by `run`, `bench`, `soak` and the tests:
//! [`preflight`] and [`prepare`] (checks and inputs, before any VM), [`shapes`] (the
//! scenarios grouped into one VM per shape), [`boot`] (the VM run and observed),
//! [`judge`] (verdict and report), [`publish`] (report written and printed);
//! [`gauntlet`] runs the VMs of a run on several shapes or kernels in turn, [`host`] a
//! run on this machine's kernel without a VM, [`kernels`]
//! makes those of a kernel matrix. [`programs`] gathers
//! what a run packs into the guest; [`repro`] the command that reproduces a run,
//! [`ci_files`] the JUnit and Markdown files CI reads.

pub mod boot;
pub mod ci_files;
pub mod gauntlet;
pub mod host;
pub mod judge;
pub mod kernels;
pub mod preflight;
pub mod prepare;
pub mod programs;
pub mod publish;
pub mod repro;
pub mod shapes;
