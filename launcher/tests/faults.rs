//! Host-side faults with real guests under TCG: signals to schedbox, a QEMU killed from
//! outside, a full run directory, a kernel panic with `panic=0`, a closed stdout. None
//! may come out as a verdict on the kernel, leave QEMU running, or lose the records.
//!
//! Needs `make` (the release init), a kernel (see tests/common) and, for the full-disk
//! test, `unshare` with user and mount namespaces (a private tmpfs).

mod common;

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{
    closed_pipe, kernel, one_vm_at_a_time, Scratch, VmTurn, CPUS, NO_INITRAMFS, SCHEDBOX,
};
use serde_json::Value;

/// How long a TCG guest on a busy host may take to send its boot record.
const BOOT_WAIT: Duration = Duration::from_secs(120);
/// How long a process may take to go after it was killed.
const DEATH_WAIT: Duration = Duration::from_secs(10);
/// The bound asked for: a panic ends the run within this of its console line.
const PANIC_END: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_millis(20);
/// A scenario only a signal or a kill ends.
const LONG: &str =
    "name = \"long\"\nduration_ms = 600000\n[[workers]]\ngroup = \"spin\"\nwork = \"spin\"\n";

/// `schedbox run` arguments: TCG, the test kernel, this run directory and --json file.
fn run_args(out: &Path, json: &Path, extra: &[&str]) -> Vec<OsString> {
    let mut args: Vec<OsString> = ["run", "--accel", "tcg", "--cpus", &CPUS.to_string()]
        .iter()
        .map(OsString::from)
        .collect();
    args.extend(["--kernel".into(), kernel().into_os_string()]);
    args.extend(["--out".into(), out.as_os_str().to_owned()]);
    args.extend(["--json".into(), json.as_os_str().to_owned()]);
    args.extend(extra.iter().map(OsString::from));
    args
}

/// `schedbox run` with `--out DIR/run`, `--json DIR/report.json`, output captured.
fn run_command(dir: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(SCHEDBOX);
    command
        .args(run_args(&dir.join("run"), &dir.join("report.json"), extra))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn report(dir: &Path, output: &Output) -> Value {
    let path = dir.join("report.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}\n{}", path.display(), describe(output)));
    serde_json::from_str(&text).unwrap()
}

fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Starts `schedbox run` of the long scenario in `scratch` and returns once the guest
/// runs it, holding the machine's VM turn for the caller.
fn start_long_run(scratch: &Scratch) -> (VmTurn, Child) {
    let long = scratch.file("long.toml", LONG);
    let turn = one_vm_at_a_time();
    let mut child = run_command(&scratch.0, &[long.to_str().unwrap()])
        .spawn()
        .unwrap();
    wait_for_boot(&scratch.0, &mut child);
    (turn, child)
}

/// Waits until the guest has started its scenario (records.log says so).
fn wait_for_boot(dir: &Path, child: &mut Child) {
    let records = dir.join("run/records.log");
    let started = Instant::now();
    while started.elapsed() < BOOT_WAIT {
        let text = std::fs::read_to_string(&records).unwrap_or_default();
        if text.contains("SBX1 scenario ") {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("schedbox ended before the guest booted: {status}");
        }
        std::thread::sleep(POLL);
    }
    panic!(
        "no boot record in {} after {BOOT_WAIT:?}",
        records.display()
    );
}

/// The state letter and parent of a process, from /proc/PID/stat.
fn stat(pid: u32) -> Option<(char, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// The QEMU process schedbox started: its child.
fn qemu_of(schedbox: u32) -> u32 {
    let children: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&pid| stat(pid).is_some_and(|(_, ppid)| ppid == schedbox))
        .collect();
    assert_eq!(children.len(), 1, "schedbox's children: {children:?}");
    let pid = children[0];
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert!(comm.starts_with("qemu"), "child {pid} is {comm}");
    pid
}

/// Whether the process is gone (or a zombie nobody reaped yet: dead all the same).
fn dead(pid: u32) -> bool {
    stat(pid).is_none_or(|(state, _)| state == 'Z' || state == 'X')
}

fn wait_dead(pid: u32) -> bool {
    let started = Instant::now();
    while started.elapsed() < DEATH_WAIT {
        if dead(pid) {
            return true;
        }
        std::thread::sleep(POLL);
    }
    dead(pid)
}

