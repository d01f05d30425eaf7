//! The words of the protocol as types: plan verbs and ops with the keys each accepts,
//! scheduling policies, record kinds, scheduler events and the values records carry.
//! Each word is written once, here; both sides encode with [`Word::word`] and decode with
//! [`Word::parse`], so a word one side does not know is an error, never a string that
//! silently matches nothing.

use core::fmt;

/// A closed vocabulary: every value has one wire word.
pub trait Word: Copy + 'static {
    /// Every value, in documentation order.
    const ALL: &'static [Self];
    /// The word on the wire.
    fn word(self) -> &'static str;

    /// The value whose word is `word`, if any.
    fn parse(word: &[u8]) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.word().as_bytes() == word)
    }
}

/// Defines an enum of wire words with [`Word`] and `Display`.
macro_rules! words {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $var:ident = $word:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $var,)+
        }

        impl $name {
            /// The word on the wire (usable in constants).
            pub const fn word(self) -> &'static str {
                match self {
                    $($name::$var => $word,)+
                }
            }
        }

        impl Word for $name {
            const ALL: &'static [Self] = &[$($name::$var,)+];
            fn word(self) -> &'static str {
                $name::word(self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.word())
            }
        }
    };
}
pub(crate) use words;

/// What a plan verb or op accepts.
pub struct Spec {
    pub required: &'static [&'static str],
    pub optional: &'static [&'static str],
}

const fn spec(required: &'static [&'static str], optional: &'static [&'static str]) -> Spec {
    Spec { required, optional }
}

words! {
    /// The first word of a plan line.
    Verb {
        Version = "schedbox-plan",
        Config = "config",
        Scheduler = "scheduler",
        Scenario = "scenario",
        Step = "step",
        Op = "op",
        Check = "check",
        End = "end",
    }
}

impl Verb {
    pub const fn spec(self) -> Spec {
        match self {
            Verb::Version | Verb::Op | Verb::End => spec(&[], &[]),
            Verb::Config => spec(&[], &["heartbeat_ms", "sample_ms", "kmsg"]),
            Verb::Scheduler => spec(&["path"], &["name", "attach_ms", "arg", "label"]),
            Verb::Scenario => spec(&["name"], &["scheduler"]),
            Verb::Step => spec(&["hold_ms"], &["until"]),
            Verb::Check => spec(
                &["name", "limit"],
                &["group", "cgroup", "forward", "percentile", "window_ms"],
            ),
        }
    }

    /// Verbs followed by a bare word: the version, the op's name.
    pub const fn takes_bare(self) -> bool {
        matches!(self, Verb::Version | Verb::Op)
    }
}

words! {
    /// The bare word after `op`: what a step does.
    Op {
        CgroupAdd = "cgroup-add",
        CgroupRemove = "cgroup-remove",
        CgroupSet = "cgroup-set",
        Spawn = "spawn",
        Stop = "stop",
        Move = "move",
        Affinity = "affinity",
        Write = "write",
        Payload = "payload",
        /// The run's scheduler leaves: its process is stopped and the kernel's class
        /// switches back to the fair one.
        SchedulerDetach = "scheduler-detach",
        /// The run's scheduler (or the one `label=` names) is started again and waited
        /// for until enabled.
        SchedulerAttach = "scheduler-attach",
        /// Detach, then attach the same scheduler.
        SchedulerRestart = "scheduler-restart",
        /// Detach the attached scheduler, then attach the one `label=` names.
        SchedulerReplace = "scheduler-replace",
        /// `cpus=` go offline (`/sys/devices/system/cpu/cpuN/online`).
        CpuOffline = "cpu-offline",
        /// `cpus=` come back online.
        CpuOnline = "cpu-online",
    }
}

