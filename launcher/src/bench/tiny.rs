//! A tiny guest for timing what a VM costs before any kernel runs: a few real-mode
//! instructions that write one record line to COM2 and halt. The VMM loads them as raw
//! code; QEMU runs them as its firmware, entered through the reset vector.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc::{channel, Sender};
use std::time::{Duration, Instant};

use crate::tempdir::TempDir;
use crate::topology::Shape;
use crate::vm::backend::{Backend, BackendError, VmEvent, VmHandle, VmSpec};
use crate::vm::qemu::{Accel, Qemu};
use crate::vm::vmm::bench::launch_to_first_record;
use crate::vm::vmm::devices::serial::COM2_PORT;
use crate::vm::vmm::launch::launch_boot;
use crate::vm::vmm::{Boot, CodeMode};

/// The line the guest writes.
pub const LINE: &str = "SBX1 boot";
/// Guest memory for the tiny guest, MiB: the least the VMM accepts, for both.
const MEMORY_MIB: u32 = crate::cli::MIN_MEMORY_MIB;
/// How long either VM may take to print the line.
pub const LIMIT: Duration = Duration::from_secs(20);
/// QEMU's `pc` firmware is a multiple of 64 KiB, mapped to end at 4 GiB and at 1 MiB.
const FIRMWARE_SIZE: usize = 64 << 10;
/// The reset vector's offset in the firmware (physical 0xffff_fff0).
const RESET_VECTOR: usize = FIRMWARE_SIZE - 16;
/// jmp far 0xf000:0x0000, the firmware's first byte in its alias below 1 MiB.
const JMP_TO_FIRMWARE_START: [u8; 5] = [0xea, 0x00, 0x00, 0x00, 0xf0];
const MOV_DX_IMM16: u8 = 0xba;
const MOV_AL_IMM8: u8 = 0xb0;
const OUT_DX_AL: u8 = 0xee;
const CLI_HLT: [u8; 2] = [0xfa, 0xf4];

/// Real-mode code: `LINE` and a newline to COM2, then halt. Position independent.
pub fn code() -> Vec<u8> {
    let mut code = vec![MOV_DX_IMM16];
    code.extend_from_slice(&COM2_PORT.to_le_bytes());
    for b in LINE.bytes().chain([b'\n']) {
        code.extend_from_slice(&[MOV_AL_IMM8, b, OUT_DX_AL]);
    }
    code.extend_from_slice(&CLI_HLT);
    code
}

/// The same code as a QEMU firmware image.
pub fn firmware() -> Vec<u8> {
    let mut image = vec![0u8; FIRMWARE_SIZE];
    let code = code();
    image[..code.len()].copy_from_slice(&code);
    image[RESET_VECTOR..RESET_VECTOR + JMP_TO_FIRMWARE_START.len()]
        .copy_from_slice(&JMP_TO_FIRMWARE_START);
    image
}

/// The tiny guest on schedbox's VMM, as a backend (the spec's kernel is not used).
pub struct TinyVmm;

impl Backend for TinyVmm {
    fn name(&self) -> String {
        "kvm".into()
    }

    fn launch(
        &self,
        spec: &VmSpec,
        events: Sender<VmEvent>,
    ) -> Result<Box<dyn VmHandle>, BackendError> {
        let boot = Boot::Code {
            bytes: code(),
            mode: CodeMode::Real,
        };
        launch_boot(spec, boot, events)
    }
}

/// From the VMM's `launch` call to the line arriving from COM2 (in this process).
pub fn vmm() -> Result<Duration, String> {
    let spec = VmSpec {
        kernel: "tiny".into(),
        initramfs: Vec::new(),
        cmdline: String::new(),
        topology: Shape::flat(1),
        memory_mib: MEMORY_MIB,
        virtio_records: true,
    };
    launch_to_first_record(&TinyVmm, &spec, LIMIT)
}

/// From spawning QEMU to the line arriving on its stdout, which is COM2.
pub fn qemu(accel: Accel) -> Result<Duration, String> {
    let binary = Qemu::new(accel).binary;
    let dir = TempDir::new("bench-tiny").map_err(|e| format!("temporary directory: {e}"))?;
    let image = dir.path().join("tiny.rom");
    std::fs::write(&image, firmware()).map_err(|e| format!("{}: {e}", image.display()))?;
    let accel = match accel {
        Accel::Kvm => "kvm",
        Accel::Tcg => "tcg",
    };
    let memory = MEMORY_MIB.to_string();
    let started = Instant::now();
    let mut command = Command::new(&binary);
    crate::vm::qemu::dies_with_schedbox(&mut command);
    let mut child = command
        .args([
            "-nodefaults",
            "-display",
            "none",
            "-no-reboot",
            "-accel",
            accel,
        ])
        .args([
            "-m", &memory, "-serial", "null", "-serial", "stdio", "-bios",
        ])
        .arg(&image)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send((line, started.elapsed()));
    });
    let got = rx.recv_timeout(LIMIT);
    let _ = child.kill();
    let output = child.wait_with_output();
    match got {
        Ok((line, took)) if line.trim_end() == LINE => Ok(took),
        _ => {
            let stderr = output.map(|o| o.stderr).unwrap_or_default();
            Err(format!(
                "QEMU ({accel}) did not print the line within {LIMIT:?}: {}",
                String::from_utf8_lossy(&stderr).trim()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firmware_jumps_from_the_reset_vector_to_the_code() {
        let image = firmware();
        assert_eq!(image.len() % (64 << 10), 0);
        assert_eq!(
            &image[RESET_VECTOR..RESET_VECTOR + 5],
            &JMP_TO_FIRMWARE_START
        );
        assert!(image.starts_with(&[MOV_DX_IMM16, 0xf8, 0x02]));
        let code = code();
        assert!(code.ends_with(&CLI_HLT));
        // One `mov al; out` per byte of the line and its newline.
        assert_eq!(code.len(), 3 + 3 * (LINE.len() + 1) + 2);
    }
}
