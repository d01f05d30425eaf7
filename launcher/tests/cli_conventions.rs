//! The command line's conventions, through the binary: every command has its own help
//! (`COMMAND --help`, `-h`, `help COMMAND`) that exits 0, `-V` is `--version`, and every
//! time option reads seconds the same way. None of these boot anything.

mod common;

use std::process::{Command, Stdio};

use common::SCHEDBOX;

/// (status, stdout, stderr) of the binary run with `args`.
fn schedbox(args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(SCHEDBOX)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr),
    )
}

#[test]
fn every_command_prints_its_own_help_and_exits_0() {
    let commands: &[(&[&str], &str)] = &[
        (&["run"], "schedbox run"),
        (&["soak"], "schedbox soak"),
        (&["bench"], "schedbox bench"),
        (&["bisect"], "schedbox bisect --images"),
        (&["plan"], "schedbox plan"),
        (&["initramfs"], "schedbox initramfs"),
        (&["kernel"], "schedbox kernel build"),
        (&["kernel", "build"], "schedbox kernel build"),
        (&["kernel", "check"], "schedbox kernel check"),
        (&["topology"], "schedbox topology list"),
        (&["scheduler", "build"], "schedbox scheduler build"),
        (&["help"], "schedbox help"),
    ];
    for (command, says) in commands {
        for flag in ["--help", "-h"] {
            let mut args = command.to_vec();
            args.push(flag);
            let (status, stdout, stderr) = schedbox(&args);
            assert_eq!(status, Some(0), "{args:?}: {stderr}");
            assert!(stdout.starts_with("usage:\n"), "{args:?}: {stdout}");
            assert!(stdout.contains(says), "{args:?}: {stdout}");
        }
    }
    let (status, stdout, _) = schedbox(&["help", "plan"]);
    assert_eq!(status, Some(0));
    assert!(
        stdout.contains("--topology SPEC") && !stdout.contains("schedbox run"),
        "{stdout}"
    );
    let (status, stdout, _) = schedbox(&["run", "--help"]);
    assert_eq!(status, Some(0));
    assert!(
        stdout.contains("run options:") && stdout.contains("--attach-timeout S"),
        "{stdout}"
    );
}

#[test]
fn version_has_a_short_form() {
    let (status, long, _) = schedbox(&["--version"]);
    assert_eq!(status, Some(0));
    assert!(long.starts_with("schedbox "), "{long}");
    assert_eq!(schedbox(&["-V"]), (Some(0), long, String::new()));
}

#[test]
fn every_time_option_reads_seconds_alike() {
    // A run stopped by its (missing) scheduler, after the options were read: a value
    // either option refuses would stop it with that option's message instead.
    for option in ["--timeout", "--attach-timeout"] {
        let (status, _, stderr) = schedbox(&[
            "run",
            "--kernel",
            "/nonexistent/bzImage",
            "--scheduler",
            "/nonexistent/scheduler",
            option,
            "2.5",
        ]);
        assert_eq!(status, Some(2), "{option}: {stderr}");
        assert!(!stderr.contains(option), "{option} 2.5 refused: {stderr}");
        let (status, _, stderr) = schedbox(&["run", "--scheduler", "s", option, "0"]);
        assert_eq!(status, Some(2));
        assert!(
            stderr.contains(&format!(
                "{option} 0 is out of range: give seconds, more than 0 and at most"
            )),
            "{stderr}"
        );
    }
}
