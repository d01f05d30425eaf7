//! What a validated scenario is: the VM it runs in, its steps and ops, workers, payloads
//! and checks. The rest of `scenario/` builds these; the plan compiler reads them.

use std::path::PathBuf;

use std::borrow::Cow;

use crate::topology::{Layout, Shape};
use schedbox_protocol::checks::Percentile;

/// The VM a scenario will run in; CPU sets and sizes are validated against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmShape {
    pub topology: Shape,
    pub memory_mib: u32,
    /// With `--host`: this machine's CPUs as sysfs places them, which CPU sets resolve
    /// on instead of `topology`'s. It lives as long as the process (one machine).
    pub host: Option<&'static Layout>,
}

impl VmShape {
    /// A flat machine of `cpus` vCPUs (what `--cpus` asks for).
    pub const fn flat(cpus: u32, memory_mib: u32) -> VmShape {
        VmShape {
            topology: Shape::flat(cpus),
            memory_mib,
            host: None,
        }
    }

    /// Where each CPU sits, as CPU sets resolve.
    pub fn layout(&self) -> Cow<'static, Layout> {
        match self.host {
            Some(host) => Cow::Borrowed(host),
            None => Cow::Owned(Layout::of_shape(&self.topology)),
        }
    }

    pub fn cpus(&self) -> u32 {
        self.topology.vcpus()
    }
}

/// A validated scenario, ready to compile into a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    pub name: String,
    pub description: Option<String>,
    /// Where it came from, for messages: a file path or "built-in".
    pub source: String,
    /// The shape its own `topology` pins; None runs on the command line's.
    pub topology: Option<Shape>,
    /// Whether its writes under /sys/kernel/debug may run on a host (`run --host`).
    pub host_debugfs: bool,
    pub steps: Vec<Step>,
    pub checks: Vec<Check>,
    /// What validation found likely unmeant but not wrong (e.g. a cgroup nothing uses),
    /// each naming the file; printed before the run.
    pub warnings: Vec<String>,
    /// The run's scheduler is not attached when its first step begins.
    pub starts_detached: bool,
    /// Schedulers besides the run's that its ops name, by label.
    pub schedulers: Vec<NamedScheduler>,
}

/// A scheduler a scenario declares by label (`[schedulers.LABEL]`); the run resolves
/// its program, or takes it from `--extra-scheduler`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedScheduler {
    pub label: String,
    /// As written: a path (relative to the scenario's folder) or a name; None when the
    /// command line must give it.
    pub program: Option<String>,
    pub args: Vec<String>,
    /// The ops name it must attach as.
    pub name: Option<String>,
}

impl Scenario {
    /// Time the guest holds in this scenario's steps.
    pub fn duration_ms(&self) -> u64 {
        self.steps.iter().map(|s| s.hold_ms).sum()
    }

    /// Whether it needs the run's scheduler: it starts detached, or a step detaches,
    /// attaches, restarts or replaces a scheduler.
    pub fn uses_scheduler(&self) -> bool {
        self.starts_detached
            || self
                .steps
                .iter()
                .flat_map(|s| &s.ops)
                .any(Op::is_scheduler_op)
    }

    /// The payloads its steps start, in order.
    pub fn payloads(&self) -> impl Iterator<Item = &Payload> {
        self.steps
            .iter()
            .flat_map(|s| &s.ops)
            .filter_map(|op| match op {
                Op::Payload(p) => Some(p),
                _ => None,
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub hold_ms: u64,
    /// The hold ends early once the scenario's payloads have all ended.
    pub until_payloads: bool,
    pub ops: Vec<Op>,
}

/// One plan op, with every reference resolved and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    CgroupAdd {
        path: String,
    },
    CgroupRemove {
        path: String,
    },
    CgroupSet {
        path: String,
        file: String,
        value: String,
    },
    Spawn(Spawn),
    Stop {
        group: String,
    },
    Move {
        from: String,
        to: String,
    },
    Affinity {
        group: String,
        cpus: String,
    },
    /// A value for a kernel knob: a file named by its absolute path.
    Write {
        path: String,
        value: String,
    },
    Payload(Payload),
    /// The run's scheduler leaves, comes back, or both (docs/scenarios.md, "Scheduler
    /// lifecycle").
    SchedulerDetach,
    /// The run's scheduler (`label` None) or a labelled one attaches.
    SchedulerAttach {
        label: Option<String>,
    },
    SchedulerRestart,
    /// The attached scheduler leaves and the labelled one attaches.
    SchedulerReplace {
        label: String,
    },
    /// CPUs (a CPU list, never CPU 0) taken offline or brought back online.
    CpuOffline {
        cpus: String,
    },
    CpuOnline {
        cpus: String,
    },
}

impl Op {
    /// Whether it detaches, attaches or restarts the run's scheduler.
    pub fn is_scheduler_op(&self) -> bool {
        matches!(
            self,
            Op::SchedulerDetach
                | Op::SchedulerAttach { .. }
                | Op::SchedulerRestart
                | Op::SchedulerReplace { .. }
        )
    }

