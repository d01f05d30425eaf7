//! Prepare: everything checked and built before a VM starts (kernel, scenarios, plan,
//! initramfs, run directory), and the guest kernel's command line.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::cli::{RunOptions, VmOptions};
use crate::exit::Stop;
use crate::guest::init;
use crate::guest::initramfs;
use crate::kernel::{self, Kernel};
use crate::outcome::rundir::{self, RunDir};
use crate::output;
use crate::pipeline::preflight;
use crate::pipeline::programs;
use crate::pipeline::shapes::{self, ShapeRun};
use crate::protocol::plan::{self, PlanConfig, DEFAULT_CONFIG};
use crate::scenario::{payloads, Scenario};
use crate::scheduler::labelled::{self, Labelled};
use crate::scheduler::{self, SchedulerInfo};
use crate::topology::{Layout, Shape};

/// Kernel parameters for every guest: boot straight into our init, turn a panic into an
/// immediate reset (which ends the VM), reboot without firmware, and keep the console
/// short (panics and power-off messages still show; `--append loglevel=7` for more).
/// `i8042.noaux` skips probing for a PS/2 mouse, which costs about 0.4 s under TCG.
/// `no_timer_check` skips the IO-APIC timer test, which a TCG vCPU starved by a busy host
/// can fail ("IO-APIC + timer doesn't work!", a panic: an untestable run).
/// `pty.legacy_count=0` skips creating the legacy BSD pseudo-terminals (256 in a kernel
/// with CONFIG_LEGACY_PTYS, about 0.15 s under TCG); payloads' terminals come from
/// /dev/ptmx.
const BASE_CMDLINE: &str =
    "rdinit=/init panic=-1 reboot=k quiet i8042.noaux no_timer_check pty.legacy_count=0";
/// Leaves the guest kernel's own KVM out: QEMU's default CPU under TCG offers SVM, and
/// setting KVM up for it takes about 0.2 s of every boot under TCG. Only a guest that
/// runs a VMM itself needs it (docs/nested.md), and that one names its CPU model.
const NO_GUEST_KVM: &str = "initcall_blacklist=svm_init,vmx_init";

/// Time for boot and teardown on top of the scenarios' own, when --timeout is not given.
pub const BOOT_ALLOWANCE_S: u64 = 60;

/// The scenarios named on the command line, or the built-in one, for a command that
/// boots one machine (plan, initramfs, bench).
pub fn load_scenarios(vm: &VmOptions) -> Result<Vec<Scenario>, String> {
    shapes::single(vm).map(|run| run.scenarios)
}

/// The plan and the initramfs: init, plan, and the programs it runs. A plan or program
/// the guest cannot take is the user's to fix; a missing init or a failed build is
/// this host's (an install without its init cannot judge a kernel).
pub fn initramfs_for(
    scenarios: &[Scenario],
    scheduler: Option<&SchedulerInfo>,
    labelled: &[Labelled],
) -> Result<(String, Vec<u8>), Stop> {
    let config = PlanConfig {
        scheduler: scheduler.map(SchedulerInfo::plan_line),
        labelled: labelled.iter().map(Labelled::plan_line).collect(),
        ..DEFAULT_CONFIG
    };
    let (plan, _) =
        plan::compile_checked(scenarios, &config).map_err(|e| Stop::Usage(e.to_string()))?;
    let programs = programs::collect(scheduler, labelled, scenarios).map_err(Stop::Usage)?;
    let (_, init) = init::load().map_err(Stop::Host)?;
    let image = initramfs::build(&init, &plan, &programs)
        .map_err(|e| Stop::Host(format!("cannot build the initramfs: {e}")))?;
    Ok((plan, image))
}

