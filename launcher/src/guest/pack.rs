//! Packing a host program for the guest: the program, its ELF interpreter and libraries,
//! as initramfs entries (guest path, bytes, mode).
//!
//! Libraries keep the absolute paths the host loader opens them by, so the packed loader
//! (which has no ld.so.cache in the guest) finds them in its default directories. A path
//! that is a symlink on the host becomes a symlink to the real file, which is packed at
//! its own path. Directories are never packed as symlinks (`/lib` is a real directory in
//! the guest even where the host links it to `usr/lib`), so every entry's parents are
//! plain directories, listed before it.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::guest::elfdeps::{self, ElfError, Found, DEFAULT_DIRS};

pub const S_IFDIR: u32 = 0o040000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFLNK: u32 = 0o120000;
const S_IFMT: u32 = 0o170000;
const DIR_MODE: u32 = S_IFDIR | 0o755;
const LINK_MODE: u32 = S_IFLNK | 0o777;
/// Permission bits kept from the host; set-id bits are dropped.
const PERM_MASK: u32 = 0o777;
/// Where payloads go by default: `/payload/<name>/<program file name>`.
pub const PAYLOAD_ROOT: &str = "/payload";

/// One initramfs entry. `path` is absolute; for a symlink `data` is the target.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub data: Vec<u8>,
    /// File type and permission bits, as in `st_mode`.
    pub mode: u32,
}

impl Entry {
    pub fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }

    pub fn is_symlink(&self) -> bool {
        self.mode & S_IFMT == S_IFLNK
    }

    pub fn is_file(&self) -> bool {
        self.mode & S_IFMT == S_IFREG
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("path", &self.path)
            .field("mode", &format_args!("{:o}", self.mode))
            .field("len", &self.data.len())
            .finish()
    }
}

#[derive(Debug)]
pub enum PackError {
    Elf(ElfError),
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    BadGuestPath {
        path: String,
    },
    BadName {
        name: String,
    },
}

impl fmt::Display for PackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PackError::Elf(e) => e.fmt(f),
            PackError::Read { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            PackError::BadGuestPath { path } => write!(
                f,
                "guest path {path:?} must be absolute and normal (no `.`, `..` or empty parts)"
            ),
            PackError::BadName { name } => write!(
                f,
                "payload name {name:?} must be a plain file name (letters, digits, `._-`)"
            ),
        }
    }
}

impl std::error::Error for PackError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PackError::Elf(e) => Some(e),
            PackError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<ElfError> for PackError {
    fn from(e: ElfError) -> Self {
        PackError::Elf(e)
    }
}

/// A name that is one plain path component: letters, digits, `.`, `_`, `-`, not `.`/`..`.
pub fn is_plain_name(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// A path the guest can be given: absolute, without empty, `.` or `..` parts or NULs.
pub fn is_guest_path(path: &str) -> bool {
    let mut parts = path.split('/');
    let absolute = parts.next() == Some("");
    let normal = parts.all(|p| !p.is_empty() && p != "." && p != "..");
    absolute && normal && path.len() > 1 && !path.contains('\0')
}

/// The default guest path of a payload: `/payload/<name>/<program file name>`.
pub fn payload_path(name: &str, binary: &Path) -> Result<String, PackError> {
    if !is_plain_name(name) {
        return Err(PackError::BadName { name: name.into() });
    }
    let file = binary.file_name().and_then(|f| f.to_str()).unwrap_or(name);
    let file = if is_plain_name(file) { file } else { name };
    Ok(format!("{PAYLOAD_ROOT}/{name}/{file}"))
}

/// Packs `binary` at `guest_path` with everything its loader needs. Entries come sorted
/// by path, so parents precede children.
pub fn pack_binary(binary: &Path, guest_path: &str) -> Result<Vec<Entry>, PackError> {
    check_guest_path(guest_path)?;
    let deps = elfdeps::resolve(binary)?;
    let mut tree = Tree::default();
    let (data, perm) = read_file(binary)?;
    tree.add(guest_path, data, S_IFREG | perm);
    for path in deps
        .interpreter
        .iter()
        .chain(deps.libraries.iter().map(|l| &l.path))
    {
        tree.add_host_path(path)?;
    }
    let search_dir = guest_search_dir();
    for lib in &deps.libraries {
        if needs_search_link(&lib.path, lib.found) {
            let link = format!("{search_dir}/{}", lib.name);
            let target = canonical(&lib.path)?;
            tree.add(&link, target.into_bytes(), LINK_MODE);
        }
    }
    Ok(tree.into_entries())
}

/// Packs a data file at `guest_path` as it is, keeping its permission bits.
pub fn pack_file(file: &Path, guest_path: &str) -> Result<Vec<Entry>, PackError> {
    check_guest_path(guest_path)?;
    let mut tree = Tree::default();
    let (data, perm) = read_file(file)?;
    tree.add(guest_path, data, S_IFREG | perm);
    Ok(tree.into_entries())
}

fn check_guest_path(path: &str) -> Result<(), PackError> {
    if is_guest_path(path) {
        Ok(())
    } else {
        Err(PackError::BadGuestPath { path: path.into() })
    }
}

/// A library that the guest loader would not find at its packed path: found through
/// LD_LIBRARY_PATH, the cache or an `$ORIGIN` list (the program moves) outside the
/// default directories. It gets a link in a default directory.
fn needs_search_link(path: &Path, found: Found) -> bool {
    let in_default_dir = path
        .parent()
        .is_some_and(|dir| DEFAULT_DIRS.iter().any(|d| Path::new(d) == dir));
    found != Found::Direct && !in_default_dir
}

/// The first default directory the host has: the guest runs the host's loader.
fn guest_search_dir() -> &'static str {
    DEFAULT_DIRS
        .iter()
        .find(|d| Path::new(d).is_dir())
        .copied()
        .unwrap_or(DEFAULT_DIRS[0])
}

