//! Parses the guest's record lines (docs/protocol.md, "Records").

use serde::Serialize;

use schedbox_protocol::limits::MAX_LINE;
use schedbox_protocol::line::{self, Values};
use schedbox_protocol::msg::{parse_u64, Lossy};
pub use schedbox_protocol::vocab::{
    CheckResult, DoneStatus, ErrorPlace, EvidenceCause, EvidenceSource, Op, OutputPart,
    OutputSource, RecordKind, ScenarioOutcome, SchedulerEvent, Word,
};

use crate::protocol::words::{word, word_opt};

/// Every record line starts with this field; other lines are not records.
pub const MARKER: &str = schedbox_protocol::limits::RECORD_MARKER;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkerRecord {
    pub scenario: String,
    pub group: String,
    pub index: u64,
    pub pid: u64,
    /// The process its thread belongs to, for a group run as threads (`threads = true`):
    /// the same for every worker of the group, `pid` being the thread's own id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tgid: Option<u64>,
    pub work: String,
    pub iterations: u64,
    pub cpu_ns: u64,
    pub wait_ns: u64,
    pub slices: u64,
    pub cpus: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wake_p50_us: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wake_p90_us: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wake_p99_us: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wake_max_us: Option<u64>,
    /// How many wake-ups the percentiles are of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wake_samples: Option<u64>,
    /// The worker's task name in the guest kernel (`sbx-<group>-<index>`, cut to 15
    /// bytes), as the guest read it from /proc.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comm: Option<String>,
    /// The limit the worker was meant to meet (`fork-refused`, `oom-killed`), and what
    /// the guest saw of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forks_refused: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom_killed: Option<u64>,
    /// The kernel's count of its migrations (`se.nr_migrations`), and the LLC and node
    /// boundaries the guest saw it cross.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migrations: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llc_crossings: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_crossings: Option<u64>,
    /// `numa-working-set`: the pages of its working set, and those on its policy's nodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numa_pages: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numa_local_pages: Option<u64>,
    /// `cgroup-churn`: how many of its scenario's cgroups it saw itself in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroups_seen: Option<u64>,
}

/// Where the guest kernel put one CPU (sysfs topology and last-level cache).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CpuRecord {
    pub index: u64,
    pub package: u64,
    pub die: Option<u64>,
    pub core: Option<u64>,
    /// Its thread siblings, a CPU list.
    pub siblings: Option<String>,
    /// The CPUs sharing its last-level cache, a CPU list.
    pub llc: Option<String>,
    pub node: Option<u64>,
}

/// One NUMA node as the guest kernel sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeRecord {
    pub index: u64,
    pub cpus: String,
    pub memory_kb: Option<u64>,
    /// Distances to every node, in node order.
    pub distances: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StallRecord {
    pub scenario: String,
    pub group: String,
    pub index: u64,
    pub pid: u64,
    pub cgroup: String,
    pub cpu: String,
    pub state: String,
    pub gap_ms: u64,
    /// Guest time (ms) of the worker's last progress before the gap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_progress_ms: Option<u64>,
    /// Guest time (ms) the monitor first saw the gap over the stall limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detected_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckRecord {
    pub scenario: String,
    pub name: String,
    pub passed: bool,
    pub value: u64,
    pub limit: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// `kernel-log` with every line forwarded: how many were, and how many were not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forwarded: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PayloadRecord {
    pub scenario: String,
    pub name: String,
    pub pid: u64,
    /// Exit code, `signal:N`, or `killed` when PID 1 killed it.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub t_ms: Option<u64>,
    /// Its last output bytes.
    pub output: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped: Option<u64>,
    /// Output lines the guest sent as `output` records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines: Option<u64>,
}

