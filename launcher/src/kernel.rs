//! Finding the kernel to boot and checking that it is one.

use std::fmt;
use std::path::{Path, PathBuf};

/// Environment variable naming the kernel when `--kernel` is not given.
pub const KERNEL_ENV: &str = "SCHEDBOX_KERNEL";
/// Offset of the "HdrS" magic in a bzImage (the x86 boot protocol's setup header).
const BZIMAGE_MAGIC_AT: usize = 0x202;
const BZIMAGE_MAGIC: &[u8; 4] = b"HdrS";
/// Offset of `kernel_version`: a pointer to the version string, minus 0x200.
const BZIMAGE_VERSION_PTR_AT: usize = 0x20e;
const BZIMAGE_VERSION_BASE: usize = 0x200;
const ELF_MAGIC: &[u8; 4] = b"\x7fELF";
/// e_machine of x86-64 ELF files.
const EM_X86_64: u16 = 62;
/// The kernel's banner, followed by the release, in every vmlinux.
const BANNER: &[u8] = b"Linux version ";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelSource {
    /// `--kernel`
    Flag,
    /// `$SCHEDBOX_KERNEL`
    Env,
    /// The newest kernel in the schedbox cache (`schedbox kernel fetch`).
    Cache,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelFormat {
    BzImage,
    Elf,
}

/// A kernel image that passed the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kernel {
    pub path: PathBuf,
    pub source: KernelSource,
    pub format: KernelFormat,
    /// The release the image says it is (e.g. "6.12.117"), when it says.
    pub release: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelError {
    /// A kernel was named but cannot be read.
    Unreadable(PathBuf, String),
    /// The file is neither a bzImage nor an x86-64 ELF.
    NotAKernel(PathBuf, String),
    /// No kernel was named and none is cached.
    NoneFound(Option<PathBuf>),
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KernelError::Unreadable(p, why) => write!(f, "cannot read kernel {}: {why}", p.display()),
            KernelError::NotAKernel(p, why) => write!(
                f,
                "{} is not a kernel image: {why}; pass a bzImage (arch/x86/boot/bzImage, /boot/vmlinuz-*) or a vmlinux ELF",
                p.display()
            ),
            KernelError::NoneFound(cache) => write!(
                f,
                "no kernel: pass --kernel PATH, set {KERNEL_ENV}, or run `make kernel-debian` (or `schedbox kernel fetch`) to cache Debian's kernel{}",
                cache.as_ref().map(|c| format!(" in {}", c.display())).unwrap_or_default()
            ),
        }
    }
}

impl std::error::Error for KernelError {}

/// Where fetched kernels are kept: `$XDG_CACHE_HOME/schedbox/kernels` or
/// `~/.cache/schedbox/kernels`.
pub fn cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("schedbox").join("kernels"))
}

/// Picks the kernel: `--kernel`, then `$SCHEDBOX_KERNEL`, then the newest cached one.
pub fn locate(flag: Option<&Path>) -> Result<Kernel, KernelError> {
    if let Some(path) = flag {
        return inspect(path, KernelSource::Flag);
    }
    if let Some(path) = std::env::var_os(KERNEL_ENV).filter(|v| !v.is_empty()) {
        return inspect(Path::new(&path), KernelSource::Env);
    }
    let cache = cache_dir();
    match cache.as_deref().and_then(newest_cached) {
        Some(path) => inspect(&path, KernelSource::Cache),
        None => Err(KernelError::NoneFound(cache)),
    }
}

