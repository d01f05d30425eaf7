//! Command-line parsing. Every mistake becomes a `UsageError` (exit 2) that says what to do.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use lexopt::prelude::*;

use crate::topology::fit::{fits_memory, fits_vcpus};
use crate::topology::{sets, Shape};
use crate::vm::select::{AccelChoice, BackendChoice};

mod args;
mod bisect;
mod compare;
mod manifest;
mod workflow;
pub use args::UsageError;
use args::{next_arg, number, path, HELP_ASKED};
pub use bisect::{BisectOver, SourceRange};
pub use compare::{AbSide, CompareArgs, DEFAULT_AB_REPEATS, DEFAULT_THRESHOLD_PERCENT, KERNEL_OWN};
pub use workflow::{Shard, WorkflowOptions};

pub const DEFAULT_CPUS: u32 = 2;
pub const DEFAULT_MEMORY_MIB: u32 = 256;
pub use crate::topology::limits::{MAX_VCPUS as MAX_CPUS, MIN_MEMORY_MIB, MIN_NODE_MEMORY_MIB};
/// Longest `--timeout`, in seconds (policy: a day; longer runs are soaks of shorter ones).
pub const MAX_TIMEOUT_S: u64 = 24 * 3600;
pub const DEFAULT_BENCH_RUNS: u32 = 5;
pub const DEFAULT_SOAK_RUNS: u32 = 10;
const MAX_BENCH_RUNS: u64 = 1000;
/// Longest `--attach-timeout`, in seconds (policy: an attach slower than this is a fault).
const MAX_ATTACH_S: u64 = 3600;
/// sched_ext ops names are at most this long (SCX_OPS_NAME_LEN less its NUL).
const MAX_OPS_NAME: usize = 127;
/// Ends the options; what follows is `--payload`'s arguments.
const END_OF_OPTIONS: &str = "--";

pub const USAGE: &str = "\
schedbox: boots a kernel with a scheduler test plan and judges the result

