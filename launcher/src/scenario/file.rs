//! The scenario TOML file as written by people (docs/scenarios.md). Unknown fields are
//! errors so that a typo never silently changes a test.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub name: String,
    pub description: Option<String>,
    /// The machine this scenario runs on (`NnLlCcTt` or a preset), whatever the command
    /// line's shape.
    pub topology: Option<String>,
    /// Its `write` ops under /sys/kernel/debug may run on a host (`run --host`).
    #[serde(default)]
    pub host_debugfs: bool,
    /// Simple form: one step that starts every worker group and holds this long.
    pub duration_ms: Option<u64>,
    #[serde(default)]
    pub cgroup: Vec<CgroupFile>,
    #[serde(default)]
    pub workers: Vec<WorkersFile>,
    /// Step form: explicit steps with ops (then `duration_ms` is not allowed).
    #[serde(default)]
    pub step: Vec<StepFile>,
    #[serde(default)]
    pub check: Vec<CheckFile>,
    #[serde(default)]
    pub payload: Vec<PayloadFile>,
    /// `"detached"`: the run's scheduler is not attached when step 0 begins.
    pub scheduler: Option<String>,
    /// Schedulers besides the run's that scheduler ops name, by label.
    #[serde(default)]
    pub schedulers: BTreeMap<String, SchedulerFile>,
}

/// A scheduler a scenario names by label (`[schedulers.LABEL]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerFile {
    /// A program, as `--scheduler` takes it; None: `--extra-scheduler LABEL=PATH` gives it.
    pub path: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    /// The ops name it must attach as.
    pub name: Option<String>,
}

/// A number or a string, for cgroup values such as `memory_max = "256M"` or `= 1048576`,
/// and knob values such as `value = -1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Number(u64),
    Negative(i64),
    Text(String),
}

/// Reads a [`Value`], naming its field and the accepted types when it is neither.
struct ValueVisitor(&'static str);

impl<'de> serde::de::Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "an integer (e.g. 512 or -1) or a string (e.g. \"256M\") for `{}`",
            self.0
        )
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(u64::try_from(v).map_or(Value::Negative(v), Value::Number))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        Err(E::custom(format!(
            "`{}` = {v} is a float: give an integer (e.g. 512 or -1) or a string \
             (e.g. \"256M\", or \"{v}\" to write it as it is)",
            self.0
        )))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Text(v.to_string()))
    }
}

/// `value` of an op.
impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor("value"))
    }
}