impl Op {
    pub const fn spec(self) -> Spec {
        match self {
            Op::CgroupAdd | Op::CgroupRemove => spec(&["path"], &[]),
            Op::CgroupSet => spec(&["path", "file", "value"], &[]),
            Op::Spawn => spec(
                &["group", "cgroup", "work"],
                &[
                    "count", "nice", "policy", "prio", "affinity", "expect", "threads",
                ],
            ),
            Op::Stop => spec(&["group"], &[]),
            Op::Move => spec(&["from", "to"], &[]),
            Op::Affinity => spec(&["group", "cpus"], &[]),
            Op::Write => spec(&["path", "value"], &[]),
            Op::Payload => spec(&["name", "path"], &["cgroup", "arg", "timeout_ms"]),
            Op::SchedulerDetach | Op::SchedulerRestart => spec(&[], &[]),
            Op::SchedulerAttach => spec(&[], &["label"]),
            Op::SchedulerReplace => spec(&["label"], &[]),
            Op::CpuOffline | Op::CpuOnline => spec(&["cpus"], &[]),
        }
    }

    /// Ops that act on the run's scheduler: a plan without a `scheduler` line has none.
    pub const fn is_scheduler_op(self) -> bool {
        matches!(
            self,
            Op::SchedulerDetach | Op::SchedulerAttach | Op::SchedulerRestart | Op::SchedulerReplace
        )
    }

    /// Ops that take CPUs offline or online.
    pub const fn is_hotplug(self) -> bool {
        matches!(self, Op::CpuOffline | Op::CpuOnline)
    }

    /// How many times the op may switch the kernel between the fair class and
    /// sched_ext: a detach or an attach once, a restart twice, and a CPU hotplug
    /// twice (a scheduler without CPU hotplug callbacks is exited by the kernel and
    /// attaches again). What the default stall limit grants for transitions counts these.
    pub const fn class_switches(self) -> u64 {
        match self {
            Op::SchedulerDetach | Op::SchedulerAttach => 1,
            Op::SchedulerRestart | Op::SchedulerReplace | Op::CpuOffline | Op::CpuOnline => 2,
            _ => 0,
        }
    }

    /// Whether the op's `path=` is a file in the guest (else a cgroup path).
    pub const fn path_is_file(self) -> bool {
        matches!(self, Op::Write | Op::Payload)
    }
}

/// Keys that may appear more than once on a line, in order.
pub const REPEATABLE: &[&str] = &["arg"];

words! {
    /// `scheduler=` of a `scenario` line: whether the run's scheduler is attached when
    /// its first step begins (the default) or not until a step attaches one.
    SchedulerStart {
        Attached = "attached",
        Detached = "detached",
    }
}

words! {
    /// Scheduling policies a spawn may ask for (`policy=`).
    Policy {
        Other = "other",
        Batch = "batch",
        Idle = "idle",
        Fifo = "fifo",
        Rr = "rr",
    }
}

impl Policy {
    /// Real-time policies, which take a priority (`prio=`).
    pub const fn is_realtime(self) -> bool {
        matches!(self, Policy::Fifo | Policy::Rr)
    }
}

words! {
    /// Limits a spawn's workers may be meant to meet (`expect=`), judged by the `expect`
    /// check: forks refused with EAGAIN (`pids.max`), the OOM killer (`memory.max`).
    Expect {
        ForkRefused = "fork-refused",
        OomKilled = "oom-killed",
    }
}

words! {
    /// `step until=`: what ends a hold before its `hold_ms` (which stays the limit).
    Until {
        /// No payload of the scenario is running any more.
        Payloads = "payloads",
    }
}

words! {
    /// The kind of a record line (docs/protocol.md, "Records").
    RecordKind {
        Boot = "boot",
        Cpu = "cpu",
        Node = "node",
        Heartbeat = "heartbeat",
        Scheduler = "scheduler",
        Output = "output",
        Scenario = "scenario",
        Step = "step",
        Worker = "worker",
        Stall = "stall",
        Kmsg = "kmsg",
        Payload = "payload",
        CpuState = "cpu-state",
        Evidence = "evidence",
        Check = "check",
        ScenarioEnd = "scenario-end",
        Error = "error",
        Done = "done",
    }
}

words! {
    /// `event=` of a `scheduler` record.
    SchedulerEvent {
        Attached = "attached",
        AttachFailed = "attach-failed",
        Ejected = "ejected",
        Exited = "exited",
        Stopped = "stopped",
        /// Left on a step's request (`scheduler-detach`, `scheduler-restart`).
        Detached = "detached",
        /// Exited by the kernel on a CPU hotplug (it has no CPU hotplug callbacks) and
        /// attached again by its own process, as sched_ext asks of such schedulers.
        Restarted = "restarted",
    }
}

