//! Compiles validated scenarios into plan text (docs/protocol.md, "Plan").

use crate::protocol::wire::LineBuilder;
use crate::scenario::{Op, Payload, Scenario, Spawn};
use schedbox_protocol::checks::{KEY_FORWARD, KEY_PERCENTILE, KEY_WINDOW_MS};
use schedbox_protocol::limits::{DEFAULT_HEARTBEAT_MS, DEFAULT_SAMPLE_MS, PLAN_VERSION};
use schedbox_protocol::plan::{self as guest_plan, Summary};
use schedbox_protocol::vocab::{self, Until, Verb};

/// Global settings for the guest: the plan's `config` line, and its `scheduler` line
/// when a scheduler is under test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanConfig {
    pub heartbeat_ms: u64,
    pub sample_ms: u64,
    pub kmsg: bool,
    pub scheduler: Option<PlanScheduler>,
    /// Schedulers that scheduler ops name by label (`scheduler ... label=`).
    pub labelled: Vec<LabelledScheduler>,
}

pub const DEFAULT_CONFIG: PlanConfig = PlanConfig {
    heartbeat_ms: DEFAULT_HEARTBEAT_MS,
    sample_ms: DEFAULT_SAMPLE_MS,
    kmsg: true,
    scheduler: None,
    labelled: Vec::new(),
};

/// A scheduler besides the run's, started only by the ops that name its label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledScheduler {
    pub label: String,
    pub scheduler: PlanScheduler,
}

/// The sched_ext scheduler the guest starts before the scenarios (the `scheduler` line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanScheduler {
    /// Absolute path in the initramfs.
    pub path: String,
    /// The ops name the kernel must report; `None` accepts any.
    pub name: Option<String>,
    pub attach_ms: u64,
    pub args: Vec<String>,
}

/// Where the scheduler stands in for the one a run would be given, to check scenarios
/// that detach and attach it without one (`check`, `show`).
const STAND_IN_SCHEDULER: &str = "/scheduler/stand-in";

/// The config `check` and `show` compile with: a scenario whose steps detach, attach or
/// restart the run's scheduler, or that starts detached, gets a stand-in `scheduler`
/// line (and one for each label it declares), so the rest of it is checked as a run
/// with `--scheduler` would check it.
pub fn config_for_checking(scenarios: &[Scenario]) -> PlanConfig {
    let uses_scheduler = scenarios.iter().any(Scenario::uses_scheduler);
    let stand_in = || PlanScheduler {
        path: STAND_IN_SCHEDULER.to_string(),
        name: None,
        attach_ms: schedbox_protocol::limits::DEFAULT_ATTACH_MS,
        args: Vec::new(),
    };
    let mut labels: Vec<&str> = scenarios
        .iter()
        .flat_map(|s| &s.schedulers)
        .map(|s| s.label.as_str())
        .collect();
    labels.sort_unstable();
    labels.dedup();
    PlanConfig {
        scheduler: uses_scheduler.then(stand_in),
        labelled: labels
            .into_iter()
            .map(|label| LabelledScheduler {
                label: label.to_string(),
                scheduler: stand_in(),
            })
            .collect(),
        ..DEFAULT_CONFIG
    }
}

/// A `scheduler` line: the run's, or a labelled one.
fn scheduler_line(scheduler: &PlanScheduler, label: Option<&String>) -> String {
    let mut line = LineBuilder::new(Verb::Scheduler)
        .key("path", &scheduler.path)
        .key_opt("name", scheduler.name.as_ref())
        .key("attach_ms", scheduler.attach_ms);
    for arg in &scheduler.args {
        line = line.key("arg", arg);
    }
    line.key_opt("label", label).build()
}

/// The whole plan for scenarios run in order, after the scheduler under test when
/// `config` names one.
pub fn compile(scenarios: &[Scenario], config: &PlanConfig) -> String {
    let mut lines = vec![
        LineBuilder::new(Verb::Version).bare(PLAN_VERSION).build(),
        LineBuilder::new(Verb::Config)
            .key("heartbeat_ms", config.heartbeat_ms)
            .key("sample_ms", config.sample_ms)
            .key("kmsg", u8::from(config.kmsg))
            .build(),
    ];
    if let Some(scheduler) = &config.scheduler {
        lines.push(scheduler_line(scheduler, None));
    }
    for l in &config.labelled {
        lines.push(scheduler_line(&l.scheduler, Some(&l.label)));
    }
    for scenario in scenarios {
        compile_scenario(scenario, &mut lines);
    }
    let mut plan = lines.join("\n");
    plan.push('\n');
    plan
}

