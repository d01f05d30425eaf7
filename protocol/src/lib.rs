//! The contract between the host (`schedbox`) and the guest's PID 1 (`schedbox-init`),
//! docs/protocol.md as code. Both sides link this crate, so a limit, a word of the
//! vocabulary or a default has one definition and the host can run the guest's own plan
//! validator before it boots anything. `no_std`, no allocation, no dependencies.
//!
//! Map:
//! - [`limits`]: every bound either side enforces, the guest memory they cost, and the
//!   defaults of the `config` line.
//! - [`escape`]: percent-encoding of values.
//! - [`line`]: the common line syntax: verb, bare word, `key=value` fields.
//! - [`vocab`]: plan verbs and ops with their keys, scheduling policies, record kinds,
//!   scheduler events.
//! - [`works`]: work types with their keys, defaults and ranges.
//! - [`checks`]: checks with their default limits and scopes.
//! - [`cgroup_files`]: the cgroup interface files a scenario may set.
//! - [`kmsg`]: which kernel log lines show a problem.
//! - [`cpulist`]: CPU sets in the kernel's list syntax.
//! - [`plan`]: the plan validator (syntax, structure, values, resources).
//! - [`msg`]: fixed-capacity messages and numbers without an allocator.
#![no_std]

pub mod cgroup_files;
pub mod checks;
pub mod cpulist;
pub mod escape;
pub mod kmsg;
pub mod limits;
pub mod line;
pub mod msg;
pub mod plan;
pub mod vocab;
pub mod works;

#[cfg(test)]
extern crate std;
