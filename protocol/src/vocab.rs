//! The words of the protocol: plan verbs and ops with the keys each accepts, scheduling
//! policies, record kinds and scheduler events.

/// What a plan verb or op accepts.
pub struct Spec {
    pub name: &'static str,
    pub required: &'static [&'static str],
    pub optional: &'static [&'static str],
}

const fn spec(
    name: &'static str,
    required: &'static [&'static str],
    optional: &'static [&'static str],
) -> Spec {
    Spec {
        name,
        required,
        optional,
    }
}

pub const VERB_VERSION: &str = "schedbox-plan";
pub const VERB_CONFIG: &str = "config";
pub const VERB_SCHEDULER: &str = "scheduler";
pub const VERB_SCENARIO: &str = "scenario";
pub const VERB_STEP: &str = "step";
pub const VERB_OP: &str = "op";
pub const VERB_CHECK: &str = "check";
pub const VERB_END: &str = "end";

pub const VERBS: &[Spec] = &[
    spec(VERB_VERSION, &[], &[]),
    spec(VERB_CONFIG, &[], &["heartbeat_ms", "sample_ms", "kmsg"]),
    spec(VERB_SCHEDULER, &["path"], &["name", "attach_ms", "arg"]),
    spec(VERB_SCENARIO, &["name"], &[]),
    spec(VERB_STEP, &["hold_ms"], &["until"]),
    spec(VERB_OP, &[], &[]),
    spec(
        VERB_CHECK,
        &["name", "limit"],
        &["group", "cgroup", "forward"],
    ),
    spec(VERB_END, &[], &[]),
];

pub const OP_CGROUP_ADD: &str = "cgroup-add";
pub const OP_CGROUP_REMOVE: &str = "cgroup-remove";
pub const OP_CGROUP_SET: &str = "cgroup-set";
pub const OP_SPAWN: &str = "spawn";
pub const OP_STOP: &str = "stop";
pub const OP_MOVE: &str = "move";
pub const OP_AFFINITY: &str = "affinity";
pub const OP_WRITE: &str = "write";
pub const OP_PAYLOAD: &str = "payload";

pub const OPS: &[Spec] = &[
    spec(OP_CGROUP_ADD, &["path"], &[]),
    spec(OP_CGROUP_REMOVE, &["path"], &[]),
    spec(OP_CGROUP_SET, &["path", "file", "value"], &[]),
    spec(
        OP_SPAWN,
        &["group", "cgroup", "work"],
        &["count", "nice", "policy", "prio", "affinity", "expect"],
    ),
    spec(OP_STOP, &["group"], &[]),
    spec(OP_MOVE, &["from", "to"], &[]),
    spec(OP_AFFINITY, &["group", "cpus"], &[]),
    spec(OP_WRITE, &["path", "value"], &[]),
    spec(
        OP_PAYLOAD,
        &["name", "path"],
        &["cgroup", "arg", "timeout_ms"],
    ),
];

/// Keys that may appear more than once on a line, in order.
pub const REPEATABLE: &[&str] = &["arg"];

/// Scheduling policies a spawn may ask for (`policy=`).
pub const POLICIES: &[&str] = &["other", "batch", "idle", "fifo", "rr"];
/// Limits a spawn's workers may be meant to meet (`expect=`), judged by the `expect`
/// check: forks refused with EAGAIN (`pids.max`), the OOM killer (`memory.max`).
pub const EXPECT_FORK_REFUSED: &str = "fork-refused";
pub const EXPECT_OOM_KILLED: &str = "oom-killed";
pub const EXPECTS: &[&str] = &[EXPECT_FORK_REFUSED, EXPECT_OOM_KILLED];

/// `step until=`: what ends a hold before its `hold_ms` (which stays the limit).
/// `payloads`: no payload of the scenario is running any more.
pub const UNTIL_PAYLOADS: &str = "payloads";
pub const UNTILS: &[&str] = &[UNTIL_PAYLOADS];

/// Policies that take a real-time priority (`prio=`).
pub const RT_POLICIES: &[&str] = &["fifo", "rr"];

pub fn verb(name: &str) -> Option<&'static Spec> {
    VERBS.iter().find(|s| s.name == name)
}

pub fn op(name: &str) -> Option<&'static Spec> {
    OPS.iter().find(|s| s.name == name)
}

/// Record kinds (docs/protocol.md, "Records").
pub mod record {
    pub const BOOT: &str = "boot";
    pub const CPU: &str = "cpu";
    pub const NODE: &str = "node";
    pub const HEARTBEAT: &str = "heartbeat";
    pub const SCHEDULER: &str = "scheduler";
    pub const OUTPUT: &str = "output";
    pub const SCENARIO: &str = "scenario";
    pub const STEP: &str = "step";
    pub const WORKER: &str = "worker";
    pub const STALL: &str = "stall";
    pub const KMSG: &str = "kmsg";
    pub const PAYLOAD: &str = "payload";
    pub const CHECK: &str = "check";
    pub const SCENARIO_END: &str = "scenario-end";
    pub const ERROR: &str = "error";
    pub const DONE: &str = "done";

    pub const KINDS: &[&str] = &[
        BOOT,
        CPU,
        NODE,
        HEARTBEAT,
        SCHEDULER,
        OUTPUT,
        SCENARIO,
        STEP,
        WORKER,
        STALL,
        KMSG,
        PAYLOAD,
        CHECK,
        SCENARIO_END,
        ERROR,
        DONE,
    ];
}

/// `event=` of a `scheduler` record.
pub mod scheduler_event {
    pub const ATTACHED: &str = "attached";
    pub const ATTACH_FAILED: &str = "attach-failed";
    pub const EJECTED: &str = "ejected";
    pub const EXITED: &str = "exited";
    pub const STOPPED: &str = "stopped";

    pub const ALL: &[&str] = &[ATTACHED, ATTACH_FAILED, EJECTED, EXITED, STOPPED];
}

/// `source=` of an `output` record.
pub mod output_source {
    pub const SCHEDULER: &str = "scheduler";
    pub const PAYLOAD: &str = "payload";
}

/// `status=` of a `done` record.
pub mod done_status {
    pub const OK: &str = "ok";
    pub const ERROR: &str = "error";
}

/// `status=` of a `payload` record that PID 1 killed (others are exit codes or `signal:N`).
pub const PAYLOAD_KILLED: &str = "killed";
