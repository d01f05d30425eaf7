//! `schedbox bisect --images`: over five images whose first bad one is known, it names
//! that image and its failing report, and exits 0; an untestable image is skipped, not
//! counted bad. The search itself (skips included) is unit-tested in
//! src/commands/bisect/search.rs.
//!
//! The images are symlinks to the two kernels the tests have: Debian's (no sched_ext)
//! first, then the project's (sched_ext). The "regression" is sched_ext's sysfs folder:
//! the scenario's payload exits 1 when /sys/kernel/sched_ext exists, so the scenario
//! fails (exit 1, a check failed) on the project's kernel and passes on Debian's. No
//! --scheduler: a scheduler on Debian's kernel would make it untestable (125), which a
//! bisect skips and never counts as bad.
//!
//! Needs `make` (the release init) and both kernels, as tests/sched_ext.rs.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{one_vm_at_a_time, Scratch, SCHEDBOX};

/// One spinner for a second and a payload that fails where the kernel has sched_ext.
const SCENARIO: &str = "name = \"no-sched-ext-dir\"\nduration_ms = 1000\n\n\
[[workers]]\ngroup = \"spin\"\nwork = \"spin\"\n\n\
[[payload]]\nname = \"probe\"\npath = \"/bin/sh\"\n\
args = [\"-c\", \"test ! -e /sys/kernel/sched_ext\"]\n";

#[test]
fn bisect_names_the_first_bad_image_and_its_failing_report() {
    let scratch = Scratch::new("bisect");
    let (plain, scx) = (common::plain_kernel(), common::sched_ext_kernel());
    // Images 1-2 are good (Debian's), 3-5 bad (the project's): the first bad is 3.
    let images = links(&scratch, &[&plain, &plain, &scx, &scx, &scx]);
    let scenario = scratch.file("probe.toml", SCENARIO);
    let out = scratch.0.join("bisect");
    let mut args: Vec<&std::ffi::OsStr> = vec!["bisect".as_ref(), "--images".as_ref()];
    args.extend(images.iter().map(|p| p.as_os_str()));
    args.extend(
        ["--accel", "tcg", "--cpus", "1", "--out"]
            .iter()
            .map(std::ffi::OsStr::new),
    );
    args.push(out.as_os_str());
    args.push(scenario.as_os_str());
    let (code, stdout, why) = bisect(&args);
    assert_eq!(code, Some(0), "{why}");
    let first_bad = format!("FIRST BAD: image 3 ({})", images[2].display());
    assert!(stdout.contains(&first_bad), "{why}");
    assert!(
        stdout.contains(&format!("last good: image 2 ({})", images[1].display())),
        "{why}"
    );
    let report_path = out.join("03-image3").join("report.json");
    assert!(
        stdout.contains(&format!("failing report: {}", report_path.display())),
        "{why}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    assert_eq!(report["outcome"], "fail", "{why}");
    assert_eq!(report["run"]["kernel"], images[2].display().to_string());
    // The good image it rests on was really run, and passed.
    let good: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("02-image2/report.json")).unwrap())
            .unwrap();
    assert_eq!(good["outcome"], "pass", "{why}");
    assert!(
        tested(&out) <= 3,
        "a binary search of 5 runs at most 3: {why}"
    );
}

#[test]
fn an_untestable_image_is_skipped_never_bad_and_can_leave_it_undecided() {
    // Under scx_simple Debian's kernel is untestable (no sched_ext, found before boot) and
    // the project's is bad (the payload fails): with Debian's first, it is skipped, so
    // the first bad is image 1 or image 2 and the bisect cannot decide (125).
    let scratch = Scratch::new("bisect-skip");
    let (plain, scx) = (common::plain_kernel(), common::sched_ext_kernel());
    let scheduler = common::tree_scheduler("scx_simple");
    let images = links(&scratch, &[&plain, &scx, &scx]);
    let scenario = scratch.file("probe.toml", SCENARIO);
    let out = scratch.0.join("bisect");
    let mut args: Vec<&std::ffi::OsStr> = vec!["bisect".as_ref(), "--images".as_ref()];
    args.extend(images.iter().map(|p| p.as_os_str()));
    args.extend(["--accel", "tcg", "--cpus", "1", "--scheduler"].map(std::ffi::OsStr::new));
    args.extend([scheduler.as_os_str(), "--out".as_ref(), out.as_os_str()]);
    args.push(scenario.as_os_str());
    let (code, stdout, why) = bisect(&args);
    assert_eq!(code, Some(125), "{why}");
    assert!(
        stdout.contains(&format!(
            "UNDECIDED: untestable images hide the boundary: the first bad is one of image 1 \
             ({}), image 2 ({})",
            images[0].display(),
            images[1].display()
        )),
        "{why}"
    );
    assert!(
        stdout.contains("schedbox bisect: image 1 is skipped (untestable)"),
        "{why}"
    );
    assert!(
        stdout.contains("schedbox bisect: image 2 is bad (fail)"),
        "{why}"
    );
}

/// Symlinks `image1`, `image2`... in `scratch` to `targets`, in order.
fn links(scratch: &Scratch, targets: &[&PathBuf]) -> Vec<PathBuf> {
    targets
        .iter()
        .enumerate()
        .map(|(i, target)| {
            let link = scratch.0.join(format!("image{}", i + 1));
            std::os::unix::fs::symlink(target, &link).unwrap();
            link
        })
        .collect()
}

/// `schedbox ARGS`, one VM at a time: exit status, stdout, and all of it for messages.
fn bisect(args: &[&std::ffi::OsStr]) -> (Option<i32>, String, String) {
    let output = {
        let _turn = one_vm_at_a_time();
        Command::new(SCHEDBOX)
            .args(args)
            .env_remove("SCHEDBOX_SKIP_KVM_PROBE")
            .output()
            .expect("cannot run schedbox")
    };
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let why = format!(
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), stdout, why)
}

/// How many images the bisect ran (a folder each).
fn tested(out: &Path) -> usize {
    std::fs::read_dir(out)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .count()
}
