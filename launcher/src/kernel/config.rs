//! Kernel configurations: parsing `.config` text, checking a fragment against a final
//! config, and finding out what a kernel image was built with.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::kernel::image::{self, ImageKind};

const PREFIX: &str = "CONFIG_";
/// The value a `# CONFIG_X is not set` line stands for.
const NOT_SET: &str = "n";
/// The option that makes a kernel able to run sched_ext (BPF) schedulers.
pub const SCHED_EXT: &str = "SCHED_CLASS_EXT";

/// A parsed kernel configuration (a `.config` or a fragment).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelConfig {
    /// Option name without the `CONFIG_` prefix → value as written (`y`, `m`, `64`,
    /// `"text"`); `n` for `# CONFIG_X is not set`.
    options: BTreeMap<String, String>,
    /// The version from the generated header (`# Linux/x86 6.12.117 Kernel Configuration`).
    version: Option<String>,
}

impl KernelConfig {
    /// Parses `.config` syntax; lines that are neither assignments nor "is not set"
    /// comments are ignored, as Kconfig does.
    pub fn parse(text: &str) -> Self {
        let mut config = KernelConfig::default();
        for line in text.lines().map(str::trim) {
            if let Some((name, value)) = config_entry(line) {
                config.options.insert(name.to_string(), value.to_string());
            } else if config.version.is_none() {
                config.version = parse_version_header(line);
            }
        }
        config
    }

    /// The value of an option (name with or without `CONFIG_`); `None` when absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        let name = name.strip_prefix(PREFIX).unwrap_or(name);
        self.options.get(name).map(String::as_str)
    }

    /// Whether an option is built in or a module.
    pub fn is_enabled(&self, name: &str) -> bool {
        matches!(self.get(name), Some("y" | "m"))
    }

    /// The kernel version the config was generated for, from its header comment.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// Options in name order, as (name without prefix, value).
    pub fn options(&self) -> impl Iterator<Item = (&str, &str)> {
        self.options.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.options.len()
    }

    pub fn is_empty(&self) -> bool {
        self.options.is_empty()
    }
}

fn config_entry(line: &str) -> Option<(&str, &str)> {
    if let Some(rest) = line.strip_prefix("# ") {
        let name = rest.strip_suffix(" is not set")?.strip_prefix(PREFIX)?;
        return is_option_name(name).then_some((name, NOT_SET));
    }
    let (name, value) = line.strip_prefix(PREFIX)?.split_once('=')?;
    is_option_name(name).then_some((name, value))
}

fn is_option_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn parse_version_header(line: &str) -> Option<String> {
    let rest = line.strip_prefix("# Linux/")?;
    let rest = rest.strip_suffix(" Kernel Configuration")?;
    rest.split_whitespace().nth(1).map(str::to_string)
}

/// A fragment option the final config does not have as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub name: String,
    pub wanted: String,
    /// `None` when the option is absent from the config (its dependencies are unmet).
    pub got: Option<String>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.got {
            Some(got) => write!(f, "{PREFIX}{} wanted {} got {got}", self.name, self.wanted),
            None => write!(
                f,
                "{PREFIX}{} wanted {} but it is absent (unmet dependencies)",
                self.name, self.wanted
            ),
        }
    }
}

/// The fragment's options that `config` does not carry with the same value. An option
/// the fragment turns off counts as met when the config lacks it entirely.
pub fn unmet(fragment: &KernelConfig, config: &KernelConfig) -> Vec<Mismatch> {
    fragment
        .options()
        .filter_map(|(name, wanted)| {
            let got = config.get(name);
            let met = match got {
                Some(got) => got == wanted,
                None => wanted == NOT_SET,
            };
            (!met).then(|| Mismatch {
                name: name.to_string(),
                wanted: wanted.to_string(),
                got: got.map(str::to_string),
            })
        })
        .collect()
}

/// Where the configuration of an image was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// Embedded in the image (CONFIG_IKCONFIG).
    Ikconfig,
    /// A config file: the one given, or one found beside the image.
    File(PathBuf),
    /// Nowhere; the reason says what was tried.
    Unknown { reason: String },
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigSource::Ikconfig => f.write_str("embedded config (IKCONFIG)"),
            ConfigSource::File(path) => write!(f, "config file {}", path.display()),
            ConfigSource::Unknown { reason } => write!(f, "unknown ({reason})"),
        }
    }
}

