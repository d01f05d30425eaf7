//! The initramfs laid out in a directory instead of booted: what `--host` runs from.
//! Reads the newc archives [`crate::guest::initramfs`] writes; device nodes are
//! skipped (the host has its own /dev).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path};

const MAGIC: &[u8] = b"070701";
const HEADER_LEN: usize = 110;
/// Hex fields of the header after the magic, in order.
const FIELDS: usize = 13;
const FIELD_MODE: usize = 1;
const FIELD_FILESIZE: usize = 6;
const FIELD_NAMESIZE: usize = 11;
const TRAILER: &str = "TRAILER!!!";
const S_IFMT: u32 = 0o170000;
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const PERMISSIONS: u32 = 0o7777;

fn align4(n: usize) -> usize {
    n.div_ceil(4) * 4
}

fn header(bytes: &[u8], at: usize) -> Result<[usize; FIELDS], String> {
    let head = bytes
        .get(at..at + HEADER_LEN)
        .ok_or_else(|| format!("archive cut at byte {at}"))?;
    if &head[..MAGIC.len()] != MAGIC {
        return Err(format!("no newc header at byte {at}"));
    }
    let mut fields = [0usize; FIELDS];
    for (i, f) in fields.iter_mut().enumerate() {
        let start = MAGIC.len() + 8 * i;
        let text = std::str::from_utf8(&head[start..start + 8]).map_err(|e| e.to_string())?;
        *f = usize::from_str_radix(text, 16).map_err(|e| format!("header field {text:?}: {e}"))?;
    }
    Ok(fields)
}

/// A relative archive name that stays inside the directory.
fn inside(name: &str) -> Result<&Path, String> {
    let path = Path::new(name);
    if path
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        Ok(path)
    } else {
        Err(format!("archive entry {name:?} leaves the directory"))
    }
}

/// Writes every directory, file and symlink of `archive` under `dir`.
pub fn unpack(archive: &[u8], dir: &Path) -> Result<(), String> {
    let mut at = 0;
    loop {
        let fields = header(archive, at)?;
        let name_start = at + HEADER_LEN;
        let name_len = fields[FIELD_NAMESIZE];
        let name = archive
            .get(name_start..name_start + name_len.saturating_sub(1))
            .ok_or("archive cut in a name")?;
        let name = std::str::from_utf8(name).map_err(|e| format!("entry name: {e}"))?;
        let data_start = align4(name_start + name_len);
        let data_end = data_start + fields[FIELD_FILESIZE];
        let data = archive
            .get(data_start..data_end)
            .ok_or_else(|| format!("archive cut in {name:?}"))?;
        if name == TRAILER {
            return Ok(());
        }
        let path = dir.join(inside(name)?);
        let mode = fields[FIELD_MODE] as u32;
        write_entry(&path, mode, data).map_err(|e| format!("{}: {e}", path.display()))?;
        at = align4(data_end);
    }
}

fn write_entry(path: &Path, mode: u32, data: &[u8]) -> std::io::Result<()> {
    let perm = fs::Permissions::from_mode(mode & PERMISSIONS);
    match mode & S_IFMT {
        S_IFDIR => {
            fs::create_dir_all(path)?;
            fs::set_permissions(path, perm)
        }
        S_IFREG => {
            fs::write(path, data)?;
            fs::set_permissions(path, perm)
        }
        S_IFLNK => {
            let target = String::from_utf8_lossy(data).into_owned();
            std::os::unix::fs::symlink(target, path)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest::initramfs;
    use crate::guest::pack::Entry;

    #[test]
    fn lays_out_what_the_guest_would_boot() {
        let programs = vec![
            Entry {
                path: "payload".into(),
                data: Vec::new(),
                mode: S_IFDIR | 0o755,
            },
            Entry {
                path: "payload/tool".into(),
                data: b"#tool".to_vec(),
                mode: S_IFREG | 0o755,
            },
            Entry {
                path: "payload/link".into(),
                data: b"tool".to_vec(),
                mode: S_IFLNK | 0o777,
            },
        ];
        let archive = initramfs::build(b"init-bytes", "schedbox-plan 1\n", &programs).unwrap();
        let dir = crate::tempdir::TempDir::new("unpack-test").unwrap();
        unpack(&archive, dir.path()).unwrap();
        let root = dir.path();
        assert_eq!(fs::read(root.join("init")).unwrap(), b"init-bytes");
        assert_eq!(
            fs::read_to_string(root.join("plan")).unwrap(),
            "schedbox-plan 1\n"
        );
        assert_eq!(fs::read(root.join("payload/tool")).unwrap(), b"#tool");
        let mode = fs::metadata(root.join("payload/tool"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(
            fs::read_link(root.join("payload/link")).unwrap(),
            Path::new("tool")
        );
        // The console node is the guest's; the host keeps its own.
        assert!(!root.join("dev/console").exists());
    }

    #[test]
    fn refuses_names_that_leave_the_directory_and_cut_archives() {
        assert!(inside("../etc/passwd").is_err());
        assert!(inside("/etc/passwd").is_err());
        assert!(inside("payload/x").is_ok());
        let archive = initramfs::build(b"init", "plan\n", &[]).unwrap();
        let dir = crate::tempdir::TempDir::new("unpack-test").unwrap();
        let err = unpack(&archive[..archive.len() / 2], dir.path()).unwrap_err();
        assert!(err.contains("cut"), "{err}");
    }
}
