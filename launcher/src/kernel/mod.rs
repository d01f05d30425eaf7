//! The kernel to boot: finding one (flag, environment, cache), reading its image and
//! configuration, fetching Debian's, and building the project's own.

pub mod build;
pub mod config;
pub mod fetch;
pub mod image;
mod locate;

pub use locate::*;