/// Options beyond sched_ext itself that BPF schedulers or schedbox's own tests rely on,
/// with what each gives them; `kernel check` lists them.
pub const FEATURES: &[(&str, &str)] = &[
    ("DEBUG_INFO_BTF", "BTF"),
    ("BPF_JIT", "BPF JIT"),
    ("BPF_EVENTS", "BPF tracepoints"),
    ("FUNCTION_TRACER", "fentry/fexit (function tracer)"),
    ("DYNAMIC_FTRACE", "dynamic ftrace"),
    ("KALLSYMS_ALL", "data symbols in kallsyms"),
    ("UNIX", "UNIX sockets"),
    ("DEBUG_FS", "debugfs"),
    ("MAGIC_SYSRQ", "sysrq"),
    ("LKDTM", "LKDTM"),
    ("KVM_AMD", "KVM on AMD-V (the own VMM in a nested guest)"),
];
/// The [`FEATURES`] production schedulers (scx_bpfland, scx_lavd, ...) refuse to start
/// without: their loader checks the function tracer, resolves data symbols through
/// kallsyms, and serves statistics on a UNIX socket.
pub const PRODUCTION_SCHEDULER_NEEDS: &[&str] = &[
    "DEBUG_INFO_BTF",
    "BPF_JIT",
    "BPF_EVENTS",
    "FUNCTION_TRACER",
    "DYNAMIC_FTRACE",
    "KALLSYMS_ALL",
    "UNIX",
];

/// What schedbox needs to know about a kernel image.
#[derive(Debug, Clone)]
pub struct KernelFeatures {
    /// The release (`uname -r`) from the image itself, else from its config.
    pub release: Option<String>,
    /// `None` when no configuration was found.
    pub has_sched_ext: Option<bool>,
    pub source: ConfigSource,
    pub config: Option<KernelConfig>,
}

impl fmt::Display for KernelFeatures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let release = self.release.as_deref().unwrap_or("unknown release");
        let sched_ext = match self.has_sched_ext {
            Some(true) => "yes",
            Some(false) => "no (CONFIG_SCHED_CLASS_EXT is not set)",
            None => "unknown",
        };
        write!(f, "{release}: sched_ext {sched_ext}; from {}", self.source)
    }
}

impl KernelFeatures {
    /// Whether the config has option `name` (without `CONFIG_`); false without a config.
    pub fn has(&self, name: &str) -> bool {
        self.config.as_ref().is_some_and(|c| c.is_enabled(name))
    }

    /// Whether option `name` is built in (`=y`), so a guest with no modules has it.
    pub fn has_built_in(&self, name: &str) -> bool {
        self.config
            .as_ref()
            .is_some_and(|c| c.get(name) == Some("y"))
    }

    /// Each of [`FEATURES`]: (option, what it gives, enabled); empty without a config.
    pub fn options(&self) -> Vec<(&'static str, &'static str, bool)> {
        let Some(config) = &self.config else {
            return Vec::new();
        };
        FEATURES
            .iter()
            .map(|&(name, what)| (name, what, config.is_enabled(name)))
            .collect()
    }

    /// The options of [`PRODUCTION_SCHEDULER_NEEDS`] the config lacks; `None` without a
    /// config.
    pub fn missing_for_production_schedulers(&self) -> Option<Vec<&'static str>> {
        let config = self.config.as_ref()?;
        Some(
            PRODUCTION_SCHEDULER_NEEDS
                .iter()
                .copied()
                .filter(|name| !config.is_enabled(name))
                .collect(),
        )
    }

    /// The lines `kernel check` prints after the summary: the features, and what
    /// production schedulers would miss.
    pub fn detail(&self) -> Vec<String> {
        let options = self.options();
        if options.is_empty() {
            return Vec::new();
        }
        let listed: Vec<String> = options
            .iter()
            .map(|(_, what, on)| format!("{what} {}", if *on { "yes" } else { "no" }))
            .collect();
        let mut lines = vec![format!("features: {}", listed.join(", "))];
        if self.has_sched_ext == Some(true) {
            let missing = self.missing_for_production_schedulers().unwrap_or_default();
            lines.push(if missing.is_empty() {
                "production schedulers (scx_bpfland, scx_lavd, ...): all they need".to_string()
            } else {
                let names: Vec<String> = missing.iter().map(|m| format!("{PREFIX}{m}")).collect();
                format!(
                    "production schedulers (scx_bpfland, scx_lavd, ...) will not start: \
                     missing {}",
                    names.join(", ")
                )
            });
        }
        lines
    }
}

