//! The sched_ext scheduler under test, host side: what `--scheduler` asks for, whether
//! the kernel can run it, why a run failed because of it, and its part of the report.

pub mod build;
pub mod labelled;
pub mod manifest;
pub mod windows;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::guest::pack;
use crate::kernel::config::{self, ConfigSource};
use crate::protocol::plan::PlanScheduler;
use crate::protocol::record::{ErrorPlace, OutputSource, Record, SchedulerEvent, SchedulerRecord};
use crate::scenario::payloads::find_program;
use crate::scenario::{Check, Scenario};
use schedbox_protocol::checks::CheckKind;

pub use schedbox_protocol::limits::DEFAULT_ATTACH_MS;
/// The check every scenario gets when a scheduler is under test.
pub const CHECK: &str = CheckKind::Scheduler.word();
/// The release whose fair class is EEVDF; CFS before it.
const EEVDF_SINCE: (u32, u32) = (6, 6);

/// What runs without `--scheduler`: the kernel's default scheduler, named by its
/// release (CFS before 6.6, EEVDF from 6.6).
pub fn none(release: Option<&str>) -> String {
    let class = match release.and_then(major_minor) {
        Some(v) if v >= EEVDF_SINCE => "EEVDF",
        Some(_) => "CFS",
        None => "the kernel's default scheduler",
    };
    format!("{class} (no sched_ext scheduler)")
}

/// `6.12.117-foo` → (6, 12).
fn major_minor(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}
/// The payload directory the scheduler binary is packed under.
const GUEST_DIR: &str = "scheduler"; // not vocabulary: a directory in the guest
/// Output lines kept in the report (all of them go to scheduler.log).
const REPORT_OUTPUT_LINES: usize = 20;
/// Output lines quoted in a failure reason, and their length in all.
const REASON_OUTPUT_LINES: usize = 3;
const REASON_OUTPUT_CHARS: usize = 300;

/// The scheduler a run starts, as the command line gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchedulerInfo {
    /// The program on the host.
    pub path: PathBuf,
    /// Where it is packed in the guest.
    pub guest_path: String,
    pub args: Vec<String>,
    /// The ops name it must attach as, if given.
    pub name: Option<String>,
    pub attach_ms: u64,
}

impl SchedulerInfo {
    /// Finds the program: a file, else a scheduler `schedbox scheduler build` left in the
    /// cache (`scx_bpfland`, `scx_bpfland@1.1.4`), else a name in `$PATH`.
    pub fn new(
        program: &Path,
        args: Vec<String>,
        name: Option<String>,
        attach_ms: u64,
    ) -> Result<Self, String> {
        let path = locate(program, "--scheduler")?;
        Self::packed_in(GUEST_DIR, path, args, name, attach_ms)
    }

    /// The program at `path`, packed in the guest's folder `dir`.
    fn packed_in(
        dir: &str,
        path: PathBuf,
        args: Vec<String>,
        name: Option<String>,
        attach_ms: u64,
    ) -> Result<Self, String> {
        let guest_path = pack::payload_path(dir, &path)
            .map_err(|e| format!("scheduler {}: {e}", path.display()))?;
        Ok(SchedulerInfo {
            path,
            guest_path,
            args,
            name,
            attach_ms,
        })
    }

    pub fn plan_line(&self) -> PlanScheduler {
        PlanScheduler {
            path: self.guest_path.clone(),
            name: self.name.clone(),
            attach_ms: self.attach_ms,
            args: self.args.clone(),
        }
    }

    /// What records call it before it attached: its name, or its file name.
    fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            self.path
                .file_name()
                .map_or_else(String::new, |f| f.to_string_lossy().into_owned())
        })
    }
}

/// A scheduler program as the command line names it: a file, else a scheduler
/// `schedbox scheduler build` left in the cache, else a name in `$PATH`; `what` names
/// the option or field in errors.
pub fn locate(program: &Path, what: &str) -> Result<PathBuf, String> {
    let as_given = program.to_string_lossy();
    if program.is_file() {
        Ok(program.to_path_buf())
    } else if let Some(built) = build::find(&as_given, &build::cache_dir()) {
        Ok(built)
    } else {
        find_program(&as_given, Path::new("")).map_err(|e| {
            format!(
                "{what}: {e}; a production scheduler (scx_bpfland, ...) is found by \
                 name once `schedbox scheduler build NAME` built it"
            )
        })
    }
}

