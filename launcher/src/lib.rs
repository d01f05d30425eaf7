//! schedbox: boots a kernel with a test plan and judges how its scheduler behaved.

pub mod backend;
pub mod elfdeps;
pub mod kbuild;
pub mod kconfig;
pub mod kimage;
pub mod ldcache;
pub mod pack;
pub mod vmm;
