//! Finding the guest init (schedbox-init) to put in the initramfs.
//!
//! Looked up at run time, in order: `$SCHEDBOX_INIT`, `schedbox-init` next to the
//! `schedbox` executable, then the source tree's `init/target/release/schedbox-init`
//! (where `make` builds it). Nothing is embedded at build time, so a rebuilt init is
//! picked up without rebuilding the launcher.

use std::path::{Path, PathBuf};

use crate::guest::elf::ELF_MAGIC;

pub const INIT_ENV: &str = "SCHEDBOX_INIT";
pub const INIT_NAME: &str = "schedbox-init";
/// The most the stripped init may weigh (policy: it is copied into every initramfs and
/// read by every boot; `make lint` fails above it, `make bench` prints it).
pub const INIT_SIZE_LIMIT: u64 = 192 * 1024;
/// Where `make` (or `cd init && cargo build --release`) leaves the init in this tree.
const TREE_INIT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../init/target/release/schedbox-init"
);

/// The places searched, in order, with the one from the environment first if set.
pub fn candidates() -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Some(env) = std::env::var_os(INIT_ENV).filter(|v| !v.is_empty()) {
        // An explicit choice is the only candidate: falling back would hide a typo.
        return vec![PathBuf::from(env)];
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        paths.push(dir.join(INIT_NAME));
    }
    paths.push(PathBuf::from(TREE_INIT));
    paths
}

/// Reads the first init binary found.
pub fn load() -> Result<(PathBuf, Vec<u8>), String> {
    let candidates = candidates();
    for path in &candidates {
        match std::fs::read(path) {
            Ok(bytes) if bytes.starts_with(ELF_MAGIC) => return Ok((path.clone(), bytes)),
            Ok(_) => {
                return Err(format!(
                    "{} is not an ELF executable: rebuild the init with `make`, or point \
                     {INIT_ENV} at a built {INIT_NAME}",
                    path.display()
                ))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        }
    }
    let searched: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
    Err(format!(
        "the guest init ({INIT_NAME}) was not found (looked at {}): build it with `make` \
         (or `cd init && cargo build --release`), or set {INIT_ENV}",
        searched.join(", ")
    ))
}
