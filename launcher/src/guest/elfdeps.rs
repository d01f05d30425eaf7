//! The shared libraries an ELF executable needs, found the way the dynamic loader
//! (ld.so) finds them: DT_RPATH, LD_LIBRARY_PATH, DT_RUNPATH, /etc/ld.so.cache, then the
//! default directories, recursively, each library once.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::guest::elf::ELF_MAGIC;
use crate::guest::ldcache::LdCache;

const CLASS_64: u8 = 2;
const DATA_LE: u8 = 1;
const EHDR_SIZE: usize = 64;
const PHDR_SIZE: usize = 56;
const DYN_SIZE: usize = 16;
const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_STRTAB: u64 = 5;
const DT_STRSZ: u64 = 10;
const DT_SONAME: u64 = 14;
const DT_RPATH: u64 = 15;
const DT_RUNPATH: u64 = 29;
/// Bounds on what a header may make us read, so a corrupt file cannot exhaust memory.
const MAX_PHNUM: usize = 4096;
const MAX_TABLE_BYTES: u64 = 64 << 20;
pub use super::elf::EM_X86_64;

/// Where ld.so looks last, after the cache (glibc's system directories on x86_64 Debian,
/// Ubuntu and Fedora).
pub const DEFAULT_DIRS: &[&str] = &[
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
];

/// What the dynamic loader reads from an ELF file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ElfInfo {
    pub machine: u16,
    pub interpreter: Option<PathBuf>,
    pub needed: Vec<String>,
    pub soname: Option<String>,
    pub rpath: Option<String>,
    pub runpath: Option<String>,
}

#[derive(Debug)]
pub enum ElfError {
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    NotElf {
        path: PathBuf,
    },
    Unsupported {
        path: PathBuf,
        what: &'static str,
    },
    Malformed {
        path: PathBuf,
        what: &'static str,
    },
    LibraryNotFound {
        name: String,
        needed_by: PathBuf,
        searched: Vec<PathBuf>,
    },
    InterpreterNotFound {
        path: PathBuf,
        needed_by: PathBuf,
    },
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElfError::Read { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            ElfError::NotElf { path } => write!(
                f,
                "{} is not an ELF executable; pass a compiled program (scripts need their \
                 interpreter packed separately)",
                path.display()
            ),
            ElfError::Unsupported { path, what } => {
                write!(
                    f,
                    "{}: {what} ELF files are not supported (x86_64 only)",
                    path.display()
                )
            }
            ElfError::Malformed { path, what } => {
                write!(f, "{} is a malformed ELF file: {what}", path.display())
            }
            ElfError::InterpreterNotFound { path, needed_by } => write!(
                f,
                "{} needs the loader {}, which this host lacks; pack a program built for \
                 this host, or a static one",
                needed_by.display(),
                path.display()
            ),
            ElfError::LibraryNotFound {
                name,
                needed_by,
                searched,
            } => {
                let dirs: Vec<_> = searched.iter().map(|d| d.display().to_string()).collect();
                write!(
                    f,
                    "library {name} (needed by {}) not found in /etc/ld.so.cache or {}; \
                     install it, or set LD_LIBRARY_PATH to its folder",
                    needed_by.display(),
                    dirs.join(", ")
                )
            }
        }
    }
}

impl std::error::Error for ElfError {}

/// Reads the loader-relevant parts of an ELF64 little-endian file.
pub fn read_elf(path: &Path) -> Result<ElfInfo, ElfError> {
    let file = File::open(path).map_err(|source| ElfError::Read {
        path: path.into(),
        source,
    })?;
    let reader = Reader { file, path };
    let header = reader.header()?;
    let machine = u16_at(&header, 0x12);
    let phoff = u64_at(&header, 0x20);
    let phnum = u16_at(&header, 0x38) as usize;
    if phnum > MAX_PHNUM {
        return Err(reader.malformed("too many program headers"));
    }
    let phdrs = reader.read(phoff, (phnum * PHDR_SIZE) as u64)?;
    let segments: Vec<Segment> = phdrs.chunks_exact(PHDR_SIZE).map(Segment::parse).collect();
    let mut info = ElfInfo {
        machine,
        ..ElfInfo::default()
    };
    for seg in &segments {
        match seg.kind {
            PT_INTERP => {
                info.interpreter = Some(PathBuf::from(reader.c_string(seg.offset, seg.filesz)?))
            }
            PT_DYNAMIC => reader.dynamic(seg, &segments, &mut info)?,
            _ => {}
        }
    }
    Ok(info)
}

