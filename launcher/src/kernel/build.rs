//! Building a schedbox kernel from a source tree, and caching the result.
//!
//! The build is out of tree (`make O=`): `tinyconfig`, the fragment merged on top,
//! `olddefconfig`, a check that every fragment option stuck, then `bzImage`. Results live
//! under `<cache>/kernels/<key>/` (`bzImage`, `vmlinux`, `config`), keyed by the tree's
//! version (and git commit) and a hash of the fragment, so a second build with the same
//! inputs reuses them.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::kernel::config::{self, KernelConfig, Mismatch};

/// The fragment schedbox kernels are built with.
pub const FRAGMENT: &str = include_str!("../../../kernel/schedbox.config");
/// The Debian package that ships a kernel tree as a tarball.
pub const SOURCE_PACKAGE: &str = "linux-source-6.12";
const SOURCE_TARBALL: &str = "/usr/src/linux-source-6.12.tar.xz";
const SOURCE_DIR_NAME: &str = "linux-source-6.12";

const FRAGMENT_FILE: &str = "schedbox.config";
/// make's output, in the build folder.
pub const LOG_FILE: &str = "schedbox-build.log";
const IMAGE_IN_TREE: &str = "arch/x86/boot/bzImage";
const LOG_TAIL_LINES: usize = 25;
/// Minutes a cold `-j2` build took on two cores (tinyconfig + fragment, Linux 6.12): 7
/// at load average 2, 21-28 beside other builds and guests (docs/kernel.md).
const TYPICAL_BUILD_MIN: (u64, u64) = (7, 30);
/// How often a long make step reports its progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(30);
const PROGRESS_POLL: Duration = Duration::from_millis(200);
/// Objects (`CC`/`AS` lines in make's output) a cold bzImage build of the fragment on
/// Linux 6.12 compiles, for the progress line's "of about".
const TYPICAL_OBJECTS: usize = 1_370;
/// Commands the build needs, with the Debian package that provides each.
const TOOLS: &[(&str, &str)] = &[
    ("make", "make"),
    ("gcc", "gcc"),
    ("flex", "flex"),
    ("bison", "bison"),
    ("bc", "bc"),
    ("pahole", "dwarves"),
    ("objcopy", "binutils"),
];

/// Where schedbox keeps built kernels and fetched sources: `$SCHEDBOX_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/schedbox`, else `~/.cache/schedbox`.
pub fn cache_root() -> PathBuf {
    let var = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = var("SCHEDBOX_CACHE_DIR") {
        return dir;
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return dir.join("schedbox");
    }
    match var("HOME") {
        Some(home) => home.join(".cache/schedbox"),
        None => std::env::temp_dir().join("schedbox-cache"),
    }
}

/// Where `fetch_source(None)` puts the kernel tree.
pub fn default_source_dir() -> PathBuf {
    cache_root().join("src").join(SOURCE_DIR_NAME)
}

#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Fragment text merged on top of tinyconfig.
    pub fragment: String,
    /// Root of the kernel cache (`<cache>/kernels`).
    pub cache_dir: PathBuf,
    /// Build directory (`O=`); default: `<cache_dir>/build/<hash of the source path>`,
    /// kept so that a rebuild after a source change is incremental.
    pub build_dir: Option<PathBuf>,
    pub jobs: usize,
    /// Build even when the cache has a kernel for these inputs.
    pub force: bool,
    /// Show make's output instead of writing it to the log file only.
    pub verbose: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            fragment: FRAGMENT.to_string(),
            cache_dir: cache_root().join("kernels"),
            build_dir: None,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            force: false,
            verbose: false,
        }
    }
}

/// A built (or cached) kernel.
#[derive(Debug, Clone)]
pub struct BuiltKernel {
    pub image: PathBuf,
    /// The PVH-bootable ELF, debug info stripped (BTF kept).
    pub vmlinux: PathBuf,
    pub config: PathBuf,
    pub version: String,
    pub key: String,
    /// True when the cache already had it and nothing was built.
    pub reused: bool,
    pub elapsed: Duration,
}

