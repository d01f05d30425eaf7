//! `schedbox-init`: the guest's PID 1 for schedbox.
//!
//! The kernel runs it as `/init` from the initramfs. It mounts proc, sysfs, devtmpfs,
//! cgroup2 and tmpfs, opens `/dev/ttyS1` for records, reads `/plan`, runs its scenarios
//! (cgroups, forked workers, a stall monitor, checks), writes one record line per event
//! (docs/protocol.md), and ends the VM. Any failure is an `error` record followed by
//! `done status=error`; PID 1 never exits, so the kernel never panics on it.
//!
//! Freestanding: no libc, no allocator, its own `_start`. All logic lives in the library
//! (`src/lib.rs`) so `cargo test` exercises it on the host with std.
//!
//! Try it by hand: `cargo build --release`, put the binary as `/init` and a plan as
//! `/plan` in a newc cpio, and boot it with QEMU:
//! `-kernel bzImage -initrd x.cpio -append "console=ttyS0 rdinit=/init panic=-1 reboot=k"
//! -no-reboot -serial file:console.log -serial file:records.log`.
#![no_std]
#![no_main]

use core::fmt::Write;
use schedbox_init::pid1;
use schedbox_init::platform::buf::Buf;
use schedbox_init::platform::record::{DoneStatus, ErrorPlace, Record, RecordKind};
use schedbox_init::platform::{power, sys};

// The kernel enters with rsp pointing at argc, then argv[], NULL, envp[], NULL, auxv.
// Clear the frame pointer, align the stack to 16 bytes for the call, and hand the
// initial stack pointer to Rust.
core::arch::global_asm!(
    ".globl _start",
    ".type _start,@function",
    "_start:",
    "xor ebp, ebp",
    "mov rdi, rsp",
    "and rsp, -16",
    "call {entry}",
    "ud2",
    entry = sym entry,
);

/// Arguments taken after the program's name; more are ignored (host mode takes two).
const MAX_ARGS: usize = 4;

/// # Safety
/// Called once by `_start` with the initial stack pointer.
unsafe extern "C" fn entry(sp: *const usize) -> ! {
    let argc = *sp;
    let envp = sp.add(1 + argc + 1) as *mut *mut u8;
    // SAFETY: envp is the process's original environment block (rustix finds the
    // auxiliary vector after it, for the vDSO clocks).
    rustix::param::init(envp);
    let argv = sp.add(1) as *const *const core::ffi::c_char;
    let mut args: [&'static [u8]; MAX_ARGS] = [&[]; MAX_ARGS];
    let n = argc.saturating_sub(1).min(MAX_ARGS);
    for (i, arg) in args.iter_mut().enumerate().take(n) {
        // SAFETY: argv[1..argc] are NUL-terminated strings on the initial stack, which
        // lives as long as the process.
        *arg = core::ffi::CStr::from_ptr(*argv.add(1 + i)).to_bytes();
    }
    pid1::main(&args[..n])
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut msg: Buf<512> = Buf::new();
    let _ = write!(msg, "{}", info.message());
    if let Some(loc) = info.location() {
        let _ = write!(msg, " at {}:{}", loc.file(), loc.line());
    }
    Record::new(RecordKind::Error)
        .word("where", ErrorPlace::Panic)
        .str("msg", msg.as_bytes())
        .send();
    if !pid1::is_pid1() {
        // A worker: PID 1 sees it die and reports that too.
        sys::exit(101);
    }
    Record::new(RecordKind::Done)
        .word("status", DoneStatus::Error)
        .num("t_ms", sys::now_ms())
        .send();
    power::end_vm()
}

/// The precompiled `core` refers to this even with panic=abort; unoptimised builds keep
/// that reference, so `cargo build` (debug) links only with it. Never called: nothing
/// unwinds.
#[cfg(debug_assertions)]
#[no_mangle]
pub extern "C" fn rust_eh_personality() {}

// Without libc, the memory functions the compiler calls must come from here.

/// # Safety
/// Standard `memcpy` contract.
#[no_mangle]
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    core::arch::asm!("rep movsb", inout("rcx") n => _, inout("rdi") dst => _, inout("rsi") src => _, options(nostack, preserves_flags));
    dst
}

/// # Safety
/// Standard `memmove` contract.
#[no_mangle]
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dst as usize).wrapping_sub(src as usize) >= n {
        return memcpy(dst, src, n);
    }
    // Overlapping with dst after src: copy backwards.
    core::arch::asm!(
        "std", "rep movsb", "cld",
        inout("rcx") n => _, inout("rdi") dst.add(n).wrapping_sub(1) => _, inout("rsi") src.add(n).wrapping_sub(1) => _,
        options(nostack),
    );
    dst
}

/// # Safety
/// Standard `memset` contract.
#[no_mangle]
pub unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    core::arch::asm!("rep stosb", inout("rcx") n => _, inout("rdi") dst => _, in("al") c as u8, options(nostack, preserves_flags));
    dst
}

/// # Safety
/// Standard `memcmp` contract.
#[no_mangle]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    while i < n {
        let (x, y) = (
            core::ptr::read_volatile(a.add(i)),
            core::ptr::read_volatile(b.add(i)),
        );
        if x != y {
            return i32::from(x) - i32::from(y);
        }
        i += 1;
    }
    0
}

/// # Safety
/// Standard `bcmp` contract.
#[no_mangle]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    memcmp(a, b, n)
}

/// # Safety
/// Standard `strlen` contract.
#[no_mangle]
pub unsafe extern "C" fn strlen(s: *const u8) -> usize {
    let mut n = 0;
    while core::ptr::read_volatile(s.add(n)) != 0 {
        n += 1;
    }
    n
}
