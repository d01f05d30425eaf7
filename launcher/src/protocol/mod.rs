//! The host's side of docs/protocol.md (the shared `schedbox-protocol` crate holds the
//! limits, vocabularies and validator): compiling scenarios into a plan, the line
//! syntax, and parsing the guest's records.

#[cfg(test)]
pub mod examples;
pub mod plan;
pub mod record;
pub mod wire;
pub mod words;