#[derive(Debug)]
pub enum KbuildError {
    NotAKernelTree {
        path: PathBuf,
    },
    SourceNotClean {
        path: PathBuf,
    },
    ToolMissing {
        tool: &'static str,
        package: &'static str,
    },
    Io {
        what: String,
        source: io::Error,
    },
    Command {
        what: String,
        status: String,
        log: Option<PathBuf>,
        tail: String,
    },
    OptionsDidNotStick {
        config: PathBuf,
        unmet: Vec<Mismatch>,
    },
    NoPackageManager,
}

impl fmt::Display for KbuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use KbuildError::*;
        match self {
            NotAKernelTree { path } => write!(
                f,
                "{} is not a Linux source tree (no Makefile and scripts/kconfig); pass the \
                 top of a kernel tree, or run `schedbox kernel fetch-source`",
                path.display()
            ),
            SourceNotClean { path } => write!(
                f,
                "{} has an in-tree build (.config), which out-of-tree builds refuse; run \
                 `make -C {} mrproper` (it deletes that build) or use a clean tree",
                path.display(),
                path.display()
            ),
            ToolMissing { tool, package } => write!(
                f,
                "`{tool}` is not installed; install the kernel build dependencies with \
                 `make kernel-deps` (Debian package: {package})"
            ),
            Io { what, source } => write!(f, "{what}: {source}"),
            Command {
                what,
                status,
                log,
                tail,
            } => {
                write!(f, "`{what}` failed ({status})")?;
                if let Some(log) = log {
                    write!(f, "; full log: {}", log.display())?;
                }
                if !tail.is_empty() {
                    write!(f, "\n{tail}")?;
                }
                Ok(())
            }
            OptionsDidNotStick { config, unmet } => {
                writeln!(
                    f,
                    "{} fragment option(s) did not stick in {} (their dependencies are \
                     unmet; fix the fragment or the tree):",
                    unmet.len(),
                    config.display()
                )?;
                for mismatch in unmet {
                    writeln!(f, "  {mismatch}{}", hint(&mismatch.name))?;
                }
                Ok(())
            }
            NoPackageManager => write!(
                f,
                "apt-get is not available to install {SOURCE_PACKAGE}; download a kernel \
                 tree (e.g. from kernel.org) and pass it with --source"
            ),
        }
    }
}

impl std::error::Error for KbuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            KbuildError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Known causes of options dropping out of the config.
fn hint(option: &str) -> &'static str {
    match option {
        "DEBUG_INFO_BTF" => " (needs pahole: install dwarves)",
        "UNWINDER_ORC" => " (needs libelf: install libelf-dev)",
        _ => "",
    }
}

fn io_error(what: impl Into<String>) -> impl FnOnce(io::Error) -> KbuildError {
    let what = what.into();
    move |source| KbuildError::Io { what, source }
}

/// Builds a kernel from `source` with the options' fragment, or returns the cached one.
pub fn build(source: &Path, opts: &BuildOptions) -> Result<BuiltKernel, KbuildError> {
    let started = Instant::now();
    check_tree(source)?;
    let source = fs::canonicalize(source).map_err(io_error(format!("{}", source.display())))?;
    let version = source_version(&source)?;
    let revision = source_revision(&source);
    let key = cache_key(&version, revision.as_ref(), &opts.fragment);
    let out = opts.cache_dir.join(&key);
    let built = |reused| BuiltKernel {
        image: out.join("bzImage"),
        vmlinux: out.join("vmlinux"),
        config: out.join("config"),
        version: version.clone(),
        key: key.clone(),
        reused,
        elapsed: started.elapsed(),
    };
    let trusted = revision.as_ref().is_none_or(|r| !r.dirty);
    if trusted && !opts.force && is_complete(&built(true)) {
        return Ok(built(true));
    }
    check_tools()?;
    let build_dir = build_dir(&source, opts);
    announce(&version, &key, &source, &build_dir, opts);
    configure(&source, &build_dir, opts)?;
    let jobs = format!("-j{}", opts.jobs.max(1));
    Make::new(&source, &build_dir, opts.verbose).run_with_progress(&[&jobs, "bzImage"])?;
    publish(&build_dir, &out)?;
    Ok(built(false))
}

