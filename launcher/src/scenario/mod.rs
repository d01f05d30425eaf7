//! Scenarios: what to run in the guest and what to check, loaded from TOML and validated
//! on the host so that the guest only ever sees a plan it can carry out.

pub mod catalog;
mod cgroups;
mod context;
pub mod file;
pub mod load;
mod locate;
pub mod payloads;
mod shaped;
mod steps;
mod suggest;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::topology::Shape;

/// The VM a scenario will run in; CPU sets and sizes are validated against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmShape {
    pub topology: Shape,
    pub memory_mib: u32,
}

impl VmShape {
    /// A flat machine of `cpus` vCPUs (what `--cpus` asks for).
    pub const fn flat(cpus: u32, memory_mib: u32) -> VmShape {
        VmShape {
            topology: Shape::flat(cpus),
            memory_mib,
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
    pub steps: Vec<Step>,
    pub checks: Vec<Check>,
    /// What validation found likely unmeant but not wrong (e.g. a cgroup nothing uses),
    /// each naming the file; printed before the run.
    pub warnings: Vec<String>,
}

impl Scenario {
    /// Time the guest holds in this scenario's steps.
    pub fn duration_ms(&self) -> u64 {
        self.steps.iter().map(|s| s.hold_ms).sum()
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
    SchedulerAttach,
    SchedulerRestart,
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
            Op::SchedulerDetach | Op::SchedulerAttach | Op::SchedulerRestart
        )
    }

    /// The op's word when it changes the scheduler or the CPUs (what refusals and
    /// limits ask about); `None` for the others.
    pub fn transition(&self) -> Option<schedbox_protocol::vocab::Op> {
        use schedbox_protocol::vocab::Op as Word;
        match self {
            Op::SchedulerDetach => Some(Word::SchedulerDetach),
            Op::SchedulerAttach => Some(Word::SchedulerAttach),
            Op::SchedulerRestart => Some(Word::SchedulerRestart),
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

/// Problems of one file listed at once; past this many the rest are only counted
/// (policy: enough to fix a file in one pass, few enough to read).
pub const MAX_REPORTED: usize = 20;

/// A scenario that cannot run, naming the file, the field and what to do; with the
/// file's other problems, so that one pass shows them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub source: String,
    /// The field at fault, e.g. `[[workers]] "spin".count`; empty for file-level problems.
    pub field: String,
    pub message: String,
    /// Line and column (from 1) of the field in the file, when known.
    pub at: Option<(u32, u32)>,
    /// The file's further problems, in the order found.
    pub more: Vec<ScenarioError>,
    /// Problems past [`MAX_REPORTED`], counted but not listed.
    pub unlisted: u32,
}

impl ScenarioError {
    pub fn new(source: &str, field: impl Into<String>, message: impl Into<String>) -> Self {
        ScenarioError {
            source: source.to_string(),
            field: field.into(),
            message: message.into(),
            at: None,
            more: Vec::new(),
            unlisted: 0,
        }
    }

    /// One error listing `problems` (not empty) in file order, the first as its own,
    /// each located in `text` where the field can be found.
    fn all(mut problems: Vec<ScenarioError>, text: &str) -> ScenarioError {
        for problem in &mut problems {
            problem.at = problem.at.or_else(|| locate::locate(text, &problem.field));
        }
        // In file order, as an editor walks them; those without a place last.
        problems.sort_by_key(|p| p.at.unwrap_or((u32::MAX, u32::MAX)));
        let unlisted = problems.len().saturating_sub(MAX_REPORTED) as u32;
        problems.truncate(MAX_REPORTED);
        let mut first = problems.remove(0);
        first.more = problems;
        first.unlisted = unlisted;
        first
    }

    fn fmt_one(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)?;
        if let Some((line, column)) = self.at {
            write!(f, ":{line}:{column}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_one(f)?;
        for other in &self.more {
            writeln!(f)?;
            other.fmt_one(f)?;
        }
        if self.unlisted > 0 {
            write!(
                f,
                "\n{}: {} more problems not listed: fix these first",
                self.source, self.unlisted
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

/// The field of a scenario that pins its machine.
pub const TOPOLOGY_FIELD: &str = "topology";

/// A scenario file parsed but not yet validated: the VM it is validated against depends
/// on its own `topology`, which the caller reads first.
#[derive(Debug, Clone)]
pub struct Unvalidated {
    file: file::ScenarioFile,
    /// The TOML as written, to locate fields in messages.
    text: String,
    pub source: String,
}

impl Unvalidated {
    /// Its `name`, as written (validation checks it).
    pub fn name(&self) -> &str {
        &self.file.name
    }

    /// The shape its `topology` pins, if any; one that cannot be booted in
    /// `memory_mib` is an error naming the field and the fix.
    pub fn topology(&self, memory_mib: u32) -> Result<Option<Shape>, ScenarioError> {
        let Some(text) = &self.file.topology else {
            return Ok(None);
        };
        let err = |message: String| {
            let mut e = ScenarioError::new(&self.source, TOPOLOGY_FIELD, message);
            e.at = locate::locate(&self.text, TOPOLOGY_FIELD);
            e
        };
        let shape = Shape::parse(text).map_err(|e| err(e.to_string()))?;
        crate::topology::fit::fits_vcpus(&shape).map_err(err)?;
        crate::topology::fit::fits_memory(&shape, memory_mib).map_err(err)?;
        Ok(Some(shape))
    }

    /// Validates it for `vm`, which must be the machine it runs on: its own `topology`
    /// if it pins one.
    pub fn validate(&self, vm: &VmShape) -> Result<Scenario, ScenarioError> {
        let mut scenario = validate::lower(&self.file, &self.source, vm)
            .map_err(|problems| ScenarioError::all(problems, &self.text))?;
        scenario.topology = self.topology(vm.memory_mib)?;
        Ok(scenario)
    }
}

/// Reads and parses a scenario file, not yet validated.
pub fn read(path: &Path) -> Result<Unvalidated, ScenarioError> {
    let source = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ScenarioError::new(&source, "", format!("cannot read the scenario: {e}")))?;
    parse_only(&text, &source)
}

/// Parses scenario TOML, not yet validated; `source` names it in errors.
pub fn parse_only(text: &str, source: &str) -> Result<Unvalidated, ScenarioError> {
    let file: file::ScenarioFile = toml::from_str(text).map_err(|e| {
        let hint = suggest::unknown_key_hint(e.message()).unwrap_or_default();
        let mut error = ScenarioError::new(
            source,
            "",
            format!("not a valid scenario (see docs/scenarios.md){hint}:\n{e}"),
        );
        error.at = e.span().map(|span| locate::line_column(text, span.start));
        error
    })?;
    Ok(Unvalidated {
        file,
        text: text.to_string(),
        source: source.to_string(),
    })
}

/// Reads and validates a scenario file for the machine it runs on: its own `topology`
/// if it pins one (with `vm`'s memory), else `vm`.
pub fn load(path: &Path, vm: &VmShape) -> Result<Scenario, ScenarioError> {
    validate_on_own_shape(read(path)?, vm)
}

/// Parses and validates scenario TOML as [`load`] does; `source` names it in errors.
pub fn parse(text: &str, source: &str, vm: &VmShape) -> Result<Scenario, ScenarioError> {
    validate_on_own_shape(parse_only(text, source)?, vm)
}

fn validate_on_own_shape(parsed: Unvalidated, vm: &VmShape) -> Result<Scenario, ScenarioError> {
    let own = parsed.topology(vm.memory_mib)?.map(|topology| VmShape {
        topology,
        memory_mib: vm.memory_mib,
    });
    parsed.validate(own.as_ref().unwrap_or(vm))
}

/// The scenario `schedbox run` uses when given none.
pub const BUILT_IN: &str = include_str!("../../../scenarios/spin.toml");

#[cfg(test)]
mod tests;
