//! The own VMM against QEMU inside one QEMU/TCG guest with nested SVM (docs/nested.md):
//! the outer guest runs `schedbox run` as payloads, alternately on the VMM (`--backend
//! kvm`, the guest's /dev/kvm) and on QEMU with `-accel kvm` on the same /dev/kvm, then
//! once on QEMU/TCG (over a minute alone). Each inner run's launch to its first record and
//! launch to verdict (the built-in spin scenario) are read from its JSON report.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::stats::Samples;
use crate::cli::RunOptions;
use crate::kernel::{self, config};
use crate::pipeline::boot;
use crate::scenario::payloads::find_program;
use crate::vm::qemu::{DEFAULT_BINARY, QBOOT_PATHS};
use crate::vm::select::{AccelChoice, BackendChoice};

/// QEMU's CPU for the outer guest: EPYC gives kvm_amd nested paging under TCG.
pub const OUTER_CPU: &str = "EPYC,+svm";
/// Holds the launcher, its libraries, both inner kernels' copies and the inner VM.
pub const OUTER_MEMORY_MIB: u32 = 1536;
/// The inner VMs' vCPUs (threads of the outer guest's two).
pub const INNER_VCPUS: u32 = 2;
/// Limits for an inner run and the outer step that waits for it.
const INNER_TIMEOUT_S: u64 = 540;
const OUTER_HOLD_MS: u64 = 570_000;
/// Where distributions keep QEMU's loadable TCG accelerator (Debian builds it as one).
const TCG_MODULES: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so",
    "/usr/lib64/qemu/accel-tcg-x86_64.so",
    "/usr/lib/qemu/accel-tcg-x86_64.so",
];
/// The option ROM QEMU loads to boot `-kernel`, beside qboot.
const LINUXBOOT_ROM: &str = "linuxboot_dma.bin";

/// Inner runs of each KVM backend, alternated in one outer boot.
pub const KVM_RUNS: usize = 3;

/// How an inner run boots its guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InnerBackend {
    /// schedbox's own VMM on the outer guest's /dev/kvm.
    Vmm,
    /// QEMU with `-accel kvm` on the same /dev/kvm.
    QemuKvm,
    /// QEMU emulating every instruction.
    QemuTcg,
}

impl InnerBackend {
    /// The payload's name, which also names its log file.
    fn name(self, run: usize) -> String {
        let base = match self {
            InnerBackend::Vmm => "kvm",
            InnerBackend::QemuKvm => "qemu-kvm",
            InnerBackend::QemuTcg => "qemu-tcg",
        };
        format!("{base}-{run}")
    }

    /// QEMU-KVM gets the plain `qemu64` model: with `-cpu host` its guest stopped sending
    /// records right after init started under this nested SVM (TCG's), and the own VMM's
    /// guest did not.
    fn run_args(self) -> &'static [&'static str] {
        match self {
            InnerBackend::Vmm => &["--backend", "kvm"],
            InnerBackend::QemuKvm => &[
                "--backend",
                "qemu",
                "--accel",
                "kvm",
                "--qemu-cpu",
                "qemu64",
            ],
            InnerBackend::QemuTcg => &["--backend", "qemu", "--accel", "tcg"],
        }
    }
}

/// The bench's inner runs: the two KVM backends alternated, then QEMU/TCG once.
pub fn bench_runs() -> Vec<(InnerBackend, usize)> {
    let mut runs = Vec::new();
    for run in 1..=KVM_RUNS {
        runs.push((InnerBackend::Vmm, run));
        runs.push((InnerBackend::QemuKvm, run));
    }
    runs.push((InnerBackend::QemuTcg, 1));
    runs
}

/// What the outer scenario packs: the launcher, the init beside it, the inner kernel.
pub struct Inner<'a> {
    pub launcher: &'a Path,
    pub init: &'a Path,
    pub kernel: &'a Path,
}

/// The outer scenario: a light sleeper, then one step per inner run, each holding until
/// its payload ends.
pub fn outer_scenario(inner: &Inner, runs: &[(InnerBackend, usize)]) -> Result<String, String> {
    let mut text = "name = \"nested\"\n\
         # A light sleeper: the outer guest's own tasks still run beside the inner VM.\n\
         [[workers]]\ngroup = \"beside\"\nwork = \"sleep-wake\"\nsleep_us = 100000\n"
        .to_string();
    for step in 0..runs.len() {
        let ops = if step == 0 {
            "ops = [{ op = \"spawn\", group = \"beside\" }]\n"
        } else {
            ""
        };
        text += &format!("[[step]]\nhold_ms = {OUTER_HOLD_MS}\nuntil = \"payloads\"\n{ops}");
    }
    for (step, &(backend, run)) in runs.iter().enumerate() {
        text += &payload(inner, step, backend, &backend.name(run))?;
    }
    Ok(text)
}

