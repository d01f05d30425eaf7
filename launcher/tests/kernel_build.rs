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

/// An option whose dependencies cannot be met is named before any compiling starts.
#[test]
#[ignore = "configures a kernel tree: about a minute of CPU"]
fn options_that_do_not_stick_are_named() {
    let scratch = std::env::temp_dir().join(format!("schedbox-kbuild-{}", std::process::id()));
    let opts = BuildOptions {
        fragment: format!(
            "{}CONFIG_SCHEDBOX_NO_SUCH_OPTION=y\n# CONFIG_PRINTK is not set\n",
            kbuild::FRAGMENT
        ),
        cache_dir: scratch.join("kernels"),
        build_dir: Some(scratch.join("build")),
        ..BuildOptions::default()
    };
    let err = kbuild::build(&source(), &opts).unwrap_err();
    std::fs::remove_dir_all(&scratch).unwrap();
    let kbuild::KbuildError::OptionsDidNotStick { unmet, .. } = &err else {
        panic!("{err}")
    };
    let names: Vec<&str> = unmet.iter().map(|m| m.name.as_str()).collect();
    assert!(names.contains(&"SCHEDBOX_NO_SUCH_OPTION"), "{err}");
    assert!(err
        .to_string()
        .contains("CONFIG_SCHEDBOX_NO_SUCH_OPTION wanted y but it is absent"));
}

/// Untars Debian's linux-source into a fresh folder (installing the package if needed).
#[test]
#[ignore = "untars a kernel tree: a minute and 1.5 GB of disk"]
fn fetches_a_source_tree() {
    let dest = std::env::temp_dir().join(format!("schedbox-fetch-{}", std::process::id()));
    let tree = kbuild::fetch_source(Some(&dest)).unwrap_or_else(|e| panic!("{e}"));
    let version = kbuild::source_version(&tree);
    let again = kbuild::fetch_source(Some(&dest)).unwrap();
    std::fs::remove_dir_all(&dest).unwrap();
    assert_eq!(tree, dest.join("linux-source-6.12"));
    assert_eq!(again, tree);
    assert!(version.unwrap().starts_with("6.12."));
}
