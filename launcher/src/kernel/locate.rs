//! Finding the kernel to boot and checking that it is one.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::guest::elf::EM_X86_64;
use crate::kernel::build;
use crate::kernel::image::{self, ImageKind};

/// Environment variable naming the kernel when `--kernel` is not given.
pub const KERNEL_ENV: &str = "SCHEDBOX_KERNEL";
/// e_machine of x86-64 ELF files, at offset 18.
const E_MACHINE_AT: usize = 18;

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
    /// No kernel was named and none is cached (in this directory).
    NoneFound(PathBuf),
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
                "no kernel: pass --kernel PATH, set {KERNEL_ENV}, or run `make kernel-debian` \
                 (or `schedbox kernel fetch`) to cache Debian's kernel in {}",
                cache.display()
            ),
        }
    }
}

impl std::error::Error for KernelError {}

/// Where kernels are cached: `<cache>/kernels` (see `build::cache_root`), holding
/// fetched `vmlinuz-*` files and built kernels in `<key>/bzImage`.
pub fn cache_dir() -> PathBuf {
    build::cache_root().join("kernels")
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
    match newest_cached(&cache) {
        Some(path) => inspect(&path, KernelSource::Cache),
        None => Err(KernelError::NoneFound(cache)),
    }
}

/// The most recently modified kernel in the cache: a fetched `vmlinuz-*`, or the
/// `bzImage` of a built kernel.
pub fn newest_cached(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if name.starts_with("vmlinuz-") {
                Some(path)
            } else {
                Some(path.join("bzImage")).filter(|p| p.is_file())
            }
        })
        .filter_map(|path| Some((path.metadata().ok()?.modified().ok()?, path)))
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
    let kind = image::identify(&bytes);
    let format = match kind {
        ImageKind::BzImage => KernelFormat::BzImage,
        ImageKind::Elf => {
            let machine = bytes.get(E_MACHINE_AT..E_MACHINE_AT + 2);
            if machine.map(|m| u16::from_le_bytes([m[0], m[1]])) != Some(EM_X86_64) {
                return Err(not("it is an ELF file, but not for x86-64"));
            }
            KernelFormat::Elf
        }
        ImageKind::Config => return Err(not("it is a kernel .config, not an image")),
        ImageKind::Unknown => {
            return Err(not(
                "no bzImage header (\"HdrS\" at 0x202) and no ELF magic",
            ))
        }
    };
    let release = image::release(&bytes, kind);
    Ok(Kernel {
        path: path.to_path_buf(),
        source,
        format,
        release,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_bzimage(version: &str) -> Vec<u8> {
        let mut bytes = vec![0u8; 0x1000];
        bytes[0x202..0x206].copy_from_slice(b"HdrS");
        let at = 0x600usize;
        // kernel_version at 0x20e points at the string, counted from 0x200.
        bytes[0x20e..0x210].copy_from_slice(&((at - 0x200) as u16).to_le_bytes());
        bytes[at..at + version.len()].copy_from_slice(version.as_bytes());
        bytes
    }

    #[test]
    fn bzimage_version_string_gives_the_release() {
        let dir = crate::tempdir::TempDir::new("kernel-test").unwrap();
        let path = dir.path().join("bzImage");
        std::fs::write(&path, fake_bzimage("6.12.117 (root@host) #1 SMP")).unwrap();
        let kernel = inspect(&path, KernelSource::Flag).unwrap();
        assert_eq!(kernel.format, KernelFormat::BzImage);
        assert_eq!(kernel.release.as_deref(), Some("6.12.117"));
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