/// QEMU temporary directories schedbox (by pid) left behind.
fn temp_dirs_of(schedbox: u32) -> Vec<PathBuf> {
    let prefix = format!("schedbox-qemu-{schedbox}-");
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

fn signal(pid: u32, signal: i32) {
    // SAFETY: kill(2) on a process this test started.
    assert_eq!(unsafe { libc::kill(pid as i32, signal) }, 0);
}

#[test]
fn sigint_and_sigterm_stop_the_vm_and_report_interrupted() {
    for (sig, status) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let scratch = Scratch::new(&format!("signal-{sig}"));
        let (_turn, child) = start_long_run(&scratch);
        let qemu = qemu_of(child.id());
        if sig == libc::SIGTERM {
            second_run_is_refused(&scratch.0);
        }
        signal(child.id(), sig);
        let schedbox = child.id();
        let output = child.wait_with_output().unwrap();
        let why = describe(&output);
        assert_eq!(output.status.code(), Some(status), "{why}");
        let report = report(&scratch.0, &output);
        assert_eq!(report["outcome"], "interrupted", "{why}");
        assert_eq!(report["exit_code"], status, "{why}");
        assert!(dead(qemu), "QEMU {qemu} outlived schedbox: {why}");
        assert_eq!(temp_dirs_of(schedbox), Vec::<PathBuf>::new(), "{why}");
        let records = scratch.run_file("records.log");
        assert!(records.starts_with("SBX1 boot "), "{records}");
        assert!(records.contains("SBX1 scenario name=long"), "{records}");
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("INTERRUPTED"),
            "{why}"
        );
    }
}

/// A second run with the running one's --out is refused before it boots anything, and
/// leaves the first one's records alone.
fn second_run_is_refused(dir: &Path) {
    let records_before = std::fs::read_to_string(dir.join("run/records.log")).unwrap();
    let output = Command::new(SCHEDBOX)
        .args(["run", "--accel", "tcg", "--kernel"])
        .arg(kernel())
        .arg("--out")
        .arg(dir.join("run"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("in use by another schedbox run"),
        "{stderr}"
    );
    let records_after = std::fs::read_to_string(dir.join("run/records.log")).unwrap();
    assert!(
        records_after.starts_with(&records_before),
        "{records_after}"
    );
}

#[test]
fn sigkill_to_schedbox_takes_qemu_with_it() {
    let scratch = Scratch::new("sigkill");
    let (_turn, child) = start_long_run(&scratch);
    let qemu = qemu_of(child.id());
    signal(child.id(), libc::SIGKILL);
    let schedbox = child.id();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), None, "{}", describe(&output));
    assert!(
        wait_dead(qemu),
        "QEMU {qemu} still runs after schedbox was killed"
    );
    // The socket's directory went once QEMU connected; the initramfs never had a file.
    assert_eq!(temp_dirs_of(schedbox), Vec::<PathBuf>::new());
    let records = scratch.run_file("records.log");
    assert!(records.starts_with("SBX1 boot "), "{records}");
}

#[test]
fn a_qemu_killed_from_outside_is_untestable() {
    let scratch = Scratch::new("qemu-killed");
    let (_turn, child) = start_long_run(&scratch);
    signal(qemu_of(child.id()), libc::SIGKILL);
    let output = child.wait_with_output().unwrap();
    let why = describe(&output);
    assert_eq!(output.status.code(), Some(125), "{why}");
    let report = report(&scratch.0, &output);
    assert_eq!(report["outcome"], "untestable", "{why}");
    let reasons = report["reasons"].to_string();
    assert!(
        reasons.contains("QEMU was killed by signal 9, not by schedbox"),
        "{why}\n{reasons}"
    );
}