/// Gives every scenario the `scheduler` check, unless it lists one itself.
pub fn add_check(scenarios: &mut [Scenario]) {
    for scenario in scenarios {
        if !scenario.checks.iter().any(|c| c.name == CHECK) {
            scenario.checks.push(Check {
                name: CHECK.to_string(),
                limit: 0,
                group: None,
                cgroup: None,
                log: Default::default(),
                params: Default::default(),
            });
        }
    }
}

/// Why the kernel cannot run a sched_ext scheduler, when its configuration says so.
/// `None` when it can, or when nobody can tell (then the guest finds out).
pub fn kernel_lacks_sched_ext(kernel: &Path) -> Option<String> {
    let features = config::check_image(kernel).ok()?;
    if features.has_sched_ext != Some(false) {
        return None;
    }
    let release = features.release.as_deref().unwrap_or("unknown release");
    let from = match &features.source {
        ConfigSource::File(path) => format!("its config {}", path.display()),
        other => other.to_string(),
    };
    Some(format!(
        "kernel {} ({release}) has no sched_ext (CONFIG_SCHED_CLASS_EXT is not set, says {from}), \
         so a sched_ext scheduler cannot run on it: build one that has it with `make kernel` \
         (or `schedbox kernel build`) and pass the image it prints with --kernel",
        kernel.display()
    ))
}

/// The hint for a guest that found no /sys/kernel/sched_ext.
pub const NO_SCHED_EXT_HINT: &str = "to test a sched_ext scheduler, build a kernel that has \
     it with `make kernel` (or `schedbox kernel build`) and pass it with --kernel";

/// What to do about a guest error, when it is the scheduler's and the kernel said at
/// boot that it has no sched_ext.
pub fn error_hint(place: ErrorPlace, records: &[Record]) -> Option<&'static str> {
    let absent = records
        .iter()
        .any(|r| matches!(r, Record::Boot { sched_ext, .. } if sched_ext == "absent"));
    (place == ErrorPlace::Scheduler && absent).then_some(NO_SCHED_EXT_HINT)
}

/// Whether the scheduler failed to attach and never did: then every scenario's failed
/// `scheduler` check only repeats the one reason [`failures`] gives, with its output.
pub fn never_attached(events: &[&SchedulerRecord]) -> bool {
    events
        .iter()
        .any(|s| s.event == SchedulerEvent::AttachFailed)
        && !events.iter().any(|s| s.event == SchedulerEvent::Attached)
}

/// Whether a failed check of the run is that repetition (see [`never_attached`]).
pub fn repeats_attach_failure(check: &str, records: &[Record]) -> bool {
    let events: Vec<&SchedulerRecord> = records
        .iter()
        .filter_map(|r| match r {
            Record::Scheduler(s) => Some(s.as_ref()),
            _ => None,
        })
        .collect();
    check == CHECK && never_attached(&events)
}

/// Where the guest was in the plan when a record came.
struct Place<'a> {
    running: Option<&'a str>,
    last_ended: Option<&'a str>,
}

impl Place<'_> {
    fn describe(&self) -> String {
        match (self.running, self.last_ended) {
            (Some(s), _) => format!("during scenario {s}"),
            (None, Some(s)) => format!("after scenario {s}"),
            (None, None) => "before the first scenario".to_string(),
        }
    }
}

/// One sentence for each scheduler record that fails the run (attach-failed, ejected,
/// exited): which scheduler, during which scenario, when, and the kernel's reason.
pub fn failures(records: &[Record]) -> Vec<String> {
    let mut place = Place {
        running: None,
        last_ended: None,
    };
    let mut reasons = Vec::new();
    for record in records {
        match record {
            Record::Scenario { name, .. } => place.running = Some(name),
            Record::ScenarioEnd { name, .. } => {
                place.running = None;
                place.last_ended = Some(name);
            }
            Record::Scheduler(s) if s.is_failure() => {
                reasons.push(failure(s, &place.describe(), records));
            }
            _ => {}
        }
    }
    reasons
}