/// Says on stderr what is about to be built, where, why and how long it takes, since a
/// cold build runs for minutes before anything else happens.
fn announce(version: &str, key: &str, source: &Path, build_dir: &Path, opts: &BuildOptions) {
    let why = if opts.force {
        "--force".to_string()
    } else {
        format!("not in {} yet", opts.cache_dir.display())
    };
    eprintln!(
        "schedbox: building Linux {version} from {} with kernel/schedbox.config \
         (cache key {key}; {why}); -j{}: {}-{} min on two cores when cold, the more the \
         busier they are; make's output: {}",
        source.display(),
        opts.jobs.max(1),
        TYPICAL_BUILD_MIN.0,
        TYPICAL_BUILD_MIN.1,
        build_dir.join(LOG_FILE).display()
    );
}

/// The `O=` folder a build of `source` uses; make's output goes to `LOG_FILE` in it.
pub fn build_dir(source: &Path, opts: &BuildOptions) -> PathBuf {
    if let Some(dir) = &opts.build_dir {
        return dir.clone();
    }
    opts.cache_dir.join("build").join(path_id(source))
}

/// A short, stable name for a folder, from its canonical path: what keys the cache's
/// folders that belong to one source tree.
pub fn path_id(path: &Path) -> String {
    let path = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    hex(fnv1a(path.as_os_str().as_encoded_bytes()))
}

fn is_complete(kernel: &BuiltKernel) -> bool {
    [&kernel.image, &kernel.vmlinux, &kernel.config]
        .iter()
        .all(|p| p.is_file())
}

fn check_tree(source: &Path) -> Result<(), KbuildError> {
    let is_tree = source.join("Makefile").is_file()
        && source.join("scripts/kconfig/merge_config.sh").is_file();
    if !is_tree {
        return Err(KbuildError::NotAKernelTree {
            path: source.into(),
        });
    }
    if source.join(".config").exists() {
        return Err(KbuildError::SourceNotClean {
            path: source.into(),
        });
    }
    Ok(())
}

fn check_tools() -> Result<(), KbuildError> {
    for &(tool, package) in TOOLS {
        let found = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !found {
            return Err(KbuildError::ToolMissing { tool, package });
        }
    }
    Ok(())
}

/// tinyconfig, the fragment merged on top, olddefconfig, then the check that every
/// fragment option made it (tinyconfig drops options with unmet dependencies).
fn configure(source: &Path, build_dir: &Path, opts: &BuildOptions) -> Result<(), KbuildError> {
    fs::create_dir_all(build_dir).map_err(io_error(format!("create {}", build_dir.display())))?;
    let make = Make::new(source, build_dir, opts.verbose);
    make.start_log()?;
    make.run(&["tinyconfig"])?;
    let fragment_path = build_dir.join(FRAGMENT_FILE);
    fs::write(&fragment_path, &opts.fragment)
        .map_err(io_error(format!("write {}", fragment_path.display())))?;
    let merge = source.join("scripts/kconfig/merge_config.sh");
    let mut command = Command::new("sh");
    command
        .arg(merge)
        .args(["-m", ".config", FRAGMENT_FILE])
        .current_dir(build_dir);
    make.run_logged(command, "merge_config.sh -m .config schedbox.config")?;
    make.run(&["olddefconfig"])?;
    let config_path = build_dir.join(".config");
    let text = fs::read_to_string(&config_path)
        .map_err(io_error(format!("read {}", config_path.display())))?;
    let unmet = config::unmet(
        &KernelConfig::parse(&opts.fragment),
        &KernelConfig::parse(&text),
    );
    if !unmet.is_empty() {
        return Err(KbuildError::OptionsDidNotStick {
            config: config_path,
            unmet,
        });
    }
    Ok(())
}

