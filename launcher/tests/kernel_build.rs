//! Builds a real kernel with the schedbox fragment (minutes of CPU): run with
//! `SCHEDBOX_KSRC=<tree> cargo test --test kernel_build -- --ignored --nocapture`.
//! Without SCHEDBOX_KSRC it uses the tree `schedbox kernel fetch-source` leaves.

use std::path::PathBuf;
use std::process::Command;

use schedbox::kbuild::{self, BuildOptions};
use schedbox::kconfig::{self, ConfigSource, KernelConfig};

const QEMU_TIMEOUT_S: &str = "60";

fn source() -> PathBuf {
    std::env::var_os("SCHEDBOX_KSRC").map_or_else(kbuild::default_source_dir, PathBuf::from)
}

#[test]
#[ignore = "builds a kernel: minutes of CPU"]
fn builds_caches_and_boots_a_sched_ext_kernel() {
    let opts = BuildOptions::default();
    let built = kbuild::build(&source(), &opts).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "built {} ({}) in {:.1?}, reused={}",
        built.image.display(),
        built.key,
        built.elapsed,
        built.reused
    );
    let config = KernelConfig::parse(&std::fs::read_to_string(&built.config).unwrap());
    assert_eq!(config.get("SCHED_CLASS_EXT"), Some("y"));
    assert!(kconfig::unmet(&KernelConfig::parse(kbuild::FRAGMENT), &config).is_empty());

    let features = kconfig::check_image(&built.image).unwrap();
    assert_eq!(features.source, ConfigSource::Ikconfig);
    assert_eq!(features.has_sched_ext, Some(true));
    assert!(features.release.unwrap().starts_with(&built.version));

    let again = kbuild::build(&source(), &opts).unwrap();
    assert!(
        again.reused,
        "second build with the same inputs must come from the cache"
    );
    assert_eq!(again.image, built.image);

    let console = boot_without_initramfs(&built.image);
    assert!(
        console.contains(&format!("Linux version {}", built.version)),
        "{console}"
    );
    assert!(
        console.contains("VFS: Unable to mount root fs"),
        "{console}"
    );
}

/// Boots under QEMU TCG with no initramfs: the kernel comes up, finds no root and panics,
/// and `panic=-1` with `-no-reboot` makes QEMU exit.
fn boot_without_initramfs(image: &std::path::Path) -> String {
    let output = Command::new("timeout")
        .args([
            QEMU_TIMEOUT_S,
            "qemu-system-x86_64",
            "-nographic",
            "-no-reboot",
        ])
        .args(["-m", "256", "-smp", "2", "-display", "none", "-kernel"])
        .arg(image)
        .args(["-append", "console=ttyS0 panic=-1"])
        .output()
        .expect("qemu-system-x86_64 runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}
