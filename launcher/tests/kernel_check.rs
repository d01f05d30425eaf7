//! `config::check_image` against the test kernels (see tests/common): schedbox's own
//! sched_ext kernel, with its config and vmlinux beside it, and a kernel without sched_ext.

mod common;

use std::path::{Path, PathBuf};

use common::{plain_kernel, sched_ext_kernel};
use schedbox::kernel::config::{self, ConfigSource, KconfigError, KernelConfig};

/// A file beside the sched_ext test kernel (the cache and shared/kernels/scx keep
/// `config` and `vmlinux` there).
fn beside_kernel(name: &str) -> PathBuf {
    let path = sched_ext_kernel().with_file_name(name);
    assert!(path.is_file(), "{} is missing", path.display());
    path
}

fn config_beside_kernel() -> KernelConfig {
    KernelConfig::parse(&std::fs::read_to_string(beside_kernel("config")).unwrap())
}

#[test]
fn the_sched_ext_kernel_has_it_in_its_embedded_config() {
    let features = config::check_image(&sched_ext_kernel()).unwrap();
    assert_eq!(features.source, ConfigSource::Ikconfig);
    assert_eq!(features.has_sched_ext, Some(true));
    let beside = config_beside_kernel();
    let release = beside.version().expect("the config names its version");
    assert_eq!(features.release.as_deref(), Some(release));
    assert_eq!(
        features.to_string(),
        format!("{release}: sched_ext yes; from embedded config (IKCONFIG)")
    );
    let config = features.config.unwrap();
    assert_eq!(config.get("IKCONFIG"), Some("y"));
    // The embedded config is the one kept beside it.
    assert_eq!(config, beside);
}

#[test]
fn the_sched_ext_kernel_has_what_production_schedulers_and_the_tests_need() {
    let features = config::check_image(&sched_ext_kernel()).unwrap();
    for (name, what, on) in features.options() {
        assert!(on, "CONFIG_{name} ({what}) is off: {:?}", features.detail());
    }
    assert_eq!(features.missing_for_production_schedulers(), Some(vec![]));
    let detail = features.detail();
    assert!(detail[0].contains("BTF yes"), "{detail:?}");
    assert!(detail[0].contains("LKDTM yes"), "{detail:?}");
    assert!(detail[1].ends_with("all they need"), "{detail:?}");
}

#[test]
fn the_sched_ext_vmlinux_has_it() {
    let features = config::check_image(&beside_kernel("vmlinux")).unwrap();
    assert_eq!(features.source, ConfigSource::Ikconfig);
    assert_eq!(features.has_sched_ext, Some(true));
    assert_eq!(
        features.release.as_deref(),
        config_beside_kernel().version()
    );
}

/// `vmlinuz-<suffix>` with `config-<suffix>` beside it, the /boot layout.
fn plain_kernel_and_suffix() -> (PathBuf, String) {
    let image = plain_kernel();
    let name = image.file_name().unwrap().to_string_lossy().into_owned();
    let suffix = name
        .strip_prefix("vmlinuz-")
        .unwrap_or_else(|| panic!("{name}: the plain test kernel is named vmlinuz-<release>"))
        .to_string();
    (image, suffix)
}

#[test]
fn a_plain_kernel_lacks_sched_ext_per_its_neighbour_config() {
    let (image, suffix) = plain_kernel_and_suffix();
    let features = config::check_image(&image).unwrap();
    assert_eq!(
        features.source,
        ConfigSource::File(image.with_file_name(format!("config-{suffix}")))
    );
    assert_eq!(features.has_sched_ext, Some(false));
    assert_eq!(features.release.as_deref(), Some(suffix.as_str()));
    assert!(features
        .detail()
        .iter()
        .all(|l| !l.contains("production schedulers")));
}

#[test]
fn a_plain_kernel_alone_is_unknown_and_says_why() {
    let dir = std::env::temp_dir().join(format!("schedbox-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let image = dir.join("vmlinuz-test");
    std::fs::copy(plain_kernel_and_suffix().0, &image).unwrap();
    let features = config::check_image(&image).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(features.has_sched_ext, None);
    let ConfigSource::Unknown { reason } = features.source else {
        panic!("{:?}", features.source)
    };
    // Debian's payload is unpacked with the host's tool (zstd, xz) when it has it.
    assert!(
        reason.contains("built without CONFIG_IKCONFIG") || reason.contains("is not installed"),
        "{reason}"
    );
    assert!(reason.contains("`config`"), "{reason}");
}

#[test]
fn a_config_file_can_be_checked_directly() {
    let features = config::check_image(&beside_kernel("config")).unwrap();
    assert_eq!(features.has_sched_ext, Some(true));
    assert_eq!(
        features.release.as_deref(),
        config_beside_kernel().version()
    );
}

#[test]
fn other_files_are_rejected() {
    let err = config::check_image(&common::repo().join("README.md")).unwrap_err();
    assert!(matches!(err, KconfigError::NotAKernel { .. }), "{err}");
    let err = config::check_image(Path::new("/nonexistent/bzImage")).unwrap_err();
    assert!(matches!(err, KconfigError::Read { .. }), "{err}");
}
