//! `schedbox bench` (`make bench`): boots and measures, in one run, side by side:
//! launch-to-first-record and wall time of the user's scenarios per backend and kernel
//! format, a tiny guest's start-up on the VMM and on QEMU, the monitor's own CPU time at
//! two sampling periods, stall detection latency, boot time against vCPU count, the floor (a bare QEMU boot of the same
//! kernel against an empty scenario's launch to verdict), the passing catalog in one boot
//! against one boot per scenario, the launcher's peak memory, a cold release build, and
//! sizes. Medians over `--runs`.

pub mod boots;
pub mod catalog;
pub mod floor;
pub mod nested;
pub mod phases;
pub mod plans;
pub mod rows;
pub mod sizes;
pub mod stats;
pub mod table;
pub mod throughput;
pub mod tiny;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cli::RunOptions;
use crate::exit::{Exit, Stop};
use crate::guest::init;
use crate::guest::initramfs;
use crate::kernel::{self, KernelFormat};
use crate::outcome::rundir;
use crate::pipeline::{prepare, shapes};
use crate::protocol::plan;
use crate::topology::Shape;
use crate::vm::backend::{Backend, VmSpec};
use crate::vm::qemu::{Accel, Qemu};
use crate::vm::select::{AccelChoice, BackendChoice};
use crate::vm::vmm::launch::KvmBackend;
use crate::vm::vmm::probe::kvm_usable;
pub use rows::{FloorRow, Measure, Row, TinyRow};
use stats::Samples;

/// Everything fixed before the first boot.
struct Inputs {
    kernel: kernel::Kernel,
    init: Vec<u8>,
    plan: String,
    hold_ms: u64,
    out: PathBuf,
}

pub fn main(options: &RunOptions, runs: u32, doc: Option<&Path>, catalog: &[PathBuf]) -> Exit {
    let inputs = match inputs(options) {
        Ok(i) => i,
        Err(e) => return Stop::Usage(format!("bench: {e}")).report(),
    };
    let started = Instant::now();
    let load_before = table::load_average();
    let probe = kvm_usable().map_err(|e| e.to_string());
    let mut rows = linux_rows(&inputs, &probe);
    let mut tiny = tiny_rows();
    let mut floor = FloorRow::default();
    let mut throughput = throughput::ThroughputRow::default();
    for n in 0..runs {
        for row in rows.iter_mut() {
            measure(row, &inputs, options, n);
        }
        for row in tiny.iter_mut() {
            measure_tiny(row, n);
        }
        measure_floor(&mut floor, &inputs, options, n);
        throughput::measure(&mut throughput, options, n);
    }
    let nested = nested::measure(options, &inputs.kernel.path, &inputs.out.join("nested"));
    let catalog = catalog::measure(options, catalog, &inputs.out.join("catalog"));
    let header = table::Header {
        runs,
        kernel: &inputs.kernel,
        cpus: options.vm.cpus,
        memory_mib: options.vm.memory_mib,
        load_before,
        load_after: table::load_average(),
        took: started.elapsed(),
    };
    let mut sizes = size_rows(&inputs);
    sizes.push(sizes::peak_rss());
    sizes.push(sizes::cold_build(&inputs.out));
    let mut text = table::render(&header, &rows, &tiny, &floor, &nested, &catalog, &sizes);
    text.push_str(&throughput::render(&throughput));
    crate::output::print(&text);
    match doc {
        Some(doc) => match table::write_doc(doc, &text) {
            Ok(()) => Exit::Pass,
            Err(why) => Stop::Host(why).report(),
        },
        None => Exit::Pass,
    }
}