fn failure(s: &SchedulerRecord, place: &str, records: &[Record]) -> String {
    let at = seconds(s.t_ms);
    let mut text = match s.event {
        SchedulerEvent::AttachFailed => format!(
            "scheduler {} did not attach ({place}, {at}): {}",
            s.name,
            s.reason.as_deref().unwrap_or("no reason given")
        ),
        SchedulerEvent::Ejected => {
            let mut text = format!(
                "{} {place} {at}: {}",
                departure(&s.name, s.reason.as_deref()),
                s.reason.as_deref().unwrap_or("no reason given")
            );
            if let Some(msg) = &s.msg {
                text.push_str(&format!(" ({msg}{})", blame(msg, records)));
            }
            text
        }
        _ => format!(
            "scheduler {} exited with status {} {place} {at}",
            s.name,
            s.status.as_deref().unwrap_or("unknown")
        ),
    };
    // A scheduler that fails to start says why first (then, often, its usage).
    let first_too = s.event == SchedulerEvent::AttachFailed;
    let output = s.output.as_deref().map(|o| quote(o, first_too));
    if let Some(output) = output.filter(|o| !o.is_empty()) {
        text.push_str(&format!("; its output: {output}"));
    }
    text
}

/// Who ended a scheduler that stopped being enabled, from the kernel's exit reason
/// (`scx_exit_reason()`): a sysrq-S reset or user space is not the kernel ejecting it.
fn departure(name: &str, reason: Option<&str>) -> String {
    match reason.unwrap_or("") {
        "disabled by sysrq-S" => format!("scheduler {name} was disabled by a sysrq-S reset"),
        "unregistered from user space" => {
            format!("scheduler {name} was unregistered from user space")
        }
        "unregistered from BPF" => format!("scheduler {name} unregistered itself from BPF"),
        "unregistered from the main kernel" => format!("the kernel unregistered scheduler {name}"),
        _ => format!("the kernel ejected scheduler {name}"),
    }
}

/// How the summary names an `ejected` event.
fn departure_word(reason: Option<&str>) -> &'static str {
    match reason.unwrap_or("") {
        "disabled by sysrq-S" => "disabled by sysrq-S",
        "unregistered from user space" | "unregistered from BPF" => "unregistered",
        _ => SchedulerEvent::Ejected.word(),
    }
}

/// The worker behind a `comm[pid]` the kernel named, if it was one.
fn blame(msg: &str, records: &[Record]) -> String {
    let pid = msg
        .split('[')
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .and_then(|n| n.parse::<u64>().ok());
    let Some(pid) = pid else {
        return String::new();
    };
    records
        .iter()
        .find_map(|r| match r {
            Record::Worker(w) if w.pid == pid => Some(format!(
                "; pid {pid} is worker {}/{} of scenario {}",
                w.group, w.index, w.scenario
            )),
            _ => None,
        })
        .unwrap_or_default()
}

/// Some output on one line: its last few lines with words, after its first one when
/// `first_too`.
pub fn quote(output: &str, first_too: bool) -> String {
    // Rules (lines of `=` or `-`) carry no words.
    let lines: Vec<&str> = output
        .lines()
        .map(str::trim)
        .filter(|l| l.chars().any(char::is_alphanumeric))
        .collect();
    let mut start = lines.len().saturating_sub(REASON_OUTPUT_LINES);
    let mut text = String::new();
    if first_too && start > 0 {
        text = format!("{} | … | ", lines[0]);
        start += 1;
    }
    text.push_str(&lines[start..].join(" | "));
    let chars = text.chars().count();
    if chars > REASON_OUTPUT_CHARS {
        let skip = chars - REASON_OUTPUT_CHARS;
        format!("…{}", text.chars().skip(skip).collect::<String>())
    } else {
        text
    }
}

/// Guest time (CLOCK_BOOTTIME ms) as people read it.
fn seconds(t_ms: u64) -> String {
    format!("{:.2} s after boot", t_ms as f64 / 1000.0)
}

