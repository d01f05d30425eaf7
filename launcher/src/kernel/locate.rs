//! Finding the kernel to boot and checking that it is one.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::guest::elf::EM_X86_64;
use crate::kernel::image::{self, ImageKind};
use crate::kernel::{build, config};

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
    /// Why this one of the cached kernels was picked, for stderr; None when named.
    pub picked: Option<String>,
}

/// What the run needs of a kernel it picks from the cache itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Any,
    /// A sched_ext scheduler is to run (`--scheduler`).
    SchedExt,
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

/// Picks the kernel: `--kernel`, then `$SCHEDBOX_KERNEL`, then a cached one: the newest
/// (by release) that has sched_ext when the run `need`s it, else the newest file.
pub fn locate(flag: Option<&Path>, need: Need) -> Result<Kernel, KernelError> {
    if let Some(path) = flag {
        return inspect(path, KernelSource::Flag);
    }
    if let Some(path) = std::env::var_os(KERNEL_ENV).filter(|v| !v.is_empty()) {
        return inspect(Path::new(&path), KernelSource::Env);
    }
    let cache = cache_dir();
    let picked = match need {
        Need::SchedExt => newest_with_sched_ext(&cache, |path| {
            let features = config::check_image(path).ok()?;
            Some((features.release?, features.has_sched_ext?))
        }),
        Need::Any => newest_cached(&cache).map(|path| (path, None)),
    };
    match picked {
        Some((path, why)) => {
            let mut kernel = inspect(&path, KernelSource::Cache)?;
            kernel.picked = why;
            Ok(kernel)
        }
        None => Err(KernelError::NoneFound(cache)),
    }
}

/// The cached kernels: fetched `vmlinuz-*` files and the `bzImage` of built kernels.
pub fn cached(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
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
        .collect()
}

/// The most recently modified kernel in the cache.
pub fn newest_cached(dir: &Path) -> Option<PathBuf> {
    cached(dir)
        .into_iter()
        .filter_map(|path| Some((path.metadata().ok()?.modified().ok()?, path)))
        .max()
        .map(|(_, path)| path)
}

/// The cached kernel of the highest release among those that have sched_ext, as
/// `features` tells (release, has sched_ext) of each, and why it was picked; when none
/// has it, the newest file and why (the run then says the kernel lacks sched_ext).
pub fn newest_with_sched_ext(
    dir: &Path,
    features: impl Fn(&Path) -> Option<(String, bool)>,
) -> Option<(PathBuf, Option<String>)> {
    let mut with: Vec<(Vec<u64>, String, PathBuf)> = Vec::new();
    let mut without: Vec<String> = Vec::new();
    for path in cached(dir) {
        match features(&path) {
            Some((release, true)) => with.push((release_order(&release), release, path)),
            Some((release, false)) => without.push(format!("{} ({release})", path.display())),
            None => without.push(format!("{} (no config found)", path.display())),
        }
    }
    with.sort();
    let Some((_, release, path)) = with.pop() else {
        let newest = newest_cached(dir)?;
        let why = format!(
            "kernel: none of the cached kernels is known to have sched_ext, which --scheduler \
             needs; trying the newest file, {}",
            newest.display()
        );
        return Some((newest, Some(why)));
    };
    let mut why = format!(
        "kernel: {} ({release}), the newest cached kernel with sched_ext, which --scheduler \
         needs",
        path.display()
    );
    if !without.is_empty() {
        why += &format!("; passed over, without it: {}", without.join(", "));
    }
    Some((path, Some(why)))
}

/// A release such as "6.12.0-31-amd64" as numbers to order by: 6, 12, 0, 31.
fn release_order(release: &str) -> Vec<u64> {
    release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect()
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
        picked: None,
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

    /// Two sched_ext kernels and one without it, the one without modified last: the
    /// sched_ext kernel of the highest release is picked, whatever the files' times.
    #[test]
    fn a_sched_ext_run_picks_the_newest_release_with_sched_ext() {
        let dir = crate::tempdir::TempDir::new("kernel-pick").unwrap();
        let cache = dir.path();
        let kernels = [
            ("built-a/bzImage", "6.12.117"),
            ("built-b/bzImage", "6.6.9"),
            ("vmlinuz-6.1.0-31-cloud-amd64", "6.1.0-31-cloud-amd64"),
        ];
        for (file, release) in kernels {
            let path = cache.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, fake_bzimage(release)).unwrap();
            // Written in this order, so the 6.1 kernel is the newest file.
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let features = |path: &Path| {
            let release = inspect(path, KernelSource::Cache).ok()?.release?;
            let sched_ext = !release.starts_with("6.1.");
            Some((release, sched_ext))
        };
        assert_eq!(
            newest_cached(cache),
            Some(cache.join("vmlinuz-6.1.0-31-cloud-amd64"))
        );
        let (path, why) = newest_with_sched_ext(cache, features).unwrap();
        assert_eq!(path, cache.join("built-a/bzImage"));
        let why = why.unwrap();
        assert!(
            why.contains("(6.12.117), the newest cached kernel with sched_ext"),
            "{why}"
        );
        assert!(
            why.contains("vmlinuz-6.1.0-31-cloud-amd64 (6.1.0-31-cloud-amd64)"),
            "{why}"
        );
        let (path, why) = newest_with_sched_ext(cache, |p| Some((features(p)?.0, false))).unwrap();
        assert_eq!(path, cache.join("vmlinuz-6.1.0-31-cloud-amd64"));
        assert!(why.unwrap().contains("none of the cached kernels"));
    }

    #[test]
    fn releases_order_by_their_numbers() {
        assert!(release_order("6.12.0") > release_order("6.6.90"));
        assert!(release_order("6.1.0-31-amd64") < release_order("6.1.1"));
        assert_eq!(release_order("6.12.117"), [6, 12, 117]);
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
