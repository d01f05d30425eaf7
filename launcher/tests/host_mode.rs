//! `schedbox run --host`: on a machine that cannot give it what it needs, it is
//! untestable before anything starts; and inside a schedbox guest (the project's
//! sched_ext kernel, cgroup v2), where a payload shell runs it a few times, it passes,
//! fails and stops as it would in a VM, and leaves no cgroup, process or scheduler behind.
//!
//! The booted test packs the launcher, the init beside it, `scx_simple`, `dash`, `sleep`
//! and the scenario files into one guest and reads what the shell printed: each inner
//! run's exit status, its report, and then the guest's processes, `schedbox-*` cgroups
//! and sched_ext state.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{describe, kernel, os, repo, run_and_report, schedbox, tree_scheduler, Scratch};
use serde_json::Value;

/// Whether this machine has the unified cgroup hierarchy (statfs magic of cgroup2).
fn has_cgroup2() -> bool {
    let path = std::ffi::CString::new("/sys/fs/cgroup").unwrap();
    // SAFETY: statfs writes into the zeroed struct it is given.
    unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        libc::statfs(path.as_ptr(), &mut st) == 0 && st.f_type as i64 == 0x6367_7270
    }
}

/// A host run's report is a report as docs/report.schema.json describes it.
fn validate(report: &Value) {
    let text = std::fs::read_to_string(repo().join("docs/report.schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    let validator = jsonschema::draft202012::new(&schema).expect("the schema is valid");
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\nreport: {report:#}");
}

#[test]
fn a_machine_without_cgroup_v2_or_sched_ext_is_untestable_before_anything_starts() {
    let no_cgroup2 = !has_cgroup2();
    let no_scx = !Path::new("/sys/kernel/sched_ext").exists();
    // SAFETY: geteuid has no preconditions.
    let not_root = unsafe { libc::geteuid() } != 0;
    assert!(
        no_cgroup2 || no_scx || not_root,
        "this machine has root, cgroup v2 and sched_ext: this test is for machines that \
         lack one (schedbox's build machines); the booted test below covers this one"
    );
    let scratch = Scratch::new("host-untestable");
    let out = scratch.0.join("run");
    let scenario = repo().join("scenarios/spin.toml");
    let output = schedbox(&[
        "run",
        "--host",
        "--scheduler",
        "/bin/true",
        "--out",
        out.to_str().unwrap(),
        scenario.to_str().unwrap(),
    ]);
    let report: Value = serde_json::from_str(&scratch.run_file("report.json")).unwrap();
    let why = describe(&output, &report);
    assert_eq!(output.status.code(), Some(125), "{why}");
    assert_eq!(report["outcome"], "untestable", "{why}");
    assert_eq!(report["run"]["backend"], "host", "{why}");
    validate(&report);
    let reason = report["reasons"].to_string();
    if no_cgroup2 {
        assert!(reason.contains("not a cgroup v2"), "{why}");
    }
    if no_scx {
        assert!(reason.contains("no sched_ext"), "{why}");
    }
    if not_root {
        assert!(reason.contains("needs root"), "{why}");
    }
    // Nothing started: no records were even awaited, no cgroup of its own made.
    assert!(!out.join("records.log").exists(), "{why}");
    let own_cgroups: Vec<_> = std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("schedbox-"))
        .collect();
    assert!(own_cgroups.is_empty(), "{own_cgroups:?}");
}

#[test]
fn vm_options_are_refused_with_host_naming_the_option() {
    for (option, value) in [
        ("--topology", "numa2"),
        ("--memory", "512"),
        ("--append", "quiet"),
        ("--kernel", "/nonexistent"),
        ("--backend", "qemu"),
        ("--cpus", "4"),
    ] {
        let output = schedbox(&["run", "--host", option, value]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{option}: {stderr}");
        assert!(
            stderr.contains(&format!("{option} cannot be used with --host")),
            "{option}: {stderr}"
        );
    }
}

#[test]
fn a_scenario_that_pins_a_shape_is_refused_with_host() {
    let scratch = Scratch::new("host-shape");
    let scenario = scratch.file(
        "shaped.toml",
        "name = \"shaped\"\ntopology = \"numa2\"\n[[workers]]\ngroup = \"a\"\nwork = \"spin\"\n",
    );
    let output = schedbox(&["run", "--host", scenario.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("shaped.toml"), "{stderr}");
    assert!(stderr.contains("topology"), "{stderr}");
}

#[test]
fn a_debugfs_write_runs_on_a_host_only_in_a_scenario_marked_for_it() {
    // LKDTM's crash trigger: refused before anything starts.
    let lkdtm = repo().join("scenarios/fail/kernel-log.toml");
    let output = schedbox(&["run", "--host", lkdtm.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("kernel-log.toml"), "{stderr}");
    assert!(stderr.contains("/sys/kernel/debug"), "{stderr}");
    assert!(stderr.contains("host_debugfs = true"), "{stderr}");
    // fail/stall.toml is marked: it gets past the check (to what this machine lacks).
    let scratch = Scratch::new("host-debugfs");
    let out = scratch.0.join("run");
    let stall = repo().join("scenarios/fail/stall.toml");
    let output = schedbox(&[
        "run",
        "--host",
        "--out",
        out.to_str().unwrap(),
        stall.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(output.status.code(), Some(2), "{stderr}");
    assert!(out.join("report.json").exists(), "{stderr}");
}

/// Spinners held long enough for the kernel's watchdog to eject a scheduler that
/// leaves tasks unscheduled.
const HOLD: &str = "name = \"hold\"\nduration_ms = 15000\n\
    [[workers]]\ngroup = \"spin\"\nwork = \"spin\"\ncount = 3\n";

/// A scenario long enough to be stopped in its middle.
const LONG: &str = "name = \"long\"\nduration_ms = 20000\n\
    [[workers]]\ngroup = \"spinner\"\nwork = \"spin\"\ncount = 2\n";

/// The shell the guest runs: each inner run, then what it left behind. `@@` lines are
/// read by [`Seen::parse`].
const SCRIPT: &str = r#"
D=/payload/host
procs() { printf '@@procs %s' "$1"; for p in /proc/[0-9]*; do if [ -e "$p/exe" ] && read c < "$p/comm"; then printf ' %s:%s' "${p#/proc/}" "$c"; fi; done; printf '\n'; }
after() {
  printf '@@report %s\n' "$1"; while IFS= read -r l; do printf '%s\n' "$l"; done < "/tmp/$1.json"; printf '@@end\n'
  printf '@@output %s\n' "$1"; while IFS= read -r l; do printf '%s\n' "$l"; done < "/tmp/$1.out"; printf '@@end\n'
  procs "$1"
  printf '@@cgroups %s' "$1"; for c in /sys/fs/cgroup/schedbox-*; do [ -e "$c" ] && printf ' %s' "$c"; done; printf '\n'
  read s < /sys/kernel/sched_ext/state; printf '@@sched_ext %s %s\n' "$1" "$s"
}
run() { name=$1; shift; "$D/schedbox" run --host --out "/tmp/$name" --json "/tmp/$name.json" "$@" > "/tmp/$name.out" 2>&1; printf '@@exit %s %s\n' "$name" "$?"; after "$name"; }
procs before
run pass "$D/spin.toml" "$D/cpuset.toml" "$D/progress.toml"
run stall "$D/stall.toml"
run simple --scheduler "$D/scx_simple" "$D/spin.toml"
run qmap --scheduler "$D/scx_qmap" --scheduler-arg -t --scheduler-arg 10 "$D/hold.toml"
"$D/schedbox" run --host --out /tmp/term --json /tmp/term.json "$D/long.toml" > /tmp/term.out 2>&1 &
pid=$!
"$D/sleep" 8
kill -TERM "$pid"
wait "$pid"
printf '@@exit term %s\n' "$?"
after term
"$D/schedbox" run --host --out /tmp/killed "$D/long.toml" > /tmp/killed.out 2>&1 &
pid=$!
"$D/sleep" 8
kill -KILL "$pid"
wait "$pid"
printf '@@exit killed %s\n' "$?"
settled() {
  for c in /sys/fs/cgroup/schedbox-*; do [ -e "$c" ] && return 1; done
  for p in /proc/[0-9]*; do [ "${p#/proc/}" != 1 ] && [ -e "$p/exe" ] && read c < "$p/comm" && [ "$c" = init ] && return 1; done
  return 0
}
i=0; while [ "$i" -lt 50 ] && ! settled; do "$D/sleep" 0.2; i=$((i + 1)); done
procs killed
printf '@@cgroups killed'; for c in /sys/fs/cgroup/schedbox-*; do [ -e "$c" ] && printf ' %s' "$c"; done; printf '\n'
run next "$D/spin.toml"
"#;

/// What the guest's shell printed, per inner run.
#[derive(Default)]
struct Seen {
    exits: BTreeMap<String, i32>,
    reports: BTreeMap<String, Value>,
    outputs: BTreeMap<String, String>,
    /// User-space processes (`pid:comm`) after each run, and `before` the first.
    procs: BTreeMap<String, Vec<String>>,
    cgroups: BTreeMap<String, Vec<String>>,
    sched_ext: BTreeMap<String, String>,
}

impl Seen {
    fn parse(log: &str) -> Seen {
        let mut seen = Seen::default();
        let mut lines = log.lines();
        while let Some(line) = lines.next() {
            let Some(rest) = line.strip_prefix("@@") else {
                continue;
            };
            let mut words = rest.split(' ');
            let (kind, name) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
            let name = name.to_string();
            let rest: Vec<String> = words.filter(|w| !w.is_empty()).map(String::from).collect();
            match kind {
                "exit" => {
                    seen.exits.insert(name, rest[0].parse().unwrap_or(-1));
                }
                "report" | "output" => {
                    let body = rejoin(lines.by_ref().take_while(|l| *l != "@@end"));
                    if kind == "report" {
                        seen.reports
                            .insert(name, serde_json::from_str(&body).unwrap_or(Value::Null));
                    } else {
                        seen.outputs.insert(name, body);
                    }
                }
                "procs" => {
                    seen.procs.insert(name, rest);
                }
                "cgroups" => {
                    seen.cgroups.insert(name, rest);
                }
                "sched_ext" => {
                    seen.sched_ext.insert(name, rest.join(" "));
                }
                _ => {}
            }
        }
        seen
    }

    /// Processes there after `run` that were not there before the first run.
    fn leftovers(&self, run: &str) -> Vec<String> {
        let before = &self.procs["before"];
        self.procs[run]
            .iter()
            .filter(|p| !before.contains(p))
            .cloned()
            .collect()
    }
}

/// Bytes of a payload's output line the guest keeps in one piece: a longer line comes
/// back cut into lines of this length (and the rest).
const CAPTURED_LINE: usize = 511;

/// The lines as the program printed them: a piece of [`CAPTURED_LINE`] bytes goes on
/// with the next.
fn rejoin<'a>(lines: impl Iterator<Item = &'a str>) -> String {
    let mut text = String::new();
    for line in lines {
        text.push_str(line);
        if line.len() != CAPTURED_LINE {
            text.push('\n');
        }
    }
    text
}

fn outer_scenario(files: &[PathBuf]) -> String {
    let files: Vec<String> = files
        .iter()
        .map(|f| format!("{:?}", f.display().to_string()))
        .collect();
    format!(
        "name = \"host-mode\"\n\
         [[step]]\nhold_ms = 600000\nuntil = \"payloads\"\n\
         [[payload]]\nname = \"host\"\npath = \"/usr/bin/dash\"\nargs = [\"-c\", {script:?}]\n\
         files = [{files}]\nexpect_status = \"any\"\n",
        script = SCRIPT,
        files = files.join(", ")
    )
}

#[test]
fn host_runs_inside_a_guest_pass_fail_stop_and_leave_nothing_behind() {
    let scratch = Scratch::new("host-mode");
    let long = scratch.file("long.toml", LONG);
    let hold = scratch.file("hold.toml", HOLD);
    let scenarios = repo().join("scenarios");
    let files = vec![
        PathBuf::from(common::SCHEDBOX),
        repo().join("init/target/release/schedbox-init"),
        tree_scheduler("scx_simple"),
        tree_scheduler("scx_qmap"),
        PathBuf::from("/usr/bin/sleep"),
        scenarios.join("spin.toml"),
        scenarios.join("cgroup/cpuset.toml"),
        scenarios.join("pass/progress.toml"),
        scenarios.join("fail/stall.toml"),
        long,
        hold,
    ];
    let outer = scratch.file("outer.toml", &outer_scenario(&files));
    let kernel = kernel();
    let args = [
        "--accel",
        "tcg",
        "--cpus",
        "2",
        "--memory",
        "1024",
        "--kernel",
        kernel.to_str().unwrap(),
        outer.to_str().unwrap(),
    ];
    let (output, report) = run_and_report(&scratch, &os(&args)).unwrap_or_else(|e| panic!("{e}"));
    let log = scratch.run_file("payload-host-mode-host.log");
    let why = format!("{}\nguest shell:\n{log}", describe(&output, &report));
    let seen = Seen::parse(&log);
    if std::env::var_os("SCHEDBOX_TEST_SHOW").is_some() {
        eprintln!("{log}");
    }
    for run in ["pass", "stall", "simple", "qmap", "term", "next"] {
        assert!(seen.reports.contains_key(run), "no report of {run}: {why}");
        assert_eq!(seen.reports[run]["run"]["backend"], "host", "{run}: {why}");
        validate(&seen.reports[run]);
        assert_eq!(seen.cgroups[run], Vec::<String>::new(), "{run}: {why}");
        assert_eq!(
            seen.leftovers(run),
            Vec::<String>::new(),
            "{run} left processes: {why}"
        );
        assert_eq!(seen.sched_ext[run], "disabled", "{run}: {why}");
    }
    assert_eq!(seen.exits["pass"], 0, "{why}");
    // The guest's two vCPUs, read from its sysfs as a host's would be.
    assert!(
        seen.reports["pass"]["notes"]
            .to_string()
            .contains("this machine is 1n1l2c1t (sysfs)"),
        "{why}"
    );
    assert_eq!(seen.reports["pass"]["outcome"], "pass", "{why}");
    // A host run's words are the host's: no VM start, kernel boot or power-off.
    assert_eq!(seen.reports["pass"]["end"], "schedbox-init exited", "{why}");
    let phases: Vec<&str> = seen.reports["pass"]["timeline"]["phases"]
        .as_array()
        .map(|p| p.iter().filter_map(|s| s["phase"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        phases.contains(&"engine-start") && phases.contains(&"engine-exit"),
        "{phases:?}: {why}"
    );
    for vm_word in ["vm-start", "kernel", "power-off"] {
        assert!(!phases.contains(&vm_word), "{phases:?}: {why}");
    }
    assert_eq!(seen.exits["stall"], 1, "{why}");
    let stall = seen.reports["stall"]["reasons"].to_string();
    assert!(
        stall.contains("stall") && stall.contains("victim/0"),
        "{why}"
    );
    assert_eq!(seen.exits["simple"], 0, "{why}");
    let scheduler = &seen.reports["simple"]["scheduler"];
    assert!(
        scheduler.to_string().contains("attached"),
        "scx_simple did not attach: {why}"
    );
    // scx_qmap -t 10 leaves every 10th task unscheduled: the kernel ejects it.
    assert_eq!(seen.exits["qmap"], 1, "{why}");
    let qmap = seen.reports["qmap"]["reasons"].to_string();
    assert!(
        qmap.contains("the kernel ejected scheduler scx_qmap during scenario hold")
            && qmap.contains("runnable task stall"),
        "{why}"
    );
    assert_eq!(seen.exits["term"], 143, "{why}");
    assert_eq!(seen.reports["term"]["outcome"], "interrupted", "{why}");
    assert_eq!(
        seen.reports["term"]["end"], "schedbox got SIGTERM and stopped schedbox-init",
        "{why}"
    );
    assert!(seen.outputs.contains_key("term"), "{why}");
    // schedbox killed outright: its engine's parent-death signal has it kill what it
    // started and remove the run's cgroup (the shell waits up to 10 s for that).
    assert_eq!(seen.exits["killed"], 137, "{why}");
    assert_eq!(seen.leftovers("killed"), Vec::<String>::new(), "{why}");
    assert_eq!(seen.cgroups["killed"], Vec::<String>::new(), "{why}");
    assert_eq!(seen.exits["next"], 0, "{why}");
}