#[test]
fn a_full_run_directory_is_untestable_and_never_prints_a_verdict() {
    let scratch = Scratch::new("full");
    let disk = scratch.0.join("disk");
    std::fs::create_dir_all(&disk).unwrap();
    // A 16 KiB tmpfs of its own: the plan fits, the console of a verbose boot does not.
    let args = run_args(
        &disk.join("run"),
        &scratch.0.join("report.json"),
        &["--append", "loglevel=7"],
    );
    let script = format!(
        "mount -t tmpfs -o size=16k schedbox-full {} && exec \"$@\"",
        disk.display()
    );
    let _turn = one_vm_at_a_time();
    let output = Command::new("unshare")
        .args([
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            &script,
            "sh",
        ])
        .arg(SCHEDBOX)
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run unshare (util-linux) for a private tmpfs");
    let why = describe(&output);
    assert_eq!(output.status.code(), Some(125), "{why}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !stdout.contains("PASS") && !stdout.contains("FAIL"),
        "{why}"
    );
    assert!(stdout.contains("UNTESTABLE"), "{why}");
    let report = report(&scratch.0, &output);
    assert_eq!(report["outcome"], "untestable", "{why}");
    let reasons = report["reasons"].to_string();
    assert!(reasons.contains("No space left on device"), "{reasons}");
}

#[test]
fn a_panic_with_panic_0_ends_the_run_at_once() {
    let scratch = Scratch::new("panic0");
    let _turn = one_vm_at_a_time();
    let mut child = run_command(
        &scratch.0,
        &["-v", "--append", &format!("panic=0 {NO_INITRAMFS}")],
    )
    .spawn()
    .unwrap();
    // The console echo (-v) shows when the panic line reached schedbox.
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut panic_at = None;
        let mut lines = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if panic_at.is_none() && line.contains("Kernel panic - not syncing") {
                panic_at = Some(Instant::now());
            }
            lines.push(line);
        }
        (panic_at, lines)
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let ended = Instant::now();
    let (panic_at, lines) = reader.join().unwrap();
    let log = lines.join("\n");
    assert_eq!(status.code(), Some(125), "{log}");
    let panic_at = panic_at.unwrap_or_else(|| panic!("no panic line: {log}"));
    let took = ended - panic_at;
    assert!(
        took < PANIC_END,
        "the run ended {took:?} after the panic line"
    );
    let output = Output {
        status,
        stdout: Vec::new(),
        stderr: log.into_bytes(),
    };
    let report = report(&scratch.0, &output);
    let reasons = report["reasons"].to_string();
    assert!(reasons.contains("No working init found"), "{reasons}");
    assert_eq!(report["end"], "schedbox stopped the VM at the kernel panic");
}

#[test]
fn a_closed_stdout_keeps_the_verdicts_exit_status() {
    let scratch = Scratch::new("epipe");
    let _turn = one_vm_at_a_time();
    let output = run_command(&scratch.0, &[])
        .stdout(closed_pipe())
        .output()
        .unwrap();
    let why = describe(&output);
    assert_eq!(output.status.code(), Some(0), "{why}");
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains("panicked"),
        "{why}"
    );
    assert_eq!(report(&scratch.0, &output)["outcome"], "pass", "{why}");
}

#[test]
fn a_report_that_cannot_be_written_makes_the_run_untestable() {
    let scratch = Scratch::new("report-full");
    let _turn = one_vm_at_a_time();
    // /dev/full passes the checks before boot (its directory is writable); writing it
    // fails with ENOSPC, as a full disk would.
    let output = Command::new(SCHEDBOX)
        .args(run_args(
            &scratch.0.join("run"),
            Path::new("/dev/full"),
            &[],
        ))
        .output()
        .unwrap();
    let why = describe(&output);
    assert_eq!(output.status.code(), Some(125), "{why}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("PASS"), "{why}");
    assert!(
        stdout.contains("cannot write the report /dev/full"),
        "{why}"
    );
    // The run directory's copy says the same.
    let report: Value = serde_json::from_str(&scratch.run_file("report.json")).unwrap();
    assert_eq!(report["outcome"], "untestable", "{why}");
    assert_eq!(report["exit_code"], 125, "{why}");
    let reasons = report["reasons"].to_string();
    assert!(reasons.contains("No space left on device"), "{reasons}");
}

/// An install whose guest init is broken cannot judge any kernel: untestable (125), so
/// that `git bisect run` skips rather than marks the commit bad, and no VM starts.
#[test]
fn a_broken_guest_init_is_the_hosts_fault() {
    let scratch = Scratch::new("broken-init");
    let not_elf = scratch.file("schedbox-init", "#!/bin/sh\n");
    let output = run_command(&scratch.0, &[])
        .env("SCHEDBOX_INIT", &not_elf)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(125), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is not an ELF executable"), "{stderr}");
    assert!(
        !scratch.0.join("run").join("console.log").exists(),
        "a VM was started"
    );
}