/// The scheduler's part of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchedulerReport {
    /// One line: the kernel's default scheduler (`EEVDF (no sched_ext scheduler)`, CFS
    /// before 6.6), or the scheduler and how it went.
    pub summary: String,
    /// The ops name it attached as; `None` without a sched_ext scheduler.
    pub name: Option<String>,
    pub path: Option<String>,
    pub args: Vec<String>,
    /// Guest time (ms since boot) at which the kernel had it enabled.
    pub attached_ms: Option<u64>,
    pub events: Vec<SchedulerRecord>,
    /// Lines of output it printed (all are in `log`).
    pub output_lines: usize,
    pub output_tail: Vec<String>,
    pub log: Option<String>,
}

impl SchedulerReport {
    /// See [`never_attached`]: the summary says why once, scenarios need not.
    pub fn never_attached(&self) -> bool {
        never_attached(&self.events.iter().collect::<Vec<_>>())
    }
}

pub fn report(
    info: Option<&SchedulerInfo>,
    release: Option<&str>,
    records: &[Record],
    log: &Path,
) -> SchedulerReport {
    let Some(info) = info else {
        return SchedulerReport {
            summary: none(release),
            name: None,
            path: None,
            args: Vec::new(),
            attached_ms: None,
            events: Vec::new(),
            output_lines: 0,
            output_tail: Vec::new(),
            log: None,
        };
    };
    let events: Vec<SchedulerRecord> = records
        .iter()
        .filter_map(|r| match r {
            Record::Scheduler(s) => Some(s.as_ref().clone()),
            _ => None,
        })
        .collect();
    let output = output_lines(records);
    let attached = events.iter().find(|e| e.event == SchedulerEvent::Attached);
    SchedulerReport {
        summary: summary(info, &events),
        name: attached
            .map(|a| a.ops.clone())
            .or_else(|| info.name.clone()),
        path: Some(info.path.display().to_string()),
        args: info.args.clone(),
        attached_ms: attached.map(|a| a.t_ms),
        output_lines: output.len(),
        output_tail: output[output.len().saturating_sub(REPORT_OUTPUT_LINES)..].to_vec(),
        events,
        log: Some(log.display().to_string()),
    }
}

/// The scheduler's output lines, in order.
pub fn output_lines(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Output(o) if o.source == OutputSource::Scheduler => Some(o.text.clone()),
            _ => None,
        })
        .collect()
}

fn summary(info: &SchedulerInfo, events: &[SchedulerRecord]) -> String {
    let file = info
        .path
        .file_name()
        .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
    let Some(first) = events.first() else {
        return format!("{} ({file}): not started", info.label());
    };
    if first.event != SchedulerEvent::Attached {
        let reason = first.reason.as_deref().unwrap_or("no reason given");
        return format!("{} ({file}) did not attach: {reason}", info.label());
    }
    let mut text = format!("{} ({file}), attached {}", first.ops, seconds(first.t_ms));
    for e in &events[1..] {
        let word = match e.event {
            SchedulerEvent::Ejected => departure_word(e.reason.as_deref()),
            // How it ended at the run's end says nothing about the run.
            SchedulerEvent::Stopped => continue,
            other => other.word(),
        };
        // A labelled scheduler's events name it; the run's are the summary's subject.
        if e.name == first.name {
            text.push_str(&format!(", {word} {}", seconds(e.t_ms)));
        } else {
            text.push_str(&format!(", {word} {} {}", e.name, seconds(e.t_ms)));
        }
        let took = e.took_ms.filter(|_| !e.is_failure());
        match (&e.reason, took) {
            (Some(reason), _) if e.is_failure() => text.push_str(&format!(" ({reason})")),
            (_, Some(ms)) => text.push_str(&format!(" (took {ms} ms)")),
            _ => {}
        }
    }
    text
}

