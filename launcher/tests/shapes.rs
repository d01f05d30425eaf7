//! Runs on several shapes, booted under QEMU/TCG: scenarios that pin their own
//! `topology` and `--topology` gauntlets get one VM per shape, each guest reports the
//! topology it was asked for, and the report groups the shapes with a shape × scenario
//! table and the run's exit over all of them. Boots are few and hold 300 ms.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{boot, describe, kernel, one_vm_at_a_time, Scratch, SCHEDBOX};
use schedbox::cpulist;
use schedbox::protocol::record::{decode, CpuRecord, Line, Record};
use serde_json::Value;

/// A short spinning scenario named `name`, with `extra` top-level lines.
fn short(name: &str, extra: &str) -> String {
    format!(
        "name = \"{name}\"\n{extra}\nduration_ms = 300\n\
         [[workers]]\ngroup = \"spin\"\nwork = \"spin\"\n"
    )
}

/// A scenario that fails for real: its worker cannot spin a billion times in 300 ms.
fn failing(name: &str, extra: &str) -> String {
    short(name, extra) + "[[check]]\nname = \"progress\"\nlimit = 1000000000\n"
}

/// The `cpu` records the guest of one shape sent, in its folder of the run directory.
fn cpus_seen(scratch: &Scratch, shape: &str) -> Vec<CpuRecord> {
    scratch
        .run_file(&format!("{shape}/records.log"))
        .lines()
        .filter_map(|l| match decode(l) {
            Line::Record(Record::Cpu(c)) => Some(c),
            _ => None,
        })
        .collect()
}

/// (thread siblings, LLC) of each CPU as the guest saw them.
fn siblings_and_llcs(cpus: &[CpuRecord]) -> Vec<(String, String)> {
    cpus.iter()
        .map(|c| {
            let list = |l: &Option<String>| {
                cpulist::format(&cpulist::parse(l.as_deref().unwrap_or("")).unwrap())
            };
            (list(&c.siblings), list(&c.llc))
        })
        .collect()
}