/// An event in the life of the sched_ext scheduler under test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchedulerRecord {
    #[serde(serialize_with = "word")]
    pub event: SchedulerEvent,
    pub name: String,
    /// `/sys/kernel/sched_ext/state` when the record was sent.
    pub state: String,
    pub ops: String,
    pub pid: u64,
    pub t_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kmsg_t_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped: Option<u64>,
    /// The step's op that asked for the transition (`detached`, `attached` again,
    /// `restarted` after a hotplug); `None` at the start and at a scenario's end.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "word_opt")]
    pub op: Option<Op>,
    /// How long the transition took, ms (an attach: from starting the process to
    /// the kernel having it enabled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub took_ms: Option<u64>,
    /// sched_ext's state and ops name when the transition began.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ops_before: Option<String>,
}

/// A CPU taken offline or brought back by a step (or at a scenario's end).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CpuStateRecord {
    pub scenario: String,
    pub cpu: u64,
    pub online: bool,
    pub t_ms: u64,
    pub took_ms: u64,
    /// Workers whose every allowed CPU was offline, which the kernel moved elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved: Option<u64>,
    /// Their `group/index` names (as many as fit a record).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<String>,
}

impl SchedulerRecord {
    /// The scheduler under test did not hold: it never attached, the kernel ejected it,
    /// or its process ended while the scenarios ran.
    pub fn is_failure(&self) -> bool {
        self.event.is_failure()
    }
}

/// One line of a scheduler's or payload's stdout/stderr.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutputRecord {
    #[serde(serialize_with = "word")]
    pub source: OutputSource,
    pub name: String,
    /// The scenario a payload ran in; `None` for the scheduler.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    pub text: String,
    /// `tail`: a line from the end of a payload's output, after lines not forwarded.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "word_opt")]
    pub part: Option<OutputPart>,
}

/// A line of evidence on a failure (`text`), or the end of its piece (`lines`,
/// `dropped_bytes`); the lines of one piece share `capture`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceRecord {
    pub capture: u64,
    pub cause: EvidenceCause,
    pub source: EvidenceSource,
    pub pid: Option<u64>,
    pub cpu: Option<u64>,
    pub text: Option<String>,
    pub lines: Option<u64>,
    pub dropped_bytes: Option<u64>,
}

/// One record from the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Boot {
        release: String,
        cpus: u64,
        uptime_ms: u64,
        /// When PID 1 started (CLOCK_BOOTTIME ms); a guest before this key sent none.
        init_ms: Option<u64>,
        sched_ext: String,
    },
    Cpu(CpuRecord),
    Node(NodeRecord),
    Heartbeat {
        t_ms: u64,
    },
    Scheduler(Box<SchedulerRecord>),
    Output(OutputRecord),
    Scenario {
        name: String,
        t_ms: u64,
    },
    Step {
        scenario: String,
        index: u64,
        t_ms: u64,
    },
    Worker(Box<WorkerRecord>),
    Stall(StallRecord),
    Kmsg {
        level: String,
        text: String,
        /// The scenario whose every kernel log line is forwarded; `None` for a problem
        /// line the guest picked.
        scenario: Option<String>,
    },
    Payload(PayloadRecord),
    CpuState(CpuStateRecord),
    Evidence(EvidenceRecord),
    Check(CheckRecord),
    ScenarioEnd {
        name: String,
        t_ms: u64,
        /// CPU time PID 1 itself used during the scenario: the monitor, and forking,
        /// readying and stopping the workers.
        init_cpu_ns: Option<u64>,
        /// The wall time of the scenario's holds, and PID 1's CPU time in them: the
        /// monitor's own cost, apart from set-up and tear-down.
        hold_ms: Option<u64>,
        hold_cpu_ns: Option<u64>,
        /// The guest's word on it: `pass`, `fail`, or `error` (it could not be carried
        /// out; an `error` record says why).
        outcome: Option<ScenarioOutcome>,
    },
    Error {
        /// The scenario it ended (an error inside a scenario ends only that one);
        /// None for an error outside any, which ends the run.
        scenario: Option<String>,
        place: ErrorPlace,
        msg: String,
    },
    Done {
        ok: bool,
        t_ms: u64,
    },
}

