//! The filesystems PID 1 needs: /dev first (for the records port), then the rest.

use crate::platform::fail::{Errno, Res};
use core::ffi::CStr;
use rustix::fs::Mode;
use rustix::io::Errno as E;
use rustix::mount::MountFlags;

struct Mount {
    source: &'static CStr,
    target: &'static CStr,
    fstype: &'static CStr,
    flags: MountFlags,
    /// Missing kernel support is not an error (debugfs is only for LKDTM tests).
    optional: bool,
}

const fn m(
    source: &'static CStr,
    target: &'static CStr,
    fstype: &'static CStr,
    flags: MountFlags,
) -> Mount {
    Mount {
        source,
        target,
        fstype,
        flags,
        optional: false,
    }
}

const NOSUID_NODEV: MountFlags = MountFlags::NOSUID.union(MountFlags::NODEV);

const DEV: Mount = m(c"devtmpfs", c"/dev", c"devtmpfs", MountFlags::NOSUID);

const REST: &[Mount] = &[
    m(
        c"proc",
        c"/proc",
        c"proc",
        NOSUID_NODEV.union(MountFlags::NOEXEC),
    ),
    m(
        c"sysfs",
        c"/sys",
        c"sysfs",
        NOSUID_NODEV.union(MountFlags::NOEXEC),
    ),
    m(
        c"cgroup2",
        c"/sys/fs/cgroup",
        c"cgroup2",
        NOSUID_NODEV.union(MountFlags::NOEXEC),
    ),
    m(c"tmpfs", c"/tmp", c"tmpfs", NOSUID_NODEV),
    // Payloads write to pseudo-terminals; without them they write to pipes.
    Mount {
        optional: true,
        ..m(
            c"devpts",
            c"/dev/pts",
            c"devpts",
            MountFlags::NOSUID.union(MountFlags::NOEXEC),
        )
    },
    Mount {
        optional: true,
        ..m(c"debugfs", c"/sys/kernel/debug", c"debugfs", NOSUID_NODEV)
    },
];

fn mount_one(mnt: &Mount) -> Res<()> {
    match rustix::fs::mkdir(mnt.target, Mode::from_raw_mode(0o755)) {
        Ok(()) | Err(E::EXIST) => {}
        Err(e) if mnt.optional => {
            return if e == E::NOENT {
                Ok(())
            } else {
                Err(fail!(Mount, "mkdir {:?}: {}", mnt.target, Errno(e)))
            }
        }
        Err(e) => return Err(fail!(Mount, "mkdir {:?}: {}", mnt.target, Errno(e))),
    }
    match rustix::mount::mount(mnt.source, mnt.target, mnt.fstype, mnt.flags, None::<&CStr>) {
        // Already mounted (the kernel's own devtmpfs automount, for instance).
        Ok(()) | Err(E::BUSY) => Ok(()),
        Err(E::NODEV) if mnt.optional => Ok(()),
        Err(e) => Err(fail!(
            Mount,
            "mount {:?} on {:?}: {}",
            mnt.fstype,
            mnt.target,
            Errno(e)
        )),
    }
}

/// Mounts devtmpfs on /dev.
pub fn mount_dev() -> Res<()> {
    mount_one(&DEV)
}

/// Mounts proc, sysfs, cgroup2, tmpfs (and devpts and debugfs when the kernel has them).
pub fn mount_rest() -> Res<()> {
    REST.iter().try_for_each(mount_one)
}