/// Errors reading a kernel image.
#[derive(Debug)]
pub enum KconfigError {
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    NotAKernel {
        path: PathBuf,
    },
}

impl fmt::Display for KconfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KconfigError::Read { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            KconfigError::NotAKernel { path } => write!(
                f,
                "{} is not a kernel image (expected a bzImage, a vmlinux ELF or a .config); \
                 pass arch/x86/boot/bzImage or vmlinux from a kernel build",
                path.display()
            ),
        }
    }
}

impl std::error::Error for KconfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            KconfigError::Read { source, .. } => Some(source),
            KconfigError::NotAKernel { .. } => None,
        }
    }
}

/// Finds the configuration of a kernel image (bzImage, vmlinux ELF, or a config file):
/// the embedded IKCONFIG first, else a config file beside it.
pub fn check_image(path: &Path) -> Result<KernelFeatures, KconfigError> {
    let bytes = std::fs::read(path).map_err(|source| KconfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let kind = image::identify(&bytes);
    if kind == ImageKind::Config {
        let config = KernelConfig::parse(&String::from_utf8_lossy(&bytes));
        return Ok(features(
            None,
            ConfigSource::File(path.into()),
            Some(config),
        ));
    }
    if kind == ImageKind::Unknown {
        return Err(KconfigError::NotAKernel { path: path.into() });
    }
    let release = image::release(&bytes, kind);
    let embedded = image::ikconfig(&bytes, kind);
    drop(bytes);
    let (source, config) = match embedded {
        Ok(text) => (ConfigSource::Ikconfig, Some(KernelConfig::parse(&text))),
        Err(why) => match read_neighbour(path, release.as_deref()) {
            Some((found, config)) => (ConfigSource::File(found), Some(config)),
            None => {
                let reason = format!(
                    "{why}; no config file beside it either (put the build's .config next to \
                     the image as `config`)"
                );
                (ConfigSource::Unknown { reason }, None)
            }
        },
    };
    Ok(features(release, source, config))
}

fn features(
    release: Option<String>,
    source: ConfigSource,
    config: Option<KernelConfig>,
) -> KernelFeatures {
    let release = release.or_else(|| config.as_ref()?.version().map(str::to_string));
    KernelFeatures {
        release,
        has_sched_ext: config.as_ref().map(|c| c.is_enabled(SCHED_EXT)),
        source,
        config,
    }
}

/// Config files that belong to an image, most specific first: `config-<suffix>` for
/// `vmlinuz-<suffix>` (the /boot layout), `config-<release>`, `config`, and the
/// `.config` of the build tree an `arch/x86/boot/bzImage` sits in.
pub fn neighbour_candidates(image: &Path, release: Option<&str>) -> Vec<PathBuf> {
    let dir = image.parent().unwrap_or(Path::new("."));
    let name = image.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let mut candidates = Vec::new();
    if let Some((_, suffix)) = name.split_once('-') {
        candidates.push(dir.join(format!("config-{suffix}")));
    }
    if let Some(release) = release {
        candidates.push(dir.join(format!("config-{release}")));
    }
    candidates.push(dir.join("config"));
    candidates.push(dir.join(".config"));
    if let Some(tree) = dir.ancestors().nth(3) {
        if dir.ends_with("arch/x86/boot") {
            candidates.push(tree.join(".config"));
        }
    }
    candidates.dedup();
    candidates
}

fn read_neighbour(image: &Path, release: Option<&str>) -> Option<(PathBuf, KernelConfig)> {
    neighbour_candidates(image, release)
        .into_iter()
        .find_map(|path| {
            let text = std::fs::read_to_string(&path).ok()?;
            let config = KernelConfig::parse(&text);
            (!config.is_empty()).then_some((path, config))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "#\n# Automatically generated file; DO NOT EDIT.\n\
        # Linux/x86 6.12.117 Kernel Configuration\n#\nCONFIG_SMP=y\nCONFIG_NR_CPUS=64\n\
        CONFIG_LOCALVERSION=\"\"\n# CONFIG_RT_GROUP_SCHED is not set\nCONFIG_LKDTM=m\n";

    #[test]
    fn parses_values_not_set_and_header() {
        let config = KernelConfig::parse(SAMPLE);
        assert_eq!(config.get("SMP"), Some("y"));
        assert_eq!(config.get("CONFIG_NR_CPUS"), Some("64"));
        assert_eq!(config.get("LOCALVERSION"), Some("\"\""));
        assert_eq!(config.get("RT_GROUP_SCHED"), Some("n"));
        assert_eq!(config.get("BPF"), None);
        assert!(config.is_enabled("LKDTM"));
        assert!(!config.is_enabled("RT_GROUP_SCHED"));
        assert_eq!(config.version(), Some("6.12.117"));
        assert_eq!(config.len(), 5);
    }

    #[test]
    fn ignores_comments_that_are_not_options() {
        let config = KernelConfig::parse("# a comment\n# CONFIG_ is not set\nFOO=y\n");
        assert!(config.is_empty());
    }

    #[test]
    fn unmet_names_changed_and_absent_options() {
        let fragment = KernelConfig::parse(
            "CONFIG_SMP=y\nCONFIG_NR_CPUS=128\nCONFIG_BPF=y\n\
             # CONFIG_RT_GROUP_SCHED is not set\n# CONFIG_FUNCTION_TRACER is not set\n",
        );
        let config = KernelConfig::parse(SAMPLE);
        let unmet = unmet(&fragment, &config);
        let names: Vec<_> = unmet.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["BPF", "NR_CPUS"]);
        assert_eq!(unmet[0].got, None);
        assert_eq!(unmet[1].got.as_deref(), Some("64"));
        assert!(unmet[0]
            .to_string()
            .contains("CONFIG_BPF wanted y but it is absent"));
    }

    #[test]
    fn features_name_what_production_schedulers_miss() {
        let config = KernelConfig::parse(
            "CONFIG_SCHED_CLASS_EXT=y\nCONFIG_DEBUG_INFO_BTF=y\nCONFIG_BPF_JIT=y\n\
             CONFIG_BPF_EVENTS=y\nCONFIG_LKDTM=y\n# CONFIG_FUNCTION_TRACER is not set\n",
        );
        let features = features(None, ConfigSource::Ikconfig, Some(config));
        let missing = features.missing_for_production_schedulers().unwrap();
        assert_eq!(
            missing,
            ["FUNCTION_TRACER", "DYNAMIC_FTRACE", "KALLSYMS_ALL", "UNIX"]
        );
        let detail = features.detail();
        assert!(
            detail[0].starts_with("features: BTF yes, BPF JIT yes"),
            "{detail:?}"
        );
        assert!(detail[0].contains("fentry/fexit (function tracer) no"));
        assert!(detail[0].contains("LKDTM yes"), "{detail:?}");
        assert!(detail[0].ends_with("nested guest) no"), "{detail:?}");
        assert!(!features.has("KVM_AMD") && features.has("LKDTM"));
        assert!(detail[1].ends_with(
            "missing CONFIG_FUNCTION_TRACER, CONFIG_DYNAMIC_FTRACE, CONFIG_KALLSYMS_ALL, CONFIG_UNIX"
        ));
        let unknown = super::features(None, ConfigSource::Ikconfig, None);
        assert!(unknown.detail().is_empty());
        assert_eq!(unknown.missing_for_production_schedulers(), None);
    }

    #[test]
    fn neighbour_candidates_follow_boot_layout() {
        let found = neighbour_candidates(Path::new("/boot/vmlinuz-6.1.0-9-amd64"), None);
        assert_eq!(found[0], Path::new("/boot/config-6.1.0-9-amd64"));
        let found = neighbour_candidates(Path::new("/k/arch/x86/boot/bzImage"), Some("6.12"));
        assert!(found.contains(&PathBuf::from("/k/.config")));
        assert!(found.contains(&PathBuf::from("/k/arch/x86/boot/config-6.12")));
    }
}