/// What a line from the record port turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Record(Record),
    /// No marker: stray output, ignored.
    NotRecord,
    /// Had the marker but could not be read (bad syntax, an unknown kind or value, a
    /// missing key): a protocol error, which makes the run untestable. The text says why.
    Malformed(String),
}

/// Record lines the host could not read: the first few with why, and how many in all,
/// so that a guest writing garbage cannot grow the host's memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProtocolErrors {
    pub first: Vec<String>,
    pub total: u64,
}

impl ProtocolErrors {
    /// How many are kept with their reason: the first explains the run; the rest are
    /// counted. A policy, for the report's length.
    pub const KEPT: usize = 8;

    pub fn push(&mut self, why: String) {
        if self.first.len() < Self::KEPT {
            self.first.push(why);
        }
        self.total += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

/// Decodes one line from the records port (without its newline; a trailing `\r` is
/// tolerated) with the protocol crate's line parser.
pub fn decode(line: &str) -> Line {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let Some(rest) = line.strip_prefix(MARKER).and_then(|r| r.strip_prefix(' ')) else {
        return Line::NotRecord;
    };
    let mut scratch = [0; MAX_LINE];
    let parsed = line::parse_line(rest.as_bytes(), &mut scratch, Values::Bytes)
        .map_err(|m| m.to_string())
        .and_then(|l| typed(&l));
    match parsed {
        Ok(record) => Line::Record(record),
        Err(why) => Line::Malformed(format!("{why} in record {line:?}")),
    }
}

/// Typed access to a record's fields, failing with the missing key's name.
struct Get<'a, 'l>(&'a line::Line<'l>);

impl Get<'_, '_> {
    fn text(&self, key: &str) -> Result<String, String> {
        self.opt_text(key).ok_or_else(|| format!("missing {key}="))
    }

    fn num(&self, key: &str) -> Result<u64, String> {
        let bytes = self.0.get(key).ok_or_else(|| format!("missing {key}="))?;
        parse_u64(bytes).ok_or_else(|| format!("{key}={:?} is not a number", Lossy(bytes)))
    }

    fn opt_num(&self, key: &str) -> Result<Option<u64>, String> {
        self.0.get(key).map(|_| self.num(key)).transpose()
    }

    /// Values may be any bytes (kernel log, program output): shown as text, lossily.
    fn opt_text(&self, key: &str) -> Option<String> {
        self.0
            .get(key)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    fn word<W: Word>(&self, key: &str) -> Result<W, String> {
        let bytes = self.0.get(key).ok_or_else(|| format!("missing {key}="))?;
        W::parse(bytes).ok_or_else(|| unknown_word::<W>(key, bytes))
    }

    fn opt_word<W: Word>(&self, key: &str) -> Result<Option<W>, String> {
        self.0.get(key).map(|_| self.word(key)).transpose()
    }
}

/// `key="x" is not one of a, b, c`.
fn unknown_word<W: Word>(key: &str, got: &[u8]) -> String {
    let known: Vec<&str> = W::ALL.iter().map(|w| w.word()).collect();
    format!("{key}={:?} is not one of {}", Lossy(got), known.join(", "))
}

fn typed(fields: &line::Line<'_>) -> Result<Record, String> {
    if let Some(bare) = fields.bare {
        return Err(format!("a record has no bare word, got {bare:?}"));
    }
    let kind = RecordKind::parse(fields.verb.as_bytes())
        .ok_or_else(|| unknown_word::<RecordKind>("kind", fields.verb.as_bytes()))?;
    let g = Get(fields);
    let record = match kind {
        RecordKind::Boot => Record::Boot {
            release: g.text("release")?,
            cpus: g.num("cpus")?,
            uptime_ms: g.num("uptime_ms")?,
            init_ms: g.opt_num("init_ms")?,
            sched_ext: g.text("sched_ext")?,
        },
        RecordKind::Cpu => Record::Cpu(CpuRecord {
            index: g.num("index")?,
            package: g.num("package")?,
            die: g.opt_num("die")?,
            core: g.opt_num("core")?,
            siblings: g.opt_text("siblings"),
            llc: g.opt_text("llc"),
            node: g.opt_num("node")?,
        }),
        RecordKind::Node => Record::Node(NodeRecord {
            index: g.num("index")?,
            cpus: g.text("cpus")?,
            memory_kb: g.opt_num("memory_kb")?,
            distances: numbers(&g.opt_text("distances").unwrap_or_default())?,
        }),
        RecordKind::Heartbeat => Record::Heartbeat {
            t_ms: g.num("t_ms")?,
        },
        RecordKind::Scheduler => Record::Scheduler(Box::new(scheduler(&g)?)),
        RecordKind::Output => Record::Output(OutputRecord {
            source: g.word("source")?,
            name: g.text("name")?,
            scenario: g.opt_text("scenario"),
            text: g.text("text")?,
            part: g.opt_word("part")?,
        }),
        RecordKind::Scenario => Record::Scenario {
            name: g.text("name")?,
            t_ms: g.num("t_ms")?,
        },
        RecordKind::Step => Record::Step {
            scenario: g.text("scenario")?,
            index: g.num("index")?,
            t_ms: g.num("t_ms")?,
        },
        RecordKind::Worker => Record::Worker(Box::new(worker(&g)?)),
        RecordKind::Stall => Record::Stall(stall(&g)?),
        RecordKind::Kmsg => Record::Kmsg {
            level: g.text("level")?,
            text: g.text("text")?,
            scenario: g.opt_text("scenario"),
        },
        RecordKind::Payload => Record::Payload(payload(&g)?),
        RecordKind::CpuState => Record::CpuState(CpuStateRecord {
            scenario: g.text("scenario")?,
            cpu: g.num("cpu")?,
            online: g.num("online")? != 0,
            t_ms: g.num("t_ms")?,
            took_ms: g.num("took_ms")?,
            moved: g.opt_num("moved")?,
            workers: g.opt_text("workers"),
        }),
        RecordKind::Evidence => Record::Evidence(EvidenceRecord {
            capture: g.num("capture")?,
            cause: g.word("cause")?,
            source: g.word("source")?,
            pid: g.opt_num("pid")?,
            cpu: g.opt_num("cpu")?,
            text: g.opt_text("text"),
            lines: g.opt_num("lines")?,
            dropped_bytes: g.opt_num("dropped_bytes")?,
        }),
        RecordKind::Check => Record::Check(check(&g)?),
        RecordKind::ScenarioEnd => Record::ScenarioEnd {
            name: g.text("name")?,
            t_ms: g.num("t_ms")?,
            init_cpu_ns: g.opt_num("init_cpu_ns")?,
            hold_ms: g.opt_num("hold_ms")?,
            hold_cpu_ns: g.opt_num("hold_cpu_ns")?,
            outcome: g.opt_word("outcome")?,
        },
        RecordKind::Error => Record::Error {
            scenario: g.opt_text("scenario"),
            place: g.word("where")?,
            msg: g.text("msg")?,
        },
        RecordKind::Done => Record::Done {
            ok: g.word::<DoneStatus>("status")? == DoneStatus::Ok,
            t_ms: g.num("t_ms")?,
        },
    };
    Ok(record)
}

fn payload(g: &Get) -> Result<PayloadRecord, String> {
    Ok(PayloadRecord {
        scenario: g.text("scenario")?,
        name: g.text("name")?,
        pid: g.num("pid")?,
        status: g.text("status")?,
        t_ms: g.opt_num("t_ms")?,
        output: g.text("output")?,
        dropped: g.opt_num("dropped")?,
        lines: g.opt_num("lines")?,
    })
}

/// `10,20` as numbers; empty gives none.
fn numbers(list: &str) -> Result<Vec<u64>, String> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|_| format!("{s:?} in {list:?} is not a number"))
        })
        .collect()
}

