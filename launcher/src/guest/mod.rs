//! What goes into the guest: the init binary, the programs it runs (packed with their
//! ELF interpreter and libraries), and the initramfs that carries them with the plan (or
//! the directory `--host` lays it out in).

pub mod elf;
pub mod elfdeps;
pub mod init;
pub mod initramfs;
pub mod ldcache;
pub mod pack;
pub mod unpack;
