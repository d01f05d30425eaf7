//! What the workers tell PID 1: memory shared with them (one slot each, written only
//! by its worker), their wake-up latency histograms and how far they migrated.

pub mod migrations;
pub mod shared;
pub mod wakes;