fn inputs(options: &RunOptions) -> Result<Inputs, String> {
    if options.backend != BackendChoice::Auto || options.accel != AccelChoice::Auto {
        return Err(
            "--backend and --accel do not apply: the bench measures every backend \
                    this host can run"
                .to_string(),
        );
    }
    if options.json.is_some() {
        return Err("--json does not apply: the bench prints a table".to_string());
    }
    if options.verbose {
        return Err(
            "--verbose does not apply: the bench keeps each boot's console under its --out"
                .to_string(),
        );
    }
    let kernel =
        kernel::locate(options.kernel.as_deref(), kernel::Need::Any).map_err(|e| e.to_string())?;
    let run = shapes::single(&options.vm)?;
    if run.shape != options.vm.shape() {
        return Err(format!(
            "the bench boots the command line's shape ({}), and these scenarios pin {}: \
             give --topology {} or drop their `topology`",
            options.vm.shape(),
            run.shape,
            run.shape
        ));
    }
    let scenarios = run.scenarios;
    let (_, init) = init::load()?;
    let (plan, _) =
        plan::compile_checked(&scenarios, &plan::DEFAULT_CONFIG).map_err(|e| e.to_string())?;
    let hold_ms = scenarios.iter().map(|s| s.duration_ms()).sum();
    let out = options
        .out
        .clone()
        .unwrap_or_else(|| Path::new(rundir::DEFAULT_PARENT).join("bench"));
    Ok(Inputs {
        kernel,
        init,
        plan,
        hold_ms,
        out,
    })
}

/// The other format of the same kernel beside it: `vmlinux` for a bzImage and back.
fn sibling(kernel: &kernel::Kernel) -> Option<(PathBuf, KernelFormat)> {
    let (name, format) = match kernel.format {
        KernelFormat::BzImage => ("vmlinux", KernelFormat::Elf),
        KernelFormat::Elf => ("bzImage", KernelFormat::BzImage),
    };
    let path = kernel.path.parent()?.join(name);
    let found = kernel::inspect(&path, kernel::KernelSource::Flag).ok()?;
    (found.format == format).then_some((path, format))
}

fn format_name(format: &KernelFormat) -> &'static str {
    match format {
        KernelFormat::BzImage => "bzImage",
        KernelFormat::Elf => "vmlinux (PVH)",
    }
}

fn qemu(accel: Accel) -> Result<Box<dyn Backend>, String> {
    Ok(Box::new(Qemu::new(accel)))
}

fn linux_rows(inputs: &Inputs, probe: &Result<(), String>) -> Vec<Row> {
    let k = &inputs.kernel;
    let (plan, hold) = (&inputs.plan, inputs.hold_ms);
    let spin = |label: &str, backend, kernel: &Path| {
        Row::new(label, Measure::Spin, backend).with(kernel, plan.clone(), hold)
    };
    let own = format_name(&k.format);
    let mut rows = vec![spin(&format!("QEMU TCG, {own}"), qemu(Accel::Tcg), &k.path)];
    match sibling(k) {
        Some((path, format)) => rows.push(spin(
            &format!("QEMU TCG, {}", format_name(&format)),
            qemu(Accel::Tcg),
            &path,
        )),
        None => rows.push(spin(
            "QEMU TCG, the other format",
            Err(format!(
                "no bzImage/vmlinux pair beside {}",
                k.path.display()
            )),
            &k.path,
        )),
    }
    let kvm = |backend: Box<dyn Backend>| probe.clone().map(|()| backend);
    rows.push(spin(
        &format!("QEMU KVM, {own}"),
        kvm(Box::new(Qemu::new(Accel::Kvm))),
        &k.path,
    ));
    rows.push(spin(
        &format!("schedbox VMM (KVM), {own}"),
        kvm(Box::new(KvmBackend)),
        &k.path,
    ));
    rows.extend(vcpu_rows(inputs));
    rows.extend(extra_rows(inputs, probe));
    rows
}

/// vCPU counts of the boot-time curve under TCG.
const CURVE_VCPUS: [u32; 5] = [1, 2, 4, 8, 16];

