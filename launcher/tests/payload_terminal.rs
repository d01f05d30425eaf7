//! Payloads write to a pseudo-terminal in the guest, as in a shell: a C program sees
//! `isatty(1)`, buffers by line, and a child it forks does not replay its output.
//!
//! Needs `make` (the release init), a test kernel and `cc` with a static libc.

mod common;

use common::{boot, build_static_c, describe, Scratch};

#[test]
fn a_payload_writes_to_a_terminal_and_each_line_appears_once() {
    let scratch = Scratch::new("payload-terminal");
    let forker = build_static_c(
        &scratch,
        "launcher/tests/payload_terminal/forker.c",
        "forker",
    );
    let scenario = scratch.file(
        "forker.toml",
        &format!(
            "name = \"forker\"\nduration_ms = 1500\n\
             [[workers]]\ngroup = \"spin\"\nwork = \"spin\"\n\
             [[payload]]\nname = \"forker\"\npath = \"{}\"\n",
            forker.display()
        ),
    );
    let (output, report) = boot(&scratch, &[scenario.to_str().unwrap()]);
    let why = describe(&output, &report);
    assert_eq!(output.status.code(), Some(0), "{why}");
    let log = scratch.run_file("payload-forker-forker.log");
    let lines: Vec<&str> = log.lines().collect();
    assert!(
        lines.contains(&"isatty=1"),
        "stdout is no terminal: {log:?}"
    );
    for line in ["isatty=1", "before fork", "child", "parent"] {
        let seen = lines.iter().filter(|l| **l == line).count();
        assert_eq!(seen, 1, "{line:?} seen {seen} times in {log:?}");
    }
    assert!(
        !log.contains('\r'),
        "the terminal added carriage returns: {log:?}"
    );
}
