//! The floor under a run on QEMU/TCG: the same kernel booted by a bare
//! `qemu-system-x86_64` with an init that only powers off (spawn to the kernel's power-off
//! line), against schedbox's launch to verdict of an empty scenario through the whole run
//! pipeline.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use schedbox_initramfs::Archive;

use crate::cli::RunOptions;
use crate::outcome::timeline::Timeline;
use crate::pipeline::{boot, prepare};
use crate::topology;
use crate::vm::console::{self, Ending};
use crate::vm::qemu::{DEFAULT_BINARY, QBOOT_PATHS};
use crate::vm::select::{AccelChoice, BackendChoice};

/// A static x86-64 executable of one page that asks the kernel to power off
/// (`reboot(LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_POWER_OFF)`) and
/// spins should that fail: PID 1 must never exit.
pub fn poweroff_init() -> Vec<u8> {
    #[rustfmt::skip]
    const CODE: [u8; 30] = [
        0xb8, 0xa9, 0x00, 0x00, 0x00, // mov eax, 169 (reboot)
        0xbf, 0xad, 0xde, 0xe1, 0xfe, // mov edi, 0xfee1dead
        0xbe, 0x69, 0x19, 0x12, 0x28, // mov esi, 0x28121969
        0xba, 0xdc, 0xfe, 0x21, 0x43, // mov edx, 0x4321fedc (POWER_OFF)
        0x45, 0x31, 0xd2,             // xor r10d, r10d
        0x0f, 0x05,                   // syscall
        0xeb, 0xfe,                   // jmp .
        0x90, 0x90, 0x90,
    ];
    one_page_elf(&CODE)
}

/// A static x86-64 executable whose one segment is `body` right after the headers,
/// entered at its first byte: for hand-assembled programs of a few bytes.
pub fn one_page_elf(body: &[u8]) -> Vec<u8> {
    const BASE: u64 = 0x40_0000;
    const HEADERS: u64 = 64 + 56;
    let size = HEADERS + body.len() as u64;
    let mut elf = Vec::new();
    elf.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    elf.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    elf.extend_from_slice(&0x3eu16.to_le_bytes()); // EM_X86_64
    elf.extend_from_slice(&1u32.to_le_bytes());
    elf.extend_from_slice(&(BASE + HEADERS).to_le_bytes()); // entry
    elf.extend_from_slice(&64u64.to_le_bytes()); // program headers
    elf.extend_from_slice(&0u64.to_le_bytes()); // no section headers
    elf.extend_from_slice(&0u32.to_le_bytes());
    for half in [64u16, 56, 1, 0, 0, 0] {
        elf.extend_from_slice(&half.to_le_bytes());
    }
    elf.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    elf.extend_from_slice(&5u32.to_le_bytes()); // R+X
    for word in [0, BASE, BASE, size, size, 0x1000] {
        elf.extend_from_slice(&word.to_le_bytes());
    }
    elf.extend_from_slice(body);
    elf
}

