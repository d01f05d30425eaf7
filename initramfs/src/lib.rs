//! Writes cpio "newc" archives in memory, as the kernel reads them for an initramfs.
//!
//! The archive is uncompressed: the kernel unpacks it without a decompressor, which is
//! faster under emulation than gunzip, and our archives are a few megabytes at most.
//!
//! ```
//! let mut archive = schedbox_initramfs::Archive::new();
//! archive.file("init", 0o755, b"#!/bin/sh\n".to_vec()).unwrap();
//! archive.symlink("sbin/init", "/init").unwrap();
//! let bytes = archive.to_bytes();
//! assert!(bytes.starts_with(b"070701"));
//! ```

mod newc;

use std::collections::BTreeSet;
use std::fmt;

pub use newc::{HEADER_LEN, MAGIC, TRAILER};

/// File type bits of `st_mode`.
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;
/// The permission bits a caller may set (including setuid, setgid and sticky).
const PERMISSION_MASK: u32 = 0o7777;
/// Mode of directories created implicitly as parents of other entries.
const PARENT_DIR_MODE: u32 = 0o755;
/// newc stores sizes as 8 hex digits.
const MAX_DATA_LEN: usize = u32::MAX as usize;

/// What went wrong while adding an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The path is empty, absolute, has `.`/`..`/empty components or a NUL byte.
    BadPath(String),
    /// An entry with this path was already added.
    Duplicate(String),
    /// A parent of the path was added as something other than a directory.
    ParentNotDir(String),
    /// Mode bits outside 0o7777.
    BadMode(String, u32),
    /// The contents do not fit the format's 32-bit size field.
    TooLarge(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadPath(p) => write!(
                f,
                "bad archive path {p:?}: use a relative path like \"bin/x\" without \".\" or \"..\""
            ),
            Error::Duplicate(p) => write!(f, "archive path {p:?} was added twice"),
            Error::ParentNotDir(p) => write!(f, "a parent of {p:?} is not a directory"),
            Error::BadMode(p, m) => write!(f, "mode {m:#o} of {p:?} has bits outside 0o7777"),
            Error::TooLarge(p) => write!(f, "{p:?} is larger than 4 GiB, which newc cannot store"),
        }
    }
}

impl std::error::Error for Error {}

/// One archive member.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    path: String,
    /// Full `st_mode`: type and permission bits.
    mode: u32,
    nlink: u32,
    /// (major, minor) of a device node.
    rdev: (u32, u32),
    data: Vec<u8>,
}

/// An archive being built. Entries are written in the order they were added, after any
/// parent directories they needed (the kernel creates members in archive order).
#[derive(Debug, Default, Clone)]
pub struct Archive {
    entries: Vec<Entry>,
    paths: BTreeSet<String>,
    dirs: BTreeSet<String>,
}

impl Archive {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a directory (and any missing parents).
    pub fn dir(&mut self, path: &str, mode: u32) -> Result<&mut Self, Error> {
        self.add(path, S_IFDIR, mode, 2, (0, 0), Vec::new())
    }

    /// Adds a regular file with the given contents.
    pub fn file(&mut self, path: &str, mode: u32, data: Vec<u8>) -> Result<&mut Self, Error> {
        self.add(path, S_IFREG, mode, 1, (0, 0), data)
    }

    /// Adds a symbolic link pointing at `target`.
    pub fn symlink(&mut self, path: &str, target: &str) -> Result<&mut Self, Error> {
        let data = target.as_bytes().to_vec();
        self.add(path, S_IFLNK, 0o777, 1, (0, 0), data)
    }

    /// Adds a character device node (e.g. `dev/console`, 5:1).
    pub fn char_device(
        &mut self,
        path: &str,
        mode: u32,
        major: u32,
        minor: u32,
    ) -> Result<&mut Self, Error> {
        self.add(path, S_IFCHR, mode, 1, (major, minor), Vec::new())
    }

    /// Number of entries, not counting the trailer.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The archive's bytes, ending with the `TRAILER!!!` entry.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (index, entry) in self.entries.iter().enumerate() {
            let header = newc::Header {
                ino: index as u32 + 1,
                mode: entry.mode,
                nlink: entry.nlink,
                filesize: entry.data.len() as u32,
                rdev: entry.rdev,
            };
            newc::write_entry(&mut out, &header, &entry.path, &entry.data);
        }
        newc::write_trailer(&mut out);
        out
    }

    fn add(
        &mut self,
        path: &str,
        kind: u32,
        mode: u32,
        nlink: u32,
        rdev: (u32, u32),
        data: Vec<u8>,
    ) -> Result<&mut Self, Error> {
        let path = normalize(path)?;
        if mode & !PERMISSION_MASK != 0 {
            return Err(Error::BadMode(path, mode));
        }
        if data.len() > MAX_DATA_LEN {
            return Err(Error::TooLarge(path));
        }
        if self.paths.contains(&path) {
            return Err(Error::Duplicate(path));
        }
        self.add_parents(&path)?;
        self.paths.insert(path.clone());
        if kind == S_IFDIR {
            self.dirs.insert(path.clone());
        }
        self.entries.push(Entry {
            path,
            mode: kind | mode,
            nlink,
            rdev,
            data,
        });
        Ok(self)
    }

    /// Adds each missing ancestor of `path` as a directory, outermost first.
    fn add_parents(&mut self, path: &str) -> Result<(), Error> {
        let mut end = 0;
        while let Some(slash) = path[end..].find('/') {
            let parent = &path[..end + slash];
            end += slash + 1;
            if self.dirs.contains(parent) {
                continue;
            }
            if self.paths.contains(parent) {
                return Err(Error::ParentNotDir(path.to_string()));
            }
            self.paths.insert(parent.to_string());
            self.dirs.insert(parent.to_string());
            self.entries.push(Entry {
                path: parent.to_string(),
                mode: S_IFDIR | PARENT_DIR_MODE,
                nlink: 2,
                rdev: (0, 0),
                data: Vec::new(),
            });
        }
        Ok(())
    }
}

/// Strips one leading `/` (so "/init" and "init" are the same member) and rejects paths
/// the kernel would not unpack where the caller expects.
fn normalize(path: &str) -> Result<String, Error> {
    let relative = path.strip_prefix('/').unwrap_or(path);
    let bad = relative.is_empty()
        || relative.contains('\0')
        || relative
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..");
    if bad {
        return Err(Error::BadPath(path.to_string()));
    }
    Ok(relative.to_string())
}

#[cfg(test)]
mod tests;
