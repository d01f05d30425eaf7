//! End-to-end: `schedbox run --scheduler` and `--payload` / `[[payload]]` boot the test
//! sched_ext kernel under QEMU (TCG) with the real init, and the assertions are on what
//! the guest reported: the kernel's sched_ext state, the scheduler's and payloads' fates.
//!
//! Needs `make` (the release init) and what `make test` builds (see tests/common): the
//! kernel, the tree's static scx_simple and scx_qmap, the dynamically linked scx_simple of
//! the same build (or SCHEDBOX_TEST_DYNAMIC_SCHED), and a kernel without sched_ext.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{
    os, plain_kernel, repo, run_and_report, sched_ext_kernel, tree_scheduler, Scratch, SCHEDBOX,
};
use serde_json::Value;

const DYNAMIC_SCHED_ENV: &str = "SCHEDBOX_TEST_DYNAMIC_SCHED";
/// Where `make schedulers` leaves the tree's dynamically linked build, beside the static
/// programs.
const DYNAMIC_SCHED_IN_BUILD: &str = "scx/build/bin/scx_simple";

/// What a run left: its exit status, output, and JSON report.
struct Run {
    output: Output,
    report: Value,
}

impl Run {
    fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    /// Everything, for assertion messages.
    fn why(&self) -> String {
        format!(
            "exit {:?}\nstdout:\n{}\nstderr:\n{}\nreport: {:#}",
            self.code(),
            self.stdout(),
            String::from_utf8_lossy(&self.output.stderr),
            self.report
        )
    }

    fn reasons(&self) -> Vec<String> {
        strings(&self.report["reasons"])
    }

    /// The reason containing `text`, or a failure that shows them all.
    fn reason(&self, text: &str) -> String {
        self.reasons()
            .into_iter()
            .find(|r| r.contains(text))
            .unwrap_or_else(|| panic!("no reason mentions {text:?}: {}", self.why()))
    }

    fn check(&self, scenario: usize, name: &str) -> &Value {
        let checks = self.report["scenarios"][scenario]["checks"]
            .as_array()
            .unwrap_or_else(|| panic!("no checks: {}", self.why()));
        checks
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no {name} check: {}", self.why()))
    }

