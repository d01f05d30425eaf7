//! `schedbox kernel fetch`: caches Debian's cloud kernel with apt, no build needed.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::kernel;
use crate::tempdir::TempDir;

/// The metapackage that depends on the current cloud kernel image.
pub const METAPACKAGE: &str = "linux-image-cloud-amd64";

/// Downloads the kernel package, extracts its vmlinuz into the cache, returns its path.
pub fn fetch() -> Result<PathBuf, String> {
    let cache = kernel::cache_dir();
    let package = image_package()?;
    let work =
        TempDir::new("fetch").map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    run(
        Command::new("apt-get")
            .args(["download", &package])
            .current_dir(work.path()),
        "apt-get download",
    )?;
    let deb = find(work.path(), |name| name.ends_with(".deb"))?
        .ok_or_else(|| format!("apt-get download left no .deb for {package}"))?;
    let unpacked = work.path().join("unpacked");
    run(
        Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&unpacked),
        "dpkg-deb -x",
    )?;
    let boot = unpacked.join("boot");
    let vmlinuz = find(&boot, |name| name.starts_with("vmlinuz-"))?
        .ok_or_else(|| format!("{package} has no boot/vmlinuz-*"))?;
    std::fs::create_dir_all(&cache)
        .map_err(|e| format!("cannot create {}: {e}", cache.display()))?;
    let target = cache.join(vmlinuz.file_name().unwrap_or_default());
    std::fs::copy(&vmlinuz, &target)
        .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    if let Some(config) = find(&boot, |name| name.starts_with("config-"))? {
        let _ = std::fs::copy(&config, cache.join(config.file_name().unwrap_or_default()));
    }
    Ok(target)
}

/// The versioned image package the metapackage depends on, e.g. linux-image-6.1.0-28-cloud-amd64.
fn image_package() -> Result<String, String> {
    let output = Command::new("apt-cache")
        .args(["depends", "--important", METAPACKAGE])
        .output()
        .map_err(|e| {
            format!("cannot run apt-cache ({e}): `schedbox kernel fetch` needs Debian's apt")
        })?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .find(|p| p.starts_with("linux-image-"))
        .map(str::to_string)
        .ok_or_else(|| {
            format!(
                "apt does not know {METAPACKAGE}: run `apt-get update` (as root) first{}",
                stderr_hint(&output.stderr)
            )
        })
}

fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let output = command
        .output()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}){}",
            output.status,
            stderr_hint(&output.stderr)
        ))
    }
}

fn stderr_hint(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

fn find(dir: &Path, matches: impl Fn(&str) -> bool) -> Result<Option<PathBuf>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    Ok(entries
        .filter_map(Result::ok)
        .find(|e| matches(&e.file_name().to_string_lossy()))
        .map(|e| e.path()))
}