/// Boots `kernel` on a bare QEMU/TCG with the power-off init; the time from spawning
/// QEMU to the kernel's "reboot: Power down" on its console, the moment the guest is done
/// (QEMU's own teardown after it is not the guest's work, and schedbox does not wait
/// for it either).
pub fn bare_qemu(
    kernel: &Path,
    options: &RunOptions,
    timeout: Duration,
) -> Result<Duration, String> {
    let mut archive = Archive::new();
    archive
        .file("init", 0o755, poweroff_init())
        .map_err(|e| e.to_string())?;
    let dir = options.out.clone().unwrap_or_default();
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let initrd = dir.join("floor-initramfs.cpio");
    std::fs::write(&initrd, archive.to_bytes())
        .map_err(|e| format!("{}: {e}", initrd.display()))?;
    let mut qemu = Command::new(DEFAULT_BINARY);
    crate::vm::qemu::dies_with_schedbox(&mut qemu);
    qemu.args([
        "-nodefaults",
        "-nographic",
        "-no-reboot",
        "-accel",
        "tcg",
        "-serial",
        "stdio",
    ]);
    if let Some(qboot) = QBOOT_PATHS.iter().find(|p| Path::new(p).exists()) {
        qemu.args(["-bios", qboot]);
    }
    qemu.args(topology::qemu::args(
        &options.vm.shape(),
        options.vm.memory_mib,
    ))
    .args(["-m", &options.vm.memory_mib.to_string()])
    .arg("-kernel")
    .arg(kernel)
    .arg("-initrd")
    .arg(&initrd)
    .args([
        "-append",
        &format!("console=ttyS0 {}", prepare::kernel_cmdline(options)),
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    let started = Instant::now();
    let mut child = qemu
        .spawn()
        .map_err(|e| format!("cannot start {DEFAULT_BINARY}: {e}"))?;
    let lines = console_lines(child.stdout.take());
    let result = wait_for_power_off(&lines, started, timeout);
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// The console's lines, read on their own thread.
fn console_lines(stdout: Option<std::process::ChildStdout>) -> Receiver<String> {
    let (tx, rx) = channel();
    if let Some(out) = stdout {
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    rx
}

fn wait_for_power_off(
    lines: &Receiver<String>,
    started: Instant,
    timeout: Duration,
) -> Result<Duration, String> {
    loop {
        let left = timeout.saturating_sub(started.elapsed());
        match lines.recv_timeout(left) {
            Ok(line) if console::ending(&line) == Some(Ending::PowerOff) => {
                return Ok(started.elapsed())
            }
            Ok(_) => {}
            Err(RecvTimeoutError::Timeout) => {
                return Err(format!("bare QEMU did not power off within {timeout:?}"))
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err("bare QEMU ended without powering off".into())
            }
        }
    }
}

/// schedbox's launch to verdict of an empty scenario (one 1 ms step, no workers) on
/// QEMU/TCG, through the whole run pipeline, in `<out>/empty-<n>`; with its report's
/// timeline.
pub fn empty_scenario(options: &RunOptions, n: u32) -> Result<(Duration, Timeline), String> {
    let base = options.out.clone().unwrap_or_default();
    std::fs::create_dir_all(&base).map_err(|e| format!("{}: {e}", base.display()))?;
    let scenario = base.join("empty.toml");
    std::fs::write(&scenario, "name = \"empty\"\nduration_ms = 1\n")
        .map_err(|e| format!("{}: {e}", scenario.display()))?;
    let mut one = options.clone();
    one.vm.scenarios = vec![scenario];
    one.out = Some(base.join(format!("empty-{n}")));
    one.backend = BackendChoice::Qemu;
    one.accel = AccelChoice::Tcg;
    let started = Instant::now();
    let (report, _) = boot::run_once(&one).map_err(|stop| stop.to_string())?;
    let took = started.elapsed();
    if report.timings.done_record_ms.is_none() {
        return Err(format!(
            "the empty scenario did not finish: {:?}",
            report.reasons
        ));
    }
    Ok((took, report.timeline))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_power_off_init_is_a_static_x86_64_executable() {
        let elf = poweroff_init();
        assert_eq!(&elf[..4], b"\x7fELF");
        assert_eq!(u16::from_le_bytes([elf[16], elf[17]]), 2, "ET_EXEC");
        assert_eq!(u16::from_le_bytes([elf[18], elf[19]]), 0x3e, "x86-64");
        let entry = u64::from_le_bytes(elf[24..32].try_into().unwrap());
        assert_eq!(entry - 0x40_0000, 120, "entry right after the headers");
        // The first instruction loads the reboot syscall number.
        assert_eq!(&elf[120..125], &[0xb8, 169, 0, 0, 0]);
        let filesz = u64::from_le_bytes(elf[64 + 32..64 + 40].try_into().unwrap());
        assert_eq!(filesz, elf.len() as u64);
        // What schedbox's packer makes of it: a static program, no interpreter.
        let dir = crate::tempdir::TempDir::new("floor").unwrap();
        let path = dir.path().join("init");
        std::fs::write(&path, &elf).unwrap();
        let info = crate::guest::elfdeps::read_elf(&path).unwrap();
        assert_eq!(info.machine, crate::guest::elf::EM_X86_64);
        assert!(
            info.interpreter.is_none() && info.needed.is_empty(),
            "{info:?}"
        );
    }
}
