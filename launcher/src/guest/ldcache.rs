//! glibc's /etc/ld.so.cache (format "glibc-ld.so.cache1.1", as dl-cache.h describes it):
//! the map from library names to paths that `ldconfig` builds and ld.so consults.

use std::path::PathBuf;

use super::elf::{EM_AARCH64, EM_X86_64};

pub const HOST_CACHE: &str = "/etc/ld.so.cache";
const OLD_MAGIC: &[u8] = b"ld.so-1.7.0";
const NEW_MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
/// Old format: magic (11 bytes, padded to 12) and nlibs; entries of flags, key, value.
const OLD_HEADER: usize = 16;
const OLD_ENTRY: usize = 12;
/// New format: magic+version (20), nlibs, len_strings, flags, padding, extension offset,
/// unused words; entries of flags, key, value, osversion, hwcap.
const NEW_HEADER: usize = 48;
const NEW_ENTRY: usize = 24;
const NEW_ALIGN: usize = 8;
/// Entry flags: FLAG_ELF_LIBC6 in the type byte, the architecture in the required byte.
const FLAG_ELF_LIBC6: u32 = 0x0003;
const FLAG_X8664_LIB64: u32 = 0x0300;
const FLAG_AARCH64_LIB64: u32 = 0x0a00;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    pub name: String,
    pub path: PathBuf,
    pub flags: u32,
    /// Non-zero for glibc-hwcaps subdirectory variants (x86-64-v3 and such).
    pub hwcap: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LdCache {
    pub entries: Vec<CacheEntry>,
}

impl LdCache {
    /// The host's cache; `None` when it is missing or in a format we do not read (the
    /// default directories still apply then).
    pub fn load_host() -> Option<LdCache> {
        LdCache::parse(&std::fs::read(HOST_CACHE).ok()?)
    }

    pub fn parse(bytes: &[u8]) -> Option<LdCache> {
        let start = if bytes.starts_with(NEW_MAGIC) {
            0
        } else if bytes.starts_with(OLD_MAGIC) {
            let nlibs = u32_at(bytes, OLD_MAGIC.len() + 1)? as usize;
            let end = OLD_HEADER.checked_add(nlibs.checked_mul(OLD_ENTRY)?)?;
            end.next_multiple_of(NEW_ALIGN)
        } else {
            return None;
        };
        let new = bytes.get(start..)?;
        if !new.starts_with(NEW_MAGIC) {
            return None;
        }
        let nlibs = u32_at(new, NEW_MAGIC.len())? as usize;
        let entries = (0..nlibs)
            .map(|i| parse_entry(new, NEW_HEADER + i * NEW_ENTRY))
            .collect::<Option<Vec<_>>>()?;
        Some(LdCache { entries })
    }

    /// The path for a library name built for `machine`, preferring the baseline
    /// (non-hwcaps) variant: guests may run on a CPU model older than the host's.
    pub fn lookup(&self, name: &str, machine: u16) -> Option<PathBuf> {
        let wanted = FLAG_ELF_LIBC6 | arch_flag(machine);
        let mut matching = self
            .entries
            .iter()
            .filter(|e| e.name == name && e.flags == wanted);
        let first = matching.clone().next()?;
        let baseline = matching.find(|e| e.hwcap == 0).unwrap_or(first);
        Some(baseline.path.clone())
    }
}

fn arch_flag(machine: u16) -> u32 {
    match machine {
        EM_X86_64 => FLAG_X8664_LIB64,
        EM_AARCH64 => FLAG_AARCH64_LIB64,
        _ => 0,
    }
}

fn parse_entry(table: &[u8], at: usize) -> Option<CacheEntry> {
    let flags = u32_at(table, at)?;
    let name = string_at(table, u32_at(table, at + 4)? as usize)?;
    let path = string_at(table, u32_at(table, at + 8)? as usize)?;
    let hwcap = u64::from_le_bytes(table.get(at + 16..at + 24)?.try_into().ok()?);
    Some(CacheEntry {
        name,
        path: PathBuf::from(path),
        flags,
        hwcap,
    })
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// A NUL-terminated string; offsets in the new format count from its header.
fn string_at(table: &[u8], at: usize) -> Option<String> {
    let rest = table.get(at..)?;
    let end = rest.iter().position(|&b| b == 0)?;
    String::from_utf8(rest[..end].to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a new-format cache with the given (name, path, flags, hwcap) entries.
    fn synthetic(entries: &[(&str, &str, u32, u64)]) -> Vec<u8> {
        let mut strings = Vec::new();
        let strings_at = NEW_HEADER + entries.len() * NEW_ENTRY;
        let mut table = Vec::new();
        for (name, path, flags, hwcap) in entries {
            let key = strings_at + strings.len();
            strings.extend_from_slice(name.as_bytes());
            strings.push(0);
            let value = strings_at + strings.len();
            strings.extend_from_slice(path.as_bytes());
            strings.push(0);
            table.extend_from_slice(&flags.to_le_bytes());
            table.extend_from_slice(&(key as u32).to_le_bytes());
            table.extend_from_slice(&(value as u32).to_le_bytes());
            table.extend_from_slice(&0u32.to_le_bytes());
            table.extend_from_slice(&hwcap.to_le_bytes());
        }
        let mut bytes = NEW_MAGIC.to_vec();
        bytes.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&(strings.len() as u32).to_le_bytes());
        bytes.resize(NEW_HEADER, 0);
        bytes.extend_from_slice(&table);
        bytes.extend_from_slice(&strings);
        bytes
    }

    #[test]
    fn prefers_baseline_entries_of_the_right_arch() {
        let x86 = FLAG_ELF_LIBC6 | FLAG_X8664_LIB64;
        let bytes = synthetic(&[
            (
                "libfoo.so.1",
                "/usr/lib/glibc-hwcaps/x86-64-v3/libfoo.so.1",
                x86,
                1 << 62,
            ),
            ("libfoo.so.1", "/usr/lib32/libfoo.so.1", FLAG_ELF_LIBC6, 0),
            ("libfoo.so.1", "/usr/lib/libfoo.so.1", x86, 0),
        ]);
        let cache = LdCache::parse(&bytes).unwrap();
        assert_eq!(cache.entries.len(), 3);
        let found = cache.lookup("libfoo.so.1", EM_X86_64);
        assert_eq!(found, Some(PathBuf::from("/usr/lib/libfoo.so.1")));
        assert_eq!(cache.lookup("libbar.so", EM_X86_64), None);
    }

    #[test]
    fn rejects_garbage_and_truncation() {
        assert_eq!(LdCache::parse(b"not a cache"), None);
        let mut bytes = synthetic(&[("a", "/a", 0x303, 0)]);
        bytes.truncate(NEW_HEADER + 4);
        assert_eq!(LdCache::parse(&bytes), None);
    }

    #[test]
    fn reads_the_host_cache_when_present() {
        let Ok(bytes) = std::fs::read(HOST_CACHE) else {
            return;
        };
        let cache = LdCache::parse(&bytes).expect("the host's ld.so.cache parses");
        let libc = cache
            .lookup("libc.so.6", EM_X86_64)
            .expect("libc.so.6 cached");
        assert!(
            libc.ends_with("libc.so.6") && libc.is_file(),
            "{}",
            libc.display()
        );
    }
}