/// Copies the results into the cache: a temporary folder renamed into place, so that a
/// cache entry is complete or absent.
fn publish(build_dir: &Path, out: &Path) -> Result<(), KbuildError> {
    let key = out.file_name().unwrap_or_default().to_string_lossy();
    let staging = out.with_file_name(format!(".{key}.tmp-{}", std::process::id()));
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging).map_err(io_error(format!("create {}", staging.display())))?;
    for (from, to) in [(IMAGE_IN_TREE, "bzImage"), (".config", "config")] {
        fs::copy(build_dir.join(from), staging.join(to)).map_err(io_error(format!(
            "copy {} from {}",
            from,
            build_dir.display()
        )))?;
    }
    let mut strip = Command::new("objcopy");
    strip
        .arg("--strip-debug")
        .arg(build_dir.join("vmlinux"))
        .arg(staging.join("vmlinux"));
    run_quiet(strip, "objcopy --strip-debug vmlinux")?;
    let _ = fs::remove_dir_all(out);
    fs::rename(&staging, out).map_err(io_error(format!("move the kernel into {}", out.display())))
}

/// The tree's version as kbuild reports it (`make kernelversion`).
pub fn source_version(source: &Path) -> Result<String, KbuildError> {
    let output = Command::new("make")
        .args(["-s", "--no-print-directory", "-C"])
        .arg(source)
        .arg("kernelversion")
        .output()
        .map_err(io_error("run make kernelversion (is make installed?)"))?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if !output.status.success() || version.is_empty() || version.contains(char::is_whitespace) {
        return Err(KbuildError::Command {
            what: format!("make -C {} kernelversion", source.display()),
            status: output.status.to_string(),
            log: None,
            tail: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(version)
}

/// The git commit of a tree, and whether tracked files differ from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    pub commit: String,
    pub dirty: bool,
}

/// `None` for trees that are not git checkouts (a tarball's version is its identity).
pub fn source_revision(source: &Path) -> Option<Revision> {
    if !source.join(".git").exists() {
        return None;
    }
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .arg("-C")
            .arg(source)
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let commit = git(&["rev-parse", "--short=12", "HEAD"])?;
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_none_or(|s| !s.is_empty());
    Some(Revision { commit, dirty })
}

/// `<version>[-g<commit>[-dirty]]-<fragment hash>`.
pub fn cache_key(version: &str, revision: Option<&Revision>, fragment: &str) -> String {
    let mut key = version.to_string();
    if let Some(rev) = revision {
        key.push_str(&format!("-g{}", rev.commit));
        if rev.dirty {
            key.push_str("-dirty");
        }
    }
    format!("{key}-{}", hex(fnv1a(fragment.as_bytes())))
}

/// FNV-1a: a stable hash (std's hasher may change between Rust releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

fn hex(value: u64) -> String {
    format!("{value:016x}")
}

/// Runs make targets against the tree with `O=`, logging to the build folder.
struct Make<'a> {
    source: &'a Path,
    build_dir: &'a Path,
    verbose: bool,
}

impl<'a> Make<'a> {
    fn new(source: &'a Path, build_dir: &'a Path, verbose: bool) -> Self {
        Make {
            source,
            build_dir,
            verbose,
        }
    }

    fn log_path(&self) -> PathBuf {
        self.build_dir.join(LOG_FILE)
    }

    fn start_log(&self) -> Result<(), KbuildError> {
        fs::write(self.log_path(), "")
            .map_err(io_error(format!("create {}", self.log_path().display())))
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("make");
        // A calling make's flags (`make -s test`) would silence kbuild's `CC` lines,
        // which the progress count reads; -j is given explicitly.
        command
            .env_remove("MAKEFLAGS")
            .env_remove("MFLAGS")
            .env_remove("MAKELEVEL")
            .arg("-C")
            .arg(self.source)
            .arg(format!("O={}", self.build_dir.display()))
            .args(args);
        command
    }

    fn run(&self, args: &[&str]) -> Result<(), KbuildError> {
        self.run_logged(self.command(args), &format!("make {}", args.join(" ")))
    }

    /// As [`Make::run`], printing every [`PROGRESS_EVERY`] how many objects were compiled.
    fn run_with_progress(&self, args: &[&str]) -> Result<(), KbuildError> {
        let what = format!("make {}", args.join(" "));
        self.spawn_logged(self.command(args), &what, !self.verbose)
    }

    fn run_logged(&self, command: Command, what: &str) -> Result<(), KbuildError> {
        self.spawn_logged(command, what, false)
    }

    fn spawn_logged(
        &self,
        mut command: Command,
        what: &str,
        progress: bool,
    ) -> Result<(), KbuildError> {
        let log_path = self.log_path();
        if !self.verbose {
            let log = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)
                .map_err(io_error(format!("open {}", log_path.display())))?;
            let log2 = log
                .try_clone()
                .map_err(io_error("duplicate the log handle"))?;
            command.stdout(log).stderr(log2);
        }
        let mut child = command.spawn().map_err(io_error(format!("run {what}")))?;
        let status = if progress {
            wait_with_progress(&mut child, &log_path, PROGRESS_EVERY)
        } else {
            child.wait()
        }
        .map_err(io_error(format!("wait for {what}")))?;
        if status.success() {
            return Ok(());
        }
        Err(KbuildError::Command {
            what: what.to_string(),
            status: status.to_string(),
            tail: if self.verbose {
                String::new()
            } else {
                tail(&log_path)
            },
            log: (!self.verbose).then_some(log_path),
        })
    }
}

