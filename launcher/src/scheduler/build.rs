//! Production sched_ext schedulers of the scx project (scx_bpfland, scx_lavd, scx_rusty,
//! ...) built from their published crates into the schedbox cache, and found there by
//! name: `<cache>/schedulers/<name>-<version>/bin/<name>`.
//!
//! The build is `cargo install --locked` of the exact version, with the BPF side compiled
//! by clang 19 (the crates need clang >= 18; Debian 12 ships `clang-19`) and bindgen
//! pointed at the same LLVM's libclang. A cache entry is renamed into place complete, so
//! a second build of the same version returns at once.

use crate::exit::{Exit, Stop};
use crate::output;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::kernel::build;

/// The LLVM the BPF code and bindgen use (Debian 12: packages clang-19, libclang-19-dev).
const LLVM_DIR: &str = "/usr/lib/llvm-19";
/// The Debian packages that give [`LLVM_DIR`], for error hints.
const LLVM_PACKAGES: &str = "clang-19 llvm-19 libclang-19-dev";
/// The crates this is for are all named like this.
const NAME_PREFIX: &str = "scx_";
/// What a cold build of one scheduler takes on two cores, for the announcement.
const TYPICAL_BUILD_MIN: u64 = 15;
/// cargo's build folder, shared by all builds in the cache: the schedulers of one scx
/// release share most of their dependencies (scx_utils, libbpf-sys, bindgen), so the
/// second one builds in a fraction of the first one's time.
const TARGET_DIR: &str = ".target";

/// A scheduler to build or find: `NAME` or `NAME@VERSION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub name: String,
    pub version: Option<String>,
}