/// One inner `schedbox run` on `backend`, writing its JSON report to its stdout. Quiet:
/// its stderr is the same terminal, where a live progress line would run into the JSON.
fn payload(
    inner: &Inner,
    step: usize,
    backend: InnerBackend,
    name: &str,
) -> Result<String, String> {
    let kernel_name = inner
        .kernel
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("the kernel's file name is not UTF-8")?;
    let mut files = vec![quoted(inner.init), quoted(inner.kernel)];
    if backend != InnerBackend::Vmm {
        files.extend(qemu_files()?);
    }
    let args: Vec<String> = backend
        .run_args()
        .iter()
        .map(|a| format!("\"{a}\""))
        .collect();
    Ok(format!(
        "[[payload]]\nname = \"{name}\"\nstep = {step}\npath = {launcher}\n\
         files = [{files}]\n\
         args = [\"run\", {args}, \"--kernel\", \"/payload/{name}/{kernel_name}\", \
         \"--cpus\", \"{INNER_VCPUS}\", \"--timeout\", \"{INNER_TIMEOUT_S}\", \"--verbose\", \"--quiet\", \
         \"--json\", \"/proc/self/fd/1\"]\nexpect_status = \"any\"\n",
        launcher = quoted(inner.launcher),
        files = files.join(", "),
        args = args.join(", "),
    ))
}

/// QEMU, its TCG module and its boot firmware, each at its own path in the outer guest.
fn qemu_files() -> Result<Vec<String>, String> {
    let qemu = find_program(DEFAULT_BINARY, Path::new(""))?;
    let qboot = QBOOT_PATHS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .ok_or("no qboot.rom for QEMU inside the guest")?;
    let rom = qboot.with_file_name(LINUXBOOT_ROM);
    let mut placed = vec![
        (qemu, format!("/usr/bin/{DEFAULT_BINARY}")),
        (qboot.clone(), qboot.display().to_string()),
        (rom.clone(), rom.display().to_string()),
    ];
    if let Some(module) = TCG_MODULES.iter().find(|m| Path::new(m).exists()) {
        placed.push((PathBuf::from(module), module.to_string()));
    }
    Ok(placed
        .iter()
        .map(|(from, to)| format!("{{ path = {}, to = \"{to}\" }}", quoted(from)))
        .collect())
}

fn quoted(path: &Path) -> String {
    format!("{:?}", path.display().to_string())
}

/// An inner run's report: the pretty JSON object that starts and ends at column 0 in its
/// payload's output (the console echo and notes go around it). The payload writes to a
/// terminal, which ends its lines with CR LF, and a live line erased (CR, erase to the
/// end) also leaves the next text at column 0.
pub fn inner_report(log: &str) -> Option<Value> {
    let log = &log.replace("\r\n", "\n").replace("\r\x1b[K", "\n");
    let start = log.find("\n{\n")? + 1;
    let end = start + log[start..].find("\n}\n")? + 2;
    serde_json::from_str(&log[start..end]).ok()
}

/// One inner backend's runs: launch → first record and launch → verdict, in ms.
#[derive(Debug, Default, Clone)]
pub struct InnerTimes {
    pub first_record: Samples,
    pub verdict: Samples,
}

/// The nested section: each inner backend's times, or why none were measured.
#[derive(Debug, Default)]
pub struct NestedRow {
    pub vmm: InnerTimes,
    pub qemu_kvm: InnerTimes,
    pub qemu_tcg: InnerTimes,
    pub not_measured: Option<String>,
}

impl NestedRow {
    fn times(&mut self, backend: InnerBackend) -> &mut InnerTimes {
        match backend {
            InnerBackend::Vmm => &mut self.vmm,
            InnerBackend::QemuKvm => &mut self.qemu_kvm,
            InnerBackend::QemuTcg => &mut self.qemu_tcg,
        }
    }
}

/// Runs the outer guest once; a row that could not be measured says why.
pub fn measure(options: &RunOptions, kernel: &Path, out: &Path) -> NestedRow {
    let mut row = NestedRow::default();
    if let Err(why) = run(options, kernel, out, &mut row) {
        row.not_measured = Some(why);
    }
    row
}

/// The bench's kernel if it has KVM_AMD built in, else the newest cached one that has:
/// the outer guest loads no modules (a distribution kernel's kvm_amd.ko would leave it
/// without /dev/kvm).
fn outer_kernel(bench_kernel: &Path) -> Result<PathBuf, String> {
    let has_kvm_amd = |k: &Path| config::check_image(k).is_ok_and(|f| f.has_built_in("KVM_AMD"));
    if has_kvm_amd(bench_kernel) {
        return Ok(bench_kernel.to_path_buf());
    }
    kernel::cached(&kernel::cache_dir())
        .into_iter()
        .filter(|k| has_kvm_amd(k))
        .filter_map(|k| Some((k.metadata().ok()?.modified().ok()?, k)))
        .max()
        .map(|(_, k)| k)
        .ok_or_else(|| {
            format!(
                "{} has no built-in KVM_AMD, nor has a cached kernel: the outer guest needs the \
                 project's kernel (make test-inputs)",
                bench_kernel.display()
            )
        })
}

