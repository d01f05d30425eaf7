//! Ending the VM. PID 1 must never exit (the kernel would panic), so it powers off
//! when the machine can, and restarts otherwise: the host runs the kernel with
//! `reboot=k` and QEMU with `-no-reboot`, so a restart ends the VM too.

use crate::platform::{host, serial, sys};
use rustix::system::{reboot, RebootCommand};

const DSDT: &core::ffi::CStr = c"/sys/firmware/acpi/tables/DSDT";
const S5: &[u8] = b"_S5_";

/// Whether the kernel has a power-off handler. Without one, LINUX_REBOOT_CMD_POWER_OFF
/// falls back to halt, which stops the CPUs and hangs the VM; the ACPI driver registers
/// the handler when the DSDT declares the S5 (soft-off) state.
fn can_power_off() -> bool {
    let Ok(fd) = rustix::fs::open(DSDT, rustix::fs::OFlags::RDONLY, rustix::fs::Mode::empty())
    else {
        return false;
    };
    // Scan in blocks, keeping a tail so a name across a block boundary is found.
    let mut buf = [0u8; 4096 + 3];
    let mut keep = 0;
    loop {
        match rustix::io::read(&fd, &mut buf[keep..]) {
            Ok(0) | Err(_) => return false,
            Ok(n) => {
                let end = keep + n;
                if buf[..end].windows(S5.len()).any(|w| w == S5) {
                    return true;
                }
                keep = end.min(S5.len() - 1);
                buf.copy_within(end - keep..end, 0);
            }
        }
    }
}

/// How long to wait before asking for a restart again, should one not happen.
const RESTART_RETRY_NS: u64 = 1000 * sys::NS_PER_MS;

/// Asks for the power-off from a child: should the kernel fail to do it, the syscall
/// ends the calling process, which must not be PID 1. Returns only when it failed.
/// Leftover children are reaped first, and PID 1 then waits for that child alone: a
/// stray one ending meanwhile must not be taken for a failed power-off (and a restart).
fn power_off() {
    sys::reap_strays();
    let Ok(child) = sys::fork() else {
        return;
    };
    if child == 0 {
        let _ = reboot(RebootCommand::PowerOff);
        sys::exit(0);
    }
    let Some(pid) = rustix::process::Pid::from_raw(child) else {
        return;
    };
    loop {
        match rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty()) {
            Err(rustix::io::Errno::INTR) => continue,
            _ => return,
        }
    }
}

/// Powers the VM off (or restarts it); never returns. In host mode it exits instead:
/// schedbox reads the `done` record, and removes the run's cgroup once it has gone.
pub fn end_vm() -> ! {
    crate::platform::record::flush();
    if host::active() {
        sys::exit(0);
    }
    serial::drain();
    let (failures, errno) = crate::platform::record::write_failures();
    if failures > 0 {
        serial::kmsg_error(b"writes to the records port failed", errno);
    }
    if can_power_off() {
        power_off();
    }
    loop {
        let _ = reboot(RebootCommand::Restart);
        sys::sleep_ns(RESTART_RETRY_NS);
    }
}