/// The same scenarios on flat machines of [`CURVE_VCPUS`] vCPUs, QEMU TCG: boot time
/// against vCPU count, measured in the same runs as the rest.
fn vcpu_rows(inputs: &Inputs) -> Vec<Row> {
    let own = format_name(&inputs.kernel.format);
    CURVE_VCPUS
        .iter()
        .map(|&n| {
            let mut row = Row::new(
                &format!("QEMU TCG, {own}, {n} vCPU(s)"),
                Measure::Spin,
                qemu(Accel::Tcg),
            )
            .with(&inputs.kernel.path, inputs.plan.clone(), inputs.hold_ms);
            row.shape = Some(Shape::flat(n));
            row
        })
        .collect()
}

/// The monitor-cost and stall rows, on the backend `schedbox run` would choose.
fn extra_rows(inputs: &Inputs, probe: &Result<(), String>) -> Vec<Row> {
    let (name, backend): (&str, fn() -> Box<dyn Backend>) = match probe {
        Ok(()) => ("schedbox VMM", || Box::new(KvmBackend)),
        Err(_) => ("QEMU TCG", || Box::new(Qemu::new(Accel::Tcg))),
    };
    let k = &inputs.kernel.path;
    let row = |label: String, measure, plan: String, hold| {
        Row::new(&label, measure, Ok(backend())).with(k, plan, hold)
    };
    let workers = plans::MONITOR_WORKERS;
    vec![
        row(
            format!(
                "{workers} spinners, sample every {} ms, {name}",
                plans::FAST_SAMPLE_MS
            ),
            Measure::Monitor,
            plans::monitor(plans::FAST_SAMPLE_MS),
            plans::MONITOR_HOLD_MS,
        ),
        row(
            format!(
                "{workers} spinners, sample every {} ms, {name}",
                plans::SLOW_SAMPLE_MS
            ),
            Measure::Monitor,
            plans::monitor(plans::SLOW_SAMPLE_MS),
            plans::MONITOR_HOLD_MS,
        ),
        row(
            format!("FIFO hog starves a pinned spinner, {name}"),
            Measure::Stall,
            plans::stall(),
            0,
        ),
    ]
}

fn tiny_rows() -> Vec<TinyRow> {
    let row = |label: &str, run| TinyRow {
        label: label.to_string(),
        run,
        ms: Samples::default(),
        not_measured: None,
    };
    vec![
        row("schedbox VMM (KVM): launch() → line", tiny::vmm),
        row("QEMU TCG: process spawn → line", || {
            tiny::qemu(Accel::Tcg)
        }),
        row("QEMU KVM: process spawn → line", || {
            tiny::qemu(Accel::Kvm)
        }),
    ]
}

/// Boots one run of a row and records its samples; a failure ends the row.
fn measure(row: &mut Row, inputs: &Inputs, options: &RunOptions, n: u32) {
    if row.not_measured.is_some() {
        return;
    }
    let Some(backend) = row.backend.take() else {
        return;
    };
    let result = boot_row(row, backend.as_ref(), inputs, options, n);
    row.backend = Some(backend);
    match result {
        Ok(line) => eprintln!("bench: run {}: {}: {line}", n + 1, row.label),
        Err(why) => {
            eprintln!("bench: run {}: {}: failed: {why}", n + 1, row.label);
            row.not_measured = Some(format!("failed: {why}"));
        }
    }
}