fn run(
    options: &RunOptions,
    bench_kernel: &Path,
    out: &Path,
    row: &mut NestedRow,
) -> Result<(), String> {
    let kernel = &outer_kernel(bench_kernel)?;
    let launcher = std::env::current_exe().map_err(|e| format!("schedbox's own path: {e}"))?;
    // The init a run would pack, found the way a run finds it.
    let (init, _) = crate::guest::init::load()?;
    let inner = Inner {
        launcher: &launcher,
        init: &init,
        kernel,
    };
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let scenario = out.join("nested.toml");
    let runs = bench_runs();
    std::fs::write(&scenario, outer_scenario(&inner, &runs)?)
        .map_err(|e| format!("{}: {e}", scenario.display()))?;
    let mut outer = options.clone();
    outer.vm.scenarios = vec![scenario];
    outer.vm.cpus = INNER_VCPUS;
    outer.vm.topology = Vec::new();
    outer.vm.memory_mib = OUTER_MEMORY_MIB;
    outer.kernel = Some(kernel.to_path_buf());
    outer.out = Some(out.join("outer"));
    outer.backend = BackendChoice::Qemu;
    outer.accel = AccelChoice::Tcg;
    outer.qemu_cpu = Some(OUTER_CPU.to_string());
    let (_, run_dir) = boot::run_once(&outer).map_err(|stop| stop.to_string())?;
    for (backend, n) in runs {
        let name = backend.name(n);
        let log = run_dir.path().join(format!("payload-nested-{name}.log"));
        let (first, verdict) = inner_times(&log, &name)?;
        let times = row.times(backend);
        times.first_record.push(first);
        times.verdict.push(verdict);
    }
    Ok(())
}

/// An inner run's launch → boot record and launch → verdict, from its report.
fn inner_times(log: &Path, name: &str) -> Result<(f64, f64), String> {
    let text = std::fs::read_to_string(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let report = inner_report(&text)
        .ok_or_else(|| format!("the inner {name} run wrote no report ({})", log.display()))?;
    let ms = |key: &str| report["timings"][key].as_u64().map(|v| v as f64);
    match (ms("boot_record_ms"), ms("total_ms")) {
        (Some(first), Some(total)) => Ok((first, total)),
        _ => Err(format!(
            "the inner {name} run sent no boot record or has no total ({})",
            log.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inner_report_is_the_json_object_at_column_0() {
        let log = "schedbox: using x\nconsole: {not this}\n{\n  \"timings\": {\n    \"boot_record_ms\": 42\n  }\n}\nPASS\n";
        let report = inner_report(log).unwrap();
        assert_eq!(report["timings"]["boot_record_ms"], 42);
        assert!(inner_report("no report\n").is_none());
        let terminal = log.replace('\n', "\r\n");
        let report = inner_report(&terminal).unwrap();
        assert_eq!(report["timings"]["boot_record_ms"], 42);
        let erased = log.replacen("\n{", "\n\r\x1b[Kschedbox: scenario 1/1\r\x1b[K{", 1);
        let report = inner_report(&erased).unwrap();
        assert_eq!(report["timings"]["boot_record_ms"], 42);
    }

    #[test]
    fn the_outer_scenario_runs_each_backend_in_its_own_step() {
        let inner = Inner {
            launcher: Path::new("/bin/true"),
            init: Path::new("/bin/false"),
            kernel: Path::new("/etc/passwd"),
        };
        let text = outer_scenario(&inner, &[(InnerBackend::Vmm, 1)]).unwrap();
        let vm = crate::scenario::VmShape::flat(2, OUTER_MEMORY_MIB);
        let scenario = crate::scenario::parse(&text, "nested.toml", &vm).unwrap();
        assert_eq!(scenario.steps.len(), 1);
        assert!(scenario.steps[0].until_payloads);
        let payload = scenario.payloads().next().unwrap();
        assert_eq!(payload.name, "kvm-1");
        assert!(payload
            .args
            .windows(2)
            .any(|w| w == ["--kernel", "/payload/kvm-1/passwd"]));
        assert_eq!(payload.files.len(), 2);
    }

    #[test]
    fn the_bench_alternates_the_kvm_backends_and_ends_with_tcg() {
        let runs = bench_runs();
        assert_eq!(runs.len(), 2 * KVM_RUNS + 1);
        assert_eq!(runs[0], (InnerBackend::Vmm, 1));
        assert_eq!(runs[1], (InnerBackend::QemuKvm, 1));
        assert_eq!(runs.last(), Some(&(InnerBackend::QemuTcg, 1)));
        let names: std::collections::HashSet<_> = runs.iter().map(|&(b, n)| b.name(n)).collect();
        assert_eq!(names.len(), runs.len(), "payload names are unique");
    }
}
