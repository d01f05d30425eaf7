//! The commands: prepare a run (kernel, scenarios, plan, initramfs), boot it, judge, report.

use std::ffi::OsString;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::backend::{BackendError, VmSpec};
use crate::cli::{self, Command, RunOptions, VmOptions};
use crate::kernel::{self, Kernel};
use crate::plan::{self, PlanConfig, DEFAULT_CONFIG};
use crate::report::{self, RunInfo};
use crate::scenario::{self, payloads, Scenario, VmShape};
use crate::scheduler::{self, SchedulerInfo};
use crate::select;
use crate::session::{self, Limits, Observed, Sinks};
use crate::verdict::{self, Outcome, Verdict};
use crate::{fetch, init_binary, initrd, kbuild, kconfig, programs, rundir};

/// Kernel parameters for every guest: boot straight into our init, turn a panic into an
/// immediate reset (which ends the VM), reboot without firmware, and keep the console
/// short (panics and power-off messages still show; `--append loglevel=7` for more).
/// `i8042.noaux` skips probing for a PS/2 mouse, which costs about 0.4 s under TCG.
const BASE_CMDLINE: &str = "rdinit=/init panic=-1 reboot=k quiet i8042.noaux";
/// Time for boot and teardown on top of the scenarios' own, when --timeout is not given.
pub const BOOT_ALLOWANCE_S: u64 = 60;

pub const EXIT_USAGE: i32 = 2;
pub const EXIT_UNTESTABLE: i32 = 125;

/// Runs the command line; returns the exit status.
pub fn main(args: Vec<OsString>) -> i32 {
    let command = match cli::parse(args) {
        Ok(command) => command,
        Err(e) => return usage_error(&e.to_string()),
    };
    match command {
        Command::Help => {
            print!("{}", cli::USAGE);
            0
        }
        Command::Version => {
            println!("schedbox {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Command::Plan(vm) => match load_scenarios(&vm).and_then(|scenarios| {
            plan::compile_checked(&scenarios, &DEFAULT_CONFIG).map_err(|e| e.to_string())
        }) {
            Ok((plan, _)) => {
                print!("{plan}");
                0
            }
            Err(e) => usage_error(&e),
        },
        Command::Initramfs { vm, output } => write_initramfs(&vm, &output),
        Command::KernelFetch => match fetch::fetch() {
            Ok(path) => {
                println!("{}", path.display());
                0
            }
            Err(e) => usage_error(&format!("kernel fetch failed: {e}")),
        },
        Command::KernelFetchSource { dest } => match kbuild::fetch_source(dest.as_deref()) {
            Ok(path) => {
                println!("{}", path.display());
                0
            }
            Err(e) => usage_error(&format!("kernel fetch-source failed: {e}")),
        },
        Command::KernelBuild(options) => kernel_build(&options),
        Command::KernelCheck { image } => kernel_check(&image),
        Command::SchedulerBuild { spec, jobs } => crate::schedbuild::command(&spec, jobs),
        Command::Run(options) => run(&options),
        Command::Bench { options, runs } => crate::bench::main(&options, runs),
    }
}

fn kernel_build(options: &cli::KernelBuildOptions) -> i32 {
    let source = match kbuild::source_or_fetch(options.source.as_deref()) {
        Ok(source) => source,
        Err(e) => return usage_error(&format!("kernel build: {e}")),
    };
    let mut build = kbuild::BuildOptions {
        force: options.force,
        verbose: options.verbose,
        ..kbuild::BuildOptions::default()
    };
    if let Some(jobs) = options.jobs {
        build.jobs = jobs;
    }
    match kbuild::build(&source, &build) {
        Ok(built) => {
            let how = if built.reused { "cached" } else { "built" };
            eprintln!("schedbox: {how} kernel {} ({})", built.version, built.key);
            println!("{}", built.image.display());
            0
        }
        Err(e) => usage_error(&format!("kernel build failed: {e}")),
    }
}

/// `kernel check`: 0 sched_ext present, 1 absent, 2 unknown or error.
fn kernel_check(image: &Path) -> i32 {
    match kconfig::check_image(image) {
        Ok(features) => {
            println!("{features}");
            for line in features.detail() {
                println!("  {line}");
            }
            match features.has_sched_ext {
                Some(true) => 0,
                Some(false) => 1,
                None => EXIT_USAGE,
            }
        }
        Err(e) => usage_error(&e.to_string()),
    }
}

fn usage_error(message: &str) -> i32 {
    eprintln!("schedbox: {message}");
    EXIT_USAGE
}

