//! Files the launcher reads that come from outside: kernel images (bzImage setup header,
//! release, embedded config; the VMM's ELF/PVH and bzImage loaders into guest memory),
//! ELF programs and their dependency walk, and the loader cache.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use schedbox::guest::elfdeps::{self, ElfError, SearchPath};
use schedbox::guest::ldcache::LdCache;
use schedbox::kernel::image::{self, Compression, ImageKind};
use schedbox::tempdir::TempDir;
use schedbox::vm::vmm::kernel;
use schedbox::vm::vmm::memory::{self, GuestMemory};
use vm_memory::{Bytes, GuestAddress};

use crate::driver::{shape, Choices, Target};

thread_local! {
    static SCRATCH: RefCell<Option<TempDir>> = const { RefCell::new(None) };
}

/// A per-thread scratch directory for inputs the code under test reads from a path.
fn scratch() -> PathBuf {
    SCRATCH.with(|s| {
        s.borrow_mut()
            .get_or_insert_with(|| TempDir::new("fuzz").expect("a scratch directory"))
            .path()
            .to_path_buf()
    })
}

fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch().join(name);
    std::fs::write(&path, bytes).expect("writing a scratch file");
    path
}

const SETUP_SECTS: usize = 0x1f1;
const HEADER_MAGIC_AT: usize = 0x202;
const PROTOCOL_VERSION: usize = 0x206;

/// A bzImage-like file: a setup header of the given protocol whose payload is `payload`.
fn bzimage(protocol: u16, payload: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0u8; 1024];
    bytes[SETUP_SECTS] = 1;
    bytes[0x1fe..0x200].copy_from_slice(&0xaa55u16.to_le_bytes());
    bytes[HEADER_MAGIC_AT..HEADER_MAGIC_AT + 4].copy_from_slice(b"HdrS");
    bytes[PROTOCOL_VERSION..PROTOCOL_VERSION + 2].copy_from_slice(&protocol.to_le_bytes());
    bytes[0x20e..0x210].copy_from_slice(&0x100u16.to_le_bytes());
    bytes[0x236..0x238].copy_from_slice(&1u16.to_le_bytes());
    bytes[0x24c..0x250].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    bytes[512 + 0x100..512 + 0x108].copy_from_slice(b"6.12.0 #");
    bytes.extend_from_slice(payload);
    bytes
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("in memory");
    e.finish().expect("in memory")
}

fn kernel_image(input: &[u8]) -> String {
    let kind = image::identify(input);
    let release = image::release(input, kind);
    if let Some(release) = &release {
        assert!(!release.is_empty() && !release.contains(' '));
    }
    let config = match kind {
        ImageKind::BzImage => match image::payload(input) {
            Ok(payload) => {
                assert!(payload.len() <= input.len());
                // Other formats run a host tool; gzip is decompressed here.
                if Compression::detect(payload) == Some(Compression::Gzip) {
                    image::decompress(payload)
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                } else {
                    Err("not gzip".to_string())
                }
            }
            Err(e) => Err(e.to_string()),
        },
        _ => image::ikconfig(input, kind)
            .map(|_| ())
            .map_err(|e| e.to_string()),
    };
    format!(
        "{kind:?} release={} config={}",
        release.is_some(),
        config.map_or_else(|e| shape(&e), |()| "ok".into())
    )
}

pub const KERNEL_IMAGE: Target = Target {
    name: "kernel_image",
    max_len: 8 * 1024,
    dictionary: &[
        b"HdrS",
        b"IKCFG_ST",
        b"IKCFG_ED",
        b"Linux version ",
        b"\x1f\x8b\x08",
        b"\x7fELF",
        b"\0",
    ],
    seeds: || {
        let mut config = b"IKCFG_ST".to_vec();
        config.extend(gzip(b"CONFIG_SCHED_CLASS_EXT=y\n"));
        config.extend_from_slice(b"IKCFG_ED");
        let mut elf = b"\x7fELF\x02\x01Linux version 6.1.0 (x) ".to_vec();
        elf.extend_from_slice(&config);
        vec![bzimage(0x20f, &gzip(&config)), bzimage(0x206, b"x"), elf]
    },
    run: kernel_image,
    // Decompression may grow an input by deflate's largest ratio (about 1032 to 1).
    memory: |len| 4 * 1024 * 1024 + 1100 * len,
};