impl Spec {
    /// Parses `scx_bpfland` or `scx_bpfland@1.1.4`.
    pub fn parse(text: &str) -> Result<Spec, SchedBuildError> {
        let (name, version) = match text.split_once('@') {
            Some((name, version)) => (name, Some(version)),
            None => (text, None),
        };
        let name_ok = name.starts_with(NAME_PREFIX)
            && name.len() > NAME_PREFIX.len()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        let version_ok = version.is_none_or(|v| {
            !v.is_empty()
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-+".contains(&b))
        });
        if !name_ok || !version_ok {
            return Err(SchedBuildError::BadSpec(text.to_string()));
        }
        Ok(Spec {
            name: name.to_string(),
            version: version.map(str::to_string),
        })
    }
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.version {
            Some(v) => write!(f, "{}@{v}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

#[derive(Debug)]
pub enum SchedBuildError {
    BadSpec(String),
    /// clang 19 or its libclang is not installed.
    ToolMissing {
        path: PathBuf,
    },
    /// `cargo info` could not name the newest version (offline, or no such crate).
    NoVersion {
        name: String,
        detail: String,
    },
    Io {
        what: String,
        source: io::Error,
    },
    Install {
        spec: String,
        status: String,
    },
}

impl fmt::Display for SchedBuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use SchedBuildError::*;
        match self {
            BadSpec(text) => write!(
                f,
                "{text:?} is not a scheduler of the scx project: give NAME or NAME@VERSION, \
                 e.g. scx_bpfland or scx_bpfland@1.1.4"
            ),
            ToolMissing { path } => write!(
                f,
                "{} is missing: building BPF schedulers needs clang 19 and its libclang; \
                 run `make kernel-deps` (Debian packages: {LLVM_PACKAGES})",
                path.display()
            ),
            NoVersion { name, detail } => write!(
                f,
                "cannot find the newest version of {name} on crates.io ({detail}); check the \
                 name, the network, or give NAME@VERSION"
            ),
            Io { what, source } => write!(f, "{what}: {source}"),
            Install { spec, status } => write!(
                f,
                "`cargo install {spec}` failed ({status}); its output is above (a crate's \
                 rust-version newer than this toolchain, or a missing -dev package, are the \
                 usual causes)"
            ),
        }
    }
}

impl std::error::Error for SchedBuildError {}

fn io_error(what: impl Into<String>) -> impl FnOnce(io::Error) -> SchedBuildError {
    let what = what.into();
    move |source| SchedBuildError::Io { what, source }
}

/// Where built schedulers live: `<cache>/schedulers`.
pub fn cache_dir() -> PathBuf {
    build::cache_root().join("schedulers")
}

/// A built (or cached) scheduler.
#[derive(Debug, Clone)]
pub struct Built {
    pub program: PathBuf,
    pub version: String,
    pub reused: bool,
    pub elapsed: Duration,
}

/// Builds `spec` into `cache` (the newest version when none is given), or returns the
/// cached build.
pub fn build(spec: &Spec, cache: &Path, jobs: Option<usize>) -> Result<Built, SchedBuildError> {
    let started = Instant::now();
    let version = match &spec.version {
        Some(v) => v.clone(),
        None => newest_version(&spec.name)?,
    };
    let dir = cache.join(format!("{}-{version}", spec.name));
    let program = dir.join("bin").join(&spec.name);
    let built = |reused| Built {
        program: program.clone(),
        version: version.clone(),
        reused,
        elapsed: started.elapsed(),
    };
    if program.is_file() {
        return Ok(built(true));
    }
    check_llvm()?;
    eprintln!(
        "schedbox: building {} {version} from crates.io into {} (`cargo install --locked`, \
         BPF with {LLVM_DIR}/bin/clang): about {TYPICAL_BUILD_MIN} min on two cores, once",
        spec.name,
        dir.display()
    );
    fs::create_dir_all(cache).map_err(io_error(format!("create {}", cache.display())))?;
    let staging = cache.join(format!(
        ".{}-{version}.tmp-{}",
        spec.name,
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&staging);
    let target = cache.join(TARGET_DIR);
    let result = install(&spec.name, &version, &staging, &target, jobs).and_then(|()| {
        let _ = fs::remove_dir_all(&dir);
        fs::rename(&staging, &dir)
            .map_err(io_error(format!("move the build into {}", dir.display())))
    });
    if result.is_err() {
        let _ = fs::remove_dir_all(&staging);
    }
    result.map(|()| built(false))
}

fn check_llvm() -> Result<(), SchedBuildError> {
    for path in [clang(), Path::new(LLVM_DIR).join("lib/libclang.so")] {
        if !path.exists() {
            return Err(SchedBuildError::ToolMissing { path });
        }
    }
    Ok(())
}

fn clang() -> PathBuf {
    Path::new(LLVM_DIR).join("bin/clang")
}

/// `cargo install` into `root` (building in `target`), its progress on our stderr. The
/// crates' build scripts call `clang` (BPF_CLANG), `llvm-strip` and bindgen's libclang:
/// all from [`LLVM_DIR`].
fn install(
    name: &str,
    version: &str,
    root: &Path,
    target: &Path,
    jobs: Option<usize>,
) -> Result<(), SchedBuildError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![Path::new(LLVM_DIR).join("bin")];
    paths.extend(std::env::split_paths(&path));
    let path = std::env::join_paths(paths).map_err(|e| SchedBuildError::Io {
        what: "PATH".into(),
        source: io::Error::other(e),
    })?;
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo
        .args(["install", "--locked", "--root"])
        .arg(root)
        .args([name, "--version", version])
        .env("PATH", path)
        .env("CARGO_TARGET_DIR", target)
        .env("BPF_CLANG", clang())
        .env("LIBCLANG_PATH", Path::new(LLVM_DIR).join("lib"))
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    if let Some(jobs) = jobs {
        cargo.arg(format!("-j{jobs}"));
    }
    let status = cargo.status().map_err(io_error("run cargo install"))?;
    if status.success() {
        return Ok(());
    }
    Err(SchedBuildError::Install {
        spec: format!("{name}@{version}"),
        status: status.to_string(),
    })
}

/// The newest published version, from `cargo info` (`version: 1.1.4`).
fn newest_version(name: &str) -> Result<String, SchedBuildError> {
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["info", "--quiet", name])
        // Outside any workspace, so that cargo asks the registry.
        .current_dir(std::env::temp_dir())
        .output()
        .map_err(io_error("run cargo info"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    parse_info_version(&text).ok_or_else(|| SchedBuildError::NoVersion {
        name: name.to_string(),
        detail: String::from_utf8_lossy(&output.stderr).trim().to_string(),
    })
}

fn parse_info_version(info: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix("version:"))
        .and_then(|v| v.split_whitespace().next())
        .map(str::to_string)
}

/// A built scheduler by `NAME` (the most recently built version) or `NAME@VERSION`, in
/// `cache`; `None` when the text is no such spec or nothing was built.
pub fn find(text: &str, cache: &Path) -> Option<PathBuf> {
    let spec = Spec::parse(text).ok()?;
    if let Some(version) = &spec.version {
        let program = cache
            .join(format!("{}-{version}", spec.name))
            .join("bin")
            .join(&spec.name);
        return program.is_file().then_some(program);
    }
    let prefix = format!("{}-", spec.name);
    fs::read_dir(cache)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            // `scx_p2dq-1.0` but not `scx_p2dq_x-1.0`: versions start with a digit.
            name.strip_prefix(&prefix)
                .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()))
        })
        .map(|e| e.path().join("bin").join(&spec.name))
        .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
        .max()
        .map(|(_, p)| p)
}

