//! Ending the VM. PID 1 must never exit (the kernel would panic), so it powers off
//! when the machine can, and restarts otherwise: the host runs the kernel with
//! `reboot=k` and QEMU with `-no-reboot`, so a restart ends the VM too.

use crate::{serial, sys};
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

/// Powers the VM off (or restarts it); never returns.
pub fn end_vm() -> ! {
    serial::drain();
    if can_power_off() {
        // A child asks for the power-off: should the kernel fail to do it, the child
        // exits instead of PID 1, and PID 1 goes on to restart.
        if let Ok(0) = sys::fork() {
            let _ = reboot(RebootCommand::PowerOff);
            sys::exit(0);
        }
        let _ = rustix::process::wait(rustix::process::WaitOptions::empty());
    }
    loop {
        let _ = reboot(RebootCommand::Restart);
        sys::sleep_ns(RESTART_RETRY_NS);
    }
}
