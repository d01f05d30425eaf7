//! schedbox's own VMM on KVM.
