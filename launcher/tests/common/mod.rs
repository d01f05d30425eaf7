//! Shared by the end-to-end tests: the kernel to boot, scratch directories, and one VM at
//! a time through the `schedbox` binary. Each test binary uses its own part of it.
#![allow(dead_code)]

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};

use serde_json::Value;

/// Boots one VM at a time: parallel TCG guests on a small CI runner would starve each
/// other's vCPUs and turn scheduling checks into noise.
static VM: Mutex<()> = Mutex::new(());

/// The machine-wide lock file, so test runs of several checkouts also take turns.
const VM_LOCK_FILE: &str = "/tmp/schedbox-vm.lock";

/// Held while a test's VM runs: the in-process mutex and an `flock` on [`VM_LOCK_FILE`].
pub struct VmTurn {
    _file: Option<File>,
    _guard: MutexGuard<'static, ()>,
}

pub fn one_vm_at_a_time() -> VmTurn {
    let guard = VM.lock().unwrap_or_else(|p| p.into_inner());
    let file = File::options()
        .create(true)
        .append(true)
        .open(VM_LOCK_FILE)
        .ok();
    if let Some(f) = &file {
        // SAFETY: flock on a file descriptor this function owns; blocks until it is ours.
        unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
    }
    VmTurn {
        _file: file,
        _guard: guard,
    }
}

pub const SCHEDBOX: &str = env!("CARGO_BIN_EXE_schedbox");
pub const CPUS: u32 = 2;
/// Kernel parameter that keeps the kernel from unpacking the initramfs, so that it
/// cannot run any init and panics ("VFS: Unable to mount root fs"): a guest that never
/// ran, made without replacing schedbox's PID 1 (which `--append` refuses).
pub const NO_INITRAMFS: &str = "initcall_blacklist=populate_rootfs";

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where `make test` (kernel/test-inputs.sh) points the tests at the folder holding the
/// tree's `scx_simple` and `scx_qmap`; without it they are looked for beside the kernel.
pub const SCHEDULERS_ENV: &str = "SCHEDBOX_SCHEDULERS";
/// A kernel without sched_ext; without it, the newest cached `vmlinuz-*` (`make
/// kernel-debian`).
pub const PLAIN_KERNEL_ENV: &str = "SCHEDBOX_PLAIN_KERNEL";
const GET_INPUTS: &str = "`make test` builds them (or run `make test-inputs` and export \
     what it prints into target/test-inputs.env)";

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The kernel to boot, chosen as `schedbox run` chooses without `--kernel`:
/// `$SCHEDBOX_KERNEL`, then the newest kernel in the cache. A failure says how to get one.
pub fn kernel() -> PathBuf {
    located(schedbox::kernel::Need::Any)
}

fn located(need: schedbox::kernel::Need) -> PathBuf {
    match schedbox::kernel::locate(None, need) {
        Ok(kernel) => kernel.path,
        Err(e) => panic!("no kernel for the end-to-end tests ({e}); {GET_INPUTS}"),
    }
}

/// The kernel `schedbox run --scheduler` chooses without `--kernel`, which must have
/// sched_ext (the tests that attach schedulers need it).
pub fn sched_ext_kernel() -> PathBuf {
    let kernel = located(schedbox::kernel::Need::SchedExt);
    let features = schedbox::kernel::config::check_image(&kernel)
        .unwrap_or_else(|e| panic!("cannot check the test kernel: {e}"));
    assert_eq!(
        features.has_sched_ext,
        Some(true),
        "the test kernel {} lacks sched_ext ({features}); point $SCHEDBOX_KERNEL at \
         schedbox's own kernel: {GET_INPUTS}",
        kernel.display()
    );
    kernel
}

/// One of the kernel tree's schedulers (`scx_simple`, `scx_qmap`): in
/// `$SCHEDBOX_SCHEDULERS`, else beside the test kernel.
pub fn tree_scheduler(name: &str) -> PathBuf {
    let dir = env_path(SCHEDULERS_ENV).unwrap_or_else(|| {
        let kernel = kernel();
        kernel.parent().unwrap_or(Path::new(".")).to_path_buf()
    });
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: the tests need the kernel tree's {name} built for the test kernel; \
         {GET_INPUTS}",
        path.display()
    );
    path
}

