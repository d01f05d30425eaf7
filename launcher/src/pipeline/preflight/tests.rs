use super::*;
use crate::tempdir::TempDir;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

fn file(dir: &TempDir, name: &str, bytes: &[u8], mode: u32) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// An ELF64 little-endian header of this type and machine, entry point 0x401000.
fn elf(e_type: u16, machine: u16) -> Vec<u8> {
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(ELF_MAGIC);
    h[EI_CLASS] = ELFCLASS64;
    h[EI_DATA] = ELFDATA2LSB;
    h[E_TYPE..E_TYPE + 2].copy_from_slice(&e_type.to_le_bytes());
    h[E_MACHINE..E_MACHINE + 2].copy_from_slice(&machine.to_le_bytes());
    h[E_ENTRY..E_ENTRY + 8].copy_from_slice(&0x401000u64.to_le_bytes());
    h
}

#[test]
fn programs_must_be_executable_x86_64_elf_programs() {
    let dir = TempDir::new("preflight").unwrap();
    assert_eq!(program("--payload", Path::new("/bin/true")), Ok(()));
    let good = file(&dir, "good", &elf(ET_EXEC, EM_X86_64), 0o755);
    assert_eq!(program("--payload", &good), Ok(()));
    let cases = [
        (
            file(&dir, "noexec", &elf(ET_EXEC, EM_X86_64), 0o644),
            "chmod +x",
        ),
        (
            file(&dir, "obj.o", &elf(ET_REL, EM_X86_64), 0o755),
            "object file",
        ),
        (
            file(&dir, "arm", &elf(ET_EXEC, 183), 0o755),
            "another machine",
        ),
        (
            file(&dir, "core", &elf(ET_CORE, EM_X86_64), 0o755),
            "core dump",
        ),
        (
            file(&dir, "s.sh", b"#!/bin/sh\necho hi\n", 0o755),
            "script (#!/bin/sh)",
        ),
        (
            file(&dir, "text", b"hello, this is not a program at all", 0o755),
            "not an ELF",
        ),
        (file(&dir, "empty", b"", 0o755), "not an ELF"),
        (dir.path().to_path_buf(), "a directory"),
        (PathBuf::from("/dev/zero"), "a character device"),
        (dir.path().join("missing"), "cannot read it"),
    ];
    for (path, hint) in cases {
        let err = program("--payload", &path).unwrap_err();
        assert!(err.contains(hint), "{}: {err}", path.display());
        assert!(err.contains("--payload"), "{err}");
    }
}

#[test]
fn scenario_files_are_regular_and_small() {
    let dir = TempDir::new("preflight").unwrap();
    let ok = file(&dir, "ok.toml", b"name = \"x\"\n", 0o644);
    assert_eq!(scenario_file(&ok), Ok(()));
    let big = file(
        &dir,
        "big.toml",
        &vec![b'#'; MAX_SCENARIO_BYTES as usize + 1],
        0o644,
    );
    let fifo = dir.path().join("fifo.toml");
    let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
    // SAFETY: mkfifo on a NUL-terminated path in our own temporary directory.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    for (path, hint) in [
        (big, "more than a scenario file's"),
        (fifo, "a FIFO"),
        (PathBuf::from("/dev/zero"), "a character device"),
        (dir.path().join("none.toml"), "cannot read the scenario"),
    ] {
        let err = scenario_file(&path).unwrap_err();
        assert!(err.contains(hint), "{}: {err}", path.display());
    }
}

#[test]
fn the_json_report_needs_a_writable_directory() {
    let dir = TempDir::new("preflight").unwrap();
    assert_eq!(json_target(&dir.path().join("r.json")), Ok(()));
    assert_eq!(json_target(Path::new("r.json")), Ok(()));
    let missing = json_target(&dir.path().join("no/r.json")).unwrap_err();
    assert!(missing.contains("does not exist"), "{missing}");
    let is_dir = json_target(dir.path()).unwrap_err();
    assert!(is_dir.contains("is a directory"), "{is_dir}");
    let under_file = json_target(Path::new("/etc/passwd/r.json")).unwrap_err();
    assert!(under_file.contains("not a directory"), "{under_file}");
}

#[test]
fn warnings_for_short_timeouts_and_too_many_tcg_cpus() {
    assert_eq!(timeout_warning(None, 100), None);
    assert_eq!(timeout_warning(Some(Duration::from_secs(100)), 100), None);
    assert!(timeout_warning(Some(Duration::from_secs(5)), 30)
        .unwrap()
        .contains("--timeout 5 is shorter"));
    assert!(timeout_warning(Some(Duration::from_millis(2500)), 30)
        .unwrap()
        .contains("--timeout 2.5 is shorter"));
    assert_eq!(cpus_warning(4, 2, false), None);
    assert_eq!(cpus_warning(2, 2, true), None);
    let w = cpus_warning(8, 2, true).unwrap();
    assert!(
        w.contains("stall checks may fail") && w.contains("slow"),
        "{w}"
    );
}
