//! The records channel (the virtio console /dev/hvc0 where the VM has one and the kernel
//! drives it, else the serial port /dev/ttyS1; raw, no newline translation) and the
//! console echo.

use crate::platform::buf::Buf;
use crate::platform::record;
use rustix::fd::IntoRawFd;
use rustix::fs::{Mode, OFlags};
use rustix::termios::{self, OptionalActions};

const RECORDS_PORT: &core::ffi::CStr = c"/dev/ttyS1";
/// A page or more per VM exit where the UART takes one byte: preferred when present.
const VIRTIO_CONSOLE: &core::ffi::CStr = c"/dev/hvc0";
const CONSOLE: &core::ffi::CStr = c"/dev/console";
/// The kernel log: reaches the console by printk's own path, which needs no tty.
const KMSG: &core::ffi::CStr = c"/dev/kmsg";
/// printk level 3 (error): shown on the console even under `quiet`.
const KMSG_ERROR: &[u8] = b"<3>schedbox-init: ";
const BAUD: u32 = 115_200;

fn open(path: &core::ffi::CStr) -> Result<i32, rustix::io::Errno> {
    let flags = OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC;
    rustix::fs::open(path, flags, Mode::empty()).map(IntoRawFd::into_raw_fd)
}

/// Tells the kernel log `text` and an errno: for what goes wrong with the ports
/// themselves, where no record can say it.
pub fn kmsg_error(text: &[u8], errno: i32) {
    let Ok(fd) = open(KMSG) else {
        return;
    };
    let mut line: Buf<160> = Buf::from_bytes(KMSG_ERROR);
    line.push(text);
    line.push(b" (errno ");
    line.push_u64(errno.unsigned_abs().into());
    line.push(b")\n");
    record::write_all(fd, line.as_bytes());
    // SAFETY: fd was opened just above and is not used after this.
    unsafe { rustix::io::close(fd) };
}

/// Raw mode: no ONLCR (a record's `\n` must not become `\r\n`), no echo, 8 bits.
fn make_raw(fd: i32) {
    // SAFETY: fd was just opened by us and stays open for the life of PID 1.
    let fd = unsafe { rustix::fd::BorrowedFd::borrow_raw(fd) };
    if let Ok(mut t) = termios::tcgetattr(fd) {
        t.make_raw();
        let _ = t.set_speed(BAUD);
        let _ = termios::tcsetattr(fd, OptionalActions::Now, &t);
    }
}

/// Opens the records channel: the virtio console, else the serial port, else the
/// console so that records still reach the host (the marker keeps them apart from
/// kernel messages). Returns false when none could be opened.
pub fn open_ports() -> bool {
    let console = open(CONSOLE);
    match console {
        Ok(fd) => record::set_echo_fd(fd),
        Err(e) => kmsg_error(b"cannot open /dev/console", e.raw_os_error()),
    }
    // No hvc0 is the usual case without a virtio console or its driver: not an error.
    let records = open(VIRTIO_CONSOLE)
        .or_else(|_| open(RECORDS_PORT))
        .inspect_err(|e| {
            kmsg_error(
                b"cannot open /dev/ttyS1, the records port: records go to the console",
                e.raw_os_error(),
            )
        });
    let console = console.ok();
    match records.ok().or(console) {
        Some(fd) => {
            if Some(fd) != console {
                make_raw(fd);
            }
            record::set_fd(fd);
            true
        }
        None => false,
    }
}

/// Waits until everything written to the records channel has left the guest.
pub fn drain() {
    record::flush();
    let fd = record::fd();
    if fd >= 0 {
        // SAFETY: the records fd stays open for the life of PID 1.
        let _ = termios::tcdrain(unsafe { rustix::fd::BorrowedFd::borrow_raw(fd) });
    }
}
