//! Real kernels on the VMM. The ELF vmlinux (PVH entry) must print its "Linux version"
//! banner on COM1 through our UART and then end by itself with a reason (on a host whose
//! KVM emulates guest code: an emulation failure; elsewhere: the no-root-fs panic resets
//! it). The bzImage's decompressor (64-bit boot protocol) must read our command line.

use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use schedbox::topology::Shape;
use schedbox::vm::backend::{Backend, VmEvent, VmExit, VmHandle, VmSpec};
use schedbox::vm::vmm::{launch, start, Boot, KernelBoot, KvmBackend, MachineConfig, Protocol};

const BANNER: &str = "Linux version";
/// Printed by a KASLR-capable decompressor (Debian's kernel) when told `nokaslr`.
const KASLR_OFF: &str = "KASLR disabled: 'nokaslr' on cmdline.";
/// Bounds (not timings): for the first awaited line, and for the VM to end by itself after
/// it. Where KVM emulates guest code the banner takes 1-2 s and the end about 15 s.
const FIRST_LINE_LIMIT: Duration = Duration::from_secs(60);
const END_LIMIT: Duration = Duration::from_secs(120);

mod common;
use common::one_vm_at_a_time as one_at_a_time;

const MEMORY_MIB: u32 = 128;

/// A file beside the sched_ext test kernel (tests/common): `vmlinux`, `config`.
fn beside_kernel(name: &str) -> PathBuf {
    let path = common::sched_ext_kernel().with_file_name(name);
    assert!(
        path.is_file(),
        "{} is missing: the test kernel's folder keeps its vmlinux and config (`make \
         kernel` leaves them in the cache)",
        path.display()
    );
    path
}

fn launch(kernel: PathBuf, cmdline: &str) -> (Box<dyn VmHandle>, Receiver<VmEvent>) {
    let (tx, rx) = channel();
    let spec = VmSpec {
        kernel,
        initramfs: Vec::new(),
        cmdline: cmdline.to_string(),
        topology: Shape::flat(1),
        memory_mib: MEMORY_MIB,
        virtio_records: true,
    };
    let vm = KvmBackend
        .launch(&spec, tx)
        .unwrap_or_else(|e| panic!("launch failed: {e}"));
    (vm, rx)
}

/// Console lines up to the first containing `wanted` (or the end, or the limit).
struct Watch {
    lines: Vec<String>,
    found: Option<Duration>,
    exit: Option<VmExit>,
}

fn wait_for(rx: &Receiver<VmEvent>, wanted: &str, limit: Duration) -> Watch {
    let started = Instant::now();
    let mut watch = Watch {
        lines: Vec::new(),
        found: None,
        exit: None,
    };
    while let Ok(event) = rx.recv_timeout(limit.saturating_sub(started.elapsed())) {
        match event {
            VmEvent::Console(line) => {
                let hit = line.contains(wanted);
                watch.lines.push(line);
                if hit {
                    watch.found = Some(started.elapsed());
                    return watch;
                }
            }
            VmEvent::Record(r) => panic!("no init, yet a record arrived: {r}"),
            VmEvent::Channel(c) => panic!("no init, yet records came on {c:?}"),
            VmEvent::Exited(reason) => {
                watch.exit = Some(reason);
                return watch;
            }
        }
    }
    watch
}

/// Kills the VM and returns the `Exited` reason, which must follow.
fn kill(mut vm: Box<dyn VmHandle>, rx: &Receiver<VmEvent>) -> VmExit {
    vm.kill();
    loop {
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(VmEvent::Exited(reason)) => return reason,
            Ok(_) => {}
            Err(e) => panic!("no Exited after kill: {e}"),
        }
    }
}

fn show(name: &str, lines: &[String]) {
    eprintln!("{name}: {} console lines, the last ones:", lines.len());
    for line in lines.iter().rev().take(4).rev() {
        eprintln!("  | {line}");
    }
}

/// Where the VMM puts an initramfs of `len` bytes: page-aligned at the top of RAM.
fn expected_ramdisk(len: u64) -> String {
    let start = ((u64::from(MEMORY_MIB) << 20) - len) & !0xfff;
    let end = (u64::from(MEMORY_MIB) << 20) - 1;
    format!("RAMDISK: [mem {start:#010x}-{end:#010x}]")
}