impl SchedulerEvent {
    /// The scheduler under test did not hold: it never attached, the kernel ejected it,
    /// or its process ended while the scenarios ran.
    pub const fn is_failure(self) -> bool {
        matches!(
            self,
            SchedulerEvent::AttachFailed | SchedulerEvent::Ejected | SchedulerEvent::Exited
        )
    }
}

words! {
    /// `cause=` of an `evidence` record: the failure its lines explain.
    EvidenceCause {
        /// A worker the monitor found runnable without progress past the stall limit.
        Stall = "stall",
        /// The kernel ejected the sched_ext scheduler under test.
        Ejected = "ejected",
        /// The sched_ext scheduler's program ended on its own while it was meant to run.
        Exited = "exited",
    }
}

words! {
    /// `source=` of an `evidence` record: where its lines were read.
    EvidenceSource {
        /// The kernel's sched_ext state dump, read from its `sched_ext_dump` trace event:
        /// the one the kernel writes when it ejects a scheduler, or one SysRq-D asks for.
        SchedExtDump = "sched-ext-dump",
        /// The stalled worker's CPU's section of /proc/sched_debug (its run queues).
        SchedDebug = "sched-debug",
    }
}

words! {
    /// `source=` of an `output` record.
    OutputSource {
        Scheduler = "scheduler",
        Payload = "payload",
    }
}

words! {
    /// `part=` of an `output` record: a line from the end of a payload's output, sent
    /// after lines that were not forwarded.
    OutputPart {
        Tail = "tail",
    }
}

words! {
    /// `status=` of a `done` record.
    DoneStatus {
        Ok = "ok",
        Error = "error",
    }
}

words! {
    /// `result=` of a `check` record.
    CheckResult {
        Pass = "pass",
        Fail = "fail",
    }
}

words! {
    /// `outcome=` of a `scenario-end` record: the guest's word on the scenario; `error`
    /// when it could not be carried out (an `error` record says why).
    ScenarioOutcome {
        Pass = "pass",
        Fail = "fail",
        Error = "error",
    }
}

words! {
    /// `where=` of an `error` record: what PID 1 was doing when it failed.
    ErrorPlace {
        Plan = "plan",
        Init = "init",
        Mount = "mount",
        Cgroup = "cgroup",
        Spawn = "spawn",
        Stop = "stop",
        Affinity = "affinity",
        Write = "write",
        Exec = "exec",
        Payload = "payload",
        Scheduler = "scheduler",
        Hotplug = "hotplug",
        Worker = "worker",
        Panic = "panic",
    }
}

/// `status=` of a `payload` record that PID 1 killed (others are exit codes or `signal:N`).
pub const PAYLOAD_KILLED: &str = "killed";

#[cfg(test)]
mod tests {
    use super::*;

    fn words_are_unique_and_parse_back<W: Word + PartialEq + fmt::Debug>() {
        for (i, w) in W::ALL.iter().enumerate() {
            assert_eq!(W::parse(w.word().as_bytes()), Some(*w));
            assert!(crate::line::is_word(w.word().as_bytes()), "{w:?}");
            assert!(W::ALL[..i].iter().all(|o| o.word() != w.word()));
        }
        assert_eq!(W::parse(b"no-such-word"), None);
    }

    #[test]
    fn every_vocabulary_round_trips() {
        words_are_unique_and_parse_back::<Verb>();
        words_are_unique_and_parse_back::<Op>();
        words_are_unique_and_parse_back::<Policy>();
        words_are_unique_and_parse_back::<Expect>();
        words_are_unique_and_parse_back::<Until>();
        words_are_unique_and_parse_back::<RecordKind>();
        words_are_unique_and_parse_back::<SchedulerEvent>();
        words_are_unique_and_parse_back::<EvidenceCause>();
        words_are_unique_and_parse_back::<EvidenceSource>();
        words_are_unique_and_parse_back::<OutputSource>();
        words_are_unique_and_parse_back::<OutputPart>();
        words_are_unique_and_parse_back::<DoneStatus>();
        words_are_unique_and_parse_back::<CheckResult>();
        words_are_unique_and_parse_back::<ScenarioOutcome>();
        words_are_unique_and_parse_back::<ErrorPlace>();
    }
}