/// Guest memory for the loaders: small, so that a whole check of it is quick.
const GUEST_BYTES: u64 = 8 << 20;
const CHECK_CHUNK: usize = 64 * 1024;

/// The first non-zero byte at or above `from`, if any.
fn written_above(mem: &GuestMemory, from: u64) -> Option<u64> {
    let mut chunk = vec![0u8; CHECK_CHUNK];
    let mut at = from;
    while at < GUEST_BYTES {
        let n = CHECK_CHUNK.min((GUEST_BYTES - at) as usize);
        mem.read_slice(&mut chunk[..n], GuestAddress(at))
            .expect("inside guest memory");
        if let Some(i) = chunk[..n].iter().position(|&b| b != 0) {
            return Some(at + i as u64);
        }
        at += n as u64;
    }
    None
}

fn kernel_load(input: &[u8]) -> String {
    let path = write("kernel", input);
    let mem = memory::create_bytes(GUEST_BYTES).expect("guest memory");
    let loaded = kernel::load(&mem, &path, true);
    match loaded {
        Ok(k) => {
            // The initramfs goes right above `end`: nothing of the kernel may lie there.
            if let Some(at) = written_above(&mem, k.end) {
                panic!(
                    "the loader wrote {at:#x}, above the kernel's end {:#x}",
                    k.end
                );
            }
            let entry = match k.entry {
                kernel::KernelEntry::Pvh { .. } => "pvh",
                kernel::KernelEntry::Linux64 { .. } => "linux64",
            };
            format!("loaded {entry}")
        }
        Err(e) => shape(&e.to_string().replace(&path.display().to_string(), "PATH")),
    }
}

pub const KERNEL_LOAD: Target = Target {
    name: "kernel_load",
    max_len: 8 * 1024,
    dictionary: &[
        b"HdrS",
        b"\x7fELF\x02\x01\x01",
        b"Xen\0",
        b"\x12\0\0\0",
        b"\x55\xaa",
        b"\x3e\0",
    ],
    seeds: || {
        vec![
            bzimage(0x20f, b"kernel"),
            elf_file(&Elf {
                pvh: true,
                ..Elf::default()
            }),
            elf_file(&Elf {
                needed: vec!["libc.so.6".into()],
                ..Elf::default()
            }),
        ]
    },
    run: kernel_load,
    memory: |len| 4 * 1024 * 1024 + 64 * len,
};

/// What a generated ELF file holds.
#[derive(Default)]
pub struct Elf {
    pub machine: u16,
    pub needed: Vec<String>,
    pub soname: Option<String>,
    pub rpath: Option<String>,
    pub runpath: Option<String>,
    pub interp: Option<String>,
    /// A Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY).
    pub pvh: bool,
}

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const PT_NOTE: u32 = 4;
const LOAD_ADDR: u64 = 0x20_0000;

fn phdr(kind: u32, offset: u64, size: u64) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend(kind.to_le_bytes());
    p.extend(5u32.to_le_bytes());
    for v in [
        offset,
        LOAD_ADDR + offset,
        LOAD_ADDR + offset,
        size,
        size,
        8,
    ] {
        p.extend(v.to_le_bytes());
    }
    p
}

