//! The records port (/dev/ttyS1, raw, no newline translation) and the console echo.

use crate::record;
use rustix::fd::IntoRawFd;
use rustix::fs::{Mode, OFlags};
use rustix::termios::{self, OptionalActions};

const RECORDS_PORT: &core::ffi::CStr = c"/dev/ttyS1";
const CONSOLE: &core::ffi::CStr = c"/dev/console";
const BAUD: u32 = 115_200;

fn open(path: &core::ffi::CStr) -> Option<i32> {
    let flags = OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC;
    rustix::fs::open(path, flags, Mode::empty())
        .ok()
        .map(IntoRawFd::into_raw_fd)
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

/// Opens the records port, falling back to the console so that records still reach
/// the host (the marker keeps them apart from kernel messages). Returns false when
/// neither could be opened.
pub fn open_ports() -> bool {
    let console = open(CONSOLE);
    if let Some(fd) = console {
        record::set_echo_fd(fd);
    }
    match open(RECORDS_PORT).or(console) {
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

/// Waits until everything written to the records port has left the UART.
pub fn drain() {
    let fd = record::fd();
    if fd >= 0 {
        // SAFETY: the records fd stays open for the life of PID 1.
        let _ = termios::tcdrain(unsafe { rustix::fd::BorrowedFd::borrow_raw(fd) });
    }
}