#[test]
fn pvh_vmlinux_boots_to_its_banner_then_ends_with_a_reason() {
    let _guard = one_at_a_time();
    let initramfs = vec![0u8; 100_000];
    let (tx, rx) = channel();
    let spec = VmSpec {
        kernel: beside_kernel("vmlinux"),
        initramfs: initramfs.clone(),
        cmdline: "panic=-1".to_string(),
        topology: Shape::flat(2),
        memory_mib: MEMORY_MIB,
        virtio_records: true,
    };
    let vm = KvmBackend
        .launch(&spec, tx)
        .unwrap_or_else(|e| panic!("launch failed: {e}"));
    let banner = wait_for(&rx, BANNER, FIRST_LINE_LIMIT);
    let Some(after) = banner.found else {
        let exit = banner.exit.unwrap_or_else(|| kill(vm, &rx));
        panic!(
            "no '{BANNER}' banner on COM1 (VM ended with {exit:?}): {:#?}",
            banner.lines
        );
    };
    eprintln!("banner after {after:?}: {}", banner.lines.last().unwrap());
    let rest = wait_for(&rx, "\u{0}never printed", END_LIMIT);
    show("vmlinux after the banner", &rest.lines);
    let exit = rest.exit.unwrap_or_else(|| {
        let killed = kill(vm, &rx);
        panic!("the kernel neither crashed nor reset within {END_LIMIT:?} ({killed:?})")
    });
    eprintln!("ended by itself: {exit:?}");

    // What the kernel understood of the boot information we gave it.
    let all: Vec<&String> = banner.lines.iter().chain(&rest.lines).collect();
    assert_lines(&all, &boot_info_lines(initramfs.len() as u64));
    match exit {
        // On a native KVM the kernel finds no root fs, panics, and panic=-1 resets.
        VmExit::Reset => {}
        VmExit::Crashed(why) if why.contains("emulation failure") => {
            assert!(
                why.contains("RIP 0x") && why.contains("--backend qemu"),
                "{why}"
            );
        }
        other => panic!("unexpected end: {other:?}"),
    }
}

/// The lines that show the kernel understood our boot information, in the order it prints
/// them: command line, memory map, initramfs, and the ACPI tables that list the CPUs.
fn boot_info_lines(initramfs_len: u64) -> Vec<String> {
    vec![
        format!("Command line: {}", launch::kernel_cmdline("panic=-1")),
        "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable".to_string(),
        format!(
            "BIOS-e820: [mem 0x0000000000100000-{:#018x}] usable",
            (u64::from(MEMORY_MIB) << 20) - 1
        ),
        expected_ramdisk(initramfs_len),
        "ACPI: RSDP 0x00000000000E0000 000024 (v02 SCHBOX)".to_string(),
        "Using ACPI (MADT) for SMP configuration information".to_string(),
        "CPU topo: Allowing 2 present CPUs".to_string(),
    ]
}

fn assert_lines(lines: &[&String], expected: &[String]) {
    for wanted in expected {
        assert!(
            lines.iter().any(|l| l.contains(wanted.as_str())),
            "no line with {wanted:?} in {lines:#?}"
        );
    }
}

/// The ELF entered at startup_64 with a zero page, as a bzImage's decompressor enters the
/// kernel: command line, e820, initramfs and the ACPI RSDP reach it through `boot_params`.
#[test]
fn vmlinux_through_the_64bit_boot_protocol_reads_the_zero_page() {
    let _guard = one_at_a_time();
    let initramfs = vec![0u8; 100_000];
    let (tx, rx) = channel();
    let config = MachineConfig {
        topology: Shape::flat(2),
        memory_mib: MEMORY_MIB,
        boot: Boot::Kernel(KernelBoot {
            path: beside_kernel("vmlinux"),
            cmdline: launch::kernel_cmdline("panic=-1"),
            initramfs: initramfs.clone(),
            protocol: Protocol::Linux64,
            virtio_console: true,
        }),
    };
    let vm: Box<dyn VmHandle> = Box::new(start(&config, tx).unwrap_or_else(|e| panic!("{e}")));
    let expected = boot_info_lines(initramfs.len() as u64);
    let watch = wait_for(&rx, expected.last().unwrap(), FIRST_LINE_LIMIT);
    let exit = watch.exit.clone().unwrap_or_else(|| kill(vm, &rx));
    show("vmlinux (64-bit boot protocol)", &watch.lines);
    eprintln!("VM ended with {exit:?}");
    let lines: Vec<&String> = watch.lines.iter().collect();
    assert_lines(&lines, &[BANNER.to_string()]);
    assert_lines(&lines, &expected);
}

