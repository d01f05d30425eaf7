//! Boot and observe: the backend chosen, the VM run under the watchdog with its console
//! and records written as they arrive.

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::cli::RunOptions;
use crate::exit::Stop;
use crate::outcome::report::{self, RunInfo};
use crate::outcome::rundir::{self, RunDir};
use crate::outcome::verdict::Outcome;
use crate::output;
use crate::pipeline::judge::{judged, unbooted};
use crate::pipeline::preflight;
use crate::pipeline::prepare::{self, Prepared};
use crate::pipeline::shapes;
use crate::progress::{Mode, Progress};
use crate::signals;
use crate::vm::backend::{Backend, BackendError, VmSpec};
use crate::vm::select;
use crate::vm::session::{self, Limits, Observed, Sinks, Watcher};

/// Boots and judges a run of one VM (its scenarios may not need more); Err is a run that
/// never got a report.
pub fn run_once(options: &RunOptions) -> Result<(report::Report, RunDir), Stop> {
    let inputs = prepare::inputs(options)?;
    let run = shapes::single(&options.vm).map_err(Stop::Usage)?;
    let prepared = prepare::prepare(options, &inputs, run, options.out.as_deref())?;
    run_prepared(options, prepared)
}

/// Boots and judges one prepared VM; Err is a run that never got a report.
pub fn run_prepared(
    options: &RunOptions,
    prepared: Prepared,
) -> Result<(report::Report, RunDir), Stop> {
    let mut info = RunInfo {
        backend: report::NO_BACKEND.to_string(),
        backend_reason: String::new(),
        kernel: prepared.kernel.path.display().to_string(),
        kernel_release: prepared.kernel.release.clone(),
        cpus: prepared.shape.vcpus(),
        shape: prepared.shape.to_string(),
        memory_mib: prepared.memory_mib,
        cmdline: prepared.cmdline.clone(),
        run_dir: prepared.run_dir.path().display().to_string(),
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
    let selection =
        match select::backend_for(options.backend, options.accel, options.qemu_cpu.as_deref()) {
            Ok(s) => s,
            Err(e) => {
                info.backend_reason = e.to_string();
                return Ok(unbooted(info, prepared, e.to_string(), Outcome::Untestable));
            }
        };
    output::note(&format!("schedbox: using {}", selection.note));
    let host_cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let vcpus = prepared.shape.vcpus();
    if let Some(warning) = preflight::cpus_warning(vcpus, host_cores, selection.tcg) {
        output::note(&format!("schedbox: {warning}"));
    }
    info.backend = selection.backend.name();
    info.backend_reason = selection.note.clone();
    boot(options, info, prepared, selection.backend.as_ref())
}

/// Runs a prepared `--host` run on this machine's kernel and judges it; `untestable`
/// is what this machine cannot give (no VM starts then).
pub fn run_on_host(
    options: &RunOptions,
    prepared: Prepared,
    untestable: Option<String>,
) -> Result<(report::Report, RunDir), Stop> {
    let backend = crate::vm::host::Host;
    let info = RunInfo {
        backend: backend.name(),
        backend_reason: HOST_REASON.to_string(),
        kernel: prepared.kernel.path.display().to_string(),
        kernel_release: prepared.kernel.release.clone(),
        cpus: prepared.shape.vcpus(),
        shape: prepared.shape.to_string(),
        memory_mib: prepared.memory_mib,
        cmdline: String::new(),
        run_dir: prepared.run_dir.path().display().to_string(),
    };
    if let Some(why) = untestable {
        return Ok(unbooted(info, prepared, why, Outcome::Untestable));
    }
    if let Some(signal) = signals::received() {
        let why = format!(
            "interrupted by {} before the run started",
            signals::name(signal)
        );
        return Ok(unbooted(info, prepared, why, Outcome::Interrupted(signal)));
    }
    output::note(&format!("schedbox: {HOST_REASON}"));
    boot(options, info, prepared, &backend)
}

/// What `--host` says it ran on.
const HOST_REASON: &str = "--host: this machine's running kernel, no VM";

/// Runs the VM and judges what it reported.
fn boot(
    options: &RunOptions,
    info: RunInfo,
    prepared: Prepared,
    backend: &dyn Backend,
) -> Result<(report::Report, RunDir), Stop> {
    let spec = VmSpec {
        kernel: prepared.kernel.path.clone(),
        initramfs: prepared.initramfs.clone(),
        cmdline: prepared.cmdline.clone(),
        topology: prepared.shape,
        memory_mib: prepared.memory_mib,
        virtio_records: prepared.virtio_records,
    };
    let dir = prepared.run_dir.path().to_path_buf();
    let launched = Instant::now();
    let mut progress = Progress::new(Mode::for_stderr(options.quiet), &prepared.scenarios);
    let seen = observe(
        backend,
        &spec,
        prepared.timeout,
        &dir,
        (options.verbose, Some(&mut progress)),
    )?;
    match seen {
        Ok(observed) => Ok(judged(info, prepared, &observed, launched)),
        Err(BackendError::BadKernel(why)) => {
            Err(Stop::Usage(format!("cannot boot the kernel: {why}")))
        }
        Err(e) => Ok(unbooted(info, prepared, e.to_string(), Outcome::Untestable)),
    }
}

/// Runs `spec` on `backend` under the watchdog until it ends, with console.log and
/// records.log in `dir`: the observe stage of every run, soak and bench boot; the
/// console echoed to stderr or not, and a watcher (progress) told as it goes. Err is a
/// log that could not be created; the inner Err a VM that could not be started.
pub fn observe(
    backend: &dyn Backend,
    spec: &VmSpec,
    timeout: Duration,
    dir: &Path,
    (echo_console, watcher): (bool, Option<&mut (dyn Watcher + 'static)>),
) -> Result<Result<Observed, BackendError>, Stop> {
    let limits = Limits {
        timeout,
        silence: session::SILENCE_LIMIT,
        power_off_grace: session::POWER_OFF_GRACE,
        stop_at_done: backend.stops_at_done() && crate::vm::backend::stop_at_done_wanted(),
    };
    let (mut console, mut records) = open_logs(dir)?;
    let mut sinks = Sinks {
        console: &mut console,
        records: &mut records,
        echo_console,
        watcher,
    };
    Ok(session::run(backend, spec, &limits, &mut sinks))
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
