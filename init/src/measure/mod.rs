//! What the workers tell PID 1: memory shared with them (one slot each, written only
//! by its worker), their wake-up latency histograms and how far they migrated; and
//! what the kernel says of its run queues.

pub mod migrations;
pub mod runqueues;
pub mod shared;
pub mod wakes;