usage:
  schedbox run [OPTIONS] [SCENARIO.toml ...]   run scenarios (default: the built-in spin scenario)
  schedbox plan [--cpus N | --topology SPEC] [--memory MiB] [SCENARIO.toml ...]
                                               print the plan the guest would get
  schedbox initramfs --output FILE [--cpus N | --topology SPEC] [--memory MiB]
                 [SCENARIO.toml ...]
                                               write the initramfs (init, plan, the
                                               scenarios' payloads) to FILE
  schedbox soak [--runs N] [run OPTIONS] [SCENARIO.toml ...]
                                               run the same scenarios N times (default 10)
                                               and count the runs whose verdict differed
  schedbox bench [--runs N] [--doc FILE.md] [--catalog PATH ...] [run OPTIONS] [SCENARIO.toml ...]
                                               boot, monitor and stall costs per backend,
                                               medians of N runs (default 5); --catalog
                                               scenarios also run in one boot and one
                                               boot each (repeatable: files, folders, globs)
  schedbox bisect --images K1 K2 ... [run OPTIONS] [SCENARIO.toml ...]
                                               find the first kernel image, of a list
                                               ordered oldest (good) first, on which the
                                               scenarios fail, by binary search; an
                                               untestable image is skipped, never bad.
                                               --images takes every value up to the next
                                               option. Prints the first bad image and its
                                               failing report; exit 0 found, 2 usage, 125
                                               undecided (the first image fails, none
                                               fails, or skipped images hide the boundary)
  schedbox bisect --source TREE --good REV --bad REV [run OPTIONS] [SCENARIO.toml ...]
                                               the same over the commits of a git kernel
                                               tree: drives `git bisect` in a worktree of
                                               TREE, each commit built with the project's
                                               config fragment (incrementally, cached by
                                               commit); a commit that does not build or
                                               boot is skipped, never bad. --bad is run
                                               first, for its failing report; --good is
                                               taken as good. Prints the first bad commit
                                               and its failing report; exit as above
  schedbox compare [--threshold PCT] [--json FILE] A.json B.json
                                               per scenario and check, B's change from A
                                               (reports of run, --repeat, gauntlets),
                                               whether it is beyond the noise of the
                                               repeats (Welch's t-test) and a regression
                                               (docs/compare.md); exit 0 none, 1 a
                                               regression, 2 bad input, 125 B lacks a
                                               scenario A judged
  schedbox ab --scheduler-a X --scheduler-b Y [--repeat N] [--threshold PCT]
              [run OPTIONS] SCENARIO...        X and Y (a path, a NAME of the manifest,
                                               or eevdf: the kernel's own) N times each
                                               (default 3), interleaved, one VM a run;
                                               prints compare's table, B against A
  schedbox kernel fetch                        cache Debian's cloud kernel (needs apt)
  schedbox kernel fetch-source [--dest DIR]    get linux-source-6.12 into the cache
  schedbox kernel build [--source DIR] [--force] [--jobs N] [--verbose]
                                               build (or reuse) a schedbox kernel
  schedbox kernel check IMAGE                  does IMAGE have sched_ext? (exit 0 yes, 1 no)
  schedbox topology list                       the named --topology presets and sets
  schedbox scheduler build NAME[@VERSION] [--jobs N]
                                               build (or reuse) a scx scheduler from
                                               crates.io, e.g. scx_bpfland; prints its path
  schedbox list [--json] [--filter GLOB] [--shard K/N] [PATH ...]
                                               the scenarios of PATHs (files, folders,
                                               globs; default ./scenarios): name, file,
                                               description, duration, shape, checks
  schedbox list --schedulers [--json] [--manifest PATH]
                                               the scheduler manifest's entries (default
                                               ./schedulers.toml): name, source, args,
                                               the controls each ignores, its program
  schedbox show [--cpus N | --topology SPEC] [--memory MiB] NAME|FILE
                                               a scenario with every default filled in,
                                               and the plan the guest runs
  schedbox check [--cpus N | --topology SPEC] [--memory MiB] PATH ...
                                               validate scenarios only (exit 2 on errors)
  schedbox help [COMMAND] | COMMAND --help | --version
                                               this text, or one command's; -h and -V
                                               are short for --help and --version

run options:
  --kernel PATH        bzImage or vmlinux (default: $SCHEDBOX_KERNEL, then the newest
                       kernel in ~/.cache/schedbox/kernels; with --scheduler, the
                       highest release there that has sched_ext)
  --source TREE        (run) build the kernel tree TREE as it is (out of tree, in the
                       cache, incrementally, with kernel/schedbox.config) and boot it
  --kernel A,B,...     a kernel matrix (run only): the scenarios on each kernel, one VM
                       each (per shape), a kernel × scenario table, a folder per kernel
                       under the run directory; combined exit as over shapes. A path
                       that exists is one kernel even with a comma in it
  --cpus N             vCPUs (default 2, 1-64), one node, one LLC
  --topology SPEC      the machine's shape instead: NnLlCcTt (N NUMA nodes, L last-level
                       caches in all, C cores per LLC, T threads per core, e.g. 2n4l2c1t)
                       or a preset (`schedbox topology list`); the guest's own view is
                       checked against it and a mismatch is untestable (125)
  --topology A,B,...   a gauntlet (run only): the scenarios once per shape, one VM each,
                       shapes as specs, presets or sets (set:small, set:cache, set:numa);
                       the report has a shape × scenario table and a folder per shape
                       under the run directory. A scenario whose file sets `topology`
                       runs on that shape only, whatever --topology or --cpus say
  --memory MiB         guest memory (default 256)
  --timeout S          kill the run after S seconds, decimals allowed like every time
                       option (default: scenario time + 60 s)
  --accel auto|kvm|tcg QEMU accelerator (default auto: KVM only if it really works)
  --backend auto|qemu|kvm
                       kvm: schedbox's own VMM; auto: it if the KVM probe passes, else QEMU
  --qemu-cpu MODEL     QEMU's -cpu (implies the QEMU backend), e.g. \"EPYC,+svm\" to give
                       a TCG guest AMD-V, so it can run KVM itself (default: QEMU's own
                       under TCG, host under KVM; without it the guest kernel's own KVM
                       is not started)
  --append ARGS        extra kernel command line (repeatable), e.g. \"loglevel=7\"
  --host               run only: no VM, the scenarios on this machine's running kernel
                       (root, cgroup v2; docs/host.md); refuses the VM's options above
  --json FILE          also write the full JSON report to FILE
  --out DIR            run directory (default ./schedbox-runs/<time>-<pid>), locked
                       for the run: one run per directory at a time
  -v, --verbose        echo the guest console to stderr
  -q, --quiet          no progress on stderr (by default: on a terminal one live line,
                       scenario k/N, elapsed, ETA; elsewhere a line per scenario; and
                       each scenario's verdict as soon as its records are in)
  --scheduler PATH     sched_ext scheduler to test (packed with its libraries), started
                       (a NAME[@VERSION] that `scheduler build` built is found by name)
                       before the scenarios; each scenario gets the `scheduler` check
                       (a NAME of the manifest brings its program, arguments and
                       ops name; a path, or a name it lacks, is used as given)
  --manifest PATH      the scheduler manifest (default ./schedulers.toml, when it
                       exists); a bad entry is an error at file:line:column
  --scheduler-arg A    one argument for it (repeatable, in order; replaces the
                       manifest's arguments)
  --scheduler-name N   the ops name it must attach as (default: any)
  --attach-timeout S   seconds it may take to attach (default 20)
  --extra-scheduler LABEL=PATH
                       the program of the scheduler a scenario declares as
                       [schedulers.LABEL] (repeatable; its args stay the scenario's)
  --payload PATH [-- ARGS]
                       a program run in every scenario beside the workers, with ARGS
                       (everything after `--`); it must exit 0 before the scenario ends
  SCENARIO may be a file, a folder (its *.toml, recursively) or a quoted glob
  --filter GLOB        only the scenarios whose name or file matches GLOB; with
                       !GLOB, only those whose name and file do not
  --shard K/N          only the K-th of N parts of the set (stable, balanced by duration)
  --repeat N           the set N times, one VM each; passes only if every repeat passes
  --junit FILE         also write a JUnit XML report (a testcase per scenario)
  --summary FILE       also write a Markdown summary table (and append it to
                       $GITHUB_STEP_SUMMARY when that is set)

exit status: 0 pass, 1 a check failed, 2 usage, scenario or input file error (found
before boot), 125 untestable (including faults of this host: a full disk, a killed QEMU),
128+N stopped by signal N (SIGINT 130, SIGTERM 143); over several shapes or kernels: a
signal, else 1 if any VM failed, else 125 if any was untestable, else 0
";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmOptions {
    pub cpus: u32,
    /// `--topology`: nodes, LLCs, cores, threads; several for a gauntlet (the same
    /// scenarios once per shape); empty: `cpus` flat.
    pub topology: Vec<Shape>,
    pub memory_mib: u32,
    pub scenarios: Vec<PathBuf>,
}

impl VmOptions {
    /// The machines the command line asks for, in order: `--topology`'s shapes, or
    /// `--cpus` as one node, one LLC.
    pub fn shapes(&self) -> Vec<Shape> {
        if self.topology.is_empty() {
            vec![Shape::flat(self.cpus)]
        } else {
            self.topology.clone()
        }
    }

    /// The first of [`Self::shapes`]: the machine of a command that boots one.
    pub fn shape(&self) -> Shape {
        self.topology
            .first()
            .copied()
            .unwrap_or(Shape::flat(self.cpus))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOptions {
    pub vm: VmOptions,
    pub scheduler: Option<SchedulerOptions>,
    pub payload: Option<PayloadOptions>,
    /// `--kernel PATH`: the one kernel of the run (None: found as documented).
    pub kernel: Option<PathBuf>,
    /// `--kernel A,B,...`: a kernel matrix, the same scenarios on each (two or more; then
    /// `kernel` is None, and `run` gives each VM one of these).
    pub kernel_list: Vec<PathBuf>,
    /// `--source TREE` (run): the kernel is built from this tree, as it is, first.
    pub source: Option<PathBuf>,
    /// `--timeout`.
    pub timeout: Option<Duration>,
    pub accel: AccelChoice,
    pub backend: BackendChoice,
    /// `--qemu-cpu`: QEMU's `-cpu` model.
    pub qemu_cpu: Option<String>,
    pub append: Vec<String>,
    pub json: Option<PathBuf>,
    pub out: Option<PathBuf>,
    pub verbose: bool,
    /// `-q`: no progress on stderr while the VM runs.
    pub quiet: bool,
    /// Which scenarios of the named set, how often, and the files CI reads.
    pub workflow: WorkflowOptions,
    /// `--host`: no VM, the running kernel (docs/host.md).
    pub host: bool,
}

/// `--scheduler` and its companions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerOptions {
    pub path: PathBuf,
    pub args: Vec<String>,
    pub name: Option<String>,
    pub attach_ms: Option<u64>,
    /// `--manifest PATH`: the scheduler manifest a NAME is looked up in (None: the
    /// current directory's `schedulers.toml`, when there is one).
    pub manifest: Option<PathBuf>,
    /// `--extra-scheduler LABEL=PATH`, in order.
    pub extra: Vec<ExtraScheduler>,
}

/// `--extra-scheduler LABEL=PATH`: the program of a scheduler scenarios name by label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraScheduler {
    pub label: String,
    pub path: PathBuf,
}

/// `--payload PATH [-- ARGS]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadOptions {
    pub path: PathBuf,
    pub args: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Run(RunOptions),
    /// Run the same scenarios several times and compare their verdicts.
    Soak {
        options: RunOptions,
        runs: u32,
    },
    /// Run the same scenarios several times and print timings.
    Bench {
        options: RunOptions,
        runs: u32,
        /// Also write the table as a Markdown page here.
        doc: Option<PathBuf>,
        /// Scenarios timed in one boot and one boot each (`--catalog`).
        catalog: Vec<PathBuf>,
    },
    Plan(VmOptions),
    Initramfs {
        vm: VmOptions,
        output: PathBuf,
    },
    KernelFetch,
    KernelFetchSource {
        dest: Option<PathBuf>,
    },
    KernelBuild(KernelBuildOptions),
    KernelCheck {
        image: PathBuf,
    },
    /// The named topology presets and their vCPU counts.
    TopologyList,
    SchedulerBuild {
        spec: String,
        jobs: Option<usize>,
    },
    /// The scenarios of a set, for people and CI matrices.
    List {
        json: bool,
        filter: Option<String>,
        shard: Option<Shard>,
        paths: Vec<PathBuf>,
    },
    /// The schedulers of the manifest, for people and CI matrices.
    ListSchedulers {
        json: bool,
        manifest: Option<PathBuf>,
    },
    /// One scenario as the guest will run it.
    Show {
        target: String,
        vm: VmOptions,
    },
    /// Validate scenarios, boot nothing.
    Check(VmOptions),
    /// Two reports compared, per scenario and check.
    Compare(CompareArgs),
    /// Two schedulers on the same scenarios, interleaved, compared.
    Ab {
        options: RunOptions,
        a: AbSide,
        b: AbSide,
        repeats: u32,
        threshold: u64,
        /// `--manifest PATH` for the sides' NAMEs.
        manifest: Option<PathBuf>,
    },
    /// Run the same scenarios on kernel images in order, by binary search, to find the
    /// first that fails.
    Bisect {
        options: RunOptions,
        over: BisectOver,
    },
    Help,
    /// `COMMAND --help` (or `-h`, or `help COMMAND`): that command's part of the help.
    HelpFor(&'static str),
    Version,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KernelBuildOptions {
    pub source: Option<PathBuf>,
    pub force: bool,
    pub jobs: Option<usize>,
    pub verbose: bool,
}

/// The commands, as `schedbox help COMMAND` and `COMMAND --help` know them.
const COMMANDS: &[&str] = &[
    "run",
    "soak",
    "bench",
    "plan",
    "initramfs",
    "kernel",
    "topology",
    "scheduler",
    "list",
    "show",
    "check",
    "bisect",
    "compare",
    "ab",
    "help",
];

/// One command's lines of [`USAGE`] (with the run options for the commands that take
/// them): the help `COMMAND --help` prints.
pub fn command_help(command: &str) -> String {
    let entry = format!("  schedbox {command}");
    let mut out = String::from("usage:\n");
    let mut taking = false;
    for line in USAGE.lines() {
        if line.starts_with("  schedbox ") {
            taking = line
                .strip_prefix(&entry)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '));
        } else if !line.starts_with("   ") {
            taking = false;
        }
        if taking {
            out += line;
            out.push('\n');
        }
    }
    if matches!(command, "run" | "soak" | "bench" | "bisect" | "ab") {
        let options = USAGE.find("run options:").unwrap_or(USAGE.len());
        out.push('\n');
        out += &USAGE[options..];
    }
    out
}

pub fn parse(mut args: Vec<OsString>) -> Result<Command, UsageError> {
    let trailing = args
        .iter()
        .position(|a| a == END_OF_OPTIONS)
        .map(|at| args.split_off(at).split_off(1));
    let mut parser = lexopt::Parser::from_args(args);
    let command = match parser.next()? {
        None => return Ok(Command::Help),
        Some(Value(word)) => word.string()?,
        Some(Short('h') | Long("help")) => return Ok(Command::Help),
        Some(Short('V') | Long("version")) => return Ok(Command::Version),
        Some(other) => return Err(other.unexpected().into()),
    };
    let Some(&known) = COMMANDS.iter().find(|c| **c == command) else {
        return Err(UsageError(format!(
            "unknown command {command:?}: use run, soak, bench, bisect, compare, ab, plan, \
             initramfs, list, show, check, kernel, scheduler or topology"
        )));
    };
    match parse_command(&mut parser, known, trailing) {
        Err(e) if e.0 == HELP_ASKED => Ok(Command::HelpFor(known)),
        parsed => parsed,
    }
}

/// The command line after its command word.
fn parse_command(
    parser: &mut lexopt::Parser,
    command: &'static str,
    trailing: Option<Vec<OsString>>,
) -> Result<Command, UsageError> {
    if trailing.is_some() && !matches!(command, "run" | "soak" | "bisect") {
        return Err(UsageError(format!(
            "`--` passes arguments to --payload's program, which only run takes, not {command}"
        )));
    }
    match command {
        "run" | "bench" | "soak" | "bisect" | "ab" => {
            let (options, extra) = parse_run(parser, command, trailing)?;
            Ok(match command {
                "bench" => Command::Bench {
                    options,
                    runs: extra.runs.unwrap_or(DEFAULT_BENCH_RUNS),
                    doc: extra.doc,
                    catalog: extra.catalog,
                },
                "soak" => Command::Soak {
                    options,
                    runs: extra.runs.unwrap_or(DEFAULT_SOAK_RUNS),
                },
                "bisect" => Command::Bisect {
                    options,
                    over: bisect::over(extra.bisect).map_err(UsageError)?,
                },
                "ab" => ab_command(extra.ab, options)?,
                _ => Command::Run(options),
            })
        }
        "plan" => parse_vm_only(parser, false).map(|(vm, _)| Command::Plan(vm)),
        "initramfs" => match parse_vm_only(parser, true)? {
            (vm, Some(output)) => Ok(Command::Initramfs { vm, output }),
            (_, None) => Err(UsageError("initramfs needs --output FILE".into())),
        },
        "kernel" => parse_kernel(parser),
        "topology" => parse_topology(parser),
        "scheduler" => parse_scheduler(parser),
        "list" => parse_list(parser),
        "show" => parse_show(parser),
        "check" => parse_check(parser),
        "compare" => compare::parse_compare(parser).map(Command::Compare),
        _ => parse_help(parser),
    }
}

/// `schedbox list [--json] [--filter GLOB] [--shard K/N] [PATH ...]`.
fn parse_list(parser: &mut lexopt::Parser) -> Result<Command, UsageError> {
    let (mut json, mut filter, mut shard, mut paths) = (false, None, None, Vec::new());
    let mut schedulers = manifest::ListSchedulers::default();
    while let Some(arg) = next_arg(parser)? {
        match arg {
            Long("schedulers") => schedulers.asked = true,
            Long("manifest") => schedulers.manifest = Some(path("--manifest", parser.value()?)?),
            Long("json") => json = true,
            Long("filter") => filter = Some(workflow::glob(parser.value()?.string()?)?),
            Long("shard") => shard = Some(Shard::parse(&parser.value()?.string()?)?),
            Value(path) => paths.push(PathBuf::from(path)),
            other => return Err(other.unexpected().into()),
        }
    }
    let scenario_options = filter.is_some() || shard.is_some() || !paths.is_empty();
    if let Some(manifest) = schedulers.finish(scenario_options)? {
        return Ok(Command::ListSchedulers { json, manifest });
    }
    Ok(Command::List {
        json,
        filter,
        shard,
        paths,
    })
}

/// `schedbox show [--cpus N | --topology SPEC] [--memory MiB] NAME|FILE`.
fn parse_show(parser: &mut lexopt::Parser) -> Result<Command, UsageError> {
    let (vm, _) = parse_vm_only(parser, false)?;
    let VmOptions { scenarios, .. } = &vm;
    match scenarios.as_slice() {
        [one] => Ok(Command::Show {
            target: one.display().to_string(),
            vm: VmOptions {
                scenarios: Vec::new(),
                ..vm.clone()
            },
        }),
        _ => Err(UsageError(
            "show takes one scenario: a NAME from the catalog or a FILE".into(),
        )),
    }
}

/// `schedbox check [--cpus N | --topology SPEC] [--memory MiB] FILE|DIR|GLOB ...`.
fn parse_check(parser: &mut lexopt::Parser) -> Result<Command, UsageError> {
    let (vm, _) = parse_vm_only(parser, false)?;
    if vm.scenarios.is_empty() {
        return Err(UsageError(
            "check needs scenario files (or folders, or globs) to validate".into(),
        ));
    }
    Ok(Command::Check(vm))
}

fn parse_topology(parser: &mut lexopt::Parser) -> Result<Command, UsageError> {
    let sub = next_arg(parser)?.map(|a| matches!(a, Value(ref v) if v == "list"));
    match (sub, next_arg(parser)?) {
        (Some(true), None) => Ok(Command::TopologyList),
        _ => Err(UsageError("topology takes one subcommand: list".into())),
    }
}

/// `help` alone, or `help COMMAND`.
fn parse_help(parser: &mut lexopt::Parser) -> Result<Command, UsageError> {
    let topic = match next_arg(parser)? {
        None => return Ok(Command::Help),
        Some(Value(word)) => word.string()?,
        Some(other) => return Err(other.unexpected().into()),
    };
    match COMMANDS.iter().find(|c| **c == topic) {
        Some(&known) => Ok(Command::HelpFor(known)),
        None => Err(UsageError(format!(
            "help {topic:?}: there is no such command; `schedbox help` lists them"
        ))),
    }
}

const KERNEL_SUBCOMMANDS: &str =
    "use `schedbox kernel fetch`, `kernel fetch-source [--dest DIR]`, \
     `kernel build [--source DIR] [--force] [--jobs N] [--verbose]` or `kernel check IMAGE`";

fn parse_kernel(parser: &mut lexopt::Parser) -> Result<Command, UsageError> {
    let sub = match next_arg(parser)? {
        Some(Value(sub)) => sub.string()?,
        _ => return Err(UsageError(KERNEL_SUBCOMMANDS.into())),
    };
    let command = match sub.as_str() {
        "fetch" => Command::KernelFetch,
        "fetch-source" => {
            let mut dest = None;
            while let Some(arg) = next_arg(parser)? {
                match arg {
                    Long("dest") => dest = Some(path("--dest", parser.value()?)?),
                    other => return Err(other.unexpected().into()),
                }
            }
            return Ok(Command::KernelFetchSource { dest });
        }
        "build" => return parse_kernel_build(parser).map(Command::KernelBuild),
        "check" => match next_arg(parser)? {
            Some(Value(image)) => Command::KernelCheck {
                image: path("kernel check IMAGE", image)?,
            },
            _ => return Err(UsageError("kernel check needs an IMAGE".into())),
        },
        other => {
            return Err(UsageError(format!(
                "unknown kernel command {other:?}: {KERNEL_SUBCOMMANDS}"
            )))
        }
    };
    match next_arg(parser)? {
        None => Ok(command),
        Some(other) => Err(other.unexpected().into()),
    }
}

const SCHEDULER_USAGE: &str = "use `schedbox scheduler build NAME[@VERSION] [--jobs N]`";

fn parse_scheduler(parser: &mut lexopt::Parser) -> Result<Command, UsageError> {
    match next_arg(parser)? {
        Some(Value(sub)) if sub == "build" => {}
        _ => return Err(UsageError(SCHEDULER_USAGE.into())),
    }
    let (mut spec, mut jobs) = (None, None);
    while let Some(arg) = next_arg(parser)? {
        match arg {
            Value(name) if spec.is_none() => spec = Some(name.string()?),
            Long("jobs") | Short('j') => {
                let n = number("jobs", &parser.value()?.string()?)?;
                if n == 0 {
                    return Err(UsageError("--jobs must be at least 1".into()));
                }
                jobs = Some(n as usize);
            }
            other => return Err(other.unexpected().into()),
        }
    }
    let spec = spec.ok_or_else(|| UsageError(SCHEDULER_USAGE.into()))?;
    Ok(Command::SchedulerBuild { spec, jobs })
}

fn parse_kernel_build(parser: &mut lexopt::Parser) -> Result<KernelBuildOptions, UsageError> {
    let mut options = KernelBuildOptions::default();
    while let Some(arg) = next_arg(parser)? {
        match arg {
            Long("source") => options.source = Some(path("--source", parser.value()?)?),
            Long("force") => options.force = true,
            Long("jobs") | Short('j') => {
                let jobs = number("jobs", &parser.value()?.string()?)?;
                if jobs == 0 {
                    return Err(UsageError("--jobs must be at least 1".into()));
                }
                options.jobs = Some(jobs as usize);
            }
            Short('v') | Long("verbose") => options.verbose = true,
            other => return Err(other.unexpected().into()),
        }
    }
    Ok(options)
}

fn default_vm() -> VmOptions {
    VmOptions {
        cpus: DEFAULT_CPUS,
        topology: Vec::new(),
        memory_mib: DEFAULT_MEMORY_MIB,
        scenarios: Vec::new(),
    }
}

/// Applies `--cpus`/`--topology`/`--memory`, the options shared by every VM-shaped
/// command.
fn vm_option(vm: &mut VmOptions, name: &str, value: &str) -> Result<(), UsageError> {
    match name {
        "cpus" => vm.cpus = cpus(value)?,
        "topology" => vm.topology = topology(value)?,
        _ => vm.memory_mib = memory(value)?,
    }
    Ok(())
}

/// `--topology`: one shape, or a list of specs, presets and `set:NAME`s.
fn topology(value: &str) -> Result<Vec<Shape>, UsageError> {
    let shapes = sets::parse_list(value).map_err(|e| UsageError(format!("--topology: {e}")))?;
    for shape in &shapes {
        fits_vcpus(shape).map_err(|why| UsageError(format!("--topology {value}: {why}")))?;
    }
    Ok(shapes)
}

/// `--cpus` and `--topology` both say how many vCPUs: only one may be given; and each
/// node needs its share of memory; the list form is `run`'s alone (`one_vm`).
fn check_vm(vm: &VmOptions, cpus_given: bool, one_vm: Option<&str>) -> Result<(), UsageError> {
    let Some(shape) = vm.topology.first() else {
        return Ok(());
    };
    if cpus_given {
        return Err(UsageError(format!(
            "give --cpus or --topology, not both (--topology {shape} has {} vCPUs)",
            shape.vcpus()
        )));
    }
    if let (Some(command), [_, _, ..]) = (one_vm, vm.topology.as_slice()) {
        return Err(UsageError(format!(
            "{command} boots one machine: give --topology one shape, or run the list of \
             {} shapes with `schedbox run`",
            vm.topology.len()
        )));
    }
    for shape in &vm.topology {
        fits_memory(shape, vm.memory_mib).map_err(UsageError)?;
    }
    Ok(())
}

fn parse_vm_only(
    parser: &mut lexopt::Parser,
    wants_output: bool,
) -> Result<(VmOptions, Option<PathBuf>), UsageError> {
    let mut vm = default_vm();
    let mut output = None;
    let mut cpus_given = false;
    while let Some(arg) = next_arg(parser)? {
        match arg {
            Long(name @ ("cpus" | "memory" | "topology")) => {
                let name = name.to_string();
                cpus_given |= name == "cpus";
                vm_option(&mut vm, &name, &parser.value()?.string()?)?;
            }
            Value(file) => vm.scenarios.push(path("a scenario path", file)?),
            Long("output") | Short('o') if wants_output => {
                output = Some(path("--output", parser.value()?)?)
            }
            other => return Err(other.unexpected().into()),
        }
    }
    let command = if wants_output { "initramfs" } else { "plan" };
    check_vm(&vm, cpus_given, Some(command))?;
    Ok((vm, output))
}

/// `--scheduler*` and `--payload` values as they come, checked together at the end.
#[derive(Default)]
struct Programs {
    scheduler: Option<PathBuf>,
    scheduler_args: Vec<String>,
    scheduler_name: Option<String>,
    attach_ms: Option<u64>,
    manifest: Option<PathBuf>,
    extra: Vec<ExtraScheduler>,
    payload: Option<PathBuf>,
}

impl Programs {
    /// Takes the option if it is one of these; false if not.
    fn take(&mut self, name: &str, parser: &mut lexopt::Parser) -> Result<bool, UsageError> {
        match name {
            "scheduler" => self.scheduler = Some(path("--scheduler", parser.value()?)?),
            "scheduler-arg" => self.scheduler_args.push(argument(parser.value()?)?),
            "scheduler-name" => self.scheduler_name = Some(ops_name(parser.value()?.string()?)?),
            "manifest" => self.manifest = Some(path("--manifest", parser.value()?)?),
            "extra-scheduler" => self
                .extra
                .push(extra_scheduler(parser.value()?, &self.extra)?),
            "attach-timeout" => {
                let attach = seconds("attach-timeout", &parser.value()?.string()?, MAX_ATTACH_S)?;
                // At least 1 ms: the plan carries whole milliseconds.
                self.attach_ms = Some((attach.as_millis() as u64).max(1));
            }
            "payload" => {
                let path = path("--payload", parser.value()?)?;
                if let Some(first) = &self.payload {
                    return Err(UsageError(format!(
                        "--payload given twice ({} and {}): a run takes one --payload; \
                         run more programs as [[payload]] entries of a scenario",
                        first.display(),
                        path.display()
                    )));
                }
                self.payload = Some(path);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn finish(
        self,
        trailing: Option<Vec<OsString>>,
    ) -> Result<(Option<SchedulerOptions>, Option<PayloadOptions>), UsageError> {
        let companions = !self.scheduler_args.is_empty()
            || self.scheduler_name.is_some()
            || self.attach_ms.is_some()
            || self.manifest.is_some()
            || !self.extra.is_empty();
        if self.scheduler.is_none() && companions {
            return Err(UsageError(
                "--scheduler-arg, --scheduler-name, --attach-timeout, --manifest and \
                 --extra-scheduler need --scheduler PATH (or a NAME of the manifest)"
                    .into(),
            ));
        }
        if self.payload.is_none() && trailing.is_some() {
            return Err(UsageError(
                "`-- ARGS` passes arguments to --payload's program: give --payload PATH first"
                    .into(),
            ));
        }
        let scheduler = self.scheduler.map(|path| SchedulerOptions {
            path,
            args: self.scheduler_args,
            name: self.scheduler_name,
            attach_ms: self.attach_ms,
            manifest: self.manifest,
            extra: self.extra,
        });
        let args = trailing
            .unwrap_or_default()
            .into_iter()
            .map(argument)
            .collect::<Result<Vec<_>, _>>()?;
        let payload = self.payload.map(|path| PayloadOptions { path, args });
        Ok((scheduler, payload))
    }
}

/// What `bench`, `soak` and `bisect` take besides the run options.
#[derive(Default)]
struct RunExtras {
    /// `--runs N` (bench, soak).
    runs: Option<u32>,
    /// `--doc FILE` (bench).
    doc: Option<PathBuf>,
    /// `--catalog PATH` (bench, repeatable): scenarios run batched and one boot each.
    catalog: Vec<PathBuf>,
    /// `--images K1 K2 ...` or `--source TREE --good REV --bad REV` (bisect).
    bisect: bisect::BisectArgs,
    /// `--scheduler-a`, `--scheduler-b` and `--threshold` (ab).
    ab: compare::AbSides,
}

/// The options of `run`, and of `bench` and `soak`, which take `--runs` too, and of
/// `bisect`, which takes `--images`.
fn parse_run(
    parser: &mut lexopt::Parser,
    command: &str,
    trailing: Option<Vec<OsString>>,
) -> Result<(RunOptions, RunExtras), UsageError> {
    let bench = command == "bench";
    let repeats = matches!(command, "bench" | "soak");
    let mut extra = RunExtras::default();
    let mut cpus_given = false;
    let mut programs = Programs::default();
    let mut run = RunOptions {
        vm: default_vm(),
        scheduler: None,
        payload: None,
        kernel: None,
        kernel_list: Vec::new(),
        source: None,
        timeout: None,
        accel: AccelChoice::Auto,
        backend: BackendChoice::Auto,
        qemu_cpu: None,
        append: Vec::new(),
        json: None,
        out: None,
        verbose: false,
        quiet: false,
        workflow: WorkflowOptions::default(),
        host: false,
    };
    let mut given: Vec<String> = Vec::new();
    while let Some(arg) = next_arg(parser)? {
        if let Long(name) = &arg {
            given.push(name.to_string());
        }
        match arg {
            Long("host") if command == "run" => run.host = true,
            Long(name @ ("cpus" | "memory" | "topology")) => {
                let name = name.to_string();
                cpus_given |= name == "cpus";
                vm_option(&mut run.vm, &name, &parser.value()?.string()?)?;
            }
            Value(file) => run.vm.scenarios.push(path("a scenario path", file)?),
            Long("kernel") => kernel_option(&mut run, parser.value()?)?,
            Long("timeout") => {
                let text = parser.value()?.string()?;
                run.timeout = Some(seconds("timeout", &text, MAX_TIMEOUT_S)?);
            }
            Long("accel") => run.accel = accel(&parser.value()?.string()?)?,
            Long("backend") => run.backend = backend(&parser.value()?.string()?)?,
            Long("qemu-cpu") => run.qemu_cpu = Some(qemu_cpu(parser.value()?.string()?)?),
            Long("append") => run.append.push(append(parser.value()?.string()?)?),
            Long("json") => run.json = Some(path("--json", parser.value()?)?),
            Long("out") => run.out = Some(path("--out", parser.value()?)?),
            Short('v') | Long("verbose") => run.verbose = true,
            Short('q') | Long("quiet") => run.quiet = true,
            Long("runs") if repeats => extra.runs = Some(bench_runs(&parser.value()?.string()?)?),
            Long("doc") if bench => extra.doc = Some(path("--doc", parser.value()?)?),
            Long("catalog") if bench => extra.catalog.push(path("--catalog", parser.value()?)?),
            Long("images") if command == "bisect" => extra.bisect.images.extend(parser.values()?),
            Long("source") if matches!(command, "run" | "bisect") => {
                extra.bisect.source = Some(path("--source", parser.value()?)?)
            }
            Long(which @ ("good" | "bad")) if command == "bisect" => {
                let option = format!("--{which}");
                let rev = bisect::revision(&option, parser.value()?.string()?);
                let rev = Some(rev.map_err(UsageError)?);
                match option.as_str() {
                    "--good" => extra.bisect.good = rev,
                    _ => extra.bisect.bad = rev,
                }
            }
            Long(name @ ("scheduler-a" | "scheduler-b" | "threshold" | "manifest"))
                if command == "ab" =>
            {
                let name = name.to_string();
                extra.ab.take(&name, parser.value()?)?;
            }
            Long(name) => {
                let name = name.to_string();
                let workflow = !repeats && run.workflow.take(&name, parser)?;
                if !workflow && !programs.take(&name, parser)? {
                    return Err(Long(&name).unexpected().into());
                }
            }
            other => return Err(other.unexpected().into()),
        }
    }
    (run.scheduler, run.payload) = programs.finish(trailing)?;
    if run.host {
        check_host(&given)?;
    }
    check_vm(&run.vm, cpus_given, repeats.then_some(command))?;
    if repeats && !run.kernel_list.is_empty() {
        return Err(UsageError(format!(
            "{command} boots one kernel: give --kernel one path, or run the list of {} \
             kernels with `schedbox run`",
            run.kernel_list.len()
        )));
    }
    if command == "bisect" {
        check_bisect(&run)?;
    }
    if command == "run" {
        run.source = extra.bisect.source.take();
        if run.source.is_some() && (run.kernel.is_some() || !run.kernel_list.is_empty()) {
            return Err(UsageError(
                "give --kernel or --source, not both: --source TREE builds the kernel the \
                 run boots"
                    .into(),
            ));
        }
    }
    if run.backend == BackendChoice::Kvm && run.accel == AccelChoice::Tcg {
        return Err(UsageError(
            "--backend kvm is schedbox's own KVM VMM, which cannot use TCG: \
             give --backend qemu --accel tcg, or drop --accel"
                .into(),
        ));
    }
    if run.backend == BackendChoice::Kvm && run.qemu_cpu.is_some() {
        return Err(UsageError(
            "--qemu-cpu is QEMU's -cpu; --backend kvm is schedbox's own VMM, which sets the \
             CPU itself: drop one of them"
                .into(),
        ));
    }
    if command == "soak" && run.json.is_some() {
        return Err(UsageError(
            "soak keeps each run's report in its run directory under --out: drop --json".into(),
        ));
    }
    if bench && (run.scheduler.is_some() || run.payload.is_some()) {
        return Err(UsageError(
            "bench times the harness: --scheduler and --payload are options of run".into(),
        ));
    }
    Ok((run, extra))
}

/// The options that shape or choose a VM, which `--host` has none of: the machine and
/// the kernel are the ones it runs on.
const NOT_ON_HOST: &[(&str, &str)] = &[
    ("kernel", "the host runs its own kernel"),
    ("cpus", "the host has the CPUs it has"),
    ("topology", "the host has the topology it has"),
    ("memory", "the host has the memory it has"),
    ("append", "the host's kernel has booted already"),
    ("backend", "no VM runs"),
    ("accel", "no VM runs"),
    ("qemu-cpu", "no VM runs"),
];

/// Refuses with `--host` the options of a VM, naming the first one given.
fn check_host(given: &[String]) -> Result<(), UsageError> {
    for name in given {
        if let Some((_, why)) = NOT_ON_HOST.iter().find(|(n, _)| n == name) {
            return Err(UsageError(format!(
                "--{name} cannot be used with --host: {why}; drop --{name}, or drop --host \
                 to run in a VM"
            )));
        }
    }
    Ok(())
}

/// The run options that make no sense for a bisect: each step is a run of its own, so
/// files every step would overwrite are refused, and the kernels come from --images.
fn check_bisect(run: &RunOptions) -> Result<(), UsageError> {
    let refused = [
        (
            run.kernel.is_some() || !run.kernel_list.is_empty(),
            "--kernel: bisect runs the kernels of --images or builds those of --source",
        ),
        (
            run.json.is_some(),
            "--json: each step's report.json is in its own folder of the bisect's --out",
        ),
        (
            run.workflow.junit.is_some(),
            "--junit: each step would overwrite it; run the first bad image again with it",
        ),
        (
            run.workflow.summary.is_some(),
            "--summary: each step would overwrite it; run the first bad image again with it",
        ),
    ];
    match refused.iter().find(|(given, _)| *given) {
        Some((_, why)) => Err(UsageError(format!("bisect does not take {why}"))),
        None => Ok(()),
    }
}

/// The ab command, once the run options are parsed: the options ab refuses, and
/// `--repeat` as the runs per side.
fn ab_command(sides: compare::AbSides, mut options: RunOptions) -> Result<Command, UsageError> {
    let (a, b, threshold, manifest) = sides.finish()?;
    let refused = [
        (
            options.scheduler.is_some(),
            "--scheduler: give --scheduler-a and --scheduler-b",
        ),
        (
            !options.kernel_list.is_empty(),
            "a --kernel list: ab runs one kernel",
        ),
        (
            options.vm.topology.len() > 1,
            "a --topology list: ab runs one shape",
        ),
        (
            options.workflow.junit.is_some() || options.workflow.summary.is_some(),
            "--junit or --summary: ab writes a.json, b.json and compare.json in its run \
             directory",
        ),
        (
            options.payload.is_some(),
            "--payload: compare schedulers on scenarios' own payloads",
        ),
    ];
    if let Some((_, why)) = refused.iter().find(|(given, _)| *given) {
        return Err(UsageError(format!("ab does not take {why}")));
    }
    let repeats = options.workflow.repeat.take().unwrap_or(DEFAULT_AB_REPEATS);
    Ok(Command::Ab {
        options,
        a,
        b,
        repeats,
        threshold,
        manifest,
    })
}

/// `--kernel`: one path, or a comma-separated list of two or more (a kernel matrix). A
/// path that exists is one kernel, commas and all; given twice, the second would
/// silently replace the first, so it is refused.
fn kernel_option(run: &mut RunOptions, value: OsString) -> Result<(), UsageError> {
    if run.kernel.is_some() || !run.kernel_list.is_empty() {
        return Err(UsageError(
            "--kernel given twice: give one path, or several as one list: --kernel A,B".into(),
        ));
    }
    let one = path("--kernel", value)?;
    let list = match one.to_str() {
        Some(text) if text.contains(',') && std::fs::symlink_metadata(&one).is_err() => {
            kernel_list(text)?
        }
        _ => vec![one],
    };
    if list.len() == 1 {
        run.kernel = list.into_iter().next();
    } else {
        run.kernel_list = list;
    }
    Ok(())
}

/// `--kernel A,B,...`: each element a path, none empty, none twice.
fn kernel_list(text: &str) -> Result<Vec<PathBuf>, UsageError> {
    let parts: Vec<&str> = text.split(',').collect();
    if let Some(at) = parts.iter().position(|p| p.is_empty()) {
        return Err(UsageError(format!(
            "--kernel {text:?}: element {} of the list is empty: separate the kernels' paths \
             by single commas, with none before the first or after the last",
            at + 1
        )));
    }
    for (i, p) in parts.iter().enumerate() {
        if parts[..i].contains(p) {
            return Err(UsageError(format!(
                "--kernel {text:?} names {p} twice: give each kernel once"
            )));
        }
    }
    Ok(parts.into_iter().map(PathBuf::from).collect())
}

/// One argument for a program in the guest: plan values are text without NUL bytes.
fn argument(value: OsString) -> Result<String, UsageError> {
    value
        .into_string()
        .map_err(|v| UsageError(format!("argument {v:?} is not valid UTF-8")))
}

fn ops_name(name: String) -> Result<String, UsageError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_OPS_NAME
        && name.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(name)
    } else {
        Err(UsageError(format!(
            "--scheduler-name {name:?}: give the scheduler's ops name as /sys/kernel/sched_ext/root/ops shows it (e.g. simple)"
        )))
    }
}

/// `--extra-scheduler LABEL=PATH`: a label as scenarios write it, given once, and a path.
fn extra_scheduler(
    value: OsString,
    given: &[ExtraScheduler],
) -> Result<ExtraScheduler, UsageError> {
    let text = value.to_string_lossy().into_owned();
    let usage = |why: &str| {
        UsageError(format!(
            "--extra-scheduler {text:?}: {why}: give LABEL=PATH, LABEL as the scenario's \
             [schedulers.LABEL] names it (a-z, 0-9, '-', '_')"
        ))
    };
    let Some((label, path)) = text.split_once('=') else {
        return Err(usage("no '='"));
    };
    let good_label = !label.is_empty()
        && label.len() <= schedbox_protocol::limits::MAX_NAME
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !good_label {
        return Err(usage("not a label"));
    }
    if path.is_empty() {
        return Err(usage("no path"));
    }
    if given.iter().any(|e| e.label == label) {
        return Err(usage("this label is given twice"));
    }
    Ok(ExtraScheduler {
        label: label.to_string(),
        path: path.into(),
    })
}

/// Every time option: seconds, decimals allowed, more than 0 and at most `max_s`.
fn seconds(option: &str, text: &str, max_s: u64) -> Result<Duration, UsageError> {
    let help = format!("give seconds, more than 0 and at most {max_s}, e.g. 20 or 0.5");
    let Ok(s) = text.trim().parse::<f64>() else {
        return Err(UsageError(format!("--{option} {text:?}: {help}")));
    };
    if !(s > 0.0 && s <= max_s as f64) {
        return Err(UsageError(format!(
            "--{option} {text} is out of range: {help}"
        )));
    }
    // Rounded up to whole milliseconds, so that a positive value never becomes zero.
    Ok(Duration::from_millis((s * 1000.0).ceil() as u64))
}

fn bench_runs(text: &str) -> Result<u32, UsageError> {
    let n = number("runs", text)?;
    if n == 0 || n > MAX_BENCH_RUNS {
        return Err(UsageError(format!(
            "--runs {n} is out of range: give 1 to {MAX_BENCH_RUNS}"
        )));
    }
    Ok(n as u32)
}

fn cpus(text: &str) -> Result<u32, UsageError> {
    let n = number("cpus", text)?;
    if n == 0 || n > u64::from(MAX_CPUS) {
        return Err(UsageError(format!(
            "--cpus {n} is out of range: give 1 to {MAX_CPUS}"
        )));
    }
    Ok(n as u32)
}

fn memory(text: &str) -> Result<u32, UsageError> {
    let n = number("memory", text)?;
    let max = host_memory_mib().unwrap_or(u64::from(u32::MAX));
    if n < u64::from(MIN_MEMORY_MIB) || n > max {
        return Err(UsageError(format!(
            "--memory {n} MiB is out of range: give {MIN_MEMORY_MIB} to {max} MiB (this host's memory)"
        )));
    }
    Ok(n as u32)
}

/// The host's total memory, from /proc/meminfo.
fn host_memory_mib() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

fn accel(text: &str) -> Result<AccelChoice, UsageError> {
    match text {
        "auto" => Ok(AccelChoice::Auto),
        "kvm" => Ok(AccelChoice::Kvm),
        "tcg" => Ok(AccelChoice::Tcg),
        _ => Err(UsageError(format!(
            "--accel {text:?}: use auto, kvm or tcg"
        ))),
    }
}

fn backend(text: &str) -> Result<BackendChoice, UsageError> {
    match text {
        "auto" => Ok(BackendChoice::Auto),
        "qemu" => Ok(BackendChoice::Qemu),
        "kvm" => Ok(BackendChoice::Kvm),
        _ => Err(UsageError(format!(
            "--backend {text:?}: use auto, qemu or kvm"
        ))),
    }
}

/// `--qemu-cpu`: one QEMU `-cpu` value (a model and its `+flag`/`-flag` list).
fn qemu_cpu(text: String) -> Result<String, UsageError> {
    let plain = text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"+-_.,=".contains(&b));
    if text.is_empty() || !plain || text.starts_with(',') {
        return Err(UsageError(format!(
            "--qemu-cpu {text:?}: give a QEMU CPU model and its flags, e.g. \"EPYC,+svm\" \
             (`qemu-system-x86_64 -cpu help` lists them)"
        )));
    }
    Ok(text)
}

/// Kernel parameters `--append` may not carry, each with why and what to do instead.
const REFUSED_PARAMETERS: &[(&str, &str)] = &[
    (
        "mem=",
        "the report would state the wrong guest memory; set it with --memory MiB instead",
    ),
    (
        "init=",
        "it replaces schedbox's PID 1, so no scenario would run: drop it",
    ),
    (
        "rdinit=",
        "it replaces schedbox's PID 1, so no scenario would run: drop it",
    ),
];

fn append(text: String) -> Result<String, UsageError> {
    if text.contains('\n') || text.contains('\0') {
        return Err(UsageError(
            "--append takes one line of kernel parameters".into(),
        ));
    }
    for word in text.split_whitespace() {
        if let Some((_, why)) = REFUSED_PARAMETERS.iter().find(|(p, _)| word.starts_with(p)) {
            return Err(UsageError(format!("--append {word}: {why}")));
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_args(args: &[&str]) -> Result<Command, UsageError> {
        parse(args.iter().map(OsString::from).collect())
    }

    #[test]
    fn a_kernel_list_is_a_matrix_and_one_path_stays_one() {
        let Command::Run(run) = parse_args(&["run", "--kernel", "/k/a,/k/b"]).unwrap() else {
            panic!("not run")
        };
        assert_eq!(run.kernel, None);
        assert_eq!(
            run.kernel_list,
            [PathBuf::from("/k/a"), PathBuf::from("/k/b")]
        );
        let Command::Run(run) = parse_args(&["run", "--kernel", "/k/bzImage"]).unwrap() else {
            panic!("not run")
        };
        assert_eq!(run.kernel, Some(PathBuf::from("/k/bzImage")));
        assert!(run.kernel_list.is_empty());
        // A file that exists is one kernel, whatever its name holds.
        let dir = crate::tempdir::TempDir::new("cli-kernel-comma").unwrap();
        let comma = dir.path().join("bzImage,v2");
        std::fs::write(&comma, "x").unwrap();
        let Command::Run(run) = parse_args(&["run", "--kernel", comma.to_str().unwrap()]).unwrap()
        else {
            panic!("not run")
        };
        assert_eq!(run.kernel, Some(comma));
        for (args, want) in [
            (
                &["run", "--kernel", "/k/a,,/k/b"][..],
                "element 2 of the list is empty",
            ),
            (
                &["run", "--kernel", "/k/a,"],
                "element 2 of the list is empty",
            ),
            (
                &["run", "--kernel", ",/k/a"],
                "element 1 of the list is empty",
            ),
            (&["run", "--kernel", "/k/a,/k/a"], "names /k/a twice"),
            (
                &["run", "--kernel", "/k/a", "--kernel", "/k/b"],
                "--kernel given twice",
            ),
            (&["soak", "--kernel", "/k/a,/k/b"], "soak boots one kernel"),
            (
                &["bench", "--kernel", "/k/a,/k/b"],
                "bench boots one kernel",
            ),
        ] {
            let err = parse_args(args).unwrap_err().0;
            assert!(err.contains(want), "{args:?}: {err}");
        }
    }

    #[test]
    fn only_bench_takes_a_catalog_and_it_repeats() {
        let Command::Bench { catalog, .. } =
            parse_args(&["bench", "--catalog", "a", "--catalog", "b/", "s.toml"]).unwrap()
        else {
            panic!("not bench")
        };
        assert_eq!(catalog, [PathBuf::from("a"), PathBuf::from("b/")]);
        assert!(parse_args(&["run", "--catalog", "a"]).is_err());
    }

    #[test]
    fn bisect_takes_images_up_to_the_next_option() {
        let Command::Bisect {
            options,
            over: BisectOver::Images(images),
        } = parse_args(&[
            "bisect", "--images", "/k/1", "/k/2", "/k/3", "--cpus", "1", "a.toml",
        ])
        .unwrap()
        else {
            panic!("not bisect")
        };
        assert_eq!(images.len(), 3);
        assert_eq!(images[2], PathBuf::from("/k/3"));
        assert_eq!(options.vm.scenarios, [PathBuf::from("a.toml")]);
        assert_eq!(options.vm.cpus, 1);
        for (args, want) in [
            (
                &["bisect", "--images", "/k/1", "a.toml"][..],
                "that is a scenario",
            ),
            (&["bisect", "--images", "/k/1", "/"], "that is a scenario"),
            (
                &["bisect", "--images", "/k/1", "--cpus", "1"],
                "at least 2 kernel images",
            ),
            (&["bisect", "a.toml"], "at least 2 kernel images"),
            (
                &["bisect", "--images", "/k/1", "/k/2", "--kernel", "/k/3"],
                "does not take --kernel",
            ),
            (
                &["bisect", "--images", "/k/1", "/k/2", "--junit", "j.xml"],
                "does not take --junit",
            ),
            (
                &["bisect", "--images", "/k/1", "/k/2", "--json", "r.json"],
                "does not take --json",
            ),
            (&["run", "--images", "/k/1", "/k/2"], "--images"),
        ] {
            let err = parse_args(args).unwrap_err().0;
            assert!(err.contains(want), "{args:?}: {err}");
        }
    }

    #[test]
    fn bisect_and_run_take_a_source_tree() {
        let Command::Bisect { options, over } = parse_args(&[
            "bisect",
            "--source",
            "/src/linux",
            "--good",
            "v6.12",
            "--bad",
            "HEAD",
            "a.toml",
        ])
        .unwrap() else {
            panic!("not bisect")
        };
        assert_eq!(
            over,
            BisectOver::Source(SourceRange {
                tree: "/src/linux".into(),
                good: "v6.12".into(),
                bad: "HEAD".into(),
            })
        );
        assert_eq!(options.vm.scenarios, [PathBuf::from("a.toml")]);
        let Command::Run(run) = parse_args(&["run", "--source", "/src/linux", "a.toml"]).unwrap()
        else {
            panic!("not run")
        };
        assert_eq!(run.source, Some(PathBuf::from("/src/linux")));
        assert_eq!(run.kernel, None);
        for (args, want) in [
            (
                &["bisect", "--source", "/s", "--bad", "HEAD"][..],
                "needs --good REV and --bad REV (missing --good)",
            ),
            (
                &["bisect", "--source", "/s", "--good", "v1"],
                "(missing --bad)",
            ),
            (
                &["bisect", "--good", "v1", "--bad", "v2"],
                "revisions of --source TREE",
            ),
            (
                &["bisect", "--images", "/k/1", "/k/2", "--source", "/s"],
                "give --images or --source, not both",
            ),
            (
                &["bisect", "--source", "/s", "--good", "", "--bad", "x"],
                "give a git revision",
            ),
            (&["bisect", "--source", ""], "--source is empty"),
            (
                &["run", "--source", "/s", "--kernel", "/k"],
                "give --kernel or --source, not both",
            ),
            (&["run", "--good", "v1"], "--good"),
            (&["soak", "--source", "/s"], "--source"),
            (&["bench", "--source", "/s"], "--source"),
        ] {
            let err = parse_args(args).unwrap_err().0;
            assert!(err.contains(want), "{args:?}: {err}");
        }
    }

    #[test]
    fn run_options_parse() {
        let cmd = parse_args(&[
            "run",
            "--kernel",
            "k",
            "--cpus",
            "4",
            "--memory",
            "512",
            "--timeout",
            "30",
            "--accel",
            "tcg",
            "--backend",
            "qemu",
            "--append",
            "loglevel=7",
            "--json",
            "r.json",
            "--out",
            "d",
            "-v",
            "a.toml",
            "b.toml",
        ])
        .unwrap();
        let Command::Run(run) = cmd else {
            panic!("{cmd:?}")
        };
        assert_eq!(run.vm.cpus, 4);
        assert_eq!(run.vm.memory_mib, 512);
        assert_eq!(
            run.vm.scenarios,
            [PathBuf::from("a.toml"), PathBuf::from("b.toml")]
        );
        assert_eq!(
            (run.timeout, run.accel, run.backend),
            (
                Some(Duration::from_secs(30)),
                AccelChoice::Tcg,
                BackendChoice::Qemu
            )
        );
        assert_eq!(run.append, ["loglevel=7"]);
        assert!(run.verbose);
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for (args, hint) in [
            (&["run", "--cpus", "0"][..], "1 to 64"),
            (&["run", "--cpus", "two"], "whole number"),
            (&["run", "--memory", "99999999"], "this host's memory"),
            (&["run", "--memory", "1"], "64 to"),
            (
                &["run", "--timeout", "0"],
                "out of range: give seconds, more than 0",
            ),
            (&["run", "--timeout", "soon"], "give seconds"),
            (&["run", "--timeout", "NaN"], "out of range"),
            (&["run", "--accel", "hvf"], "auto, kvm or tcg"),
            (&["run", "--frobnicate"], "frobnicate"),
            (&["run", "--kernel"], "kernel"),
            (&["launch"], "unknown command"),
            (&["initramfs"], "--output"),
            (&["kernel", "bake"], "kernel fetch"),
            (&["kernel", "check"], "IMAGE"),
            (&["kernel", "build", "--jobs", "0"], "at least 1"),
            (
                &["run", "--backend", "kvm", "--accel", "tcg"],
                "--backend qemu --accel tcg",
            ),
            (&["run", "--append", "quiet mem=20M"], "--memory MiB"),
            (
                &["run", "--append", "rdinit=/bin/sh"],
                "replaces schedbox's PID 1",
            ),
            (
                &["run", "--append", "quiet init=/bin/sh"],
                "replaces schedbox's PID 1",
            ),
            (&["run", "--out", ""], "--out is empty"),
            (&["run", "--kernel", ""], "--kernel is empty"),
            (&["run", "--json", ""], "--json is empty"),
            (&["run", "--scheduler", ""], "--scheduler is empty"),
            (&["run", "--payload", ""], "--payload is empty"),
            (&["run", ""], "a scenario path is empty"),
            (&["plan", ""], "a scenario path is empty"),
            (&["initramfs", "--output", ""], "--output is empty"),
            (&["bench", "--doc", ""], "--doc is empty"),
            (&["kernel", "check", ""], "IMAGE is empty"),
            (&["kernel", "build", "--source", ""], "--source is empty"),
            (&["kernel", "fetch-source", "--dest", ""], "--dest is empty"),
            (
                &["run", "--backend", "kvm", "--qemu-cpu", "EPYC"],
                "--qemu-cpu is QEMU's -cpu",
            ),
            (&["run", "--qemu-cpu", "EPYC +svm"], "-cpu help"),
            (&["run", "--qemu-cpu", ""], "-cpu help"),
            (
                &["run", "--payload", "/bin/true", "--payload", "/bin/ls"],
                "--payload given twice",
            ),
            (&["scheduler"], "scheduler build NAME"),
            (&["scheduler", "build"], "scheduler build NAME"),
            (&["scheduler", "build", "a", "b"], "unexpected argument"),
            (&["scheduler", "build", "a", "-j", "0"], "at least 1"),
        ] {
            let err = parse_args(args).unwrap_err().to_string();
            assert!(err.contains(hint), "{args:?}: {err}");
        }
    }

    #[test]
    fn scheduler_build_parses() {
        assert_eq!(
            parse_args(&["scheduler", "build", "scx_bpfland@1.1.4", "--jobs", "2"]).unwrap(),
            Command::SchedulerBuild {
                spec: "scx_bpfland@1.1.4".into(),
                jobs: Some(2)
            }
        );
    }

    #[test]
    fn scheduler_and_payload_options_parse() {
        let cmd = parse_args(&[
            "run",
            "--scheduler",
            "scx_qmap",
            "--scheduler-arg",
            "-t",
            "--scheduler-arg=10",
            "--scheduler-name",
            "qmap",
            "--attach-timeout",
            "0.5",
            "a.toml",
            "--payload",
            "/bin/ls",
            "--",
            "-l",
            "a.toml",
        ])
        .unwrap();
        let Command::Run(run) = cmd else {
            panic!("{cmd:?}")
        };
        assert_eq!(
            run.scheduler,
            Some(SchedulerOptions {
                path: "scx_qmap".into(),
                args: vec!["-t".into(), "10".into()],
                name: Some("qmap".into()),
                attach_ms: Some(500),
                manifest: None,
                extra: Vec::new(),
            })
        );
        assert_eq!(
            run.payload,
            Some(PayloadOptions {
                path: "/bin/ls".into(),
                args: vec!["-l".into(), "a.toml".into()],
            })
        );
        assert_eq!(run.vm.scenarios, [PathBuf::from("a.toml")]);
        let Command::Run(plain) = parse_args(&["run", "--payload", "/bin/true", "--"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(plain.payload.unwrap().args, Vec::<String>::new());
    }

    #[test]
    fn scheduler_and_payload_mistakes_are_usage_errors() {
        for (args, hint) in [
            (
                &["run", "--scheduler-arg", "-t"][..],
                "need --scheduler PATH",
            ),
            (&["run", "--attach-timeout", "5"], "need --scheduler PATH"),
            (
                &["run", "--scheduler", "s", "--attach-timeout", "0"],
                "more than 0",
            ),
            (
                &["run", "--scheduler", "s", "--attach-timeout", "soon"],
                "give seconds",
            ),
            (
                &["run", "--scheduler", "s", "--scheduler-name", "a b"],
                "ops name",
            ),
            (&["run", "--", "-l"], "give --payload PATH first"),
            (&["plan", "--", "-l"], "only run takes"),
            (&["bench", "--scheduler", "s"], "options of run"),
            (&["run", "--payload"], "payload"),
            (
                &["run", "--extra-scheduler", "q=/x"],
                "need --scheduler PATH",
            ),
            (
                &["run", "--scheduler", "s", "--extra-scheduler", "q"],
                "no '='",
            ),
            (
                &["run", "--scheduler", "s", "--extra-scheduler", "Q=/x"],
                "not a label",
            ),
            (
                &["run", "--scheduler", "s", "--extra-scheduler", "q="],
                "no path",
            ),
            (
                &[
                    "run",
                    "--scheduler",
                    "s",
                    "--extra-scheduler",
                    "q=/x",
                    "--extra-scheduler",
                    "q=/y",
                ],
                "given twice",
            ),
        ] {
            let err = parse_args(args).unwrap_err().to_string();
            assert!(err.contains(hint), "{args:?}: {err}");
        }
    }

    #[test]
    fn extra_schedulers_are_labelled_paths() {
        let args = [
            "run",
            "--scheduler",
            "s",
            "--extra-scheduler",
            "qmap-stall=/x/scx_qmap",
        ];
        let Command::Run(run) = parse_args(&args).unwrap() else {
            panic!()
        };
        assert_eq!(
            run.scheduler.unwrap().extra,
            [ExtraScheduler {
                label: "qmap-stall".into(),
                path: "/x/scx_qmap".into(),
            }]
        );
    }

    #[test]
    fn topology_lists_and_sets_are_runs_alone() {
        let Command::Run(run) = parse_args(&["run", "--topology", "1n1l2c1t,smt2"]).unwrap() else {
            panic!()
        };
        let specs: Vec<String> = run.vm.shapes().iter().map(Shape::to_string).collect();
        assert_eq!(specs, ["1n1l2c1t", "1n1l1c2t"]);
        let Command::Run(run) = parse_args(&["run", "--topology", "set:numa"]).unwrap() else {
            panic!()
        };
        assert_eq!(run.vm.topology.len(), 3);
        for (args, hint) in [
            (
                &["soak", "--topology", "uni,smt2"][..],
                "soak boots one machine: give --topology one shape",
            ),
            (
                &["plan", "--topology", "set:small"],
                "plan boots one machine",
            ),
            (&["initramfs", "--topology", "uni,smt2"], "initramfs boots"),
            (&["run", "--topology", "set:nope"], "unknown topology set"),
            (
                &["run", "--topology", "uni,1n1l128c"],
                "1n1l128c1t has 128 vCPUs, more than the 64",
            ),
            (
                &["run", "--topology", "uni,numa2", "--memory", "64"],
                "split over the 2 nodes of 2n2l2c1t leaves 32 MiB",
            ),
        ] {
            let err = parse_args(args).unwrap_err().to_string();
            assert!(err.contains(hint), "{args:?}: {err}");
        }
    }

    #[test]
    fn every_time_option_takes_seconds_alike() {
        let Command::Run(run) = parse_args(&["run", "--timeout", "2.5"]).unwrap() else {
            panic!()
        };
        assert_eq!(run.timeout, Some(Duration::from_millis(2500)));
        let Command::Run(run) =
            parse_args(&["run", "--scheduler", "s", "--attach-timeout", "2.5"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(run.scheduler.unwrap().attach_ms, Some(2500));
        for option in ["--timeout", "--attach-timeout"] {
            for (value, hint) in [
                ("0", "out of range"),
                ("-1", "out of range"),
                ("x", "give seconds"),
            ] {
                let err = parse_args(&["run", "--scheduler", "s", option, value])
                    .unwrap_err()
                    .to_string();
                assert!(
                    err.contains(&format!("{option} ")) && err.contains(hint),
                    "{option} {value}: {err}"
                );
                assert!(err.contains("more than 0 and at most"), "{err}");
            }
        }
        assert_eq!(seconds("t", "0.0001", 5), Ok(Duration::from_millis(1)));
    }

    #[test]
    fn every_command_has_its_own_help() {
        let lines = [
            (&["run", "--help"][..], "run"),
            (&["plan", "-h"], "plan"),
            (&["run", "--cpus", "2", "-h"], "run"),
            (&["soak", "--help"], "soak"),
            (&["bench", "-h"], "bench"),
            (&["initramfs", "--help"], "initramfs"),
            (&["kernel", "--help"], "kernel"),
            (&["kernel", "build", "-h"], "kernel"),
            (&["kernel", "check", "--help"], "kernel"),
            (&["kernel", "fetch-source", "-h"], "kernel"),
            (&["kernel", "fetch", "--help"], "kernel"),
            (&["topology", "-h"], "topology"),
            (&["topology", "list", "--help"], "topology"),
            (&["scheduler", "--help"], "scheduler"),
            (&["scheduler", "build", "x", "-h"], "scheduler"),
            (&["help", "run"], "run"),
            (&["help", "--help"], "help"),
        ];
        for (args, command) in lines {
            assert_eq!(parse_args(args), Ok(Command::HelpFor(command)), "{args:?}");
        }
        // A value that looks like -h is the option's value, not a help request.
        let Command::Run(run) =
            parse_args(&["run", "--scheduler", "s", "--scheduler-arg", "-h"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(run.scheduler.unwrap().args, ["-h"]);
        let err = parse_args(&["help", "launch"]).unwrap_err().to_string();
        assert!(err.contains("no such command"), "{err}");
        for command in COMMANDS {
            let help = command_help(command);
            assert!(
                help.lines()
                    .nth(1)
                    .is_some_and(|l| l.starts_with(&format!("  schedbox {command}"))),
                "{command}: {help}"
            );
        }
        let plan = command_help("plan");
        assert!(
            plan.contains("--topology SPEC") && !plan.contains("schedbox run"),
            "{plan}"
        );
        assert!(command_help("initramfs").contains("--topology SPEC"));
        assert!(command_help("run").contains("run options:"));
        assert!(command_help("kernel").contains("kernel check IMAGE"));
    }

    #[test]
    fn version_has_a_short_form() {
        assert_eq!(parse_args(&["-V"]), Ok(Command::Version));
        assert_eq!(parse_args(&["--version"]), Ok(Command::Version));
    }

    #[test]
    fn no_arguments_print_help() {
        assert_eq!(parse_args(&[]).unwrap(), Command::Help);
        assert_eq!(parse_args(&["--help"]).unwrap(), Command::Help);
    }
}
