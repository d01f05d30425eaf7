//! ELF facts both the dependency walker and the loader cache need.

/// `e_machine` of x86-64 and 64-bit Arm objects.
pub const EM_X86_64: u16 = 62;
pub const EM_AARCH64: u16 = 183;