fn read_file(path: &Path) -> Result<(Vec<u8>, u32), PackError> {
    let read_err = |source| PackError::Read {
        path: path.into(),
        source,
    };
    let perm = fs::metadata(path).map_err(read_err)?.permissions().mode() & PERM_MASK;
    let data = fs::read(path).map_err(read_err)?;
    Ok((data, perm))
}

fn canonical(path: &Path) -> Result<String, PackError> {
    let real = fs::canonicalize(path).map_err(|source| PackError::Read {
        path: path.into(),
        source,
    })?;
    Ok(real.to_string_lossy().into_owned())
}

/// Entries by guest path; adding a file also adds its parent directories.
#[derive(Default)]
struct Tree {
    entries: BTreeMap<String, Entry>,
}

impl Tree {
    fn add(&mut self, path: &str, data: Vec<u8>, mode: u32) {
        for dir in Path::new(path).ancestors().skip(1) {
            let dir = dir.to_string_lossy();
            if dir != "/" {
                self.entries
                    .entry(dir.to_string())
                    .or_insert_with(|| Entry {
                        path: dir.to_string(),
                        data: Vec::new(),
                        mode: DIR_MODE,
                    });
            }
        }
        let path = path.to_string();
        self.entries
            .insert(path.clone(), Entry { path, data, mode });
    }

    /// Packs a host file at the path it was named by; a symlinked name becomes a link to
    /// the real file, packed at its real path.
    fn add_host_path(&mut self, path: &Path) -> Result<(), PackError> {
        let real = canonical(path)?;
        let (data, perm) = read_file(Path::new(&real))?;
        let named = path.to_string_lossy();
        // A relative DT_NEEDED path depends on the guest's working directory: only the
        // real file is packed then.
        if named != real && path.is_absolute() {
            self.add(&named, real.clone().into_bytes(), LINK_MODE);
        }
        self.add(&real, data, S_IFREG | perm);
        Ok(())
    }

    fn into_entries(self) -> Vec<Entry> {
        self.entries.into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_paths_are_checked() {
        let path = payload_path("ls", Path::new("/bin/ls")).unwrap();
        assert_eq!(path, "/payload/ls/ls");
        assert!(payload_path("../x", Path::new("/bin/ls")).is_err());
        assert!(payload_path("", Path::new("/bin/ls")).is_err());
    }

    #[test]
    fn guest_paths_must_be_absolute_and_normal() {
        for bad in ["relative/x", "/a/../b", "/a/./b", "/", "/a/", "/a//b"] {
            assert!(check_guest_path(bad).is_err(), "{bad}");
        }
        assert!(check_guest_path("/payload/x/x").is_ok());
    }

    #[test]
    fn tree_lists_parents_before_children_once() {
        let mut tree = Tree::default();
        tree.add("/a/b/c", b"x".to_vec(), S_IFREG | 0o644);
        tree.add("/a/b/d", b"y".to_vec(), S_IFREG | 0o644);
        let paths: Vec<_> = tree.into_entries().into_iter().map(|e| e.path).collect();
        assert_eq!(paths, ["/a", "/a/b", "/a/b/c", "/a/b/d"]);
    }
}