    /// The op's word when it changes the scheduler or the CPUs (what refusals and
    /// limits ask about); `None` for the others.
    pub fn transition(&self) -> Option<schedbox_protocol::vocab::Op> {
        use schedbox_protocol::vocab::Op as Word;
        match self {
            Op::SchedulerDetach => Some(Word::SchedulerDetach),
            Op::SchedulerAttach { .. } => Some(Word::SchedulerAttach),
            Op::SchedulerRestart => Some(Word::SchedulerRestart),
            Op::SchedulerReplace { .. } => Some(Word::SchedulerReplace),
            Op::CpuOffline { .. } => Some(Word::CpuOffline),
            Op::CpuOnline { .. } => Some(Word::CpuOnline),
            _ => None,
        }
    }
}

/// A host program run in the guest beside the workers (docs/scenarios.md, `[[payload]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// Unique in its scenario; records name it.
    pub name: String,
    /// The program on the host, packed with its loader and libraries.
    pub host_path: PathBuf,
    /// Where the program is in the guest.
    pub guest_path: String,
    pub args: Vec<String>,
    /// Files copied beside the program, as they are (no libraries added).
    pub files: Vec<PayloadData>,
    /// Relative to the scenario's cgroup; `None` leaves it in PID 1's cgroup.
    pub cgroup: Option<String>,
    pub timeout_ms: Option<u64>,
    /// The status the run needs it to end with: an exit status, `killed`, `signal:N`,
    /// or `any`.
    pub expect_status: String,
    /// What its output must (not) say.
    pub output: OutputRules,
}

/// A data file a payload reads: where it is on the host and in the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadData {
    pub host_path: PathBuf,
    pub guest_path: String,
}

/// How a payload's output is judged, besides its status (docs/scenarios.md).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputRules {
    /// Regular expressions: a line matching one fails the payload.
    pub fail_on: Vec<String>,
    /// Regular expressions: each must match a line.
    pub pass_on: Vec<String>,
    /// Its output is TAP: every `not ok` fails it, and so does an incomplete plan.
    pub tap: bool,
}

impl OutputRules {
    pub fn is_empty(&self) -> bool {
        self.fail_on.is_empty() && self.pass_on.is_empty() && !self.tap
    }
}

/// A worker group to fork.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spawn {
    pub group: String,
    pub cgroup: String,
    pub work: String,
    pub count: u64,
    pub nice: i64,
    pub policy: String,
    /// RT priority, only for `fifo` and `rr`.
    pub prio: Option<u64>,
    pub affinity: Option<String>,
    /// The limit the workers are meant to meet (`fork-refused`, `oom-killed`).
    pub expect: Option<String>,
    /// Its workers are threads of one process, not processes of their own.
    pub threads: bool,
    /// Work parameters that were given, as (plan key, value).
    pub params: Vec<(&'static str, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub limit: u64,
    pub group: Option<String>,
    pub cgroup: Option<String>,
    /// `kernel-log` only: what the host judges the forwarded kernel log by.
    pub log: LogRules,
    /// What only some checks take; the plan carries each one its check has.
    pub params: CheckParams,
}

/// The settings of the checks that have more than a limit, always given for their
/// check (the default where the file gave none), none for the others.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckParams {
    /// `latency`: the figure judged.
    pub percentile: Option<Percentile>,
    /// `imbalance`: how long the ratio must hold.
    pub window_ms: Option<u64>,
}

/// Regular expressions over the kernel log lines of a scenario (`kernel-log`'s `allow`
/// and `expect`), checked to compile. With any, the guest forwards every line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogRules {
    /// Problem lines that match one of these do not count.
    pub allow: Vec<String>,
    /// Each must match a line logged during the scenario.
    pub expect: Vec<String>,
}

impl LogRules {
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.expect.is_empty()
    }
}