/// A compiled plan the guest's own validator refuses: something the scenario checks let
/// through. The message names the line, its scenario and the guest's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRefused(pub String);

impl std::fmt::Display for PlanRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// [`compile`], then the guest's validator over the result, so that anything the guest
/// would refuse is refused before a VM starts.
pub fn compile_checked(
    scenarios: &[Scenario],
    config: &PlanConfig,
) -> Result<(String, Summary), PlanRefused> {
    let plan = compile(scenarios, config);
    match guest_plan::validate(plan.as_bytes()) {
        Ok(summary) => Ok((plan, summary)),
        Err(e) => {
            let opening = format!("{} name=", Verb::Scenario);
            let scenario = plan
                .lines()
                .take(e.line)
                .filter_map(|l| l.strip_prefix(opening.as_str()))
                .last()
                .map_or(String::new(), |name| format!(" (scenario {name})"));
            Err(PlanRefused(format!(
                "the guest would refuse this plan{scenario}: {e}; see `schedbox plan` and \
                 docs/protocol.md for the limits"
            )))
        }
    }
}

fn compile_scenario(scenario: &Scenario, lines: &mut Vec<String>) {
    let start = scenario
        .starts_detached
        .then_some(vocab::SchedulerStart::Detached);
    lines.push(
        LineBuilder::new(Verb::Scenario)
            .key("name", &scenario.name)
            .key_opt("scheduler", start)
            .build(),
    );
    for step in &scenario.steps {
        lines.push(
            LineBuilder::new(Verb::Step)
                .key("hold_ms", step.hold_ms)
                .key_opt("until", step.until_payloads.then_some(Until::Payloads))
                .build(),
        );
        lines.extend(step.ops.iter().map(op_line));
    }
    for check in &scenario.checks {
        let line = LineBuilder::new(Verb::Check)
            .key("name", &check.name)
            .key("limit", check.limit)
            .key_opt("group", check.group.as_ref())
            .key_opt("cgroup", check.cgroup.as_ref())
            // The host judges allow/expect patterns, so it needs every line.
            .key_opt(KEY_FORWARD, (!check.log.is_empty()).then_some(1))
            .key_opt(KEY_PERCENTILE, check.params.percentile)
            .key_opt(KEY_WINDOW_MS, check.params.window_ms);
        lines.push(line.build());
    }
    lines.push(LineBuilder::new(Verb::End).build());
}

fn op_line(op: &Op) -> String {
    let op_builder = LineBuilder::op;
    match op {
        Op::CgroupAdd { path } => op_builder(vocab::Op::CgroupAdd).key("path", path).build(),
        Op::CgroupRemove { path } => op_builder(vocab::Op::CgroupRemove)
            .key("path", path)
            .build(),
        Op::CgroupSet { path, file, value } => op_builder(vocab::Op::CgroupSet)
            .key("path", path)
            .key("file", file)
            .key("value", value)
            .build(),
        Op::Spawn(spawn) => spawn_line(spawn),
        Op::Stop { group } => op_builder(vocab::Op::Stop).key("group", group).build(),
        Op::Move { from, to } => op_builder(vocab::Op::Move)
            .key("from", from)
            .key("to", to)
            .build(),
        Op::Affinity { group, cpus } => op_builder(vocab::Op::Affinity)
            .key("group", group)
            .key("cpus", cpus)
            .build(),
        Op::Write { path, value } => op_builder(vocab::Op::Write)
            .key("path", path)
            .key("value", value)
            .build(),
        Op::Payload(payload) => payload_line(payload),
        Op::SchedulerDetach => op_builder(vocab::Op::SchedulerDetach).build(),
        Op::SchedulerAttach { label } => op_builder(vocab::Op::SchedulerAttach)
            .key_opt("label", label.as_ref())
            .build(),
        Op::SchedulerRestart => op_builder(vocab::Op::SchedulerRestart).build(),
        Op::SchedulerReplace { label } => op_builder(vocab::Op::SchedulerReplace)
            .key("label", label)
            .build(),
        Op::CpuOffline { cpus } => op_builder(vocab::Op::CpuOffline).key("cpus", cpus).build(),
        Op::CpuOnline { cpus } => op_builder(vocab::Op::CpuOnline).key("cpus", cpus).build(),
    }
}