/// The shape × scenario table of the human summary: its lines, spaces squeezed.
fn table(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("shape "))
        // The table's rows are indented; a failed run's `reproduce:` line follows them.
        .take_while(|l| l.starts_with("  ") && !l.trim_start().starts_with("reproduce:"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// Each shape of the report as (shape, status, outcome).
fn shapes(report: &Value) -> Vec<(String, String, String)> {
    report["shapes"]
        .as_array()
        .unwrap_or_else(|| panic!("no shapes: {report:#}"))
        .iter()
        .map(|s| {
            let text = |v: &Value| v.as_str().unwrap_or("").to_string();
            (
                text(&s["shape"]),
                text(&s["status"]),
                text(&s["report"]["outcome"]),
            )
        })
        .collect()
}

#[test]
fn scenarios_pinning_two_shapes_run_in_two_vms_each_as_asked() {
    let scratch = Scratch::new("shapes-pinned");
    let smt = scratch.file("smt.toml", &short("smt", "topology = \"1n1l1c2t\""));
    let llcs = scratch.file("llcs.toml", &short("llcs", "topology = \"1n2l1c1t\""));
    let args = [smt.to_str().unwrap(), llcs.to_str().unwrap()];
    let (output, report) = boot(&scratch, &args);
    let why = describe(&output, &report);
    assert_eq!(output.status.code(), Some(0), "{why}");
    assert_eq!(
        shapes(&report),
        [
            ("1n1l1c2t".into(), "judged".into(), "pass".into()),
            ("1n2l1c1t".into(), "judged".into(), "pass".into())
        ],
        "{why}"
    );
    // Two threads of one core in one LLC; then two cores, each its own LLC.
    let pair = ("0-1".to_string(), "0-1".to_string());
    assert_eq!(
        siblings_and_llcs(&cpus_seen(&scratch, "1n1l1c2t")),
        [pair.clone(), pair]
    );
    assert_eq!(
        siblings_and_llcs(&cpus_seen(&scratch, "1n2l1c1t")),
        [("0".into(), "0".into()), ("1".into(), "1".into())]
    );
    let first = &report["shapes"][0]["report"];
    assert_eq!(first["scenarios"][0]["name"], "smt", "{why}");
    assert_eq!(first["run"]["cpus"], 2, "{why}");
    assert_eq!(first["run"]["shape"], "1n1l1c2t", "{why}");
    let note = first["notes"].as_array().unwrap().last().unwrap();
    assert!(
        note.as_str()
            .unwrap()
            .contains("the command line's --cpus 2 does not apply"),
        "{why}"
    );
    // Each shape's folder keeps its own single-shape report.
    let own: Value = serde_json::from_str(&scratch.run_file("1n2l1c1t/report.json")).unwrap();
    assert_eq!(own["scenarios"][0]["name"], "llcs", "{why}");
    assert_eq!(own["outcome"], "pass", "{why}");
    assert_eq!(
        table(&output),
        [
            "shape smt llcs verdict",
            "1n1l1c2t PASS - PASS",
            "1n2l1c1t - PASS PASS"
        ],
        "{why}"
    );
}

#[test]
fn a_gauntlet_runs_the_scenario_once_per_shape() {
    let scratch = Scratch::new("shapes-gauntlet");
    let spin = scratch.file("spin.toml", &short("spin", ""));
    let args = ["--topology", "1n1l2c1t,1n2l1c1t", spin.to_str().unwrap()];
    let started = Instant::now();
    let (output, report) = boot(&scratch, &args);
    let why = describe(&output, &report);
    eprintln!(
        "gauntlet of 2 shapes: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(output.status.code(), Some(0), "{why}");
    assert_eq!(report["outcome"], "pass", "{why}");
    assert_eq!(
        table(&output),
        [
            "shape spin verdict",
            "1n1l2c1t PASS PASS",
            "1n2l1c1t PASS PASS"
        ],
        "{why}"
    );
    // One core's LLC holds both CPUs on the first shape, one each on the second.
    let flat = siblings_and_llcs(&cpus_seen(&scratch, "1n1l2c1t"));
    assert_eq!(flat[0], ("0".into(), "0-1".into()), "{why}");
    let split = siblings_and_llcs(&cpus_seen(&scratch, "1n2l1c1t"));
    assert_eq!(split[1], ("1".into(), "1".into()), "{why}");
    for shape in report["shapes"].as_array().unwrap() {
        let workers = &shape["report"]["scenarios"][0]["workers"];
        assert!(workers[0]["iterations"].as_u64().unwrap() > 0, "{why}");
    }
}

/// A failing scenario pinned to one of the gauntlet's shapes shares that VM; its one
/// FAIL cell makes the whole run fail.
#[test]
fn one_failing_cell_fails_the_whole_run() {
    let scratch = Scratch::new("shapes-fail");
    let spin = scratch.file("spin.toml", &short("spin", ""));
    let bad = scratch.file("bad.toml", &failing("bad", "topology = \"1n2l1c1t\""));
    let args = [
        "--topology",
        "1n1l2c1t,1n2l1c1t",
        spin.to_str().unwrap(),
        bad.to_str().unwrap(),
    ];
    let (output, report) = boot(&scratch, &args);
    let why = describe(&output, &report);
    assert_eq!(output.status.code(), Some(1), "{why}");
    assert_eq!(
        (&report["outcome"], &report["exit_code"]),
        (&"fail".into(), &1.into())
    );
    assert_eq!(
        table(&output),
        [
            "shape spin bad verdict",
            "1n1l2c1t PASS - PASS",
            "1n2l1c1t PASS FAIL FAIL"
        ],
        "{why}"
    );
    let reasons = report["reasons"].as_array().unwrap();
    assert!(
        reasons
            .iter()
            .all(|r| r.as_str().unwrap().starts_with("1n2l1c1t: ")),
        "{why}"
    );
    let failed = &report["shapes"][1]["report"]["scenarios"][1];
    assert_eq!(failed["outcome"], "fail", "{why}");
    assert!(stdout(&output)
        .trim_end()
        .lines()
        .last()
        .unwrap()
        .starts_with("FAIL "));
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// How long the first shape's guest may take to start its scenario.
const BOOT_WAIT: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(20);

/// SIGINT during the first shape's VM stops the run at once: the second shape never
/// boots, and the run ends interrupted (130) with both shapes in its report.
#[test]
fn a_signal_mid_gauntlet_stops_before_the_next_shape() {
    let scratch = Scratch::new("shapes-sigint");
    let long = scratch.file(
        "long.toml",
        "name = \"long\"\nduration_ms = 600000\n[[workers]]\ngroup = \"spin\"\nwork = \"spin\"\n",
    );
    let _turn = one_vm_at_a_time();
    let run = scratch.0.join("run");
    let child = Command::new(SCHEDBOX)
        .args([
            "run",
            "--accel",
            "tcg",
            "--topology",
            "uni,flat2",
            "--kernel",
        ])
        .arg(kernel())
        .arg("--out")
        .arg(&run)
        .arg("--json")
        .arg(scratch.0.join("report.json"))
        .arg(&long)
        .env_remove("SCHEDBOX_SKIP_KVM_PROBE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_scenario(&run.join("1n1l1c1t/records.log"));
    let started = Instant::now();
    // SAFETY: kill on the pid of a child this test started and has not reaped.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let output = child.wait_with_output().unwrap();
    let text = std::fs::read_to_string(scratch.0.join("report.json")).unwrap();
    let report: Value = serde_json::from_str(&text).unwrap();
    let why = describe(&output, &report);
    assert!(started.elapsed() < Duration::from_secs(10), "{why}");
    assert_eq!(output.status.code(), Some(130), "{why}");
    assert_eq!(report["outcome"], "interrupted", "{why}");
    assert_eq!(
        shapes(&report),
        [
            ("1n1l1c1t".into(), "judged".into(), "interrupted".into()),
            ("1n1l2c1t".into(), "not-run".into(), String::new())
        ],
        "{why}"
    );
    assert!(!run.join("1n1l2c1t/console.log").exists(), "{why}");
    assert!(
        table(&output).contains(&"1n1l2c1t NOT RUN NOT RUN".to_string()),
        "{why}"
    );
}

fn wait_for_scenario(records: &Path) {
    let started = Instant::now();
    while started.elapsed() < BOOT_WAIT {
        let text = std::fs::read_to_string(records).unwrap_or_default();
        if text.contains("SBX1 scenario ") {
            return;
        }
        std::thread::sleep(POLL);
    }
    panic!(
        "no scenario record in {} after {BOOT_WAIT:?}",
        records.display()
    );
}

/// Bad shapes are usage errors (2) found before any VM, naming the file, the field and
/// the fix; and the sets are listed.
#[test]
fn bad_shapes_stop_before_boot_naming_the_fix() {
    let scratch = Scratch::new("shapes-bad");
    let bad = scratch.file("bad.toml", &short("bad", "topology = \"2x\""));
    let good = scratch.file("good.toml", &short("good", "topology = \"smt2\""));
    let kernel = kernel();
    let (bad, good, kernel) = (
        bad.to_str().unwrap(),
        good.to_str().unwrap(),
        kernel.to_str().unwrap(),
    );
    for (args, want) in [
        (
            vec![
                "run",
                "--kernel",
                kernel,
                "--out",
                "/nonexistent/never",
                bad,
            ],
            format!("{bad}:2:12: topology: topology \"2x\" is neither NnLlCcTt"),
        ),
        (
            vec!["plan", bad],
            "`schedbox topology list` shows them".to_string(),
        ),
        (
            vec![
                "initramfs",
                "--output",
                "/dev/null",
                "--topology",
                "uni",
                good,
                &short_file(&scratch),
            ],
            "these scenarios need 2 machines (1n1l1c2t for".to_string(),
        ),
        (
            vec!["run", "--topology", "uni,set:small"],
            "topology 1n1l1c1t is in \"uni,set:small\" twice".to_string(),
        ),
    ] {
        let output = common::schedbox(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(&want), "{args:?}: {stderr}");
    }
    let list = common::schedbox(&["topology", "list"]);
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(
        text.contains("set:small      uni, smt2, flat2, llc2"),
        "{text}"
    );
}

fn short_file(scratch: &Scratch) -> String {
    let path = scratch.file("plain.toml", &short("plain", ""));
    path.to_str().unwrap().to_string()
}