fn worker(g: &Get) -> Result<WorkerRecord, String> {
    Ok(WorkerRecord {
        scenario: g.text("scenario")?,
        group: g.text("group")?,
        index: g.num("index")?,
        pid: g.num("pid")?,
        tgid: g.opt_num("tgid")?,
        work: g.text("work")?,
        iterations: g.num("iterations")?,
        cpu_ns: g.num("cpu_ns")?,
        wait_ns: g.num("wait_ns")?,
        slices: g.num("slices")?,
        cpus: g.text("cpus")?,
        wake_p50_us: g.opt_num("wake_p50_us")?,
        wake_p90_us: g.opt_num("wake_p90_us")?,
        wake_p99_us: g.opt_num("wake_p99_us")?,
        wake_max_us: g.opt_num("wake_max_us")?,
        wake_samples: g.opt_num("wake_samples")?,
        comm: g.opt_text("comm"),
        expect: g.opt_text("expect"),
        forks_refused: g.opt_num("forks_refused")?,
        oom_killed: g.opt_num("oom_killed")?,
        migrations: g.opt_num("migrations")?,
        llc_crossings: g.opt_num("llc_crossings")?,
        node_crossings: g.opt_num("node_crossings")?,
        numa_pages: g.opt_num("numa_pages")?,
        numa_local_pages: g.opt_num("numa_local_pages")?,
        cgroups_seen: g.opt_num("cgroups_seen")?,
    })
}

