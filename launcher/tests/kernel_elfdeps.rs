//! Library resolution against real host programs, cross-checked with ldd, and against
//! programs compiled here with RPATH/RUNPATH and a library that goes missing.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use schedbox::guest::elfdeps::{self, ElfError, Found};

/// `name => path` pairs from ldd, skipping the vdso and the interpreter line.
fn ldd(binary: &str) -> BTreeMap<String, PathBuf> {
    let out = Command::new("ldd").arg(binary).output().expect("ldd runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let (name, rest) = line.trim().split_once(" => ")?;
            let path = rest.split_whitespace().next()?;
            Some((name.to_string(), PathBuf::from(path)))
        })
        .collect()
}

#[test]
fn a_static_program_needs_nothing() {
    let deps = elfdeps::resolve(&common::tree_scheduler("scx_simple")).unwrap();
    assert_eq!(deps.interpreter, None);
    assert!(deps.libraries.is_empty(), "{:?}", deps.libraries);
}

#[test]
fn ls_needs_the_loader_and_libc() {
    let deps = elfdeps::resolve(Path::new("/bin/ls")).unwrap();
    assert_eq!(
        deps.interpreter.as_deref(),
        Some(Path::new("/lib64/ld-linux-x86-64.so.2"))
    );
    let names: Vec<&str> = deps.libraries.iter().map(|l| l.name.as_str()).collect();
    assert!(names.contains(&"libc.so.6"), "{names:?}");
    // libc needs the loader by its soname: already loaded, so not listed again.
    assert!(!names.contains(&"ld-linux-x86-64.so.2"), "{names:?}");
    let paths = deps.paths();
    assert_eq!(paths[0], Path::new("/lib64/ld-linux-x86-64.so.2"));
    assert!(paths.iter().all(|p| p.is_file()), "{paths:?}");
}

/// Same libraries as the host's own loader reports, for programs with deep trees.
#[test]
fn agrees_with_ldd() {
    for binary in [
        "/bin/ls",
        "/usr/bin/qemu-system-x86_64",
        "/usr/bin/ssh",
        "/usr/bin/git",
    ] {
        // ssh and git are compared where installed; ls and QEMU always are (make deps).
        if !Path::new(binary).exists() {
            assert!(
                binary.ends_with("ssh") || binary.ends_with("git"),
                "{binary} is missing: run `make deps`"
            );
            continue;
        }
        let deps = elfdeps::resolve(Path::new(binary)).unwrap();
        let ours: BTreeMap<String, PathBuf> = deps
            .libraries
            .iter()
            .map(|l| (l.name.clone(), l.path.clone()))
            .collect();
        let theirs = ldd(binary);
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            theirs.keys().collect::<Vec<_>>(),
            "{binary}"
        );
        for (name, path) in &theirs {
            if path.to_string_lossy().contains("glibc-hwcaps") {
                continue; // we pick the baseline variant on purpose
            }
            let same =
                std::fs::canonicalize(path).unwrap() == std::fs::canonicalize(&ours[name]).unwrap();
            assert!(
                same,
                "{binary}: {name}: ldd {path:?}, ours {:?}",
                ours[name]
            );
        }
    }
}

/// A scratch folder with a library `libsbx.so` in `lib/` and programs linked against it.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("schedbox-elfdeps-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("lib")).unwrap();
        std::fs::write(dir.join("lib.c"), "int sbx(void) { return 7; }\n").unwrap();
        std::fs::write(
            dir.join("main.c"),
            "int sbx(void);\nint main(void) { return sbx(); }\n",
        )
        .unwrap();
        cc(&dir, &["-shared", "-fPIC", "-o", "lib/libsbx.so", "lib.c"]);
        Scratch(dir)
    }

    fn link(&self, out: &str, rpath_flags: &[&str]) -> PathBuf {
        let mut args = vec!["-o", out, "main.c", "-Llib", "-lsbx"];
        args.extend_from_slice(rpath_flags);
        cc(&self.0, &args);
        self.0.join(out)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn cc(dir: &Path, args: &[&str]) {
    let status = Command::new("cc")
        .args(args)
        .current_dir(dir)
        .status()
        .expect("cc runs");
    assert!(status.success(), "cc {args:?}");
}

#[test]
fn runpath_and_rpath_with_origin() {
    let scratch = Scratch::new("rpath");
    let runpath = scratch.link(
        "with-runpath",
        &["-Wl,-rpath,$ORIGIN/lib", "-Wl,--enable-new-dtags"],
    );
    let rpath = scratch.link(
        "with-rpath",
        &["-Wl,-rpath,$ORIGIN/lib", "-Wl,--disable-new-dtags"],
    );
    for (binary, how) in [(runpath, Found::Runpath), (rpath, Found::Rpath)] {
        let info = elfdeps::read_elf(&binary).unwrap();
        assert!(info.needed.contains(&"libsbx.so".to_string()), "{info:?}");
        let deps = elfdeps::resolve(&binary).unwrap();
        let lib = deps
            .libraries
            .iter()
            .find(|l| l.name == "libsbx.so")
            .unwrap();
        assert_eq!(lib.found, how);
        assert_eq!(
            lib.path,
            std::fs::canonicalize(&scratch.0)
                .unwrap()
                .join("lib/libsbx.so")
        );
    }
}

#[test]
fn a_missing_library_is_named() {
    let scratch = Scratch::new("missing");
    let binary = scratch.link("orphan", &[]);
    let err = elfdeps::resolve(&binary).unwrap_err();
    assert!(
        matches!(&err, ElfError::LibraryNotFound { name, .. } if name == "libsbx.so"),
        "{err}"
    );
    let text = err.to_string();
    assert!(text.contains("library libsbx.so (needed by"), "{text}");
    assert!(text.contains("LD_LIBRARY_PATH"), "{text}");
}

#[test]
fn a_kernel_is_not_a_program() {
    let err = elfdeps::resolve(&common::kernel()).unwrap_err();
    assert!(matches!(err, ElfError::NotElf { .. }), "{err}");
}

#[test]
fn a_missing_interpreter_is_named() {
    let scratch = Scratch::new("interp");
    let binary = scratch.link("alien", &["-Wl,--dynamic-linker=/nonexistent/ld-sbx.so.1"]);
    let err = elfdeps::resolve(&binary).unwrap_err();
    assert!(matches!(err, ElfError::InterpreterNotFound { .. }), "{err}");
    assert!(
        err.to_string().contains("/nonexistent/ld-sbx.so.1"),
        "{err}"
    );
}
