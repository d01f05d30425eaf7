//! `run --host`: the same pipeline on this machine's running kernel instead of a VM
//! (docs/host.md). The scenarios are validated on the machine as it is, and what it
//! cannot give (root, cgroup v2, sched_ext for `--scheduler`, a sched_ext free for it)
//! makes the run untestable before anything starts.

use std::path::{Path, PathBuf};

use crate::cli::RunOptions;
use crate::exit::{Exit, Stop};
use crate::kernel::{Kernel, KernelFormat, KernelSource};
use crate::outcome::timeline;
use crate::pipeline::{boot, prepare, publish, shapes};
use crate::scenario::{Op, Scenario, VmShape};
use crate::topology::{limits, sysfs, Layout, Shape};
use crate::vm::host::{self, CGROUP_ROOT};

/// What the report names as the kernel of a host run.
pub const RUNNING_KERNEL: &str = "/proc/sys/kernel/osrelease";
const DEBUGFS: &str = "/sys/kernel/debug";
const MEMINFO: &str = "/proc/meminfo";
/// `statfs` f_type of a cgroup v2 mount.
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
const KIB_PER_MIB: u64 = 1024;

/// The run of `options` with `--host`, up to its exit status.
pub fn run(options: &RunOptions) -> Result<Exit, Stop> {
    if options.workflow.repeat.is_some() {
        return Err(Stop::Usage(
            "--repeat cannot be used with --host: run `schedbox run --host` again instead".into(),
        ));
    }
    let facts = Facts::read();
    if options.scheduler.is_some() {
        if let Some(why) = facts.scheduler_taken() {
            return Err(Stop::Usage(why));
        }
    }
    let (machine, note) = machine();
    let memory_mib = machine.memory_mib;
    let mut run = shapes::on_host(&options.vm, machine).map_err(Stop::Usage)?;
    run.notes.push(note);
    refuse_debugfs_writes(&run.scenarios).map_err(Stop::Usage)?;
    let inputs = prepare::host_inputs(options, running_kernel())?;
    let mut prepared = prepare::prepare(options, &inputs, run, options.out.as_deref())?;
    prepared.started = timeline::process_start();
    prepared.no_sched_ext = None;
    prepared.memory_mib = memory_mib;
    let untestable = facts.missing(options.scheduler.is_some());
    let (report, run_dir) = boot::run_on_host(options, prepared, untestable)?;
    Ok(publish::publish(options, run_dir.path(), report))
}