/// The scenarios named on the command line, or the built-in one.
pub(crate) fn load_scenarios(vm: &VmOptions) -> Result<Vec<Scenario>, String> {
    let shape = VmShape {
        cpus: vm.cpus,
        memory_mib: vm.memory_mib,
    };
    let scenarios = if vm.scenarios.is_empty() {
        vec![
            scenario::parse(scenario::BUILT_IN, "built-in spin scenario", &shape)
                .map_err(|e| e.to_string())?,
        ]
    } else {
        vm.scenarios
            .iter()
            .map(|path| scenario::load(path, &shape).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?
    };
    for (i, s) in scenarios.iter().enumerate() {
        if let Some(first) = scenarios[..i].iter().find(|o| o.name == s.name) {
            return Err(format!(
                "{}: scenario name {:?} is also used by {}: names must be unique in a run",
                s.source, s.name, first.source
            ));
        }
    }
    Ok(scenarios)
}

/// The plan and the initramfs: init, plan, and the programs it runs.
fn initramfs_for(
    scenarios: &[Scenario],
    scheduler: Option<&SchedulerInfo>,
) -> Result<(String, Vec<u8>), String> {
    let config = PlanConfig {
        scheduler: scheduler.map(SchedulerInfo::plan_line),
        ..DEFAULT_CONFIG
    };
    let (plan, _) = plan::compile_checked(scenarios, &config).map_err(|e| e.to_string())?;
    let programs = programs::collect(scheduler, scenarios)?;
    let (_, init) = init_binary::load()?;
    let image = initrd::build(&init, &plan, &programs).map_err(|e| e.to_string())?;
    Ok((plan, image))
}

fn write_initramfs(vm: &VmOptions, output: &Path) -> i32 {
    let result = load_scenarios(vm)
        .and_then(|s| initramfs_for(&s, None))
        .and_then(|(_, image)| {
            std::fs::write(output, image)
                .map_err(|e| format!("cannot write {}: {e}", output.display()))
        });
    match result {
        Ok(()) => 0,
        Err(e) => usage_error(&e),
    }
}

/// Everything checked and built before a VM starts; any error here is the user's (exit 2).
struct Prepared {
    kernel: Kernel,
    scenarios: Vec<Scenario>,
    initramfs: Vec<u8>,
    run_dir: PathBuf,
    cmdline: String,
    timeout: Duration,
    scheduler: Option<SchedulerInfo>,
    /// Why the kernel cannot run the scheduler, when its config says so: no boot then.
    no_sched_ext: Option<String>,
}

/// The scenarios with what the command line adds: the `--payload` program in each, and
/// the `scheduler` check in each when a scheduler is under test.
fn run_scenarios(
    options: &RunOptions,
    scheduler: Option<&SchedulerInfo>,
) -> Result<Vec<Scenario>, String> {
    let mut scenarios = load_scenarios(&options.vm)?;
    if let Some(p) = &options.payload {
        let payload = payloads::cli_payload(&p.path, p.args.clone())?;
        payloads::run_in_every_scenario(&mut scenarios, &payload)?;
    }
    if scheduler.is_some() {
        scheduler::add_check(&mut scenarios);
    }
    Ok(scenarios)
}

fn scheduler_info(options: &RunOptions) -> Result<Option<SchedulerInfo>, String> {
    options
        .scheduler
        .as_ref()
        .map(|s| {
            let attach_ms = s.attach_ms.unwrap_or(scheduler::DEFAULT_ATTACH_MS);
            SchedulerInfo::new(&s.path, s.args.clone(), s.name.clone(), attach_ms)
        })
        .transpose()
}

fn prepare(options: &RunOptions) -> Result<Prepared, String> {
    let kernel = kernel::locate(options.kernel.as_deref()).map_err(|e| e.to_string())?;
    let scheduler = scheduler_info(options)?;
    let scenarios = run_scenarios(options, scheduler.as_ref())?;
    let (plan, initramfs) = initramfs_for(&scenarios, scheduler.as_ref())?;
    let no_sched_ext = scheduler
        .as_ref()
        .and_then(|_| scheduler::kernel_lacks_sched_ext(&kernel.path));
    let run_dir = rundir::create(options.out.as_deref()).map_err(|e| {
        format!("cannot create the run directory: {e}; choose another with --out DIR")
    })?;
    let plan_path = run_dir.join(rundir::PLAN);
    std::fs::write(&plan_path, &plan)
        .map_err(|e| format!("cannot write {}: {e}", plan_path.display()))?;
    let cmdline = kernel_cmdline(&options.append);
    let scenario_s: u64 = scenarios
        .iter()
        .map(|s| s.duration_ms().div_ceil(1000))
        .sum();
    let attach_s = scheduler.as_ref().map_or(0, |s| s.attach_ms.div_ceil(1000));
    let default_s = scenario_s + attach_s + BOOT_ALLOWANCE_S;
    let timeout = Duration::from_secs(options.timeout_s.unwrap_or(default_s));
    Ok(Prepared {
        kernel,
        scenarios,
        initramfs,
        run_dir,
        cmdline,
        timeout,
        scheduler,
        no_sched_ext,
    })
}

fn run(options: &RunOptions) -> i32 {
    match run_once(options) {
        Ok((report, run_dir)) => publish(options, &run_dir, &report),
        Err(code) => code,
    }
}

/// Boots and judges one run; Err is the exit status of a run that never got a report.
fn run_once(options: &RunOptions) -> Result<(report::Report, PathBuf), i32> {
    let prepared = prepare(options).map_err(|e| usage_error(&e))?;
    let mut info = RunInfo {
        backend: report::NO_BACKEND.to_string(),
        backend_reason: String::new(),
        kernel: prepared.kernel.path.display().to_string(),
        kernel_release: prepared.kernel.release.clone(),
        cpus: options.vm.cpus,
        memory_mib: options.vm.memory_mib,
        cmdline: prepared.cmdline.clone(),
        run_dir: prepared.run_dir.display().to_string(),
        scheduler: prepared.scheduler.clone(),
    };
    if let Some(why) = &prepared.no_sched_ext {
        return Ok(unbooted(info, &prepared, why.clone()));
    }
    let selection = match select::backend_for(options.backend, options.accel) {
        Ok(s) => s,
        Err(e) => {
            info.backend_reason = e.to_string();
            return Ok(unbooted(info, &prepared, e.to_string()));
        }
    };
    eprintln!("schedbox: using {}", selection.note);
    info.backend = selection.backend.name();
    info.backend_reason = selection.note.clone();
    let spec = VmSpec {
        kernel: prepared.kernel.path.clone(),
        initramfs: prepared.initramfs.clone(),
        cmdline: prepared.cmdline.clone(),
        cpus: options.vm.cpus,
        memory_mib: options.vm.memory_mib,
    };
    let limits = Limits {
        timeout: prepared.timeout,
        silence: session::SILENCE_LIMIT,
        power_off_grace: session::POWER_OFF_GRACE,
    };
    let observed = match open_logs(&prepared.run_dir) {
        Ok((mut console, mut records)) => {
            let mut sinks = Sinks {
                console: &mut console,
                records: &mut records,
                echo_console: options.verbose,
            };
            session::run(selection.backend.as_ref(), &spec, &limits, &mut sinks)
        }
        Err(e) => {
            let message =
                format!("cannot write to the run directory: {e}; choose another with --out DIR");
            return Err(usage_error(&message));
        }
    };
    let observed = match observed {
        Ok(o) => o,
        Err(BackendError::BadKernel(why)) => {
            return Err(usage_error(&format!("cannot boot the kernel: {why}")))
        }
        Err(e) => return Ok(unbooted(info, &prepared, e.to_string())),
    };
    Ok(judged(info, prepared, &observed))
}

/// Writes the programs' logs, judges what the guest reported and builds the report.
fn judged(info: RunInfo, prepared: Prepared, observed: &Observed) -> (report::Report, PathBuf) {
    let scheduler_asked = prepared.scheduler.is_some();
    if let Err(e) = rundir::write_outputs(&prepared.run_dir, &observed.records, scheduler_asked) {
        eprintln!("schedbox: cannot write the program logs to the run directory: {e}");
    }
    let verdict = verdict::judge(
        observed,
        &verdict::expected_checks(&prepared.scenarios),
        &verdict::expected_payloads(&prepared.scenarios),
    );
    let report = report::build(info, &prepared.scenarios, Some(observed), verdict);
    (report, prepared.run_dir)
}

/// The guest kernel's command line: schedbox's own, then each `--append` in order.
pub fn kernel_cmdline(append: &[String]) -> String {
    let mut cmdline = BASE_CMDLINE.to_string();
    for extra in append {
        cmdline.push(' ');
        cmdline.push_str(extra);
    }
    cmdline
}

fn open_logs(dir: &Path) -> std::io::Result<(BufWriter<File>, BufWriter<File>)> {
    Ok((
        BufWriter::new(File::create(dir.join(rundir::CONSOLE_LOG))?),
        BufWriter::new(File::create(dir.join(rundir::RECORDS_LOG))?),
    ))
}

/// The report of a run whose VM could not be, or was not, started (exit 125).
fn unbooted(info: RunInfo, prepared: &Prepared, reason: String) -> (report::Report, PathBuf) {
    let verdict = Verdict {
        outcome: Outcome::Untestable,
        reasons: vec![reason],
        notes: Vec::new(),
    };
    let report = report::build(info, &prepared.scenarios, None, verdict);
    (report, prepared.run_dir.clone())
}

/// Prints the summary, writes report.json (and --json), returns the exit status.
fn publish(options: &RunOptions, run_dir: &Path, report: &report::Report) -> i32 {
    print!("{}", report::human(report));
    let json = match serde_json::to_string_pretty(report) {
        Ok(j) => j + "\n",
        Err(e) => {
            eprintln!("schedbox: cannot encode the report: {e}");
            return EXIT_UNTESTABLE;
        }
    };
    let mut targets = vec![run_dir.join(rundir::REPORT)];
    targets.extend(options.json.clone());
    for target in targets {
        if let Err(e) = std::fs::write(&target, &json) {
            eprintln!("schedbox: cannot write {}: {e}", target.display());
            return EXIT_USAGE;
        }
    }
    report.exit_code
}
