//! schedbox-init, the guest's PID 1: runs a schedbox plan (docs/protocol.md) and
//! reports records on the second serial port. Freestanding: no libc, no allocator.
#![cfg_attr(not(test), no_std)]

pub mod buf;
pub mod capture;
pub mod cgroup;
pub mod check;
pub mod cpulist;
pub mod exec;
pub mod fail;
pub mod kmsg;
pub mod migrations;
pub mod monitor;
pub mod mount;
pub mod payload;
pub mod pid1;
pub mod places;
pub mod plan;
pub mod power;
pub mod record;
pub mod runner;
pub mod scheduler;
pub mod serial;
pub mod shared;
pub mod sys;
pub mod table;
pub mod topology;
pub mod wakes;
pub mod work;
pub mod worker;
