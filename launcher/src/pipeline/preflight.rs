//! Checks of what the command line names on the host, made before anything is built or
//! booted, so that a mistake is exit 2 at once with the problem and the fix, and a file
//! that is not what it should be can neither hang schedbox (a FIFO) nor be read without
//! end (/dev/zero), nor reach the guest to fail there as if the kernel were bad.

use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use crate::guest::elf::{ELF_MAGIC, EM_X86_64};

/// Scenario files are a few KiB; anything past this is not one.
pub const MAX_SCENARIO_BYTES: u64 = 1 << 20;
const SHEBANG: &[u8] = b"#!";
/// The ELF header fields read here (ELF64: e_ident, e_type, e_machine, ..., e_entry).
const ELF_HEADER_BYTES: usize = 32;
const EI_CLASS: usize = 4;
const EI_DATA: usize = 5;
const ELFCLASS64: u8 = 2;
const ELFDATA2LSB: u8 = 1;
const E_TYPE: usize = 16;
const E_MACHINE: usize = 18;
const E_ENTRY: usize = 24;
const ET_REL: u16 = 1;
const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const ET_CORE: u16 = 4;
const ANY_EXECUTE_BIT: u32 = 0o111;
/// How much of a script's first line a message quotes.
const SHEBANG_QUOTE: usize = 60;

/// What a path that is not a regular file is, in words.
fn kind(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// The metadata of a file that must be a regular one (symlinks followed).
fn regular(path: &Path, what: &str, fix: &str) -> Result<Metadata, String> {
    let meta = std::fs::metadata(path).map_err(|e| {
        format!(
            "{what} {}: cannot read it: {}; {fix}",
            path.display(),
            io_words(&e)
        )
    })?;
    if !meta.is_file() {
        return Err(format!(
            "{what} {} is {}, not a regular file; {fix}",
            path.display(),
            kind(&meta)
        ));
    }
    Ok(meta)
}

/// An I/O error in words, "no such file" for the common case.
fn io_words(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        _ => e.to_string(),
    }
}

/// A scenario file: regular and at most [`MAX_SCENARIO_BYTES`].
pub fn scenario_file(path: &Path) -> Result<(), String> {
    let fix = "give a scenario .toml file (docs/scenarios.md)";
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("{}: cannot read the scenario: {e}; {fix}", path.display()))?;
    if !meta.is_file() {
        return Err(format!(
            "{}: the scenario is {}, not a regular file; {fix}",
            path.display(),
            kind(&meta)
        ));
    }
    if meta.len() > MAX_SCENARIO_BYTES {
        return Err(format!(
            "{}: the scenario is {} bytes, more than a scenario file's {MAX_SCENARIO_BYTES}; {fix}",
            path.display(),
            meta.len()
        ));
    }
    Ok(())
}

/// A kernel image (`--kernel`, `kernel check`): a regular file, as it is read whole.
pub fn kernel_file(what: &str, path: &Path) -> Result<(), String> {
    regular(
        path,
        what,
        "give a bzImage or vmlinux file (schedbox kernel build makes one)",
    )
    .map(drop)
}

/// A program the guest will run (`--scheduler`, `--payload`, a `[[payload]]`): a regular,
/// executable ELF program for x86-64. `what` names it in messages.
pub fn program(what: &str, path: &Path) -> Result<(), String> {
    let fix = "give a compiled x86-64 program";
    let meta = regular(path, what, fix)?;
    let shown = path.display();
    let mut head = Vec::with_capacity(ELF_HEADER_BYTES);
    File::open(path)
        .and_then(|f| f.take(ELF_HEADER_BYTES as u64).read_to_end(&mut head))
        .map_err(|e| format!("{what} {shown}: cannot read it: {e}"))?;
    if head.starts_with(SHEBANG) {
        return Err(format!(
            "{what} {shown} is a script ({}): the guest gets compiled programs and their \
             libraries only, not interpreters; {fix}",
            first_line(path)
        ));
    }
    elf_header(&head).map_err(|why| format!("{what} {shown} {why}; {fix}"))?;
    if meta.permissions().mode() & ANY_EXECUTE_BIT == 0 {
        return Err(format!(
            "{what} {shown} is not executable (no execute bit): run `chmod +x {shown}`"
        ));
    }
    Ok(())
}

