//! What "minimal" weighs: the guest init, the launcher, the initramfs, the dependencies.

use std::path::Path;

use crate::guest::elf::ELF_MAGIC;

/// The lock files of the launcher's workspace and of the guest init (built on its own),
/// as this launcher was built with them.
pub const LAUNCHER_LOCK: &str = include_str!("../../../Cargo.lock");
pub const INIT_LOCK: &str = include_str!("../../../init/Cargo.lock");
/// ELF section type of a symbol table: a binary without one is stripped.
const SHT_SYMTAB: u32 = 2;
/// ELF64 header fields: section header table offset, entry size, count.
const E_SHOFF: usize = 0x28;
const E_SHENTSIZE: usize = 0x3a;
const E_SHNUM: usize = 0x3c;
/// A section header's type field.
const SH_TYPE: usize = 4;

/// The bench process's peak resident memory (VmHWM): the launcher with every run of
/// the bench behind it, an upper bound for one `schedbox run`.
pub fn peak_rss() -> Size {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|l| l.split_whitespace().next()?.parse::<u64>().ok());
    Size {
        label: "launcher peak RSS (this bench process, all runs)".into(),
        value: kb.map_or("unknown".into(), |kb| human_bytes(kb * 1024)),
    }
}

/// A release build of the workspace from nothing (a fresh target directory under
/// `out`), timed once; crates come from the local registry cache (`--offline`).
pub fn cold_build(out: &Path) -> Size {
    let label = "cold `cargo build --release` of the workspace".to_string();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    if !workspace.join("Cargo.toml").is_file() {
        return Size {
            label,
            value: "not measured: the source tree is not beside this launcher".into(),
        };
    }
    let target = out.join("cold-target");
    let _ = std::fs::remove_dir_all(&target);
    let started = std::time::Instant::now();
    let status = std::process::Command::new("cargo")
        .args(["build", "--release", "--offline", "--workspace", "--quiet"])
        .current_dir(&workspace)
        .env("CARGO_TARGET_DIR", &target)
        .status();
    let value = match status {
        Ok(s) if s.success() => format!("{:.0} s", started.elapsed().as_secs_f64()),
        Ok(s) => format!("failed: cargo ended with {s}"),
        Err(e) => format!("failed: cannot run cargo: {e}"),
    };
    let _ = std::fs::remove_dir_all(&target);
    Size { label, value }
}

/// One line of the sizes table.
pub struct Size {
    pub label: String,
    pub value: String,
}

/// `bytes` as KiB or MiB.
pub fn human_bytes(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b >= KIB * KIB {
        format!("{:.1} MiB", b / KIB / KIB)
    } else {
        format!("{:.0} KiB", b / KIB)
    }
}

fn le(bytes: &[u8], at: usize, len: usize) -> Option<u64> {
    let field = bytes.get(at..at + len)?;
    Some(field.iter().rev().fold(0, |v, &b| v << 8 | u64::from(b)))
}

/// Whether an ELF64 file has a symbol table; None when it is not one.
pub fn has_symbols(elf: &[u8]) -> Option<bool> {
    if !elf.starts_with(ELF_MAGIC) {
        return None;
    }
    let offset = le(elf, E_SHOFF, 8)? as usize;
    let size = le(elf, E_SHENTSIZE, 2)? as usize;
    let count = le(elf, E_SHNUM, 2)? as usize;
    let mut found = false;
    for i in 0..count {
        let kind = le(elf, offset.checked_add(i * size + SH_TYPE)?, 4)?;
        found |= kind == u64::from(SHT_SYMTAB);
    }
    Some(found)
}

/// A binary's size, saying whether it carries symbols.
pub fn binary(label: &str, path: &Path) -> Size {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let value = match std::fs::read(&path) {
        Ok(bytes) => {
            let stripped = match has_symbols(&bytes) {
                Some(false) => "stripped",
                Some(true) => "with symbols",
                None => "not ELF",
            };
            format!(
                "{} ({stripped}; {})",
                human_bytes(bytes.len() as u64),
                path.display()
            )
        }
        Err(e) => format!("unknown: {}: {e}", path.display()),
    };
    Size {
        label: label.to_string(),
        value,
    }
}

/// Packages in a Cargo.lock: all, and those that are not the workspace's own.
pub fn locked_packages(lock: &str) -> (usize, usize) {
    let packages = lock.split("[[package]]").skip(1);
    let (mut all, mut external) = (0, 0);
    for package in packages {
        all += 1;
        if package.contains("\nsource = ") {
            external += 1;
        }
    }
    (all, external)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_test_binary_is_an_elf_with_symbols() {
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert_eq!(has_symbols(&exe), Some(true));
        assert_eq!(has_symbols(b"#!/bin/sh\n"), None);
        assert_eq!(has_symbols(b"\x7fELF"), None, "truncated header");
    }

    #[test]
    fn lock_counts_the_workspace_apart() {
        let (all, external) = locked_packages(LAUNCHER_LOCK);
        assert!(external > 0 && all >= external + 2, "{all} {external}");
        let lock =
            "[[package]]\nname = \"a\"\n\n[[package]]\nname = \"b\"\nsource = \"registry+x\"\n";
        assert_eq!(locked_packages(lock), (2, 1));
    }

    #[test]
    fn bytes_read_as_kib_or_mib() {
        assert_eq!(human_bytes(138_240), "135 KiB");
        assert_eq!(human_bytes(2_047_680), "2.0 MiB");
    }
}
