//! The commands: prepare a run (kernel, scenarios, plan, initramfs), boot it, judge, report.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{self, Command, RunOptions, VmOptions};
use crate::exit::{Exit, Stop};
use crate::guest::init;
use crate::guest::initramfs;
use crate::kernel::build;
use crate::kernel::config;
use crate::kernel::fetch;
use crate::kernel::{self, Kernel};
use crate::outcome::report::{self, RunInfo};
use crate::outcome::rundir;
use crate::outcome::rundir::RunDir;
use crate::outcome::verdict::{self, Outcome, Verdict};
use crate::pipeline::preflight;
use crate::pipeline::programs;
use crate::protocol::plan::{self, PlanConfig, DEFAULT_CONFIG};
use crate::scenario::{self, payloads, Scenario, VmShape};
use crate::scheduler::{self, SchedulerInfo};
use crate::vm::backend::{BackendError, VmSpec};
use crate::vm::select;
use crate::vm::session::{self, Limits, Observed, Sinks};
use crate::{output, signals};

/// Kernel parameters for every guest: boot straight into our init, turn a panic into an
/// immediate reset (which ends the VM), reboot without firmware, and keep the console
/// short (panics and power-off messages still show; `--append loglevel=7` for more).
/// `i8042.noaux` skips probing for a PS/2 mouse, which costs about 0.4 s under TCG.
const BASE_CMDLINE: &str = "rdinit=/init panic=-1 reboot=k quiet i8042.noaux";
/// Time for boot and teardown on top of the scenarios' own, when --timeout is not given.
pub const BOOT_ALLOWANCE_S: u64 = 60;

/// Runs the command line; returns how the process ends.
pub fn main(args: Vec<OsString>) -> Exit {
    let command = match cli::parse(args) {
        Ok(command) => command,
        Err(e) => return Stop::Usage(e.to_string()).report(),
    };
    let result = match command {
        Command::Help => {
            output::print(cli::USAGE);
            Ok(Exit::Pass)
        }
        Command::Version => {
            output::print(&format!("schedbox {}\n", env!("CARGO_PKG_VERSION")));
            Ok(Exit::Pass)
        }
        Command::Plan(vm) => load_scenarios(&vm)
            .and_then(|scenarios| {
                plan::compile_checked(&scenarios, &DEFAULT_CONFIG).map_err(|e| e.to_string())
            })
            .map_err(Stop::Usage)
            .map(|(plan, _)| {
                output::print(&plan);
                Exit::Pass
            }),
        Command::Initramfs { vm, output } => write_initramfs(&vm, &output).map(|()| Exit::Pass),
        Command::KernelFetch => fetch::fetch()
            .map_err(|e| Stop::Host(format!("kernel fetch failed: {e}")))
            .map(print_path),
        Command::KernelFetchSource { dest } => build::fetch_source(dest.as_deref())
            .map_err(|e| kbuild_stop("kernel fetch-source", e))
            .map(print_path),
        Command::KernelBuild(options) => kernel_build(&options),
        Command::KernelCheck { image } => kernel_check(&image),
        Command::Run(options) => Ok(run(&options)),
        Command::Bench { options, runs } => Ok(crate::bench::main(&options, runs)),
    };
    result.unwrap_or_else(|stop| stop.report())
}

fn print_path(path: PathBuf) -> Exit {
    output::print(&format!("{}\n", path.display()));
    Exit::Pass
}

/// A kernel tree the user named badly is theirs to fix; a failed apt, download or
/// build is this host's problem.
fn kbuild_stop(what: &str, e: build::KbuildError) -> Stop {
    use build::KbuildError::{NotAKernelTree, SourceNotClean};
    let message = format!("{what} failed: {e}");
    match e {
        NotAKernelTree { .. } | SourceNotClean { .. } => Stop::Usage(message),
        _ => Stop::Host(message),
    }
}