/// The most recently modified `vmlinuz-*` in the cache.
pub fn newest_cached(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("vmlinuz-"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .max()
        .map(|(_, path)| path)
}

/// Reads the image and checks that it is a kernel this host can boot.
pub fn inspect(path: &Path, source: KernelSource) -> Result<Kernel, KernelError> {
    let bytes = std::fs::read(path).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_string(),
            _ => e.to_string(),
        };
        KernelError::Unreadable(path.to_path_buf(), why)
    })?;
    let not = |why: &str| KernelError::NotAKernel(path.to_path_buf(), why.to_string());
    let (format, release) =
        if bytes.get(BZIMAGE_MAGIC_AT..BZIMAGE_MAGIC_AT + 4) == Some(BZIMAGE_MAGIC) {
            (KernelFormat::BzImage, bzimage_release(&bytes))
        } else if bytes.starts_with(ELF_MAGIC) {
            let machine = bytes.get(18..20).map(|m| u16::from_le_bytes([m[0], m[1]]));
            if machine != Some(EM_X86_64) {
                return Err(not("it is an ELF file, but not for x86-64"));
            }
            (KernelFormat::Elf, elf_release(&bytes))
        } else {
            return Err(not(
                "no bzImage header (\"HdrS\" at 0x202) and no ELF magic",
            ));
        };
    Ok(Kernel {
        path: path.to_path_buf(),
        source,
        format,
        release,
    })
}

/// The release from a bzImage's version string ("6.12.117 (user@host) #1 ...").
pub fn bzimage_release(bytes: &[u8]) -> Option<String> {
    let ptr = bytes.get(BZIMAGE_VERSION_PTR_AT..BZIMAGE_VERSION_PTR_AT + 2)?;
    let ptr = u16::from_le_bytes([ptr[0], ptr[1]]) as usize;
    if ptr == 0 {
        return None;
    }
    first_word(bytes.get(ptr + BZIMAGE_VERSION_BASE..)?)
}

/// The release from the "Linux version X" banner inside an ELF vmlinux.
pub fn elf_release(bytes: &[u8]) -> Option<String> {
    bytes
        .windows(BANNER.len() + 1)
        .position(|w| w.starts_with(BANNER) && w[BANNER.len()].is_ascii_digit())
        .and_then(|at| first_word(&bytes[at + BANNER.len()..]))
}

fn first_word(bytes: &[u8]) -> Option<String> {
    let end = bytes
        .iter()
        .position(|&b| b == 0 || b == b' ')
        .unwrap_or(bytes.len());
    let word = std::str::from_utf8(&bytes[..end]).ok()?;
    (!word.is_empty()).then(|| word.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_bzimage(version: &str) -> Vec<u8> {
        let mut bytes = vec![0u8; 0x1000];
        bytes[BZIMAGE_MAGIC_AT..BZIMAGE_MAGIC_AT + 4].copy_from_slice(BZIMAGE_MAGIC);
        let at = 0x600usize;
        let ptr = (at - BZIMAGE_VERSION_BASE) as u16;
        bytes[BZIMAGE_VERSION_PTR_AT..BZIMAGE_VERSION_PTR_AT + 2]
            .copy_from_slice(&ptr.to_le_bytes());
        bytes[at..at + version.len()].copy_from_slice(version.as_bytes());
        bytes
    }

    #[test]
    fn bzimage_version_string_gives_the_release() {
        let bytes = fake_bzimage("6.12.117 (root@host) #1 SMP");
        assert_eq!(bzimage_release(&bytes).as_deref(), Some("6.12.117"));
    }

    #[test]
    fn elf_banner_gives_the_release() {
        let mut bytes =
            b"\x7fELF....Linux version %s\0...Linux version 6.1.0-9-cloud-amd64 (debian".to_vec();
        bytes.push(0);
        assert_eq!(elf_release(&bytes).as_deref(), Some("6.1.0-9-cloud-amd64"));
    }

    #[test]
    fn shared_kernels_are_recognised_when_present() {
        let scx = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/kernels/scx/bzImage");
        if scx.exists() {
            let kernel = inspect(&scx, KernelSource::Flag).unwrap();
            assert_eq!(kernel.format, KernelFormat::BzImage);
            assert_eq!(kernel.release.as_deref(), Some("6.12.117"));
        }
    }

    #[test]
    fn non_kernels_are_rejected() {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        let err = inspect(&manifest, KernelSource::Flag).unwrap_err();
        assert!(err.to_string().contains("not a kernel image"), "{err}");
        let err = inspect(Path::new("/nonexistent/bzImage"), KernelSource::Flag).unwrap_err();
        assert!(err.to_string().contains("no such file"), "{err}");
    }
}