fn scheduler(g: &Get) -> Result<SchedulerRecord, String> {
    Ok(SchedulerRecord {
        event: g.word("event")?,
        name: g.text("name")?,
        state: g.text("state")?,
        ops: g.text("ops")?,
        pid: g.num("pid")?,
        t_ms: g.num("t_ms")?,
        reason: g.opt_text("reason"),
        msg: g.opt_text("msg"),
        kmsg_t_ms: g.opt_num("kmsg_t_ms")?,
        status: g.opt_text("status"),
        output: g.opt_text("output"),
        dropped: g.opt_num("dropped")?,
        op: g.opt_word("op")?,
        took_ms: g.opt_num("took_ms")?,
        state_before: g.opt_text("state_before"),
        ops_before: g.opt_text("ops_before"),
    })
}

fn stall(g: &Get) -> Result<StallRecord, String> {
    Ok(StallRecord {
        scenario: g.text("scenario")?,
        group: g.text("group")?,
        index: g.num("index")?,
        pid: g.num("pid")?,
        cgroup: g.text("cgroup")?,
        cpu: g.text("cpu")?,
        state: g.text("state")?,
        gap_ms: g.num("gap_ms")?,
        last_progress_ms: g.opt_num("last_progress_ms")?,
        detected_ms: g.opt_num("detected_ms")?,
    })
}