/// Whether a file is an ELF64 little-endian object for `machine` (the check ld.so makes
/// before it accepts a candidate library).
pub fn is_compatible(path: &Path, machine: u16) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    let reader = Reader { file, path };
    reader.header().is_ok_and(|h| u16_at(&h, 0x12) == machine)
}

struct Segment {
    kind: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
}

impl Segment {
    fn parse(raw: &[u8]) -> Segment {
        Segment {
            kind: u32::from_le_bytes(raw[0..4].try_into().expect("4 bytes")),
            offset: u64_at(raw, 8),
            vaddr: u64_at(raw, 16),
            filesz: u64_at(raw, 32),
        }
    }
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(bytes[at..at + 2].try_into().expect("2 bytes"))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

struct Reader<'a> {
    file: File,
    path: &'a Path,
}

impl Reader<'_> {
    fn malformed(&self, what: &'static str) -> ElfError {
        ElfError::Malformed {
            path: self.path.into(),
            what,
        }
    }

    fn read(&self, offset: u64, len: u64) -> Result<Vec<u8>, ElfError> {
        if len > MAX_TABLE_BYTES {
            return Err(self.malformed("a table is implausibly large"));
        }
        // Checked before the buffer is allocated: its length comes from the file.
        let size = self.file.metadata().map_or(0, |m| m.len());
        if offset.checked_add(len).is_none_or(|end| end > size) {
            return Err(self.malformed("a table lies outside the file"));
        }
        let mut buf = vec![0u8; len as usize];
        self.file
            .read_exact_at(&mut buf, offset)
            .map_err(|_| self.malformed("a table lies outside the file"))?;
        Ok(buf)
    }

    fn header(&self) -> Result<Vec<u8>, ElfError> {
        let mut header = vec![0u8; EHDR_SIZE];
        let not_elf = || ElfError::NotElf {
            path: self.path.into(),
        };
        self.file
            .read_exact_at(&mut header, 0)
            .map_err(|_| not_elf())?;
        if !header.starts_with(ELF_MAGIC) {
            return Err(not_elf());
        }
        let unsupported = |what| ElfError::Unsupported {
            path: self.path.into(),
            what,
        };
        if header[4] != CLASS_64 {
            return Err(unsupported("32-bit"));
        }
        if header[5] != DATA_LE {
            return Err(unsupported("big-endian"));
        }
        Ok(header)
    }

    fn c_string(&self, offset: u64, len: u64) -> Result<String, ElfError> {
        let bytes = self.read(offset, len)?;
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        String::from_utf8(bytes[..end].to_vec()).map_err(|_| self.malformed("a name is not UTF-8"))
    }

    /// Reads DT_NEEDED, DT_SONAME, DT_RPATH and DT_RUNPATH through the string table.
    fn dynamic(&self, seg: &Segment, segs: &[Segment], info: &mut ElfInfo) -> Result<(), ElfError> {
        let table = self.read(seg.offset, seg.filesz)?;
        let entries: Vec<(u64, u64)> = table
            .chunks_exact(DYN_SIZE)
            .map(|e| (u64_at(e, 0), u64_at(e, 8)))
            .take_while(|&(tag, _)| tag != DT_NULL)
            .collect();
        let find = |tag| entries.iter().find(|e| e.0 == tag).map(|e| e.1);
        let Some(strtab_addr) = find(DT_STRTAB) else {
            return Ok(());
        };
        let strtab_off = segs
            .iter()
            .filter(|s| s.kind == PT_LOAD)
            .find_map(|s| {
                let into = strtab_addr.checked_sub(s.vaddr).filter(|&d| d < s.filesz)?;
                s.offset.checked_add(into)
            })
            .ok_or_else(|| self.malformed("the string table is not in a loaded segment"))?;
        let strtab = self.read(strtab_off, find(DT_STRSZ).unwrap_or(0))?;
        let string = |at: u64| -> Result<String, ElfError> {
            let rest = strtab
                .get(at as usize..)
                .ok_or_else(|| self.malformed("bad string offset"))?;
            let end = rest
                .iter()
                .position(|&b| b == 0)
                .ok_or_else(|| self.malformed("unterminated string"))?;
            String::from_utf8(rest[..end].to_vec())
                .map_err(|_| self.malformed("a name is not UTF-8"))
        };
        for &(tag, value) in &entries {
            match tag {
                DT_NEEDED => info.needed.push(string(value)?),
                DT_SONAME => info.soname = Some(string(value)?),
                DT_RPATH => info.rpath = Some(string(value)?),
                DT_RUNPATH => info.runpath = Some(string(value)?),
                _ => {}
            }
        }
        Ok(())
    }
}