fn payload_line(payload: &Payload) -> String {
    let mut line = LineBuilder::op(vocab::Op::Payload)
        .key("name", &payload.name)
        .key("path", &payload.guest_path)
        .key_opt("cgroup", payload.cgroup.as_ref())
        .key_opt("timeout_ms", payload.timeout_ms);
    for arg in &payload.args {
        line = line.key("arg", arg);
    }
    line.build()
}

fn spawn_line(spawn: &Spawn) -> String {
    let mut line = LineBuilder::op(vocab::Op::Spawn)
        .key("group", &spawn.group)
        .key("cgroup", &spawn.cgroup)
        .key("work", &spawn.work)
        .key("count", spawn.count)
        .key("nice", spawn.nice)
        .key("policy", &spawn.policy)
        .key_opt("prio", spawn.prio)
        .key_opt("affinity", spawn.affinity.as_ref())
        .key_opt("expect", spawn.expect.as_ref())
        .key_opt("threads", spawn.threads.then_some(1));
    let work = schedbox_protocol::works::work(spawn.work.as_bytes());
    for (key, value) in &spawn.params {
        // A word key carries its word, not the word's index.
        match work.and_then(|w| w.key(key)).and_then(|k| k.word(*value)) {
            Some(word) => line = line.key(key, word),
            None => line = line.key(key, value),
        }
    }
    line.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::examples::text as example;
    use crate::scenario::{parse, VmShape};

    const VM: VmShape = VmShape::flat(2, 256);

    #[test]
    fn spin_scenario_compiles_to_the_example_plan() {
        let toml = r#"
            name = "spin-basic"
            duration_ms = 2000
            [[cgroup]]
            path = "work"
            weight = 100
            [[workers]]
            group = "spin"
            cgroup = "work"
            work = "spin"
            count = 2
        "#;
        let scenario = parse(toml, "test.toml", &VM).unwrap();
        assert_eq!(compile(&[scenario], &DEFAULT_CONFIG), example("spin.plan"));
    }

    #[test]
    fn a_group_run_as_threads_says_so_on_its_spawn_line() {
        let toml = |threads: bool| {
            format!(
                "name = \"t\"\nduration_ms = 100\n[[workers]]\ngroup = \"t\"\nwork = \"spin\"\n\
                 count = 4\nthreads = {threads}\n"
            )
        };
        let plan = |threads| {
            compile(
                &[parse(&toml(threads), "t.toml", &VM).unwrap()],
                &DEFAULT_CONFIG,
            )
        };
        let spawn = |plan: String| {
            plan.lines()
                .find(|l| l.starts_with("op spawn"))
                .map(str::to_string)
                .unwrap()
        };
        assert!(spawn(plan(true)).ends_with(" threads=1"), "{}", plan(true));
        assert!(!spawn(plan(false)).contains("threads"), "{}", plan(false));
        schedbox_protocol::plan::validate(plan(true).as_bytes()).unwrap();
    }

    #[test]
    fn steps_ops_and_checks_compile_in_order() {
        let toml = r#"
            name = "steps"
            [[cgroup]]
            path = "a/b"
            cpus = "1,0"
            max = "50000 100000"
            [[workers]]
            group = "rt"
            cgroup = "a/b"
            work = "bursty"
            policy = "fifo"
            affinity = "1"
            burst_ms = 5
            [[step]]
            hold_ms = 100
            ops = [{ op = "spawn", group = "rt" }]
            [[step]]
            hold_ms = 50
            ops = [
              { op = "cgroup-add", path = "c" },
              { op = "move", from = "a/b", to = "c" },
              { op = "affinity", group = "rt", cpus = "0-1" },
              { op = "stop", group = "rt" },
              { op = "cgroup-remove", path = "c" },
              { op = "write", path = "/proc/sys/kernel/sched_rt_runtime_us", value = -1 },
              { op = "freeze", path = "a/b" },
            ]
            [[check]]
            name = "bandwidth"
            cgroup = "a/b"
            limit = 1200
        "#;
        let scenario = parse(toml, "test.toml", &VM).unwrap();
        let plan = compile(&[scenario], &DEFAULT_CONFIG);
        let expected = "\
schedbox-plan 1
config heartbeat_ms=200 sample_ms=10 kmsg=1
scenario name=steps
step hold_ms=100
op cgroup-add path=a
op cgroup-add path=a/b
op cgroup-set path=a/b file=cpuset.cpus value=0-1
op cgroup-set path=a/b file=cpu.max value=50000%20100000
op spawn group=rt cgroup=a/b work=bursty count=1 nice=0 policy=fifo prio=1 affinity=1 burst_ms=5
step hold_ms=50
op cgroup-add path=c
op move from=a/b to=c
op affinity group=rt cpus=0-1
op stop group=rt
op cgroup-remove path=c
op write path=/proc/sys/kernel/sched_rt_runtime_us value=-1
op cgroup-set path=a/b file=cgroup.freeze value=1
check name=progress limit=1
check name=stall limit=1000
check name=kernel-log limit=0
check name=bandwidth limit=1200 cgroup=a/b
end
";
        assert_eq!(plan, expected);
    }

    #[test]
    fn scheduler_and_payloads_compile_like_the_example() {
        let toml = r#"
            name = "spin-simple"
            duration_ms = 3000
            [[cgroup]]
            path = "work"
            [[workers]]
            group = "spin"
            cgroup = "work"
            work = "spin"
            count = 2
            [[payload]]
            name = "help"
            path = "/bin/sh"
            args = ["-h"]
            cgroup = "work"
            [[check]]
            name = "scheduler"
        "#;
        let mut scenario = parse(toml, "test.toml", &VM).unwrap();
        // The example's payload is the scheduler binary itself, packed at its path.
        for op in scenario.steps.iter_mut().flat_map(|s| &mut s.ops) {
            if let Op::Payload(p) = op {
                p.guest_path = "/payload/scx_simple".into();
            }
        }
        let scheduler = PlanScheduler {
            path: "/payload/scx_simple".into(),
            name: Some("simple".into()),
            attach_ms: 20000,
            args: Vec::new(),
        };
        let config = PlanConfig {
            scheduler: Some(scheduler),
            ..DEFAULT_CONFIG
        };
        let plan = compile(&[scenario], &config);
        let example = example("scheduler.plan");
        for line in [
            "scheduler path=/payload/scx_simple name=simple attach_ms=20000",
            "op payload name=help path=/payload/scx_simple cgroup=work arg=-h",
            "check name=scheduler limit=0",
        ] {
            assert!(example.lines().any(|l| l == line), "example lacks {line}");
            assert!(plan.lines().any(|l| l == line), "{line} not in\n{plan}");
        }
        assert!(plan.find("scheduler path=").unwrap() < plan.find("scenario name=").unwrap());
        let qmap = PlanScheduler {
            path: "/payload/scheduler/scx_qmap".into(),
            name: None,
            attach_ms: 5,
            args: vec!["-t".into(), "10 x".into()],
        };
        let config = PlanConfig {
            scheduler: Some(qmap),
            ..DEFAULT_CONFIG
        };
        let plan = compile(&[], &config);
        assert!(plan.contains(
            "\nscheduler path=/payload/scheduler/scx_qmap attach_ms=5 arg=-t arg=10%20x\n"
        ));
    }

    #[test]
    fn built_in_scenario_compiles() {
        let scenario = parse(crate::scenario::BUILT_IN, "built-in", &VM).unwrap();
        let plan = compile(&[scenario], &DEFAULT_CONFIG);
        assert!(plan.contains("op spawn group=spin cgroup=work work=spin count=2"));
        assert!(plan.contains("check name=stall limit=1000"));
    }
}