/// Waits for a make run, printing the compiled-object count `every` so often.
fn wait_with_progress(
    child: &mut std::process::Child,
    log: &Path,
    every: Duration,
) -> io::Result<std::process::ExitStatus> {
    let started = Instant::now();
    let mut next = every;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        std::thread::sleep(PROGRESS_POLL);
        if started.elapsed() >= next {
            next += every;
            eprintln!(
                "schedbox: kernel build: {} of about {TYPICAL_OBJECTS} objects compiled, {} s",
                compiled_objects(&fs::read_to_string(log).unwrap_or_default()),
                started.elapsed().as_secs()
            );
        }
    }
}

/// Objects compiled so far, from kbuild's short output (`  CC      kernel/fork.o`).
fn compiled_objects(log: &str) -> usize {
    log.lines()
        .filter(|l| l.starts_with("  CC ") || l.starts_with("  AS "))
        .count()
}

fn run_quiet(mut command: Command, what: &str) -> Result<(), KbuildError> {
    let output = command.output().map_err(io_error(format!("run {what}")))?;
    if output.status.success() {
        return Ok(());
    }
    Err(KbuildError::Command {
        what: what.to_string(),
        status: output.status.to_string(),
        log: None,
        tail: String::from_utf8_lossy(&output.stderr).trim().to_string(),
    })
}

fn tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
}

/// Makes a kernel tree available: untars Debian's linux-source package (installing it
/// with apt-get when missing) into `dest` (default: `<cache>/src`). Returns the tree.
pub fn fetch_source(dest: Option<&Path>) -> Result<PathBuf, KbuildError> {
    let dest = dest.map_or_else(|| cache_root().join("src"), Path::to_path_buf);
    let tree = dest.join(SOURCE_DIR_NAME);
    if check_tree(&tree).is_ok() {
        return Ok(tree);
    }
    if !Path::new(SOURCE_TARBALL).is_file() {
        install_source_package()?;
    }
    fs::create_dir_all(&dest).map_err(io_error(format!("create {}", dest.display())))?;
    let staging = dest.join(format!(".fetch-{}", std::process::id()));
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging).map_err(io_error(format!("create {}", staging.display())))?;
    let mut untar = Command::new("tar");
    untar.arg("-xf").arg(SOURCE_TARBALL).arg("-C").arg(&staging);
    let result = run_quiet(untar, &format!("tar -xf {SOURCE_TARBALL}")).and_then(|()| {
        let _ = fs::remove_dir_all(&tree);
        fs::rename(staging.join(SOURCE_DIR_NAME), &tree)
            .map_err(io_error(format!("move the tree into {}", tree.display())))
    });
    let _ = fs::remove_dir_all(&staging);
    result.map(|()| tree)
}