fn kernel_build(options: &cli::KernelBuildOptions) -> Result<Exit, Stop> {
    if let Some(source) = options.source.as_deref().filter(|s| !s.is_dir()) {
        return Err(Stop::Usage(format!(
            "kernel build --source {}: not a directory; give the top of a Linux source tree",
            source.display()
        )));
    }
    let source = build::source_or_fetch(options.source.as_deref())
        .map_err(|e| kbuild_stop("kernel build", e))?;
    let mut build = build::BuildOptions {
        force: options.force,
        verbose: options.verbose,
        ..build::BuildOptions::default()
    };
    if let Some(jobs) = options.jobs {
        build.jobs = jobs;
    }
    let built = build::build(&source, &build).map_err(|e| kbuild_stop("kernel build", e))?;
    let how = if built.reused { "cached" } else { "built" };
    output::note(&format!(
        "schedbox: {how} kernel {} ({})",
        built.version, built.key
    ));
    Ok(print_path(built.image))
}

/// `kernel check`: 0 sched_ext present, 1 absent, 2 unknown or error.
fn kernel_check(image: &Path) -> Result<Exit, Stop> {
    preflight::kernel_file("kernel check", image).map_err(Stop::Usage)?;
    let features = config::check_image(image).map_err(|e| Stop::Usage(e.to_string()))?;
    output::print(&format!("{features}\n"));
    Ok(match features.has_sched_ext {
        Some(true) => Exit::Pass,
        Some(false) => Exit::Fail,
        None => Exit::Usage,
    })
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
            .map(|path| {
                preflight::scenario_file(path)?;
                scenario::load(path, &shape).map_err(|e| e.to_string())
            })
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
    let (_, init) = init::load()?;
    let image = initramfs::build(&init, &plan, &programs).map_err(|e| e.to_string())?;
    Ok((plan, image))
}

fn write_initramfs(vm: &VmOptions, output: &Path) -> Result<(), Stop> {
    let (_, image) = load_scenarios(vm)
        .and_then(|s| initramfs_for(&s, None))
        .map_err(Stop::Usage)?;
    std::fs::write(output, image)
        .map_err(|e| Stop::io(format!("cannot write {}", output.display()), &e))
}

/// Everything checked and built before a VM starts.
struct Prepared {
    kernel: Kernel,
    scenarios: Vec<Scenario>,
    initramfs: Vec<u8>,
    run_dir: RunDir,
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
    for scenario in &scenarios {
        for p in scenario.payloads() {
            let what = format!("{}: payload {:?}", scenario.source, p.name);
            preflight::program(&what, &p.host_path)?;
        }
    }
    Ok(scenarios)
}

fn scheduler_info(options: &RunOptions) -> Result<Option<SchedulerInfo>, String> {
    let Some(s) = &options.scheduler else {
        return Ok(None);
    };
    let attach_ms = s.attach_ms.unwrap_or(scheduler::DEFAULT_ATTACH_MS);
    let info = SchedulerInfo::new(&s.path, s.args.clone(), s.name.clone(), attach_ms)?;
    preflight::program("--scheduler", &info.path)?;
    Ok(Some(info))
}

/// The files the options name, checked before anything reads them.
fn check_inputs(options: &RunOptions) -> Result<(), String> {
    if let Some(kernel) = &options.kernel {
        preflight::kernel_file("--kernel", kernel)?;
    }
    if let Some(json) = &options.json {
        preflight::json_target(json)?;
    }
    // A program named by a path that exists is checked as it is: a FIFO or a directory
    // must be named as such, not reported missing by the $PATH search.
    let programs = [
        ("--scheduler", options.scheduler.as_ref().map(|s| &s.path)),
        ("--payload", options.payload.as_ref().map(|p| &p.path)),
    ];
    for (what, path) in programs {
        if let Some(path) = path.filter(|p| std::fs::symlink_metadata(p).is_ok()) {
            preflight::program(what, path)?;
        }
    }
    Ok(())
}