/// `schedbox scheduler build SPEC [--jobs N]`: prints the program's path. A bad spec is
/// the user's to fix (exit 2); a failed toolchain, download or build is this host's
/// problem (125).
pub fn command(spec: &str, jobs: Option<usize>) -> Result<Exit, Stop> {
    let spec = Spec::parse(spec).map_err(|e| Stop::Usage(e.to_string()))?;
    let built = build(&spec, &cache_dir(), jobs).map_err(|e| {
        let message = format!("scheduler build failed: {e}");
        match e {
            SchedBuildError::BadSpec(_) => Stop::Usage(message),
            _ => Stop::Host(message),
        }
    })?;
    let how = if built.reused { "cached" } else { "built" };
    output::note(&format!(
        "schedbox: {how} {} {} in {:.0?}",
        built.program.display(),
        built.version,
        built.elapsed
    ));
    output::print(&format!("{}\n", built.program.display()));
    Ok(Exit::Pass)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_with_and_without_a_version() {
        assert_eq!(
            Spec::parse("scx_bpfland@1.1.4").unwrap(),
            Spec {
                name: "scx_bpfland".into(),
                version: Some("1.1.4".into())
            }
        );
        assert_eq!(Spec::parse("scx_lavd").unwrap().version, None);
        for bad in [
            "bpfland",
            "scx_",
            "scx_a@",
            "scx_a b",
            "../scx_x",
            "scx_a@1;rm",
        ] {
            let err = Spec::parse(bad).unwrap_err();
            assert!(err.to_string().contains("NAME@VERSION"), "{bad}: {err}");
        }
    }

    #[test]
    fn cargo_info_gives_the_version() {
        let info =
            "scx_bpfland\nA vruntime-based scheduler\nversion: 1.1.4\nlicense: GPL-2.0-only\n";
        assert_eq!(parse_info_version(info).as_deref(), Some("1.1.4"));
        assert_eq!(parse_info_version("nothing here"), None);
    }

    #[test]
    fn find_picks_the_named_version_or_the_newest_build() {
        let dir = crate::tempdir::TempDir::new("schedbuild").unwrap();
        let cache = dir.path();
        let make = |entry: &str, name: &str| {
            let bin = cache.join(entry).join("bin");
            fs::create_dir_all(&bin).unwrap();
            fs::write(bin.join(name), b"\x7fELF").unwrap();
            bin.join(name)
        };
        let old = make("scx_lavd-1.0.0", "scx_lavd");
        std::thread::sleep(Duration::from_millis(20));
        let new = make("scx_lavd-1.1.0", "scx_lavd");
        make("scx_lavd_x-9.0.0", "scx_lavd_x");
        assert_eq!(find("scx_lavd", cache), Some(new));
        assert_eq!(find("scx_lavd@1.0.0", cache), Some(old));
        assert_eq!(find("scx_lavd@2.0.0", cache), None);
        assert_eq!(find("scx_rusty", cache), None);
        assert_eq!(find("/bin/ls", cache), None);
    }
}