/// The tree to build: `source` when given, else the fetched one (fetching it first when
/// it is missing).
pub fn source_or_fetch(source: Option<&Path>) -> Result<PathBuf, KbuildError> {
    match source {
        Some(dir) => Ok(dir.to_path_buf()),
        None => fetch_source(None),
    }
}

fn install_source_package() -> Result<(), KbuildError> {
    let mut apt = Command::new("apt-get");
    apt.args(["install", "-y", SOURCE_PACKAGE])
        .env("DEBIAN_FRONTEND", "noninteractive");
    match apt.output() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(KbuildError::NoPackageManager),
        Err(e) => Err(io_error("run apt-get")(e)),
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(KbuildError::Command {
            what: format!("apt-get install -y {SOURCE_PACKAGE} (needs root)"),
            status: out.status.to_string(),
            log: None,
            tail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_key_names_version_commit_and_fragment() {
        let clean = Revision {
            commit: "0123456789ab".into(),
            dirty: false,
        };
        let dirty = Revision {
            dirty: true,
            ..clean.clone()
        };
        let key = cache_key("6.12.117", None, FRAGMENT);
        assert!(key.starts_with("6.12.117-"), "{key}");
        assert_eq!(key, cache_key("6.12.117", None, FRAGMENT));
        assert_ne!(key, cache_key("6.12.117", None, "CONFIG_SMP=y\n"));
        assert!(cache_key("6.13", Some(&clean), "x").starts_with("6.13-g0123456789ab-"));
        assert!(cache_key("6.13", Some(&dirty), "x").contains("-dirty-"));
    }

    #[test]
    fn fragment_asks_for_sched_ext_and_keeps_rt_group_sched_off() {
        let fragment = KernelConfig::parse(FRAGMENT);
        assert_eq!(fragment.get("SCHED_CLASS_EXT"), Some("y"));
        assert_eq!(fragment.get("RT_GROUP_SCHED"), Some("n"));
        assert_eq!(fragment.get("IKCONFIG"), Some("y"));
    }

    #[test]
    fn progress_counts_compiled_and_assembled_objects() {
        let log = "  SYNC    include/config/auto.conf\n  CC      kernel/fork.o\n\
                   \x20 AS      arch/x86/entry/entry_64.o\n  LD      vmlinux.o\n\
                   \x20 CC      mm/slub.o\n  HOSTCC  scripts/kallsyms\n";
        assert_eq!(compiled_objects(log), 3);
    }

    #[test]
    fn waiting_with_progress_returns_the_status() {
        let dir = crate::tempdir::TempDir::new("kbuild-progress").unwrap();
        let log = dir.path().join(LOG_FILE);
        fs::write(&log, "  CC      a.o\n").unwrap();
        let mut child = Command::new("sh")
            .args(["-c", "sleep 0.5; exit 3"])
            .spawn()
            .unwrap();
        let status = wait_with_progress(&mut child, &log, Duration::from_millis(100)).unwrap();
        assert_eq!(status.code(), Some(3));
    }

    #[test]
    fn fragment_has_every_feature_kernel_check_lists() {
        let fragment = KernelConfig::parse(FRAGMENT);
        for (name, what) in config::FEATURES {
            assert_eq!(fragment.get(name), Some("y"), "{name} ({what})");
        }
    }

    #[test]
    fn a_folder_that_is_not_a_tree_is_named() {
        let dir = std::env::temp_dir();
        let err = build(&dir, &BuildOptions::default()).unwrap_err();
        assert!(matches!(err, KbuildError::NotAKernelTree { .. }), "{err}");
        assert!(err.to_string().contains("fetch-source"));
    }

    #[test]
    fn unmet_options_are_listed_with_hints() {
        let err = KbuildError::OptionsDidNotStick {
            config: "/b/.config".into(),
            unmet: vec![Mismatch {
                name: "DEBUG_INFO_BTF".into(),
                wanted: "y".into(),
                got: None,
            }],
        };
        let text = err.to_string();
        assert!(text.contains("CONFIG_DEBUG_INFO_BTF wanted y"), "{text}");
        assert!(text.contains("install dwarves"), "{text}");
    }
}