macro_rules! optional_value {
    ($fn:ident, $field:literal) => {
        fn $fn<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
            d.deserialize_any(ValueVisitor($field)).map(Some)
        }
    };
}
optional_value!(memory_max, "memory_max");
optional_value!(memory_high, "memory_high");
optional_value!(pids_max, "pids_max");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CgroupFile {
    pub path: String,
    pub cpus: Option<String>,
    pub mems: Option<String>,
    pub weight: Option<u64>,
    pub max: Option<String>,
    pub idle: Option<bool>,
    #[serde(default, deserialize_with = "memory_max")]
    pub memory_max: Option<Value>,
    #[serde(default, deserialize_with = "memory_high")]
    pub memory_high: Option<Value>,
    #[serde(default, deserialize_with = "pids_max")]
    pub pids_max: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkersFile {
    pub group: String,
    pub cgroup: Option<String>,
    pub work: String,
    pub count: Option<u64>,
    pub nice: Option<i64>,
    pub policy: Option<String>,
    pub prio: Option<u64>,
    pub affinity: Option<String>,
    pub expect: Option<String>,
    /// Runs the group as one process with `count` threads.
    pub threads: Option<bool>,
    pub spin_us: Option<u64>,
    pub burst_ms: Option<u64>,
    pub sleep_ms: Option<u64>,
    pub sleep_us: Option<u64>,
    pub size_kb: Option<u64>,
    pub stride: Option<u64>,
    pub hold_us: Option<u64>,
    pub node: Option<u64>,
    pub nodes: Option<u64>,
    pub mempolicy: Option<String>,
    pub request_us: Option<u64>,
    pub period_us: Option<u64>,
    pub produce_us: Option<u64>,
    pub consume_us: Option<u64>,
    pub interval_us: Option<u64>,
    pub work_us: Option<u64>,
    pub lock: Option<String>,
    pub hogs: Option<u64>,
    pub hog_policy: Option<String>,
    pub move_us: Option<u64>,
    pub pin_us: Option<u64>,
}

impl WorkersFile {
    /// The numeric work parameters that were given, by their plan key.
    pub fn params(&self) -> Vec<(&'static str, u64)> {
        let all = [
            ("spin_us", self.spin_us),
            ("burst_ms", self.burst_ms),
            ("sleep_ms", self.sleep_ms),
            ("sleep_us", self.sleep_us),
            ("size_kb", self.size_kb),
            ("stride", self.stride),
            ("hold_us", self.hold_us),
            ("node", self.node),
            ("nodes", self.nodes),
            ("request_us", self.request_us),
            ("period_us", self.period_us),
            ("produce_us", self.produce_us),
            ("consume_us", self.consume_us),
            ("interval_us", self.interval_us),
            ("work_us", self.work_us),
            ("hogs", self.hogs),
            ("move_us", self.move_us),
            ("pin_us", self.pin_us),
        ];
        all.into_iter()
            .filter_map(|(key, value)| value.map(|v| (key, v)))
            .collect()
    }

    /// The work parameters given as words, by their plan key.
    pub fn word_params(&self) -> Vec<(&'static str, &str)> {
        [
            ("mempolicy", self.mempolicy.as_deref()),
            ("lock", self.lock.as_deref()),
            ("hog_policy", self.hog_policy.as_deref()),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.map(|v| (key, v)))
        .collect()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepFile {
    pub hold_ms: u64,
    /// `"payloads"`: the hold ends early once no payload runs.
    pub until: Option<String>,
    #[serde(default)]
    pub ops: Vec<OpFile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
pub enum OpFile {
    CgroupAdd {
        path: String,
    },
    CgroupRemove {
        path: String,
    },
    CgroupSet {
        path: String,
        file: String,
        value: Value,
    },
    Spawn {
        group: String,
    },
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
    Write {
        path: String,
        value: Value,
    },
    /// `cgroup.freeze` = 1 on `path`.
    Freeze {
        path: String,
    },
    /// `cgroup.freeze` = 0 on `path`.
    Thaw {
        path: String,
    },
    SchedulerDetach,
    /// The run's scheduler, or the one `scheduler` labels.
    SchedulerAttach {
        scheduler: Option<String>,
    },
    SchedulerRestart,
    SchedulerReplace {
        scheduler: String,
    },
    CpuOffline {
        cpus: String,
    },
    CpuOnline {
        cpus: String,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckFile {
    pub name: String,
    pub limit: Option<u64>,
    pub group: Option<String>,
    pub cgroup: Option<String>,
    /// `kernel-log`: regular expressions of problem lines that do not count.
    #[serde(default)]
    pub allow: Vec<String>,
    /// `kernel-log`: regular expressions each of which some line must match.
    #[serde(default)]
    pub expect: Vec<String>,
    /// `latency`: the figure judged (`p50`, `p90`, `p99`, `max`).
    pub percentile: Option<String>,
    /// `latency`: the limit in milliseconds, instead of `limit` in microseconds.
    pub limit_ms: Option<u64>,
    /// `imbalance`: how long the ratio must hold to count.
    pub window_ms: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayloadFile {
    pub name: Option<String>,
    pub path: String,
    #[serde(default)]
    pub args: Vec<String>,
    /// Files the program needs: beside it, or where `to` says.
    #[serde(default)]
    pub files: Vec<FileSpec>,
    pub cgroup: Option<String>,
    pub timeout_ms: Option<u64>,
    /// Index of the step whose ops start it (default 0).
    pub step: Option<u64>,
    pub expect_status: Option<StatusValue>,
    /// Regular expressions: a line of its output matching one fails it.
    #[serde(default)]
    pub fail_on: Vec<String>,
    /// Regular expressions: each must match a line of its output.
    #[serde(default)]
    pub pass_on: Vec<String>,
    /// How to read its output: `"tap"` for TAP / kselftest results.
    pub format: Option<String>,
}

/// A payload's file: a path (placed beside the program), or a path and where it goes.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum FileSpec {
    Beside(String),
    Placed { path: String, to: String },
}

/// `expect_status`: an exit status, or a word (`"killed"`, `"signal:N"`, `"any"`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum StatusValue {
    Code(i64),
    Word(String),
}