/// Whether any scenario asks for a scheduler op or starts detached, and the first such
/// request with its scenario: a run without `--scheduler` cannot carry it out.
pub fn first_scheduler_op(scenarios: &[Scenario]) -> Option<(&Scenario, &'static str)> {
    scenarios.iter().find_map(|s| {
        let op = s
            .steps
            .iter()
            .flat_map(|step| &step.ops)
            .filter_map(|op| op.transition())
            .find(|op| op.is_scheduler_op())
            .map(|op| op.word());
        let start = s.starts_detached.then_some(START_DETACHED);
        op.or(start).map(|what| (s, what))
    })
}

/// How [`first_scheduler_op`] names a scenario that starts detached.
const START_DETACHED: &str = "scheduler = \"detached\"";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::examples;
    use crate::protocol::record::{decode, Line};

    fn example(name: &str) -> Vec<Record> {
        examples::records(&examples::text(name))
    }

    fn qmap() -> SchedulerInfo {
        SchedulerInfo {
            path: "/x/scx_qmap".into(),
            guest_path: "/payload/scheduler/scx_qmap".into(),
            args: vec!["-t".into(), "10".into()],
            name: None,
            attach_ms: DEFAULT_ATTACH_MS,
        }
    }

    #[test]
    fn an_ejection_names_the_scenario_time_reason_and_task() {
        let reasons = failures(&example("scheduler-ejected.records"));
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert_eq!(
            reasons[0],
            "the kernel ejected scheduler qmap during scenario spin-qmap 10.99 s after boot: runnable \
             task stall (init[41] failed to run for 7.532s; pid 41 is worker spin/1 of \
             scenario spin-qmap)"
        );
        assert!(reasons[1].starts_with(
            "scheduler qmap exited with status 0 during scenario spin-qmap 11.56 s after boot; its \
             output: "
        ));
        assert!(
            reasons[1].ends_with("EXIT: runnable task stall (init[41] failed to run for 7.532s)")
        );
        let report = report(
            Some(&qmap()),
            None,
            &example("scheduler-ejected.records"),
            Path::new("l"),
        );
        assert_eq!(
            report.summary,
            "qmap (scx_qmap), attached 3.38 s after boot, ejected 10.99 s after boot \
             (runnable task stall), exited 11.56 s after boot"
        );
        assert_eq!(report.attached_ms, Some(3378));
        assert_eq!(report.output_lines, 4);
    }

    #[test]
    fn a_clean_run_has_no_failures() {
        let records = example("scheduler.records");
        assert!(failures(&records).is_empty());
        let report = report(Some(&qmap()), None, &records, Path::new("l"));
        assert_eq!(report.name.as_deref(), Some("simple"));
        assert_eq!(
            report.summary,
            "simple (scx_qmap), attached 1.82 s after boot"
        );
        assert_eq!(
            report.output_tail.last().unwrap(),
            "EXIT: unregistered from user space"
        );
        let none = |release| super::report(None, release, &records, Path::new("l")).summary;
        assert_eq!(none(Some("6.12.117")), "EEVDF (no sched_ext scheduler)");
        assert_eq!(none(Some("6.6.0")), "EEVDF (no sched_ext scheduler)");
        assert_eq!(
            none(Some("6.1.0-28-cloud-amd64")),
            "CFS (no sched_ext scheduler)"
        );
        assert_eq!(none(Some("5.10.0")), "CFS (no sched_ext scheduler)");
        assert_eq!(
            none(None),
            "the kernel's default scheduler (no sched_ext scheduler)"
        );
    }

    #[test]
    fn a_reset_or_user_space_is_not_the_kernel_ejecting() {
        let ejected = |reason: &str| {
            let line = format!(
                "SBX1 scheduler event=ejected name=simple state=disabled ops= pid=36 t_ms=1500 \
                 reason={}",
                crate::protocol::wire::encode_value(reason)
            );
            let Line::Record(record) = decode(&line) else {
                panic!("not a record")
            };
            let summary = summary(
                &qmap(),
                &[example("scheduler.records")[3].clone(), record.clone()]
                    .iter()
                    .filter_map(|r| match r {
                        Record::Scheduler(s) => Some(s.as_ref().clone()),
                        _ => None,
                    })
                    .collect::<Vec<_>>(),
            );
            (failures(&[record]).remove(0), summary)
        };
        let (sysrq, summary) = ejected("disabled by sysrq-S");
        assert!(
            sysrq.starts_with("scheduler simple was disabled by a sysrq-S reset before"),
            "{sysrq}"
        );
        assert!(
            summary.ends_with(", disabled by sysrq-S 1.50 s after boot (disabled by sysrq-S)"),
            "{summary}"
        );
        let (user, summary) = ejected("unregistered from user space");
        assert!(
            user.starts_with("scheduler simple was unregistered from user space"),
            "{user}"
        );
        assert!(summary.contains(", unregistered 1.50 s"), "{summary}");
        let (error, summary) = ejected("runtime error");
        assert!(
            error.starts_with("the kernel ejected scheduler simple"),
            "{error}"
        );
        assert!(summary.contains(", ejected 1.50 s"), "{summary}");
    }

    #[test]
    fn a_failed_attach_is_placed_before_the_first_scenario() {
        let line = "SBX1 scheduler event=attach-failed name=simple state=disabled ops= pid=36 \
                    t_ms=1500 reason=exited%20with%20status%202%20before%20attaching status=2 \
                    output=scx_simple:%20invalid%20option%20--%20'Z'%0AUsage%0A%0A%20-f%0A%20-v%0A%20-h";
        let Line::Record(record) = decode(line) else {
            panic!("not a record")
        };
        let reasons = failures(&[record]);
        assert_eq!(
            reasons,
            [
                "scheduler simple did not attach (before the first scenario, 1.50 s after boot): exited \
              with status 2 before attaching; its output: scx_simple: invalid option -- \
              'Z' | … | -v | -h"
            ]
        );
    }

    #[test]
    fn a_scheduler_that_never_attached_is_said_once() {
        let attach_failed = "SBX1 scheduler event=attach-failed name=simple state=disabled ops= \
                             pid=36 t_ms=1500 reason=exited status=2";
        let Line::Record(failed) = decode(attach_failed) else {
            panic!("not a record")
        };
        let records = vec![failed];
        assert!(repeats_attach_failure(CHECK, &records));
        assert!(!repeats_attach_failure("stall", &records));
        assert!(report(Some(&qmap()), None, &records, Path::new("l")).never_attached());
        // Attached, then ejected: each scenario's check says something of its own.
        let ejected = example("scheduler-ejected.records");
        assert!(!repeats_attach_failure(CHECK, &ejected));
        assert!(!report(Some(&qmap()), None, &ejected, Path::new("l")).never_attached());
        assert!(!repeats_attach_failure(CHECK, &[]));
    }

    #[test]
    fn every_scenario_gets_the_check_once() {
        let vm = crate::scenario::VmShape::flat(2, 256);
        let toml = "name = \"a\"\nduration_ms = 10\n[[check]]\nname = \"scheduler\"\n";
        let listed = crate::scenario::parse(toml, "a.toml", &vm).unwrap();
        let plain = crate::scenario::parse(crate::scenario::BUILT_IN, "b", &vm).unwrap();
        let mut scenarios = [listed, plain];
        add_check(&mut scenarios);
        for s in &scenarios {
            assert_eq!(s.checks.iter().filter(|c| c.name == CHECK).count(), 1);
        }
    }

    #[test]
    fn transitions_asked_for_are_no_failures_and_the_summary_says_their_times() {
        let records = example("lifecycle.records");
        assert!(failures(&records).is_empty());
        let report = report(Some(&qmap()), None, &records, Path::new("l"));
        assert_eq!(
            report.summary,
            "simple (scx_qmap), attached 2.02 s after boot, detached 3.29 s after boot \
             (took 207 ms), attached 5.46 s after boot (took 663 ms), detached 7.06 s after \
             boot (took 84 ms), attached 7.33 s after boot (took 276 ms)"
        );
        let hotplug = example("hotplug.records");
        assert!(failures(&hotplug).is_empty());
        let summary = super::report(Some(&qmap()), None, &hotplug, Path::new("l")).summary;
        assert!(summary.contains(", restarted "), "{summary}");
    }
}