/// A `write` under debugfs (LKDTM's crash triggers, the scheduler's debug knobs) may
/// break or change a real machine: only a scenario marked for it runs one on a host.
fn refuse_debugfs_writes(scenarios: &[Scenario]) -> Result<(), String> {
    for s in scenarios.iter().filter(|s| !s.host_debugfs) {
        let writes = s.steps.iter().flat_map(|step| &step.ops);
        for op in writes {
            if let Op::Write { path, .. } = op {
                if Path::new(path).starts_with(DEBUGFS) {
                    return Err(format!(
                        "{}: a write to {path} under {DEBUGFS} would run on this machine: \
                         drop --host to run it in a VM, or set `host_debugfs = true` in the \
                         scenario if it is safe here",
                        s.source
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The running kernel, as the report names it.
fn running_kernel() -> Kernel {
    let release = std::fs::read_to_string(RUNNING_KERNEL)
        .ok()
        .map(|r| r.trim().to_string());
    Kernel {
        path: PathBuf::from(RUNNING_KERNEL),
        source: KernelSource::Flag,
        // Never loaded: the host runs it already.
        format: KernelFormat::BzImage,
        release,
        picked: None,
    }
}

/// This machine as scenarios are validated on: its online CPUs where sysfs places them
/// (CPU sets resolve on that layout), the shape that numbers them so when one does (for
/// the report), its memory; and the report's note on which.
fn machine() -> (VmShape, String) {
    let (layout, shape, note) = match sysfs::read(Path::new(sysfs::ROOT)) {
        Ok(cpus) => {
            let layout = Layout::of_host(&cpus);
            let (shape, note) = match sysfs::shape_of(&cpus) {
                Some(shape) => (
                    shape,
                    format!("--host: this machine is {shape} (sysfs); CPU sets resolve on it"),
                ),
                None => layout_note(&layout),
            };
            (layout, shape, note)
        }
        Err(why) => {
            let n = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
            let unknown = Some(format!("{why}, so no topology is known"));
            let cpus: Vec<sysfs::HostCpu> = (0..n)
                .map(|cpu| sysfs::HostCpu {
                    cpu,
                    siblings: None,
                    llc: None,
                    node: 0,
                })
                .collect();
            let layout = Layout {
                llc_unknown: unknown.clone(),
                core_unknown: unknown,
                ..Layout::of_host(&cpus)
            };
            let note = format!("--host: {why}: CPU sets take CPUs 0-{} as one node", n - 1);
            let shape = flat_shape(&layout);
            (layout, shape, note)
        }
    };
    let memory_mib = std::fs::read_to_string(MEMINFO)
        .ok()
        .and_then(|text| mem_total_mib(&text))
        .unwrap_or(0);
    (
        VmShape {
            topology: shape,
            memory_mib,
            // One machine per process: the layout lives as long as it.
            host: Some(Box::leak(Box::new(layout))),
        },
        note,
    )
}

/// The report's shape of a machine no `NnLlCcTt` numbers: its CPU count alone.
fn flat_shape(layout: &Layout) -> Shape {
    Shape::flat((layout.places.len() as u32).clamp(1, limits::MAX_SHAPE_VCPUS))
}

/// The shape and note of a machine no `NnLlCcTt` numbers as sysfs places its CPUs
/// (siblings numbered apart, LLCs of different sizes, CPUs offline in between).
fn layout_note(layout: &Layout) -> (Shape, String) {
    let online: std::collections::BTreeSet<u32> = layout.cpus().collect();
    let note = format!(
        "--host: CPU sets resolve on this machine as sysfs places its CPUs: CPUs {} \
         online, {} cores, {} LLCs, nodes {} (LLCs and cores numbered from 0 by their \
         lowest CPU); no NnLlCcTt shape numbers them so, and the report's shape is their \
         count alone",
        crate::cpulist::format(&online),
        layout.cores,
        layout.llcs,
        crate::cpulist::format(&layout.nodes)
    );
    (flat_shape(layout), note)
}

/// `MemTotal` of /proc/meminfo in MiB.
fn mem_total_mib(meminfo: &str) -> Option<u32> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    u32::try_from(kib / KIB_PER_MIB).ok()
}

/// What a host run needs of this machine, as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub root: bool,
    /// Whether /sys/fs/cgroup is the unified (v2) hierarchy.
    pub cgroup2: bool,
    /// /sys/kernel/sched_ext/state; None without sched_ext.
    pub sched_ext: Option<String>,
    /// The ops name of the scheduler attached, when one is.
    pub attached_ops: Option<String>,
}

impl Facts {
    pub fn read() -> Facts {
        Facts {
            // SAFETY: geteuid has no preconditions.
            root: unsafe { libc::geteuid() } == 0,
            cgroup2: is_cgroup2(CGROUP_ROOT),
            sched_ext: host::sched_ext_state(),
            attached_ops: std::fs::read_to_string("/sys/kernel/sched_ext/root/ops")
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty()),
        }
    }

    /// Why a run (with a scheduler under test or not) cannot be judged here; None when
    /// nothing is missing.
    pub fn missing(&self, scheduler: bool) -> Option<String> {
        let mut missing: Vec<String> = Vec::new();
        if !self.root {
            missing.push(
                "--host needs root (it creates cgroups and runs at real-time priority)".into(),
            );
        }
        if !self.cgroup2 {
            missing.push(format!(
                "{CGROUP_ROOT} is not a cgroup v2 (unified) hierarchy: this machine has cgroup v1 \
                 or a hybrid of both; boot it with systemd.unified_cgroup_hierarchy=1"
            ));
        }
        // Another scheduler attached is refused before this (scheduler_taken).
        if scheduler && self.sched_ext.is_none() {
            missing.push(
                "this kernel has no sched_ext (no /sys/kernel/sched_ext), so --scheduler \
                 cannot run on it: drop --host to boot one that has it"
                    .into(),
            );
        }
        (!missing.is_empty())
            .then(|| format!("this machine cannot run the test: {}", missing.join("; ")))
    }

    /// Why `--scheduler` is refused here: another sched_ext scheduler is attached (the
    /// user stops it, or runs in a VM); None when sched_ext is absent or disabled.
    pub fn scheduler_taken(&self) -> Option<String> {
        let state = self.sched_ext.as_deref().filter(|s| *s != "disabled")?;
        Some(format!(
            "--host --scheduler: another sched_ext scheduler is attached already ({}, state \
             {state}): stop it first, or drop --host to test in a VM",
            self.attached_ops.as_deref().unwrap_or("ops name unknown")
        ))
    }
}

fn is_cgroup2(path: &str) -> bool {
    let Ok(c) = std::ffi::CString::new(path) else {
        return false;
    };
    // SAFETY: statfs writes into the zeroed struct it is given; the path is a C string.
    unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        libc::statfs(c.as_ptr(), &mut st) == 0 && st.f_type as i64 == CGROUP2_SUPER_MAGIC
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_there() -> Facts {
        Facts {
            root: true,
            cgroup2: true,
            sched_ext: Some("disabled".into()),
            attached_ops: None,
        }
    }

    #[test]
    fn a_machine_with_everything_can_run() {
        assert_eq!(all_there().missing(true), None);
        let no_scx = Facts {
            sched_ext: None,
            ..all_there()
        };
        assert_eq!(
            no_scx.missing(false),
            None,
            "sched_ext is only for --scheduler"
        );
    }

    #[test]
    fn names_every_missing_thing() {
        let bare = Facts {
            root: false,
            cgroup2: false,
            sched_ext: None,
            attached_ops: None,
        };
        let why = bare.missing(true).unwrap();
        for word in ["root", "cgroup v2", "no sched_ext"] {
            assert!(why.contains(word), "{word} not in {why}");
        }
        let taken = Facts {
            sched_ext: Some("enabled".into()),
            attached_ops: Some("lavd_1.0".into()),
            ..all_there()
        };
        assert_eq!(taken.missing(true), None);
        let why = taken.scheduler_taken().unwrap();
        assert!(
            why.contains("attached already (lavd_1.0, state enabled)"),
            "{why}"
        );
        assert_eq!(all_there().scheduler_taken(), None);
    }

    #[test]
    fn reads_memory_in_mib() {
        let text = "MemTotal:        2048000 kB\nMemFree:  1 kB\n";
        assert_eq!(mem_total_mib(text), Some(2000));
        assert_eq!(mem_total_mib("nothing"), None);
    }
}