/// The run's wall-clock limit: --timeout, or the scenarios' time plus boot; warns when
/// --timeout leaves the scenarios too little.
fn run_timeout(
    options: &RunOptions,
    scenarios: &[Scenario],
    scheduler: Option<&SchedulerInfo>,
) -> Duration {
    let scenario_s: u64 = scenarios
        .iter()
        .map(|s| s.duration_ms().div_ceil(1000))
        .sum();
    let attach_s = scheduler.map_or(0, |s| s.attach_ms.div_ceil(1000));
    let needed_s = scenario_s + attach_s;
    if let Some(warning) = preflight::timeout_warning(options.timeout_s, needed_s) {
        output::note(&format!("schedbox: {warning}"));
    }
    Duration::from_secs(options.timeout_s.unwrap_or(needed_s + BOOT_ALLOWANCE_S))
}

fn prepare(options: &RunOptions) -> Result<Prepared, Stop> {
    check_inputs(options).map_err(Stop::Usage)?;
    let kernel =
        kernel::locate(options.kernel.as_deref()).map_err(|e| Stop::Usage(e.to_string()))?;
    let scheduler = scheduler_info(options).map_err(Stop::Usage)?;
    let scenarios = run_scenarios(options, scheduler.as_ref()).map_err(Stop::Usage)?;
    let timeout = run_timeout(options, &scenarios, scheduler.as_ref());
    let (plan, initramfs) = initramfs_for(&scenarios, scheduler.as_ref()).map_err(Stop::Usage)?;
    let run_dir = rundir::create(options.out.as_deref())?;
    let no_sched_ext = scheduler
        .as_ref()
        .and_then(|_| scheduler::kernel_lacks_sched_ext(&kernel.path));
    let plan_path = run_dir.path().join(rundir::PLAN);
    std::fs::write(&plan_path, &plan)
        .map_err(|e| Stop::io(format!("cannot write {}", plan_path.display()), &e))?;
    Ok(Prepared {
        kernel,
        scenarios,
        initramfs,
        run_dir,
        cmdline: kernel_cmdline(&options.append),
        timeout,
        scheduler,
        no_sched_ext,
    })
}

fn run(options: &RunOptions) -> Exit {
    signals::install();
    match run_once(options) {
        Ok((report, run_dir)) => publish(options, run_dir.path(), report),
        Err(stop) => stop.report(),
    }
}

/// Boots and judges one run; Err is a run that never got a report.
fn run_once(options: &RunOptions) -> Result<(report::Report, RunDir), Stop> {
    let prepared = prepare(options)?;
    let mut info = RunInfo {
        backend: report::NO_BACKEND.to_string(),
        backend_reason: String::new(),
        kernel: prepared.kernel.path.display().to_string(),
        kernel_release: prepared.kernel.release.clone(),
        cpus: options.vm.cpus,
        memory_mib: options.vm.memory_mib,
        cmdline: prepared.cmdline.clone(),
        run_dir: prepared.run_dir.path().display().to_string(),
        scheduler: prepared.scheduler.clone(),
    };
    if let Some(why) = prepared.no_sched_ext.clone() {
        return Ok(unbooted(info, prepared, why, Outcome::Untestable));
    }
    if let Some(signal) = signals::received() {
        let why = format!(
            "interrupted by {} before the VM started",
            signals::name(signal)
        );
        return Ok(unbooted(info, prepared, why, Outcome::Interrupted(signal)));
    }
    let selection = match select::backend_for(options.backend, options.accel) {
        Ok(s) => s,
        Err(e) => {
            info.backend_reason = e.to_string();
            return Ok(unbooted(info, prepared, e.to_string(), Outcome::Untestable));
        }
    };
    output::note(&format!("schedbox: using {}", selection.note));
    let host_cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if let Some(warning) = preflight::cpus_warning(options.vm.cpus, host_cores, selection.tcg) {
        output::note(&format!("schedbox: {warning}"));
    }
    info.backend = selection.backend.name();
    info.backend_reason = selection.note.clone();
    boot(options, info, prepared, selection.backend.as_ref())
}