/// Everything checked and built before a VM starts.
pub struct Prepared {
    pub kernel: Kernel,
    pub scenarios: Vec<Scenario>,
    pub initramfs: Vec<u8>,
    pub run_dir: RunDir,
    pub cmdline: String,
    pub timeout: Duration,
    pub scheduler: Option<SchedulerInfo>,
    /// The schedulers besides the run's that its scenarios name by label.
    pub labelled: Vec<Labelled>,
    /// Why the kernel cannot run the scheduler, when its config says so: no boot then.
    pub no_sched_ext: Option<String>,
    /// The VM's shape and memory.
    pub shape: Shape,
    pub memory_mib: u32,
    /// Whether the guest's own view of its topology is checked against `shape`.
    pub verify_topology: bool,
    /// With `--host`: the layout CPU sets were resolved on, to check the records against.
    pub host_layout: Option<&'static Layout>,
    /// What the report notes besides the verdict: scenarios that pinned their shape.
    pub notes: Vec<String>,
    /// When this VM's run began: its timeline's 0 (docs/report.md, `timeline`).
    pub started: Instant,
    /// How long its own preparation took.
    pub prepared_in: Duration,
    /// Whether the VM offers the guest a virtio console for its records.
    pub virtio_records: bool,
}

impl Prepared {
    /// Starts its timeline its own preparation's time before now: for a VM prepared
    /// beside others, whose turn comes after theirs.
    pub fn clock_from_now(&mut self) {
        let now = Instant::now();
        self.started = now.checked_sub(self.prepared_in).unwrap_or(now);
    }
}

/// What every VM of a run shares, checked once before any is prepared.
pub struct Inputs {
    pub kernel: Kernel,
    pub scheduler: Option<SchedulerInfo>,
}

/// The scenarios with what the command line adds: the `--payload` program in each, and
/// the `scheduler` check in each when a scheduler is under test.
fn run_scenarios(
    options: &RunOptions,
    mut scenarios: Vec<Scenario>,
    scheduler: Option<&SchedulerInfo>,
) -> Result<Vec<Scenario>, String> {
    if let Some(p) = &options.payload {
        let payload = payloads::cli_payload(&p.path, p.args.clone())?;
        payloads::run_in_every_scenario(&mut scenarios, &payload)?;
    }
    if scheduler.is_some() {
        scheduler::add_check(&mut scenarios);
    } else if let Some((s, op)) = scheduler::first_scheduler_op(&scenarios) {
        return Err(format!(
            "{}: scenario {:?} asks for {op}, but this run has no sched_ext scheduler: run \
             it with --scheduler PATH (e.g. --scheduler scx_simple)",
            s.source, s.name
        ));
    }
    for scenario in &scenarios {
        for p in scenario.payloads() {
            let what = format!("{}: payload {:?}", scenario.source, p.name);
            preflight::program(&what, &p.host_path)?;
        }
    }
    Ok(scenarios)
}

/// The schedulers the scenarios declare by label, found and checked.
fn labelled_schedulers(
    options: &RunOptions,
    scenarios: &[Scenario],
    scheduler: Option<&SchedulerInfo>,
) -> Result<Vec<Labelled>, String> {
    let (Some(s), Some(info)) = (&options.scheduler, scheduler) else {
        return Ok(Vec::new());
    };
    let found = labelled::resolve(scenarios, &s.extra, info.attach_ms)?;
    for l in &found {
        preflight::program(&format!("scheduler {:?}", l.label), &l.info.path)?;
    }
    Ok(found)
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
    if let Some(warning) = preflight::timeout_warning(options.timeout, needed_s) {
        output::note(&format!("schedbox: {warning}"));
    }
    options
        .timeout
        .unwrap_or(Duration::from_secs(needed_s + BOOT_ALLOWANCE_S))
}

/// The files the options name, the kernel and the scheduler: checked before the
/// scenarios are grouped into VMs.
pub fn inputs(options: &RunOptions) -> Result<Inputs, Stop> {
    check_inputs(options).map_err(Stop::Usage)?;
    let need = if options.scheduler.is_some() {
        kernel::Need::SchedExt
    } else {
        kernel::Need::Any
    };
    let kernel =
        kernel::locate(options.kernel.as_deref(), need).map_err(|e| Stop::Usage(e.to_string()))?;
    if let Some(why) = &kernel.picked {
        output::note(&format!("schedbox: {why}"));
    }
    let scheduler = scheduler_info(options).map_err(Stop::Usage)?;
    Ok(Inputs { kernel, scheduler })
}