fn boot_row(
    row: &mut Row,
    backend: &dyn Backend,
    inputs: &Inputs,
    options: &RunOptions,
    n: u32,
) -> Result<String, String> {
    let initramfs = initramfs::build(&inputs.init, &row.plan, &[]).map_err(|e| e.to_string())?;
    let spec = VmSpec {
        kernel: row.kernel.clone(),
        initramfs,
        cmdline: prepare::kernel_cmdline(options),
        topology: row.shape.unwrap_or_else(|| options.vm.shape()),
        memory_mib: options.vm.memory_mib,
        virtio_records: true,
    };
    let timeout = options.timeout.unwrap_or(
        Duration::from_millis(row.hold_ms) + Duration::from_secs(prepare::BOOT_ALLOWANCE_S),
    );
    let dir = inputs.out.join(format!("{}-{n}", table::slug(&row.label)));
    let observed = boots::boot(backend, &spec, &row.plan, timeout, &dir)?;
    match row.measure {
        Measure::Spin => {
            let (first, total) = boots::spin_times(&observed)?;
            row.first.push(first);
            row.total.push(total);
            Ok(format!("first record {first:.0} ms, total {total:.0} ms"))
        }
        Measure::Monitor => {
            let cost = boots::monitor_share(&observed)?;
            row.first.push(cost.share);
            row.total.push(cost.cpu_ms);
            row.hold.push(cost.hold_share);
            row.hold_cpu.push(cost.hold_cpu_ms);
            Ok(format!(
                "PID 1 used {:.0} ms of CPU in the hold, a share of {} %; {:.0} ms over \
                 the scenario, a share of {} %",
                cost.hold_cpu_ms,
                stats::percent(cost.hold_share),
                cost.cpu_ms,
                stats::percent(cost.share)
            ))
        }
        Measure::Stall => {
            let ms = boots::stall_latency(&observed)?;
            row.first.push(ms);
            Ok(format!("stall seen {ms:.0} ms after the last progress"))
        }
    }
}

fn measure_tiny(row: &mut TinyRow, n: u32) {
    if row.not_measured.is_some() {
        return;
    }
    match (row.run)() {
        Ok(took) => row.ms.push(took.as_secs_f64() * 1000.0),
        Err(why) => {
            eprintln!("bench: run {}: {}: failed: {why}", n + 1, row.label);
            row.not_measured = Some(format!("failed: {why}"));
        }
    }
}

/// One bare boot and one empty run, side by side; a failure ends the row.
fn measure_floor(row: &mut FloorRow, inputs: &Inputs, options: &RunOptions, n: u32) {
    if row.not_measured.is_some() {
        return;
    }
    let mut floor_options = options.clone();
    floor_options.out = Some(inputs.out.join("floor"));
    let timeout = Duration::from_secs(prepare::BOOT_ALLOWANCE_S);
    let bare = floor::bare_qemu(&inputs.kernel.path, &floor_options, timeout);
    let empty = floor::empty_scenario(&floor_options, n);
    match (bare, empty) {
        (Ok(bare), Ok((empty, timeline))) => {
            let (b, e) = (bare.as_secs_f64() * 1e3, empty.as_secs_f64() * 1e3);
            row.timelines.push(timeline);
            eprintln!(
                "bench: run {}: floor: bare QEMU {b:.0} ms, empty scenario {e:.0} ms",
                n + 1
            );
            row.bare_ms.push(b);
            row.schedbox_ms.push(e);
        }
        (Err(why), _) | (_, Err(why)) => {
            eprintln!("bench: run {}: floor: failed: {why}", n + 1);
            row.not_measured = Some(format!("failed: {why}"));
        }
    }
}

fn size_rows(inputs: &Inputs) -> Vec<sizes::Size> {
    let mut rows = Vec::new();
    if let Ok((path, _)) = init::load() {
        let label = format!(
            "guest init (static; limit {})",
            sizes::human_bytes(init::INIT_SIZE_LIMIT)
        );
        rows.push(sizes::binary(&label, &path));
    }
    if let Ok(exe) = std::env::current_exe() {
        rows.push(sizes::binary("launcher (release)", &exe));
    }
    let initramfs = initramfs::build(&inputs.init, &inputs.plan, &[]).map_or(0, |i| i.len());
    rows.push(sizes::Size {
        label: "initramfs, these scenarios (uncompressed cpio)".into(),
        value: sizes::human_bytes(initramfs as u64),
    });
    for (label, lock) in [
        ("Cargo.lock packages, launcher", sizes::LAUNCHER_LOCK),
        ("Cargo.lock packages, guest init", sizes::INIT_LOCK),
    ] {
        let (all, external) = sizes::locked_packages(lock);
        rows.push(sizes::Size {
            label: label.into(),
            value: format!(
                "{all} ({external} from crates.io, {} our own)",
                all - external
            ),
        });
    }
    rows
}