/// A little ELF64 executable: one PT_LOAD over the whole file, its dynamic table,
/// string table, interpreter and PVH note as asked.
pub fn elf_file(elf: &Elf) -> Vec<u8> {
    let mut strtab = vec![0u8];
    let mut add = |s: &str| {
        let at = strtab.len() as u64;
        strtab.extend_from_slice(s.as_bytes());
        strtab.push(0);
        at
    };
    let mut dynamic: Vec<(u64, u64)> = elf.needed.iter().map(|n| (1, add(n))).collect();
    dynamic.extend(elf.soname.as_deref().map(|s| (14, add(s))));
    dynamic.extend(elf.rpath.as_deref().map(|s| (15, add(s))));
    dynamic.extend(elf.runpath.as_deref().map(|s| (29, add(s))));
    let phnum = 5u64;
    let strtab_at = 64 + 56 * phnum;
    let interp = elf
        .interp
        .as_deref()
        .map(|s| format!("{s}\0"))
        .unwrap_or_default();
    let interp_at = strtab_at + strtab.len() as u64;
    let mut note = Vec::new();
    if elf.pvh {
        for v in [4u32, 4, 18] {
            note.extend(v.to_le_bytes());
        }
        note.extend_from_slice(b"Xen\0");
        note.extend(0x100_0000u32.to_le_bytes());
    }
    let note_at = interp_at + interp.len() as u64;
    let dyn_at = (note_at + note.len() as u64).next_multiple_of(8);
    dynamic.push((5, LOAD_ADDR + strtab_at));
    dynamic.push((10, strtab.len() as u64));
    dynamic.push((0, 0));
    let end = dyn_at + 16 * dynamic.len() as u64;
    let mut f = Vec::new();
    f.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    f.extend(2u16.to_le_bytes());
    f.extend((if elf.machine == 0 { 62 } else { elf.machine }).to_le_bytes());
    f.extend(1u32.to_le_bytes());
    f.extend((LOAD_ADDR + 0x1000).to_le_bytes());
    f.extend(64u64.to_le_bytes());
    f.extend(0u64.to_le_bytes());
    f.extend(0u32.to_le_bytes());
    for v in [64u16, 56, phnum as u16, 64, 0, 0] {
        f.extend(v.to_le_bytes());
    }
    f.extend(phdr(PT_LOAD, 0, end));
    f.extend(phdr(PT_DYNAMIC, dyn_at, 16 * dynamic.len() as u64));
    f.extend(phdr(
        if interp.is_empty() { 0 } else { PT_INTERP },
        interp_at,
        interp.len() as u64,
    ));
    f.extend(phdr(
        if note.is_empty() { 0 } else { PT_NOTE },
        note_at,
        note.len() as u64,
    ));
    f.extend(phdr(0, 0, 0));
    f.extend_from_slice(&strtab);
    f.extend_from_slice(interp.as_bytes());
    f.extend_from_slice(&note);
    f.resize(dyn_at as usize, 0);
    for (tag, value) in dynamic {
        f.extend(tag.to_le_bytes());
        f.extend(value.to_le_bytes());
    }
    f
}

fn elf_reader(input: &[u8]) -> String {
    let path = write("program", input);
    let read = elfdeps::read_elf(&path);
    let compatible = elfdeps::is_compatible(&path, elfdeps::EM_X86_64);
    if let Ok(info) = &read {
        assert_eq!(compatible, info.machine == elfdeps::EM_X86_64);
    }
    let cache = LdCache::parse(input);
    if let Some(cache) = &cache {
        let _ = cache.lookup("libc.so.6", elfdeps::EM_X86_64);
    }
    let read = read.map_or_else(
        |e| shape(&e.to_string().replace(&path.display().to_string(), "PATH")),
        |i| {
            format!(
                "ok needed={} interp={}",
                i.needed.len().min(3),
                i.interpreter.is_some()
            )
        },
    );
    format!("{read} cache={}", cache.is_some())
}

pub const ELF_READER: Target = Target {
    name: "elf_reader",
    max_len: 4096,
    dictionary: &[
        b"\x7fELF\x02\x01",
        b"\x01\0\0\0",
        b"\x02\0\0\0",
        b"\x03\0\0\0",
        b"glibc-ld.so.cache1.1",
        b"ld.so-1.7.0",
        b"\0",
    ],
    seeds: || {
        let mut cache = b"glibc-ld.so.cache1.1".to_vec();
        cache.extend(1u32.to_le_bytes());
        cache.resize(48, 0);
        cache.extend([
            3, 3, 0, 0, 80, 0, 0, 0, 90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ]);
        cache.extend(b"libc.so.6\0/lib/libc.so.6\0");
        vec![
            elf_file(&Elf {
                needed: vec!["libc.so.6".into(), "libm.so.6".into()],
                soname: Some("libx.so".into()),
                rpath: Some("$ORIGIN/lib".into()),
                runpath: Some("/opt".into()),
                interp: Some("/lib64/ld-linux-x86-64.so.2".into()),
                ..Elf::default()
            }),
            cache,
        ]
    },
    run: elf_reader,
    memory: |len| 1024 * 1024 + 64 * len,
};