/// The inputs of a `--host` run: the files the options name and the scheduler, on
/// `kernel`, the one running.
pub fn host_inputs(options: &RunOptions, kernel: Kernel) -> Result<Inputs, Stop> {
    check_inputs(options).map_err(Stop::Usage)?;
    let scheduler = scheduler_info(options).map_err(Stop::Usage)?;
    Ok(Inputs { kernel, scheduler })
}

/// One VM prepared: its scenarios with the command line's additions, its plan and
/// initramfs, and its run directory `out` (the default one when None), locked.
pub fn prepare(
    options: &RunOptions,
    inputs: &Inputs,
    run: ShapeRun,
    out: Option<&Path>,
) -> Result<Prepared, Stop> {
    let started = Instant::now();
    let scheduler = inputs.scheduler.clone();
    let scenarios =
        run_scenarios(options, run.scenarios, scheduler.as_ref()).map_err(Stop::Usage)?;
    let timeout = run_timeout(options, &scenarios, scheduler.as_ref());
    let labelled =
        labelled_schedulers(options, &scenarios, scheduler.as_ref()).map_err(Stop::Usage)?;
    let (plan, initramfs) = initramfs_for(&scenarios, scheduler.as_ref(), &labelled)?;
    let run_dir = rundir::create(out)?;
    let no_sched_ext = scheduler
        .as_ref()
        .and_then(|_| scheduler::kernel_lacks_sched_ext(&inputs.kernel.path));
    let plan_path = run_dir.path().join(rundir::PLAN);
    std::fs::write(&plan_path, &plan)
        .map_err(|e| Stop::io(format!("cannot write {}", plan_path.display()), &e))?;
    Ok(Prepared {
        kernel: inputs.kernel.clone(),
        scenarios,
        initramfs,
        run_dir,
        cmdline: kernel_cmdline(options),
        timeout,
        scheduler,
        labelled,
        no_sched_ext,
        shape: run.shape,
        memory_mib: options.vm.memory_mib,
        verify_topology: run.verify,
        host_layout: run.host,
        notes: run.notes,
        started,
        prepared_in: started.elapsed(),
        virtio_records: crate::vm::backend::virtio_wanted(),
    })
}

/// The guest kernel's command line: schedbox's own (with the guest's KVM where
/// `--qemu-cpu` picks the CPU model), then each `--append` in order.
pub fn kernel_cmdline(options: &RunOptions) -> String {
    let mut cmdline = BASE_CMDLINE.to_string();
    if options.qemu_cpu.is_none() {
        cmdline.push(' ');
        cmdline.push_str(NO_GUEST_KVM);
    }
    for extra in &options.append {
        cmdline.push(' ');
        cmdline.push_str(extra);
    }
    cmdline
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{parse, Command};

    fn cmdline_of(args: &[&str]) -> String {
        let Ok(Command::Run(run)) = parse(args.iter().map(Into::into).collect()) else {
            panic!("not a run: {args:?}")
        };
        kernel_cmdline(&run)
    }

    #[test]
    fn the_guest_kernel_gets_its_own_kvm_only_with_a_chosen_cpu_model() {
        let plain = cmdline_of(&["run", "--append", "loglevel=7"]);
        assert!(plain.starts_with(BASE_CMDLINE), "{plain}");
        assert!(
            plain.ends_with(" initcall_blacklist=svm_init,vmx_init loglevel=7"),
            "{plain}"
        );
        let nested = cmdline_of(&["run", "--qemu-cpu", "EPYC,+svm", "--append", "loglevel=7"]);
        assert_eq!(nested, format!("{BASE_CMDLINE} loglevel=7"));
    }
}