/// A kernel without sched_ext: `$SCHEDBOX_PLAIN_KERNEL`, else the newest `vmlinuz-*` in
/// the cache (`make kernel-debian` puts Debian's cloud kernel there, with its config).
pub fn plain_kernel() -> PathBuf {
    if let Some(path) = env_path(PLAIN_KERNEL_ENV) {
        return path;
    }
    let cache = schedbox::kernel::cache_dir();
    let newest = std::fs::read_dir(&cache)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("vmlinuz-"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .max();
    match newest {
        Some((_, path)) => path,
        None => panic!(
            "no kernel without sched_ext in {} and {PLAIN_KERNEL_ENV} is not set: run `make \
             kernel-debian`; {GET_INPUTS}",
            cache.display()
        ),
    }
}

pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("schedbox-e2e-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A file the run left in its run directory (`--out` is `run` here).
    pub fn run_file(&self, name: &str) -> String {
        let path = self.0.join("run").join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn schedbox(args: &[&str]) -> Output {
    Command::new(SCHEDBOX)
        .args(args)
        .output()
        .expect("cannot run schedbox")
}

/// The one way the tests run a VM: `schedbox run ARGS` with its run directory in
/// `scratch/run` and its JSON report in `scratch/report.json`, one VM at a time, without
/// the developers' override of the KVM probe; returns the output and the report, or why
/// there is no report.
pub fn run_and_report(
    scratch: &Scratch,
    args: &[&std::ffi::OsStr],
) -> Result<(Output, Value), String> {
    run_and_report_timed(scratch, args).map(|(output, report, _)| (output, report))
}

/// As [`run_and_report`], with how long `schedbox run` took (its turn for the VM not
/// counted).
pub fn run_and_report_timed(
    scratch: &Scratch,
    args: &[&std::ffi::OsStr],
) -> Result<(Output, Value, std::time::Duration), String> {
    run_and_report_with_env(scratch, args, &[])
}

/// As [`run_and_report_timed`], with `env` set for `schedbox run`.
pub fn run_and_report_with_env(
    scratch: &Scratch,
    args: &[&std::ffi::OsStr],
    env: &[(&str, &str)],
) -> Result<(Output, Value, std::time::Duration), String> {
    let _one_at_a_time = one_vm_at_a_time();
    let json = scratch.0.join("report.json");
    let started = std::time::Instant::now();
    let output = Command::new(SCHEDBOX)
        .arg("run")
        .arg("--out")
        .arg(scratch.0.join("run"))
        .arg("--json")
        .arg(&json)
        .args(args)
        .env_remove("SCHEDBOX_SKIP_KVM_PROBE")
        .envs(env.iter().copied())
        .output()
        .expect("cannot run schedbox");
    let took = started.elapsed();
    let text = std::fs::read_to_string(&json).map_err(|e| {
        format!(
            "no report ({e}); stdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })?;
    let report = serde_json::from_str(&text).map_err(|e| format!("bad report: {e}"))?;
    Ok((output, report, took))
}

/// As [`run_and_report`] on the test kernel under TCG, with the launcher's peak resident
/// memory (`VmHWM`, KiB) as last read while it ran: sampled every few milliseconds, and the
/// peak only grows, so the last reading is at most one period short of the end.
pub fn boot_with_peak_rss(scratch: &Scratch, extra: &[&str]) -> (Output, Value, u64) {
    const PERIOD: std::time::Duration = std::time::Duration::from_millis(5);
    let _one_at_a_time = one_vm_at_a_time();
    let json = scratch.0.join("report.json");
    let (out, err) = (scratch.0.join("stdout"), scratch.0.join("stderr"));
    let file = |p: &PathBuf| File::create(p).expect("cannot create an output file");
    let kernel = kernel();
    let cpus = CPUS.to_string();
    let mut child = Command::new(SCHEDBOX)
        .args(["run", "--accel", "tcg", "--cpus", &cpus, "--kernel"])
        .arg(&kernel)
        .arg("--out")
        .arg(scratch.0.join("run"))
        .arg("--json")
        .arg(&json)
        .args(extra)
        .env_remove("SCHEDBOX_SKIP_KVM_PROBE")
        .stdout(file(&out))
        .stderr(file(&err))
        .spawn()
        .expect("cannot run schedbox");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0;
    let status = loop {
        if let Some(status) = child.try_wait().expect("cannot wait for schedbox") {
            break status;
        }
        if let Some(kib) = std::fs::read_to_string(&status_file)
            .ok()
            .and_then(|t| peak_rss_kib(&t))
        {
            peak_kib = kib;
        }
        std::thread::sleep(PERIOD);
    };
    let read = |p: &PathBuf| std::fs::read(p).unwrap_or_default();
    let output = Output {
        status,
        stdout: read(&out),
        stderr: read(&err),
    };
    let text = std::fs::read_to_string(&json)
        .unwrap_or_else(|e| panic!("no report ({e}): {}", describe(&output, &Value::Null)));
    let report = serde_json::from_str(&text).expect("bad report");
    (output, report, peak_kib)
}

/// `VmHWM` of a `/proc/PID/status`, in KiB.
fn peak_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `args` as the OS strings `run_and_report` takes.
pub fn os<'a>(args: &[&'a str]) -> Vec<&'a std::ffi::OsStr> {
    args.iter().map(|a| std::ffi::OsStr::new(*a)).collect()
}

/// Boots a VM with the test kernel and init under TCG (2 vCPUs unless `--topology`
/// says otherwise); returns the output and the JSON report, or why there is no report.
pub fn try_boot(scratch: &Scratch, extra: &[&str]) -> Result<(Output, Value), String> {
    try_boot_timed(scratch, extra).map(|(output, report, _)| (output, report))
}

/// As [`try_boot`], with how long `schedbox run` took.
pub fn try_boot_timed(
    scratch: &Scratch,
    extra: &[&str],
) -> Result<(Output, Value, std::time::Duration), String> {
    try_boot_with_env(scratch, extra, &[])
}

/// As [`try_boot_timed`], with `env` set for `schedbox run`.
pub fn try_boot_with_env(
    scratch: &Scratch,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Result<(Output, Value, std::time::Duration), String> {
    let kernel = kernel();
    let cpus = CPUS.to_string();
    let mut args = vec!["--accel", "tcg", "--kernel", kernel.to_str().unwrap()];
    // A shape given by --topology says the vCPU count itself.
    if !extra.contains(&"--topology") {
        args.extend(["--cpus", &cpus]);
    }
    args.extend_from_slice(extra);
    run_and_report_with_env(scratch, &os(&args), env)
}

/// As [`try_boot`], failing the test when there is no report.
pub fn boot(scratch: &Scratch, extra: &[&str]) -> (Output, Value) {
    try_boot(scratch, extra).unwrap_or_else(|e| panic!("{e}"))
}

/// As [`boot`], with how long `schedbox run` took.
pub fn boot_timed(scratch: &Scratch, extra: &[&str]) -> (Output, Value, std::time::Duration) {
    try_boot_timed(scratch, extra).unwrap_or_else(|e| panic!("{e}"))
}

pub fn describe(output: &Output, report: &Value) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}\nreport: {report:#}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A pipe whose reader is already gone, like `schedbox run | head` once head exited: the
/// first write gets EPIPE.
pub fn closed_pipe() -> std::os::fd::OwnedFd {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: pipe fills two descriptors that this function then owns.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both were just created and are owned by nobody else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    write
}

/// Builds a static C payload from `source` (relative to the repository) into the
/// scratch folder as `name`, with `cc -static -O2`.
pub fn build_static_c(scratch: &Scratch, source: &str, name: &str) -> PathBuf {
    let binary = scratch.0.join(name);
    let out = Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(&binary)
        .arg(repo().join(source))
        .output()
        .expect("cannot run cc: install gcc and libc6-dev");
    assert!(
        out.status.success(),
        "cc -static failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    binary
}
