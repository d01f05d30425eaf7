//! schedbox-init, the guest's PID 1: runs a schedbox plan (docs/protocol.md) and
//! reports records on the second serial port. Freestanding: no libc, no allocator.
//!
//! The folders, from the machine up:
//! - [`platform`]: what the guest stands on: fixed-capacity buffers and tables, the
//!   error type, system calls, mounts, the serial ports and the records written to them,
//!   the kernel log, running a child binary and draining its output, ending the VM.
//! - [`topology`]: CPU sets, where each CPU sits (core, LLC, node), and the machine as
//!   the kernel sees it, reported at boot.
//! - [`measure`]: memory shared with the workers (one slot each), their wake-up latency
//!   histograms and their migrations.
//! - [`work`]: what a worker process does (spin, futex ping-pong, ...), one file a work.
//! - [`sched_ext`]: the sched_ext scheduler under test: started, watched, stopped.
//! - [`engine`]: the plan and its interpreter: cgroups, the worker pool, payloads, the
//!   monitor that watches a scenario and the checks that judge it.
//! - [`pid1`]: PID 1's life, from mounting to ending the VM.
#![cfg_attr(not(test), no_std)]

// First, so that its `fail!` macro is in scope in every module below.
#[macro_use]
pub mod platform;

pub mod engine;
pub mod measure;
pub mod pid1;
pub mod sched_ext;
pub mod topology;
pub mod work;
