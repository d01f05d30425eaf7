//! schedbox's own VMM on KVM.

pub mod probe;