/// Runs the VM and judges what it reported.
fn boot(
    options: &RunOptions,
    info: RunInfo,
    prepared: Prepared,
    backend: &dyn crate::vm::backend::Backend,
) -> Result<(report::Report, RunDir), Stop> {
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
    let (mut console, mut records) = open_logs(prepared.run_dir.path())?;
    let mut sinks = Sinks {
        console: &mut console,
        records: &mut records,
        echo_console: options.verbose,
    };
    match session::run(backend, &spec, &limits, &mut sinks) {
        Ok(observed) => Ok(judged(info, prepared, &observed)),
        Err(BackendError::BadKernel(why)) => {
            Err(Stop::Usage(format!("cannot boot the kernel: {why}")))
        }
        Err(e) => Ok(unbooted(info, prepared, e.to_string(), Outcome::Untestable)),
    }
}

/// Writes the programs' logs, judges what the guest reported and builds the report.
fn judged(info: RunInfo, prepared: Prepared, observed: &Observed) -> (report::Report, RunDir) {
    let scheduler_asked = prepared.scheduler.is_some();
    let written =
        rundir::write_outputs(prepared.run_dir.path(), &observed.records, scheduler_asked);
    let verdict = verdict::judge(
        observed,
        &verdict::expected_checks(&prepared.scenarios),
        &verdict::expected_payloads(&prepared.scenarios),
    );
    let mut report = report::build(info, &prepared.scenarios, Some(observed), verdict);
    if let Err(e) = written {
        report.host_fault(format!(
            "cannot write the program logs to the run directory: {e}"
        ));
    }
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

/// console.log and records.log, unbuffered: each line is written as it arrives, so an
/// interrupted or killed run leaves everything it saw.
fn open_logs(dir: &Path) -> Result<(File, File), Stop> {
    let create = |name: &str| {
        File::create(dir.join(name))
            .map_err(|e| Stop::io(format!("cannot create {name} in {}", dir.display()), &e))
    };
    Ok((create(rundir::CONSOLE_LOG)?, create(rundir::RECORDS_LOG)?))
}

/// The report of a run whose VM could not be, or was not, started.
fn unbooted(
    info: RunInfo,
    prepared: Prepared,
    reason: String,
    outcome: Outcome,
) -> (report::Report, RunDir) {
    let verdict = Verdict {
        outcome,
        reasons: vec![reason],
        notes: Vec::new(),
    };
    let report = report::build(info, &prepared.scenarios, None, verdict);
    (report, prepared.run_dir)
}

/// Writes report.json (and --json), then prints the summary; returns the exit status.
/// A report that cannot be written makes the run untestable, and the summary says so.
fn publish(options: &RunOptions, run_dir: &Path, mut report: report::Report) -> Exit {
    let mut targets = vec![run_dir.join(rundir::REPORT)];
    targets.extend(options.json.clone());
    if let Err(why) = write_report(&report, &targets) {
        report.host_fault(why);
        // What could be written says so too; the first failure is already reported.
        let _ = write_report(&report, &targets);
    }
    output::print(&report::human(&report));
    report.outcome.exit()
}

fn write_report(report: &report::Report, targets: &[PathBuf]) -> Result<(), String> {
    let json = serde_json::to_string_pretty(report)
        .map_err(|e| format!("cannot encode the report: {e}"))?
        + "\n";
    let mut failed = Vec::new();
    for target in targets {
        if let Err(e) = std::fs::write(target, &json) {
            failed.push(format!("cannot write the report {}: {e}", target.display()));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn a_bad_kernel_tree_is_the_users_a_failed_build_the_hosts() {
        let tree = build::KbuildError::NotAKernelTree {
            path: PathBuf::from("/src"),
        };
        assert_eq!(kbuild_stop("kernel build", tree).exit(), Exit::Usage);
        let apt = build::KbuildError::NoPackageManager;
        assert_eq!(
            kbuild_stop("kernel fetch-source", apt).exit(),
            Exit::Untestable
        );
        let make = build::KbuildError::Command {
            what: "make bzImage".into(),
            status: "exit status: 2".into(),
            log: None,
            tail: String::new(),
        };
        assert_eq!(kbuild_stop("kernel build", make).exit(), Exit::Untestable);
    }
}
