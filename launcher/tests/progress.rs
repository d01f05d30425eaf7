//! Progress while a VM runs: plain lines when stderr is not a terminal, one live line
//! redrawn in place when it is (a pseudo-terminal here), nothing with `-q`; and each
//! scenario's verdict as soon as its records are in.

mod common;

use std::ffi::CStr;
use std::fs::File;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};

use common::{boot, describe, kernel, one_vm_at_a_time, Scratch, SCHEDBOX};

/// Two short scenarios: a spinner that passes, and one whose progress limit no worker
/// can reach, which fails.
fn two_scenarios(scratch: &Scratch) -> (String, String) {
    let pass = scratch.file(
        "first.toml",
        "name = \"first-spin\"\nduration_ms = 300\n[[workers]]\ngroup = \"s\"\nwork = \"spin\"\n",
    );
    let fail = scratch.file(
        "second.toml",
        "name = \"second-sleep\"\nduration_ms = 300\n[[workers]]\ngroup = \"z\"\n\
         work = \"sleep-wake\"\nsleep_us = 100000\n[[check]]\nname = \"progress\"\n\
         limit = 1000000\n",
    );
    (pass.display().to_string(), fail.display().to_string())
}

/// The lines of `stderr` that are progress lines about scenarios.
fn scenario_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("schedbox: scenario "))
        .collect()
}

#[test]
fn a_run_into_a_pipe_says_each_scenario_and_its_verdict_in_order() {
    let scratch = Scratch::new("progress-plain");
    let (first, second) = two_scenarios(&scratch);
    let (output, report) = boot(&scratch, &[&first, &second]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let all = describe(&output, &report);
    assert_eq!(output.status.code(), Some(1), "{all}");
    let lines = scenario_lines(&stderr);
    assert_eq!(lines.len(), 4, "{all}");
    assert!(lines[0].starts_with("schedbox: scenario 1/2 first-spin: started (0.3 s declared)"));
    assert!(
        lines[1].starts_with("schedbox: scenario 1/2 first-spin: pass ("),
        "{all}"
    );
    assert!(lines[2].starts_with("schedbox: scenario 2/2 second-sleep: started"));
    assert!(
        lines[3].starts_with("schedbox: scenario 2/2 second-sleep: FAIL: ")
            && lines[3].contains("check progress failed"),
        "{all}"
    );
    let up = stderr
        .find("schedbox: guest up after")
        .expect("no guest-up line");
    assert!(up < stderr.find(lines[0]).unwrap(), "{all}");
    assert!(!stderr.contains('\r') && !stderr.contains("ETA"), "{all}");
}

#[test]
fn quiet_prints_no_progress() {
    let scratch = Scratch::new("progress-quiet");
    let (first, _) = two_scenarios(&scratch);
    let (output, report) = boot(&scratch, &["-q", &first]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let all = describe(&output, &report);
    assert_eq!(output.status.code(), Some(0), "{all}");
    assert!(scenario_lines(&stderr).is_empty(), "{all}");
    assert!(!stderr.contains("guest up"), "{all}");
}

/// A pseudo-terminal pair: the controller to read, the terminal to give the child.
fn pty() -> (File, File) {
    // SAFETY: plain libc calls on a descriptor this function owns; ptsname's result is
    // copied before any other call could overwrite it.
    unsafe {
        let controller = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(controller >= 0, "posix_openpt failed");
        assert_eq!(libc::grantpt(controller), 0);
        assert_eq!(libc::unlockpt(controller), 0);
        let name = CStr::from_ptr(libc::ptsname(controller)).to_owned();
        let terminal = libc::open(name.as_ptr(), libc::O_RDWR | libc::O_NOCTTY);
        assert!(terminal >= 0, "cannot open {name:?}");
        (
            File::from(OwnedFd::from_raw_fd(controller)),
            File::from(OwnedFd::from_raw_fd(terminal)),
        )
    }
}

#[test]
fn a_terminal_gets_one_live_line_redrawn_in_place() {
    let scratch = Scratch::new("progress-live");
    let (first, _) = two_scenarios(&scratch);
    let (mut controller, terminal) = pty();
    let _turn = one_vm_at_a_time();
    let kernel = kernel();
    let mut child = Command::new(SCHEDBOX)
        .args(["run", "--accel", "tcg", "--cpus", "2", "--kernel"])
        .arg(&kernel)
        .arg("--out")
        .arg(scratch.0.join("run"))
        .arg(&first)
        .env_remove("SCHEDBOX_SKIP_KVM_PROBE")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(terminal))
        .spawn()
        .unwrap();
    // The terminal is the child's alone now: reading ends (EIO) once it exits.
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = controller.read(&mut buf) {
            seen.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&seen).into_owned()
    });
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let status = child.wait().unwrap();
    let seen = reader.join().unwrap();
    let all = format!(
        "exit {:?}\nstdout:\n{stdout}\nterminal:\n{seen:?}",
        status.code()
    );
    assert_eq!(status.code(), Some(0), "{all}");
    let redraws = seen.matches("\r\x1b[Kschedbox: scenario ").count();
    assert!(redraws >= 2, "{all}");
    assert!(
        seen.contains("\r\x1b[Kschedbox: scenario 0/1 booting, "),
        "{all}"
    );
    assert!(seen.contains("scenario 1/1 first-spin, "), "{all}");
    assert!(seen.contains(" elapsed, ETA "), "{all}");
    // The verdict is a line of its own; the start is the live line's alone.
    assert!(
        seen.contains("schedbox: scenario 1/1 first-spin: pass ("),
        "{all}"
    );
    assert!(!seen.contains("first-spin: started"), "{all}");
    // The live line is erased once the VM is gone: none is left standing.
    let after_last = &seen[seen.rfind(" ETA ").unwrap()..];
    assert!(after_last.contains("\r\x1b[K"), "{all}");
}