const LIBS: &[&str] = &["lib0.so", "lib1.so", "lib2.so", "libgone.so"];
const PATHS: &[&str] = &[
    "$ORIGIN",
    "$ORIGIN/sub",
    "",
    "$LIB",
    "$ORIGIN/..:$ORIGIN",
    "${ORIGIN}",
    ":",
];

/// One generated library or program of the walk, shaped by the input.
fn walk_object(c: &mut Choices, dir: &Path) -> Elf {
    let pick = |c: &mut Choices, list: &[&str]| {
        (!c.one_in(4)).then(|| list[c.below(list.len())].to_string())
    };
    let needed = (0..c.below(4))
        .map(|_| LIBS[c.below(LIBS.len())].to_string())
        .collect();
    Elf {
        machine: if c.one_in(8) { 183 } else { 62 },
        needed,
        soname: pick(c, LIBS),
        rpath: pick(c, PATHS),
        runpath: pick(c, PATHS),
        interp: (c.one_in(4)).then(|| dir.join(LIBS[c.below(2)]).display().to_string()),
        pvh: false,
    }
}

fn elf_walk(input: &[u8]) -> String {
    let dir = scratch().join("walk");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sub")).expect("scratch");
    let mut c = Choices::new(input);
    let program = walk_object(&mut c, &dir);
    let mut files = vec![("program".to_string(), program)];
    for lib in &LIBS[..3] {
        if !c.one_in(4) {
            files.push((lib.to_string(), walk_object(&mut c, &dir)));
        }
    }
    let mut damaged = false;
    for (name, elf) in &files {
        let mut bytes = elf_file(elf);
        // Some damage where the input says.
        for _ in 0..c.below(3) {
            damaged = true;
            let at = c.below(bytes.len());
            bytes[at] = c.byte();
        }
        let sub = if c.one_in(5) { "sub" } else { "" };
        std::fs::write(dir.join(sub).join(name), bytes).expect("scratch");
    }
    let search = SearchPath {
        ld_library_path: (c.one_in(2)).then(|| dir.join("sub").display().to_string()),
        cache: None,
        default_dirs: vec![dir.clone()],
    };
    match elfdeps::resolve_with(&dir.join("program"), &search) {
        Ok(deps) => {
            let mut paths: Vec<_> = deps.libraries.iter().map(|l| l.path.clone()).collect();
            assert!(
                paths.iter().all(|p| p.starts_with(&dir) && p.exists()),
                "{paths:?}"
            );
            paths.sort();
            paths.dedup();
            assert_eq!(
                paths.len(),
                deps.libraries.len(),
                "a library twice: {deps:?}"
            );
            format!(
                "ok libraries={} interp={}",
                deps.libraries.len(),
                deps.interpreter.is_some()
            )
        }
        Err(ElfError::LibraryNotFound { name, .. }) => {
            assert!(
                damaged || LIBS.contains(&name.as_str()),
                "not found: {name:?}, which nothing needs"
            );
            format!("not found {name}")
        }
        Err(e) => shape(&e.to_string().replace(&dir.display().to_string(), "DIR")),
    }
}

pub const ELF_WALK: Target = Target {
    name: "elf_walk",
    max_len: 256,
    dictionary: &[b"\x01\x01", b"\0\0\0\0", b"\xff\xff"],
    seeds: || vec![vec![1; 64], vec![3; 64], (0..=255).collect()],
    run: elf_walk,
    memory: |len| 2 * 1024 * 1024 + 4096 * len,
};
