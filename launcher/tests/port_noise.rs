//! A payload that writes noise to the records port (broken records, NULs, lone `%`,
//! invalid UTF-8, 100 KB without a newline, random bytes) in a booted guest: the run is
//! untestable with the unreadable records named (an unknown kind among them), schedbox
//! does not panic, no line it kept is longer than the cut, and its memory stays bounded.
//!
//! Needs `make` (the release init), a test kernel and `cc` with a static libc.

mod common;

use common::{boot_with_peak_rss, build_static_c, describe, Scratch};
use schedbox::vm::lines::LINE_BUFFER;

/// The launcher's peak resident memory for this run, noise and all: about 10 MiB measured
/// (release build), so several times that, far below what buffering without bound needs.
const PEAK_RSS_LIMIT_KIB: u64 = 64 * 1024;

#[test]
fn noise_on_the_records_port_makes_the_run_untestable() {
    let scratch = Scratch::new("port-noise");
    let noise = build_static_c(&scratch, "launcher/tests/port_noise/noise.c", "noise");
    let scenario = scratch.file(
        "noise.toml",
        &format!(
            "name = \"noise\"\nduration_ms = 500\n[[workers]]\ngroup = \"spin\"\nwork = \"spin\"\n\
             [[payload]]\nname = \"noise\"\npath = \"{}\"\n",
            noise.display()
        ),
    );
    let (output, report, peak_kib) = boot_with_peak_rss(&scratch, &[scenario.to_str().unwrap()]);
    let why = describe(&output, &report);
    eprintln!("launcher peak RSS: {peak_kib} KiB");
    assert!(peak_kib > 0, "the launcher's memory was never read: {why}");
    assert!(
        peak_kib <= PEAK_RSS_LIMIT_KIB,
        "the launcher's peak RSS was {peak_kib} KiB, over {PEAK_RSS_LIMIT_KIB}: {why}"
    );
    assert_eq!(output.status.code(), Some(125), "{why}");
    assert_eq!(report["outcome"], "untestable", "{why}");
    let reasons = report["reasons"].as_array().expect("reasons");
    assert!(
        reasons
            .iter()
            .any(|r| r.as_str().unwrap_or("").contains("protocol error")),
        "{why}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.as_str().unwrap_or("").contains("kind=\"teleport\"")),
        "an unknown record kind is not named: {why}"
    );
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains("panicked"),
        "{why}"
    );
    let records = scratch.run_file("records.log");
    let longest = records
        .lines()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0);
    assert!(
        longest <= LINE_BUFFER,
        "a records.log line of {longest} characters"
    );
    assert!(records.contains("SBX1 boot "), "{records}");
}