/// How a library was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// The DT_NEEDED name was a path.
    Direct,
    Rpath,
    LdLibraryPath,
    Runpath,
    Cache,
    DefaultDir,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Library {
    /// The name as DT_NEEDED asks for it.
    pub name: String,
    /// Where the loader would open it (not symlink-resolved).
    pub path: PathBuf,
    pub found: Found,
}

/// An executable's loader and libraries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependencies {
    /// PT_INTERP; `None` for a static executable.
    pub interpreter: Option<PathBuf>,
    /// In the loader's breadth-first order.
    pub libraries: Vec<Library>,
}

impl Dependencies {
    /// The interpreter, then every library path.
    pub fn paths(&self) -> Vec<PathBuf> {
        let libs = self.libraries.iter().map(|l| l.path.clone());
        self.interpreter.clone().into_iter().chain(libs).collect()
    }
}

/// Where to search: the host's LD_LIBRARY_PATH, ld.so.cache and default directories
/// unless a test says otherwise.
#[derive(Debug, Clone)]
pub struct SearchPath {
    pub ld_library_path: Option<String>,
    pub cache: Option<LdCache>,
    pub default_dirs: Vec<PathBuf>,
}

impl SearchPath {
    pub fn host() -> SearchPath {
        SearchPath {
            ld_library_path: std::env::var("LD_LIBRARY_PATH").ok(),
            cache: LdCache::load_host(),
            default_dirs: DEFAULT_DIRS.iter().map(PathBuf::from).collect(),
        }
    }
}

/// Resolves an executable's interpreter and libraries as the host's loader would.
pub fn resolve(binary: &Path) -> Result<Dependencies, ElfError> {
    resolve_with(binary, &SearchPath::host())
}

pub fn resolve_with(binary: &Path, search: &SearchPath) -> Result<Dependencies, ElfError> {
    let info = read_elf(binary)?;
    let origin = std::fs::canonicalize(binary).map_err(|source| ElfError::Read {
        path: binary.into(),
        source,
    })?;
    let mut walk = Walk {
        search,
        machine: info.machine,
        seen: HashSet::new(),
        libraries: Vec::new(),
    };
    if let Some(interp) = &info.interpreter {
        let interp_info = read_elf(interp).map_err(|e| match e {
            ElfError::Read { .. } => ElfError::InterpreterNotFound {
                path: interp.clone(),
                needed_by: binary.into(),
            },
            other => other,
        })?;
        walk.remember(interp, interp_info.soname);
    }
    let mut queue = VecDeque::from([Object {
        path: origin,
        info: info.clone(),
        rpaths: Vec::new(),
    }]);
    while let Some(object) = queue.pop_front() {
        queue.extend(walk.visit(&object)?);
    }
    Ok(Dependencies {
        interpreter: info.interpreter,
        libraries: walk.libraries,
    })
}

/// A loaded object and the RPATHs of its loaders (which apply to it unless it has a
/// RUNPATH).
struct Object {
    path: PathBuf,
    info: ElfInfo,
    rpaths: Vec<(String, PathBuf)>,
}

struct Walk<'a> {
    search: &'a SearchPath,
    machine: u16,
    /// Names (file names and sonames) and paths already loaded.
    seen: HashSet<String>,
    libraries: Vec<Library>,
}

