//! `config::check_image` against the shared test kernels.

use std::path::{Path, PathBuf};

use schedbox::kernel::config::{self, ConfigSource, KconfigError};

fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/kernels")
        .join(rel)
}

#[test]
fn scx_bzimage_has_sched_ext_in_its_embedded_config() {
    let features = config::check_image(&shared("scx/bzImage")).unwrap();
    assert_eq!(features.source, ConfigSource::Ikconfig);
    assert_eq!(features.has_sched_ext, Some(true));
    assert_eq!(features.release.as_deref(), Some("6.12.117"));
    assert_eq!(
        features.to_string(),
        "6.12.117: sched_ext yes; from embedded config (IKCONFIG)"
    );
    let config = features.config.unwrap();
    assert_eq!(config.get("IKCONFIG"), Some("y"));
    // The embedded config is the one shipped beside it.
    let beside =
        config::KernelConfig::parse(&std::fs::read_to_string(shared("scx/config")).unwrap());
    assert_eq!(config, beside);
}

#[test]
fn scx_vmlinux_has_sched_ext() {
    let features = config::check_image(&shared("scx/vmlinux")).unwrap();
    assert_eq!(features.source, ConfigSource::Ikconfig);
    assert_eq!(features.has_sched_ext, Some(true));
    assert_eq!(features.release.as_deref(), Some("6.12.117"));
}

#[test]
fn debian_kernel_lacks_sched_ext_per_its_neighbour_config() {
    let image = shared("debian/vmlinuz-6.12.107+deb12-cloud-amd64");
    let features = config::check_image(&image).unwrap();
    assert_eq!(
        features.source,
        ConfigSource::File(shared("debian/config-6.12.107+deb12-cloud-amd64"))
    );
    assert_eq!(features.has_sched_ext, Some(false));
    assert_eq!(
        features.release.as_deref(),
        Some("6.12.107+deb12-cloud-amd64")
    );
}

#[test]
fn debian_kernel_alone_is_unknown_and_says_why() {
    let dir = std::env::temp_dir().join(format!("schedbox-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let image = dir.join("vmlinuz-test");
    std::fs::copy(shared("debian/vmlinuz-6.12.107+deb12-cloud-amd64"), &image).unwrap();
    let features = config::check_image(&image).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(features.has_sched_ext, None);
    let ConfigSource::Unknown { reason } = features.source else {
        panic!("{:?}", features.source)
    };
    // The zstd payload is unpacked with the host's zstd, when it has one.
    let has_zstd = std::process::Command::new("zstd")
        .arg("--version")
        .output()
        .is_ok();
    let why = if has_zstd {
        "built without CONFIG_IKCONFIG"
    } else {
        "`zstd` is not installed"
    };
    assert!(reason.contains(why), "{reason}");
    assert!(reason.contains("`config`"), "{reason}");
}

#[test]
fn a_config_file_can_be_checked_directly() {
    let features = config::check_image(&shared("scx/config")).unwrap();
    assert_eq!(features.has_sched_ext, Some(true));
    assert_eq!(features.release.as_deref(), Some("6.12.117"));
}

#[test]
fn other_files_are_rejected() {
    let err = config::check_image(&shared("README.md")).unwrap_err();
    assert!(matches!(err, KconfigError::NotAKernel { .. }), "{err}");
    let err = config::check_image(Path::new("/nonexistent/bzImage")).unwrap_err();
    assert!(matches!(err, KconfigError::Read { .. }), "{err}");
}