fn check(g: &Get) -> Result<CheckRecord, String> {
    let passed = g.word::<CheckResult>("result")? == CheckResult::Pass;
    Ok(CheckRecord {
        scenario: g.text("scenario")?,
        name: g.text("name")?,
        passed,
        value: g.num("value")?,
        limit: g.num("limit")?,
        detail: g.opt_text("detail"),
        forwarded: g.opt_num("forwarded")?,
        dropped: g.opt_num("dropped")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(name: &str) -> Vec<Line> {
        crate::protocol::examples::text(name)
            .lines()
            .map(decode)
            .collect()
    }

    fn records(lines: Vec<Line>) -> Vec<Record> {
        lines
            .into_iter()
            .map(|l| match l {
                Line::Record(r) => r,
                other => panic!("not a record: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn spin_example_parses() {
        let records = records(example("spin.records"));
        assert_eq!(records.len(), 12);
        assert_eq!(
            records[0],
            Record::Boot {
                release: "6.12.117".into(),
                cpus: 2,
                uptime_ms: 751,
                init_ms: Some(738),
                sched_ext: "disabled".into()
            }
        );
        let Record::Worker(w) = &records[5] else {
            panic!("{:?}", records[5])
        };
        assert_eq!(
            (w.pid, w.iterations, w.cpu_ns, w.cpus.as_str()),
            (42, 1234567, 1995000000, "0-1")
        );
        assert_eq!(w.wake_p99_us, None);
        assert_eq!(w.comm.as_deref(), Some("sbx-spin-0"));
        let Record::Check(c) = &records[7] else {
            panic!("{:?}", records[7])
        };
        assert!(c.passed);
        assert_eq!(
            (c.name.as_str(), c.value, c.limit),
            ("progress", 1234001, 1)
        );
        assert_eq!(
            records[10],
            Record::ScenarioEnd {
                name: "spin-basic".into(),
                t_ms: 2770,
                init_cpu_ns: Some(31_000_000),
                hold_ms: None,
                hold_cpu_ns: None,
                outcome: Some(ScenarioOutcome::Pass),
            }
        );
        assert_eq!(
            records[11],
            Record::Done {
                ok: true,
                t_ms: 2775
            }
        );
    }

    #[test]
    fn stall_example_says_when_the_gap_began_and_was_seen() {
        let records = records(example("stall.records"));
        let Record::Stall(stall) = &records[3] else {
            panic!("{:?}", records[3])
        };
        assert_eq!(
            (stall.gap_ms, stall.last_progress_ms, stall.detected_ms),
            (1003, Some(1081), Some(1584))
        );
        assert!(matches!(
            records[8],
            Record::ScenarioEnd {
                init_cpu_ns: Some(89_114_073),
                ..
            }
        ));
    }

    #[test]
    fn optional_keys_may_be_absent() {
        let Line::Record(Record::ScenarioEnd { init_cpu_ns, .. }) =
            decode("SBX1 scenario-end name=s t_ms=5")
        else {
            panic!("not a scenario-end")
        };
        assert_eq!(init_cpu_ns, None);
        let records = records(example("scheduler-ejected.records"));
        let stall = records
            .iter()
            .find_map(|r| match r {
                Record::Stall(s) => Some(s),
                _ => None,
            })
            .expect("no stall record");
        assert_eq!(
            (stall.gap_ms, stall.last_progress_ms, stall.detected_ms),
            (6120, None, None)
        );
    }

    #[test]
    fn error_example_decodes_the_message() {
        let records = records(example("error.records"));
        assert_eq!(
            records[0],
            Record::Error {
                scenario: None,
                place: ErrorPlace::Plan,
                msg: "line 3: unknown verb \"frobnicate\"".into()
            }
        );
        assert_eq!(
            records[1],
            Record::Done {
                ok: false,
                t_ms: 12
            }
        );
    }

    #[test]
    fn scheduler_examples_parse() {
        let simple = records(example("scheduler.records"));
        let Record::Scheduler(attached) = &simple[3] else {
            panic!("{:?}", simple[3])
        };
        assert_eq!(
            (attached.event, attached.ops.as_str(), attached.t_ms),
            (SchedulerEvent::Attached, "simple", 1824)
        );
        assert!(!attached.is_failure());
        let payload = simple
            .iter()
            .find_map(|r| match r {
                Record::Payload(p) => Some(p),
                _ => None,
            })
            .expect("no payload record");
        assert_eq!(
            (payload.name.as_str(), payload.status.as_str()),
            ("help", "0")
        );
        assert!(payload
            .output
            .starts_with("A simple sched_ext scheduler.\n"));
        let outputs = simple
            .iter()
            .filter(|r| matches!(r, Record::Output(o) if o.source == OutputSource::Scheduler))
            .count();
        assert_eq!(outputs, 4);

        let qmap = records(example("scheduler-ejected.records"));
        let ejected = qmap
            .iter()
            .find_map(|r| match r {
                Record::Scheduler(s) if s.event == SchedulerEvent::Ejected => Some(s),
                _ => None,
            })
            .expect("no ejected record");
        assert!(ejected.is_failure());
        assert_eq!(ejected.reason.as_deref(), Some("runnable task stall"));
        assert_eq!(
            ejected.msg.as_deref(),
            Some("init[41] failed to run for 7.532s")
        );
        assert_eq!(ejected.kmsg_t_ms, Some(11149));
    }

    #[test]
    fn values_that_are_not_utf8_are_kept_lossily() {
        let Line::Record(Record::Kmsg { text, .. }) = decode("SBX1 kmsg level=3 text=a%FFb") else {
            panic!("not a kmsg record")
        };
        assert_eq!(text, "a\u{fffd}b");
    }

    #[test]
    fn the_examples_show_every_record_kind_and_each_decodes() {
        let mut seen = Vec::new();
        for name in crate::protocol::examples::RECORD_FILES {
            for line in crate::protocol::examples::text(name).lines() {
                match decode(line) {
                    Line::Record(_) => seen.push(line.split(' ').nth(1).unwrap().to_string()),
                    Line::Malformed(m) => panic!("{name}: {m}"),
                    Line::NotRecord => {}
                }
            }
        }
        for kind in RecordKind::ALL {
            assert!(
                seen.iter().any(|s| s == kind.word()),
                "no example in docs/examples shows a {kind} record"
            );
        }
    }

    #[test]
    fn protocol_errors_are_bounded_but_all_counted() {
        let mut errors = ProtocolErrors::default();
        for i in 0..1000 {
            errors.push(format!("bad {i}"));
        }
        assert_eq!(errors.total, 1000);
        assert_eq!(errors.first.len(), ProtocolErrors::KEPT);
    }

    #[test]
    fn lines_without_the_marker_are_ignored() {
        for line in [
            "",
            "[    0.1] Linux version",
            "SBX1",
            "SBX10 boot",
            " SBX1 heartbeat t_ms=1",
            "sbx1 done status=ok t_ms=1",
        ] {
            assert_eq!(decode(line), Line::NotRecord, "{line:?}");
        }
    }

    #[test]
    fn broken_records_are_protocol_errors() {
        for line in [
            "SBX1 heartbeat",
            "SBX1 heartbeat t_ms=x",
            "SBX1 done status=maybe t_ms=1",
            "SBX1 check scenario=s name=n result=ok value=1 limit=1",
            "SBX1 boot  release=1",
        ] {
            assert!(matches!(decode(line), Line::Malformed(_)), "{line:?}");
        }
        for (line, why) in [
            (
                "SBX1 teleport to=mars",
                "kind=\"teleport\" is not one of boot, cpu",
            ),
            (
                "SBX1 done status=ok t_ms=1 x",
                "field \"x\" is not key=value",
            ),
            (
                "SBX1 done bare status=ok t_ms=1",
                "a record has no bare word",
            ),
            (
                "SBX1 output source=kernel name=x text=y",
                "source=\"kernel\" is not one of",
            ),
            (
                "SBX1 scenario-end name=s t_ms=1 outcome=maybe",
                "outcome=\"maybe\"",
            ),
        ] {
            match decode(line) {
                Line::Malformed(m) => assert!(m.contains(why), "{line:?}: {m}"),
                other => panic!("{line:?} read as {other:?}"),
            }
        }
        assert_eq!(
            decode("SBX1 heartbeat t_ms=5 extra=1\r"),
            Line::Record(Record::Heartbeat { t_ms: 5 })
        );
    }
}
