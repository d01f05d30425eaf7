//! Writes cpio "newc" archives in memory, as the kernel reads them for an initramfs.