/// The first line of a script, shortened, for messages.
fn first_line(path: &Path) -> String {
    let mut head = Vec::new();
    let _ = File::open(path).and_then(|f| f.take(SHEBANG_QUOTE as u64).read_to_end(&mut head));
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    String::from_utf8_lossy(line).trim().to_string()
}

fn elf_header(head: &[u8]) -> Result<(), String> {
    if head.len() < ELF_HEADER_BYTES || !head.starts_with(ELF_MAGIC) {
        return Err("is not an ELF program (no ELF header)".to_string());
    }
    if head[EI_CLASS] != ELFCLASS64 || head[EI_DATA] != ELFDATA2LSB {
        return Err("is not a 64-bit little-endian ELF file: the guest is x86-64".to_string());
    }
    let half = |at: usize| u16::from_le_bytes([head[at], head[at + 1]]);
    let machine = half(E_MACHINE);
    if machine != EM_X86_64 {
        return Err(format!(
            "is built for another machine (ELF e_machine {machine}): the guest is x86-64"
        ));
    }
    let entry = u64::from_le_bytes(head[E_ENTRY..E_ENTRY + 8].try_into().expect("8 bytes"));
    match half(E_TYPE) {
        ET_EXEC | ET_DYN if entry != 0 => Ok(()),
        ET_DYN => Err("is a shared library (no entry point), not a program".to_string()),
        ET_REL => Err("is an object file (ELF ET_REL), not a program: link it".to_string()),
        ET_CORE => Err("is a core dump, not a program".to_string()),
        other => Err(format!("is an ELF file of type {other}, not a program")),
    }
}

/// `--json FILE`: its directory exists and can be written, and FILE is not a directory.
pub fn json_target(path: &Path) -> Result<(), String> {
    let shown = path.display();
    if path.is_dir() {
        return Err(format!(
            "--json {shown} is a directory: give a file name, e.g. {shown}/report.json"
        ));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let fix = "create it or give another --json FILE";
    match std::fs::metadata(parent) {
        Err(e) => Err(format!(
            "--json {shown}: directory {} does not exist ({e}); {fix}",
            parent.display()
        )),
        Ok(meta) if !meta.is_dir() => Err(format!(
            "--json {shown}: {} is {}, not a directory; give another --json FILE",
            parent.display(),
            kind(&meta)
        )),
        Ok(_) if !writable(parent) => Err(format!(
            "--json {shown}: cannot write in directory {}; give another --json FILE",
            parent.display()
        )),
        Ok(_) => Ok(()),
    }
}

fn writable(dir: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: access(2) reads a NUL-terminated path that outlives the call.
    unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
}

/// A warning when `--timeout` is shorter than the scenarios themselves take.
pub fn timeout_warning(timeout: Option<Duration>, scenarios_s: u64) -> Option<String> {
    let timeout = timeout?;
    (timeout < Duration::from_secs(scenarios_s)).then(|| {
        format!(
            "warning: --timeout {} is shorter than the scenarios' {scenarios_s} s \
             (plus boot): the run will be killed before it ends and be untestable",
            timeout.as_secs_f64()
        )
    })
}

/// A warning when TCG must emulate more vCPUs than the host has cores.
pub fn cpus_warning(cpus: u32, host_cores: usize, tcg: bool) -> Option<String> {
    (tcg && cpus as usize > host_cores).then(|| {
        format!(
            "warning: --cpus {cpus} is more than this host's {host_cores} cores under TCG: \
             vCPUs will wait for each other, the run will be slow and stall checks may fail"
        )
    })
}

#[cfg(test)]
mod tests;