#[test]
fn bzimage_decompressor_reads_our_command_line() {
    let _guard = one_at_a_time();
    let (vm, rx) = launch(common::plain_kernel(), "nokaslr");
    let watch = wait_for(&rx, KASLR_OFF, FIRST_LINE_LIMIT);
    show("debian bzImage", &watch.lines);
    let exit = watch.exit.unwrap_or_else(|| kill(vm, &rx));
    let at = watch.found.unwrap_or_else(|| {
        panic!("the decompressor did not print {KASLR_OFF:?} on COM1 (VM ended with {exit:?})")
    });
    eprintln!("decompressor line after {at:?}; VM ended with {exit:?}");
    assert!(
        matches!(exit, VmExit::Killed | VmExit::Crashed(_)),
        "{exit:?}"
    );
}

#[test]
fn a_file_that_is_no_kernel_is_a_clear_error() {
    let (tx, _rx) = channel();
    let config = beside_kernel("config");
    let spec = VmSpec {
        kernel: config.clone(),
        initramfs: vec![1, 2, 3],
        cmdline: String::new(),
        topology: Shape::flat(1),
        memory_mib: MEMORY_MIB,
        virtio_records: true,
    };
    let err = KvmBackend
        .launch(&spec, tx)
        .err()
        .expect("a .config is not a kernel");
    let text = err.to_string();
    assert!(
        text.starts_with("cannot load kernel:") && text.contains(&*config.to_string_lossy()),
        "{text}"
    );
}

/// A 2-node, 4-vCPU shape through PVH: the kernel reads our SRAT, SLIT and MADT and sets
/// up both nodes, half the memory each, with two cores per package.
#[test]
fn pvh_vmlinux_sees_a_two_node_topology_in_the_acpi_tables() {
    let _guard = one_at_a_time();
    let (tx, rx) = channel();
    let config = MachineConfig {
        topology: Shape::parse("2n2l2c1t").unwrap(),
        memory_mib: MEMORY_MIB,
        boot: Boot::Kernel(KernelBoot {
            path: beside_kernel("vmlinux"),
            // The distance table line is a debug message.
            cmdline: launch::kernel_cmdline("panic=-1 loglevel=8"),
            initramfs: vec![0u8; 4096],
            protocol: Protocol::Auto,
            virtio_console: true,
        }),
    };
    let half = (u64::from(MEMORY_MIB) << 20) / 2;
    let expected = [
        format!(
            "ACPI: SRAT: Node 0 PXM 0 [mem 0x00000000-{:#010x}]",
            half - 1
        ),
        format!(
            "ACPI: SRAT: Node 1 PXM 1 [mem {half:#010x}-{:#010x}]",
            2 * half - 1
        ),
        "NUMA: Initialized distance table, cnt=2".to_string(),
        "Using ACPI (MADT) for SMP configuration information".to_string(),
        "CPU topo: Max. logical packages:   2".to_string(),
        "CPU topo: Num. cores per package:     2".to_string(),
        "CPU topo: Allowing 4 present CPUs".to_string(),
        "nr_node_ids:2".to_string(),
    ];
    let vm: Box<dyn VmHandle> = Box::new(start(&config, tx).unwrap_or_else(|e| panic!("{e}")));
    let watch = wait_for(&rx, expected.last().unwrap(), FIRST_LINE_LIMIT);
    let exit = watch.exit.clone().unwrap_or_else(|| kill(vm, &rx));
    show("vmlinux on 2n2l2c1t", &watch.lines);
    eprintln!("VM ended with {exit:?}");
    let lines: Vec<&String> = watch.lines.iter().collect();
    assert_lines(&lines, &expected);
}