impl Walk<'_> {
    fn remember(&mut self, path: &Path, soname: Option<String>) {
        self.seen.insert(path.to_string_lossy().into_owned());
        if let Some(name) = path.file_name() {
            self.seen.insert(name.to_string_lossy().into_owned());
        }
        self.seen.extend(soname);
    }

    /// Finds the object's new libraries; returns them as objects to visit next.
    fn visit(&mut self, object: &Object) -> Result<Vec<Object>, ElfError> {
        let origin = object.path.parent().unwrap_or(Path::new("/")).to_path_buf();
        // Nearest first: the object's own RPATH, then its loaders' up to the executable.
        // An object with a RUNPATH ignores its own RPATH but passes its loaders' on.
        let mut rpaths = Vec::new();
        if object.info.runpath.is_none() {
            rpaths.extend(object.info.rpath.clone().map(|r| (r, origin.clone())));
        }
        rpaths.extend(object.rpaths.iter().cloned());
        let mut next = Vec::new();
        for name in &object.info.needed {
            if self.seen.contains(name) {
                continue;
            }
            let (path, found) = self.find(name, object, &origin, &rpaths)?;
            self.seen.insert(name.clone());
            if self.seen.contains(&*path.to_string_lossy()) {
                continue;
            }
            let info = read_elf(&path)?;
            self.remember(&path, info.soname.clone());
            self.libraries.push(Library {
                name: name.clone(),
                path: path.clone(),
                found,
            });
            next.push(Object {
                path,
                info,
                rpaths: rpaths.clone(),
            });
        }
        Ok(next)
    }

    fn find(
        &self,
        name: &str,
        object: &Object,
        origin: &Path,
        rpaths: &[(String, PathBuf)],
    ) -> Result<(PathBuf, Found), ElfError> {
        if name.contains('/') {
            return Ok((PathBuf::from(name), Found::Direct));
        }
        let mut searched = Vec::new();
        let mut lists: Vec<(Vec<PathBuf>, Found)> = Vec::new();
        if object.info.runpath.is_none() {
            let dirs = rpaths
                .iter()
                .flat_map(|(list, from)| expand_list(list, from));
            lists.push((dirs.collect(), Found::Rpath));
        }
        if let Some(list) = &self.search.ld_library_path {
            lists.push((expand_list(list, origin), Found::LdLibraryPath));
        }
        if let Some(list) = &object.info.runpath {
            lists.push((expand_list(list, origin), Found::Runpath));
        }
        for (dirs, found) in lists {
            if let Some(path) = self.first_in(&dirs, name, &mut searched) {
                return Ok((path, found));
            }
        }
        let cached = self
            .search
            .cache
            .as_ref()
            .and_then(|c| c.lookup(name, self.machine));
        if let Some(path) = cached.filter(|p| is_compatible(p, self.machine)) {
            return Ok((path, Found::Cache));
        }
        if let Some(path) = self.first_in(&self.search.default_dirs, name, &mut searched) {
            return Ok((path, Found::DefaultDir));
        }
        Err(ElfError::LibraryNotFound {
            name: name.into(),
            needed_by: object.path.clone(),
            searched,
        })
    }

    fn first_in(
        &self,
        dirs: &[PathBuf],
        name: &str,
        searched: &mut Vec<PathBuf>,
    ) -> Option<PathBuf> {
        dirs.iter().find_map(|dir| {
            searched.push(dir.clone());
            let path = dir.join(name);
            is_compatible(&path, self.machine).then_some(path)
        })
    }
}

/// Splits a colon-separated search list, expanding $ORIGIN, $LIB and $PLATFORM; an empty
/// entry is the current directory, as for ld.so.
pub fn expand_list(list: &str, origin: &Path) -> Vec<PathBuf> {
    list.split(':')
        .map(|entry| {
            let entry = if entry.is_empty() { "." } else { entry };
            let origin = origin.to_string_lossy();
            let expanded = [
                ("$ORIGIN", &*origin),
                ("$LIB", lib_token()),
                ("$PLATFORM", "x86_64"),
            ]
            .iter()
            .fold(entry.to_string(), |acc, (token, value)| {
                let braced = format!("${{{}}}", &token[1..]);
                acc.replace(&braced, value).replace(token, value)
            });
            PathBuf::from(expanded)
        })
        .collect()
}

/// What glibc substitutes for $LIB: the multiarch folder on Debian-like systems.
fn lib_token() -> &'static str {
    if Path::new("/usr/lib/x86_64-linux-gnu").is_dir() {
        "lib/x86_64-linux-gnu"
    } else {
        "lib64"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_origin_and_empty_entries() {
        let dirs = expand_list("$ORIGIN/../lib:${ORIGIN}/x::/opt", Path::new("/app/bin"));
        let want = ["/app/bin/../lib", "/app/bin/x", ".", "/opt"].map(PathBuf::from);
        assert_eq!(dirs, want);
    }

    #[test]
    fn a_text_file_is_not_elf() {
        let dir = std::env::temp_dir().join(format!("schedbox-elf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("script");
        std::fs::write(&path, "#!/bin/sh\necho hi\n").unwrap();
        let err = read_elf(&path).unwrap_err();
        assert!(matches!(err, ElfError::NotElf { .. }), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