    fn payload(&self, scenario: usize, name: &str) -> &Value {
        let payloads = self.report["scenarios"][scenario]["payloads"]
            .as_array()
            .unwrap_or_else(|| panic!("no payloads: {}", self.why()));
        payloads
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no payload {name}: {}", self.why()))
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Runs `schedbox run` on `kernel` with the run directory and report in `scratch`.
fn run(scratch: &Scratch, kernel: &Path, extra: &[&str]) -> Run {
    let mut args = os(&["--accel", "tcg", "--cpus", "2", "--kernel"]);
    args.push(kernel.as_os_str());
    args.extend(os(extra));
    let (output, report) = run_and_report(scratch, &args).unwrap_or_else(|e| panic!("{e}"));
    Run { output, report }
}

fn scx_kernel() -> PathBuf {
    sched_ext_kernel()
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// One spinning worker for `ms`, the least a scheduler must carry.
fn short_scenario(scratch: &Scratch, ms: u64) -> PathBuf {
    scratch.file(
        "short.toml",
        &format!("name = \"short\"\nduration_ms = {ms}\n[[workers]]\ngroup = \"spin\"\nwork = \"spin\"\n"),
    )
}

#[test]
fn scx_simple_attaches_and_the_catalog_passes_under_it() {
    let scratch = Scratch::new("simple");
    let simple = tree_scheduler("scx_simple");
    let spin = repo().join("scenarios/spin.toml");
    let mixed = repo().join("scenarios/sched_ext/mixed.toml");
    let run = run(
        &scratch,
        &scx_kernel(),
        &[
            "--scheduler",
            path_str(&simple),
            path_str(&spin),
            path_str(&mixed),
            "--payload",
            "env",
            "--",
            "SCHEDBOX_PAYLOAD=ran",
        ],
    );
    let why = run.why();
    assert_eq!(run.code(), Some(0), "{why}");
    let scheduler = &run.report["scheduler"];
    assert_eq!(scheduler["name"], "simple", "{why}");
    let attached = &scheduler["events"][0];
    assert_eq!(attached["event"], "attached", "{why}");
    assert_eq!(
        (&attached["state"], &attached["ops"]),
        (&"enabled".into(), &"simple".into())
    );
    assert!(scheduler["attached_ms"].as_u64().unwrap() > 0, "{why}");
    let last = scheduler["events"].as_array().unwrap().last().unwrap();
    assert_eq!(last["event"], "stopped", "{why}");
    assert!(
        run.stdout()
            .contains("scheduler: simple (scx_simple), attached "),
        "{why}"
    );
    let records = scratch.run_file("records.log");
    assert!(
        records.contains("SBX1 scheduler event=attached name=scx_simple state=enabled ops=simple")
    );
    // The scheduler's own output, stopped by SIGINT at the end.
    assert!(
        scratch
            .run_file("scheduler.log")
            .contains("EXIT: unregistered from user space"),
        "{why}"
    );
    for (index, name) in ["spin", "sched-ext-mixed"].iter().enumerate() {
        assert_eq!(run.report["scenarios"][index]["name"], *name, "{why}");
        let check = run.check(index, "scheduler");
        assert_eq!(
            (&check["passed"], &check["value"]),
            (&true.into(), &0.into()),
            "{why}"
        );
        // The dynamically linked env ran in the guest with the guest's environment.
        let env = run.payload(index, "env");
        assert_eq!(env["status"], "0", "{why}");
        let output = env["output"].as_str().unwrap();
        assert!(output.contains("SCHEDBOX_PAYLOAD=ran"), "{why}");
        assert!(output.contains("PATH=/bin:"), "{why}");
    }
}

/// What the tests and BPF schedulers rely on is in the booted kernel, as the guest saw
/// it: sched_ext (the boot record), BTF for libbpf, LKDTM's debugfs file for the
/// kernel-log tests.
#[test]
fn the_test_kernel_has_sched_ext_btf_and_lkdtm_in_the_guest() {
    let scratch = Scratch::new("features");
    let short = short_scenario(&scratch, 300);
    let files = [
        "/sys/kernel/btf/vmlinux",
        "/sys/kernel/debug/provoke-crash/DIRECT",
        "/sys/kernel/sched_ext/state",
    ];
    let mut args = vec![path_str(&short), "--payload", "ls", "--", "-1"];
    args.extend(files);
    let run = run(&scratch, &scx_kernel(), &args);
    let why = run.why();
    assert_eq!(run.code(), Some(0), "{why}");
    assert_eq!(run.report["sched_ext"], "disabled", "{why}");
    let ls = run.payload(0, "ls");
    assert_eq!(ls["status"], "0", "{why}");
    let listed: Vec<&str> = ls["output"].as_str().unwrap().lines().collect();
    assert_eq!(listed, files, "{why}");
}

/// Under a sched_ext scheduler on 6.12 a FIFO hog starves the fair-policy sleepers of
/// this scenario outright: the kernel's RT throttling hands its spare time to the fair
/// class's deadline server only, and the sleepers run in the sched_ext class.
const STARVED_UNDER_SCHED_EXT: &str = "rt-starvation.toml";

/// The whole work-type catalog under scx_simple, in one VM: every scenario passes, the
/// scheduler stays attached through each, and every worker made progress.
#[test]
fn every_work_type_passes_under_scx_simple() {
    let scratch = Scratch::new("simple-work");
    let simple = tree_scheduler("scx_simple");
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("scenarios/work"))
        .expect("scenarios/work is readable")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter(|p| !p.ends_with(STARVED_UNDER_SCHED_EXT))
        .collect();
    files.sort();
    let mut args = vec!["--scheduler", path_str(&simple)];
    args.extend(files.iter().map(|f| path_str(f)));
    let run = run(&scratch, &scx_kernel(), &args);
    let why = run.why();
    assert_eq!(run.code(), Some(0), "{why}");
    let scenarios = run.report["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), files.len(), "{why}");
    for (index, scenario) in scenarios.iter().enumerate() {
        let check = run.check(index, "scheduler");
        assert_eq!(check["passed"], true, "{}: {why}", scenario["name"]);
        let workers = scenario["workers"].as_array().unwrap();
        assert!(!workers.is_empty(), "{}: {why}", scenario["name"]);
        for w in workers {
            assert!(w["iterations"].as_u64().unwrap() > 0, "{w}: {why}");
        }
    }
}

#[test]
fn qmap_stall_injection_is_caught() {
    let scratch = Scratch::new("qmap");
    let qmap = tree_scheduler("scx_qmap");
    // scx_qmap -t 10 leaves every 10th user task unscheduled; the kernel's watchdog
    // ejects it some seconds later, well inside this hold.
    let hold = scratch.file(
        "hold.toml",
        "name = \"hold\"\nduration_ms = 15000\n\
         [[workers]]\ngroup = \"spin\"\nwork = \"spin\"\ncount = 3\n",
    );
    let run = run(
        &scratch,
        &scx_kernel(),
        &[
            "--scheduler",
            path_str(&qmap),
            "--scheduler-arg",
            "-t",
            "--scheduler-arg",
            "10",
            path_str(&hold),
        ],
    );
    let why = run.why();
    assert_eq!(run.code(), Some(1), "{why}");
    for name in ["stall", "scheduler"] {
        assert_eq!(run.check(0, name)["passed"], false, "{name}: {why}");
    }
    assert!(
        run.check(0, "stall")["value"].as_u64().unwrap() > 1000,
        "{why}"
    );
    let ejected = run.reason("the kernel ejected scheduler scx_qmap during scenario hold");
    assert!(ejected.contains(": runnable task stall ("), "{ejected}");
    // The kernel names the task it found stalled; the report says which worker it is.
    let pid: u64 = ejected
        .split("; pid ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the stalled task is not named: {ejected}"));
    // ... by the name the guest gave the worker: sbx-<group>-<index>.
    let worker = ejected
        .split(&format!("pid {pid} is worker "))
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("the stalled task is not a worker: {ejected}"));
    let comm = format!("sbx-{}", worker.replacen('/', "-", 1));
    assert!(
        ejected.contains(&format!("{comm}[{pid}] failed to run for ")),
        "{ejected}"
    );
    let stalled: Vec<u64> = run.report["scenarios"][0]["stalls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["pid"].as_u64().unwrap())
        .collect();
    assert!(
        stalled.contains(&pid),
        "pid {pid} not among the stalls {stalled:?}: {why}"
    );
    let events = run.report["scheduler"]["events"].as_array().unwrap();
    let ejection = events
        .iter()
        .find(|e| e["event"] == "ejected")
        .expect("no ejected event");
    assert_eq!(ejection["reason"], "runnable task stall", "{why}");
    assert_eq!(run.report["scheduler"]["name"], "qmap", "{why}");
    assert_dump_evidence(&run, &comm);
}

/// The evidence of an ejection under scx_qmap: the kernel's sched_ext dump, written as
/// it ejected the scheduler and naming the stalled task by its `sbx-` name, with the
/// scheduler's own exit report; and the SysRq-D dumps taken on the stalls before it.
fn assert_dump_evidence(run: &Run, comm: &str) {
    let why = run.why();
    let pieces = run.report["evidence"]
        .as_array()
        .expect("no evidence section");
    let lines = |p: &Value, key: &str| -> Vec<String> { strings(&p[key]) };
    let ejection = pieces
        .iter()
        .find(|p| p["cause"] == "ejected")
        .unwrap_or_else(|| panic!("no evidence of the ejection: {why}"));
    assert_eq!(ejection["check"], "scheduler", "{why}");
    assert_eq!(ejection["source"], "sched-ext-dump", "{why}");
    assert_eq!(ejection["complete"], true, "{why}");
    let dump = lines(ejection, "lines");
    assert!(
        dump[0].contains("triggered exit kind"),
        "not the kernel's exit dump: {dump:?}"
    );
    assert!(
        dump.iter()
            .any(|l| l.contains("runnable task stall") && l.contains(comm)),
        "the dump does not name {comm}: {dump:?}"
    );
    assert!(dump.iter().any(|l| l == "CPU states"), "{dump:?}");
    let output = lines(ejection, "scheduler_output");
    assert!(
        output
            .iter()
            .any(|l| l.starts_with("EXIT: runnable task stall")),
        "the scheduler's exit report is not kept: {output:?}"
    );
    let stall = pieces
        .iter()
        .find(|p| p["cause"] == "stall")
        .unwrap_or_else(|| panic!("no evidence of a stall: {why}"));
    assert_eq!(stall["source"], "sched-ext-dump", "{why}");
    assert_eq!(
        lines(stall, "lines")[0],
        "Debug dump triggered by SysRq-D",
        "{why}"
    );
    // Each capture keeps its own dump, whichever the kernel wrote first.
    assert!(
        !lines(stall, "lines")
            .iter()
            .any(|l| l.contains("triggered exit kind")),
        "the stall's evidence took the ejection's dump: {why}"
    );
    assert!(run
        .stdout()
        .contains("evidence: ejected (scheduler check): the kernel's sched_ext dump"));
}

/// Two scenarios, one failure: the scheduler that never attached is reported once, with
/// its reason and output, not once per scenario.
#[test]
fn a_scheduler_that_exits_at_once_fails_the_run_once() {
    let scratch = Scratch::new("exits");
    let simple = tree_scheduler("scx_simple");
    let short = short_scenario(&scratch, 300);
    let spin = repo().join("scenarios/spin.toml");
    let run = run(
        &scratch,
        &scx_kernel(),
        &[
            "--scheduler",
            path_str(&simple),
            "--scheduler-arg",
            "-Z",
            path_str(&short),
            path_str(&spin),
        ],
    );
    let why = run.why();
    assert_eq!(run.code(), Some(1), "{why}");
    assert_eq!(run.reasons().len(), 1, "{why}");
    let reason = run.reason("did not attach");
    assert!(
        reason.starts_with("scheduler scx_simple did not attach (before the first scenario"),
        "{reason}"
    );
    assert!(
        reason.contains("exited with status 1 before attaching"),
        "{reason}"
    );
    assert!(reason.contains("invalid option -- 'Z'"), "{reason}");
    // The guest still judged each scenario's scheduler check (the JSON keeps them) ...
    for scenario in 0..2 {
        assert_eq!(run.check(scenario, "scheduler")["passed"], false, "{why}");
    }
    // ... but the human report says it on the scheduler line only.
    let stdout = run.stdout();
    assert!(
        stdout.contains("did not attach: exited with status 1"),
        "{why}"
    );
    assert!(!stdout.contains("check scheduler"), "{why}");
    assert_eq!(stdout.matches("invalid option -- 'Z'").count(), 1, "{why}");
}

#[test]
fn a_scheduler_that_does_not_attach_in_time_fails_the_run() {
    let scratch = Scratch::new("timeout");
    let simple = tree_scheduler("scx_simple");
    let short = short_scenario(&scratch, 300);
    let run = run(
        &scratch,
        &scx_kernel(),
        &[
            "--scheduler",
            path_str(&simple),
            "--attach-timeout",
            "0.001",
            path_str(&short),
        ],
    );
    let why = run.why();
    assert_eq!(run.code(), Some(1), "{why}");
    let reason = run.reason("did not attach");
    assert!(
        reason.contains("not attached within 1 ms (state "),
        "{reason}"
    );
    assert_eq!(run.check(0, "scheduler")["passed"], false, "{why}");
}

#[test]
fn a_scheduler_attached_under_another_name_fails_the_run() {
    let scratch = Scratch::new("name");
    let simple = tree_scheduler("scx_simple");
    let short = short_scenario(&scratch, 300);
    let run = run(
        &scratch,
        &scx_kernel(),
        &[
            "--scheduler",
            path_str(&simple),
            "--scheduler-name",
            "other",
            path_str(&short),
        ],
    );
    let why = run.why();
    assert_eq!(run.code(), Some(1), "{why}");
    let reason = run.reason("scheduler other did not attach");
    assert!(
        reason.contains("attached as \"simple\", not \"other\""),
        "{reason}"
    );
    assert_eq!(run.check(0, "scheduler")["passed"], false, "{why}");
}

#[test]
fn a_kernel_without_sched_ext_is_untestable_before_booting() {
    let scratch = Scratch::new("nosched");
    let simple = tree_scheduler("scx_simple");
    let kernel = plain_kernel();
    let run = run(&scratch, &kernel, &["--scheduler", path_str(&simple)]);
    let why = run.why();
    assert_eq!(run.code(), Some(125), "{why}");
    let reason = run.reason("has no sched_ext");
    assert!(
        reason.contains("CONFIG_SCHED_CLASS_EXT is not set"),
        "{reason}"
    );
    assert!(reason.contains("make kernel"), "{reason}");
    // Nothing was booted: no backend, no console, no timings.
    assert_eq!(run.report["run"]["backend"], "none", "{why}");
    assert!(run.report["end"].is_null(), "{why}");
    assert!(!scratch.0.join("run/console.log").exists(), "{why}");
}

#[test]
fn a_guest_without_sched_ext_is_untestable_with_what_to_do() {
    let scratch = Scratch::new("noscx-guest");
    let simple = tree_scheduler("scx_simple");
    // Without its config beside it, nobody can tell before booting.
    let kernel = scratch.0.join("vmlinuz");
    std::fs::copy(plain_kernel(), &kernel).unwrap();
    let short = short_scenario(&scratch, 300);
    let run = run(
        &scratch,
        &kernel,
        &["--scheduler", path_str(&simple), path_str(&short)],
    );
    let why = run.why();
    assert_eq!(run.code(), Some(125), "{why}");
    assert_eq!(run.report["sched_ext"], "absent", "{why}");
    let reason = run.reason("the guest reported an error in scheduler");
    assert!(reason.contains("no sched_ext"), "{reason}");
    assert!(reason.contains("make kernel"), "{reason}");
}

#[test]
fn payloads_run_with_their_libraries_and_are_judged() {
    let scratch = Scratch::new("payloads");
    let scenario = scratch.file(
        "payloads.toml",
        r#"
name = "payloads"
duration_ms = 1500

[[cgroup]]
path = "work"

[[workers]]
group = "spin"
cgroup = "work"
work = "spin"

[[payload]]
path = "/bin/ls"
args = ["-1", "/payload"]
cgroup = "work"

[[payload]]
name = "sleeper"
path = "sleep"
args = ["600"]
expect_status = "killed"

[[payload]]
path = "/bin/false"
"#,
    );
    let run = run(&scratch, &scx_kernel(), &[path_str(&scenario)]);
    let why = run.why();
    assert_eq!(run.code(), Some(1), "{why}");
    assert_eq!(
        run.report["scheduler"]["summary"], "EEVDF (no sched_ext scheduler)",
        "{why}"
    );
    // ls listed the guest's /payload: one directory per packed program.
    let ls = run.payload(0, "ls");
    assert_eq!(
        (&ls["status"], &ls["passed"]),
        (&"0".into(), &true.into()),
        "{why}"
    );
    let listed: Vec<&str> = ls["output"].as_str().unwrap().lines().collect();
    assert_eq!(listed, ["false", "ls", "sleeper"], "{why}");
    assert_eq!(
        scratch.run_file("payload-payloads-ls.log"),
        "false\nls\nsleeper\n"
    );
    let sleeper = run.payload(0, "sleeper");
    assert_eq!(
        (&sleeper["status"], &sleeper["passed"]),
        (&"killed".into(), &true.into()),
        "{why}"
    );
    let failed = run.payload(0, "false");
    assert_eq!(
        (&failed["status"], &failed["passed"]),
        (&"1".into(), &false.into()),
        "{why}"
    );
    assert_eq!(
        run.reasons(),
        ["scenario payloads: payload false ended with status 1, expected 0"],
        "{why}"
    );
}

#[test]
fn a_dynamically_linked_scheduler_runs_with_its_libraries() {
    let scheduler = std::env::var_os(DYNAMIC_SCHED_ENV)
        .filter(|v| !v.is_empty())
        .map_or_else(
            || {
                let simple = tree_scheduler("scx_simple");
                simple.with_file_name(DYNAMIC_SCHED_IN_BUILD)
            },
            PathBuf::from,
        );
    assert!(
        scheduler.is_file(),
        "{} is missing: `make schedulers` leaves a dynamically linked scx_simple there (or \
         set {DYNAMIC_SCHED_ENV})",
        scheduler.display()
    );
    let deps =
        schedbox::guest::elfdeps::resolve(&scheduler).expect("not a program schedbox can pack");
    assert!(
        deps.interpreter.is_some() && !deps.libraries.is_empty(),
        "{} is statically linked: this test is about one that needs its libraries",
        scheduler.display()
    );
    let scratch = Scratch::new("dynamic");
    let short = short_scenario(&scratch, 1000);
    let run = run(
        &scratch,
        &scx_kernel(),
        &["--scheduler", path_str(&scheduler), path_str(&short)],
    );
    let why = run.why();
    assert_eq!(run.code(), Some(0), "{why}");
    let attached = &run.report["scheduler"]["events"][0];
    assert_eq!(
        (&attached["event"], &attached["ops"]),
        (&"attached".into(), &"simple".into()),
        "{why}"
    );
    assert_eq!(run.check(0, "scheduler")["passed"], true, "{why}");
}

#[test]
fn bad_scheduler_and_payload_input_is_a_usage_error() {
    let scratch = Scratch::new("usage");
    let kernel = scx_kernel();
    let script = scratch.file("script.sh", "#!/bin/sh\necho hi\n");
    let missing = scratch.file(
        "missing.toml",
        "name = \"m\"\nduration_ms = 10\n[[payload]]\npath = \"./not-here\"\n",
    );
    for (args, hint) in [
        (
            vec!["--scheduler", "/nonexistent/scx_x"],
            "--scheduler: /nonexistent/scx_x: no such file",
        ),
        (vec!["--scheduler", path_str(&script)], "is a script"),
        (
            vec!["--scheduler", "scx_nope@9.9.9"],
            "found by name once `schedbox scheduler build NAME` built it",
        ),
        (vec!["--payload", path_str(&script)], "is a script"),
        (
            vec![path_str(&missing)],
            "missing.toml:4:8: [[payload]] \"0\".path: ",
        ),
        (vec!["--", "-x"], "give --payload PATH first"),
    ] {
        let output = Command::new(SCHEDBOX)
            .args(["run", "--kernel", path_str(&kernel)])
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(hint),
            "{args:?}: stderr lacks {hint:?}: {stderr}"
        );
    }
}

/// The scheduler's events of a run, as the report lists them.
fn events(run: &Run) -> Vec<Value> {
    run.report["scheduler"]["events"]
        .as_array()
        .unwrap_or_else(|| panic!("no scheduler events: {}", run.why()))
        .clone()
}

/// Every worker of the scenario made progress, by the guest's count.
fn assert_every_worker_progressed(run: &Run, scenario: usize) {
    let why = run.why();
    let workers = run.report["scenarios"][scenario]["workers"]
        .as_array()
        .unwrap_or_else(|| panic!("no workers: {why}"));
    assert!(!workers.is_empty(), "{why}");
    for w in workers {
        assert!(w["iterations"].as_u64().unwrap() > 0, "{w}: {why}");
    }
}

/// Detached in step 2 and attached again in step 3, then restarted under load in a
/// second scenario: both pass, and the report has each transition with the guest's
/// times and the kernel's state before and after.
#[test]
fn the_scheduler_detaches_attaches_and_restarts_under_load() {
    let scratch = Scratch::new("lifecycle");
    let simple = tree_scheduler("scx_simple");
    let lifecycle = repo().join("scenarios/sched_ext/lifecycle.toml");
    let restart = repo().join("scenarios/sched_ext/restart.toml");
    let run = run(
        &scratch,
        &scx_kernel(),
        &[
            "--scheduler",
            path_str(&simple),
            path_str(&lifecycle),
            path_str(&restart),
        ],
    );
    let why = run.why();
    assert_eq!(run.code(), Some(0), "{why}");
    let events = events(&run);
    let with_op = |op: &str| -> Vec<&Value> { events.iter().filter(|e| e["op"] == op).collect() };
    let detach = with_op("scheduler-detach");
    let attach = with_op("scheduler-attach");
    assert_eq!((detach.len(), attach.len()), (1, 1), "{why}");
    let (detach, attach) = (detach[0], attach[0]);
    assert_eq!(detach["event"], "detached", "{why}");
    assert_eq!(
        (
            &detach["state_before"],
            &detach["ops_before"],
            &detach["state"]
        ),
        (&"enabled".into(), &"simple".into(), &"disabled".into()),
        "{why}"
    );
    assert_eq!(attach["event"], "attached", "{why}");
    assert_eq!(
        (&attach["state_before"], &attach["state"], &attach["ops"]),
        (&"disabled".into(), &"enabled".into(), &"simple".into()),
        "{why}"
    );
    // The windows: detached after step 2 began, attached after step 3 began.
    let steps: Vec<u64> = scratch
        .run_file("records.log")
        .lines()
        .filter(|l| l.starts_with("SBX1 step scenario=sched-ext-lifecycle "))
        .map(|l| l.rsplit("t_ms=").next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(steps.len(), 3, "{why}");
    let t = |e: &Value, key: &str| e[key].as_u64().unwrap_or_else(|| panic!("{key}: {why}"));
    assert!(
        steps[1] <= t(detach, "t_ms") && t(detach, "t_ms") < steps[2],
        "{why}"
    );
    assert!(steps[2] <= t(attach, "t_ms"), "{why}");
    assert!(
        t(detach, "took_ms") <= t(detach, "t_ms") - steps[1],
        "{why}"
    );
    assert!(t(attach, "took_ms") > 0, "loading BPF takes time: {why}");
    let restart = with_op("scheduler-restart");
    let kinds: Vec<&Value> = restart.iter().map(|e| &e["event"]).collect();
    assert_eq!(
        kinds,
        [&"detached".into(), &"attached".into()] as [&Value; 2],
        "{why}"
    );
    for (index, name) in ["sched-ext-lifecycle", "sched-ext-restart"]
        .iter()
        .enumerate()
    {
        assert_eq!(run.report["scenarios"][index]["name"], *name, "{why}");
        assert_eq!(run.check(index, "scheduler")["passed"], true, "{why}");
        assert_every_worker_progressed(&run, index);
    }
    let summary = run.report["scheduler"]["summary"].as_str().unwrap();
    assert!(
        summary.contains(", detached ") && summary.contains(" ms)"),
        "{why}"
    );
}

/// The guest times at which the steps of scenario `name` began, from records.log.
fn step_times(scratch: &Scratch, name: &str) -> Vec<u64> {
    let prefix = format!("SBX1 step scenario={name} ");
    scratch
        .run_file("records.log")
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .map(|l| l.rsplit("t_ms=").next().unwrap().parse().unwrap())
        .collect()
}

/// A scenario's scheduler windows as (scheduler or "none", from_ms, to_ms).
fn windows(run: &Run, scenario: usize) -> Vec<(String, u64, u64)> {
    let why = run.why();
    run.report["scenarios"][scenario]["scheduler_windows"]
        .as_array()
        .unwrap_or_else(|| panic!("no scheduler windows: {why}"))
        .iter()
        .map(|w| {
            (
                w["scheduler"].as_str().unwrap_or("none").to_string(),
                w["from_ms"].as_u64().unwrap(),
                w["to_ms"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// scx_simple replaced in step 1 by scx_qmap told to stall every 10th user task: the
/// run fails on the kernel's ejection of qmap, the report names the stalled worker by
/// its `sbx-` name, and the `scheduler` check judged the replacement's window. The
/// scenario after it starts detached and attaches the run's scheduler: it passes,
/// the replacement's failure being the scenario's that asked for it.
#[test]
fn replacing_the_scheduler_by_a_stalling_qmap_fails_on_the_ejection() {
    let scratch = Scratch::new("replace");
    let simple = tree_scheduler("scx_simple");
    let qmap = tree_scheduler("scx_qmap");
    let extra = format!("qmap-stall={}", path_str(&qmap));
    let replace = repo().join("scenarios/sched_ext/replace-stall.toml");
    let detached = repo().join("scenarios/sched_ext/start-detached.toml");
    let run = run(
        &scratch,
        &scx_kernel(),
        &[
            "--scheduler",
            path_str(&simple),
            "--extra-scheduler",
            &extra,
            path_str(&replace),
            path_str(&detached),
        ],
    );
    let why = run.why();
    assert_eq!(run.code(), Some(1), "{why}");
    let events = events(&run);
    let replaced: Vec<(&Value, &Value)> = events
        .iter()
        .filter(|e| e["op"] == "scheduler-replace")
        .map(|e| (&e["event"], &e["name"]))
        .collect();
    assert_eq!(
        replaced,
        [
            (&"detached".into(), &"scx_simple".into()),
            (&"attached".into(), &"qmap-stall".into())
        ] as [(&Value, &Value); 2],
        "{why}"
    );
    let ejected = run
        .reason("the kernel ejected scheduler qmap-stall during scenario sched-ext-replace-stall");
    assert!(ejected.contains(": runnable task stall ("), "{ejected}");
    // The kernel names the stalled task by the name the guest gave the worker.
    let (pid, worker) = ejected
        .split("; pid ")
        .nth(1)
        .and_then(|rest| rest.split_once(" is worker "))
        .and_then(|(pid, rest)| Some((pid.parse::<u64>().ok()?, rest.split(' ').next()?)))
        .unwrap_or_else(|| panic!("the stalled worker is not named: {ejected}"));
    let comm = format!("sbx-{}", worker.replacen('/', "-", 1));
    assert!(
        ejected.contains(&format!("({comm}[{pid}] failed to run for ")),
        "{ejected}"
    );
    let check = run.check(0, "scheduler");
    assert_eq!(check["passed"], false, "{why}");
    assert!(
        check["detail"].as_str().unwrap().contains("qmap-stall"),
        "{why}"
    );
    // The windows: the run's scheduler, none while switching, then the replacement
    // from its attach to its ejection.
    let steps = step_times(&scratch, "sched-ext-replace-stall");
    let shown = windows(&run, 0);
    let names: Vec<&str> = shown.iter().map(|w| w.0.as_str()).collect();
    assert_eq!(names[..3], ["scx_simple", "none", "qmap-stall"], "{why}");
    assert!(shown[1].1 >= steps[1], "detached after step 1 began: {why}");
    assert!(shown[2].2 > shown[2].1, "{why}");
    // The next scenario is not blamed for the replacement.
    assert_eq!(run.report["scenarios"][1]["outcome"], "pass", "{why}");
    assert_every_worker_progressed(&run, 1);
}

/// A scenario that starts detached: the run's scheduler is first attached by step 1's
/// op, while the workers run; the run passes and the report has both windows.
#[test]
fn a_scenario_that_starts_detached_attaches_in_step_1_and_reports_both_windows() {
    let scratch = Scratch::new("start-detached");
    let simple = tree_scheduler("scx_simple");
    let detached = repo().join("scenarios/sched_ext/start-detached.toml");
    let run = run(
        &scratch,
        &scx_kernel(),
        &["--scheduler", path_str(&simple), path_str(&detached)],
    );
    let why = run.why();
    assert_eq!(run.code(), Some(0), "{why}");
    let events = events(&run);
    let first = &events[0];
    assert_eq!(
        (&first["event"], &first["op"], &first["state_before"]),
        (
            &"attached".into(),
            &"scheduler-attach".into(),
            &"disabled".into()
        ),
        "not attached before step 1: {why}"
    );
    let steps = step_times(&scratch, "sched-ext-start-detached");
    assert_eq!(steps.len(), 2, "{why}");
    let attached_ms = first["t_ms"].as_u64().unwrap();
    assert!(steps[1] <= attached_ms, "{why}");
    assert!(first["took_ms"].as_u64().unwrap() > 0, "{why}");
    let shown = windows(&run, 0);
    assert_eq!(shown.len(), 2, "{why}");
    assert_eq!(
        (shown[0].0.as_str(), shown[0].2),
        ("none", attached_ms),
        "{why}"
    );
    assert!(shown[0].1 <= steps[0], "{why}");
    assert_eq!(
        (shown[1].0.as_str(), shown[1].1),
        ("scx_simple", attached_ms),
        "{why}"
    );
    assert!(shown[1].2 > attached_ms, "{why}");
    assert!(
        run.stdout().contains("    scheduler windows: none "),
        "{why}"
    );
    assert_eq!(run.check(0, "scheduler")["passed"], true, "{why}");
    assert_every_worker_progressed(&run, 0);
}

/// The hotplug scenario: CPU 1 offline and back with pinned and free workers, each
/// change a `cpu-state` record naming the workers the kernel moved.
fn hotplug_run(tag: &str, scheduler: Option<&Path>) -> Run {
    let scratch = Scratch::new(tag);
    let scenario = repo().join("scenarios/sched_ext/hotplug.toml");
    let mut extra = Vec::new();
    if let Some(s) = scheduler {
        extra.extend(["--scheduler", path_str(s)]);
    }
    extra.push(path_str(&scenario));
    let run = run(&scratch, &scx_kernel(), &extra);
    let why = run.why();
    assert_eq!(run.code(), Some(0), "{why}");
    let states = run.report["scenarios"][0]["cpu_states"]
        .as_array()
        .unwrap_or_else(|| panic!("no cpu states: {why}"))
        .clone();
    assert_eq!(states.len(), 2, "{why}");
    assert_eq!(
        (&states[0]["cpu"], &states[0]["online"], &states[0]["moved"]),
        (&1.into(), &false.into(), &2.into()),
        "{why}"
    );
    assert_eq!(states[0]["workers"], "pinned/0,pinned/1", "{why}");
    assert_eq!(
        (&states[1]["cpu"], &states[1]["online"]),
        (&1.into(), &true.into()),
        "{why}"
    );
    assert_every_worker_progressed(&run, 0);
    run
}

#[test]
fn cpu_hotplug_under_scx_simple_passes_and_the_scheduler_restarts() {
    let simple = tree_scheduler("scx_simple");
    let run = hotplug_run("hotplug-simple", Some(&simple));
    let why = run.why();
    assert_eq!(run.check(0, "scheduler")["passed"], true, "{why}");
    // scx_simple has no CPU hotplug callbacks: the kernel exits it, it attaches again.
    let restarted: Vec<Value> = events(&run)
        .into_iter()
        .filter(|e| e["event"] == "restarted")
        .collect();
    assert_eq!(restarted.len(), 2, "{why}");
    assert_eq!(restarted[0]["op"], "cpu-offline", "{why}");
    assert_eq!(
        restarted[0]["reason"], "unregistered from the main kernel",
        "{why}"
    );
    assert!(restarted[0]["took_ms"].as_u64().unwrap() > 0, "{why}");
}

#[test]
fn cpu_hotplug_under_eevdf_passes() {
    let run = hotplug_run("hotplug-eevdf", None);
    let why = run.why();
    assert!(
        run.report["scheduler"]["events"]
            .as_array()
            .is_none_or(|e| e.is_empty()),
        "{why}"
    );
}
