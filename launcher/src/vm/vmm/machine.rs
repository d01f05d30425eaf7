//! A whole VM: KVM, memory, irqchip and PIT, devices, vCPU threads, and the thread that
//! ends it all and reports why.

use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use kvm_bindings::{kvm_pit_config, KVM_PIT_SPEAKER_DUMMY};
use kvm_ioctls::{Kvm, VcpuFd, VmFd};

use crate::topology::shape::MAX_VCPUS;
use crate::topology::Shape;
use crate::vm::backend::{RecordsChannel, VmEvent, VmExit, VmHandle};
use crate::vm::vmm::boot::{self, Boot};
use crate::vm::vmm::devices::bus::PortBus;
use crate::vm::vmm::devices::i8042::{I8042, I8042_PORT, I8042_PORTS};
use crate::vm::vmm::devices::irq::IrqLine;
use crate::vm::vmm::devices::power::{Power, SLEEP_PORT, SLEEP_PORTS};
use crate::vm::vmm::devices::serial::{
    LineKind, LineSink, Uart, COM1_IRQ, COM1_PORT, COM2_IRQ, COM2_PORT, UART_PORTS,
};
use crate::vm::vmm::devices::virtio_console::{
    VirtioConsole, VIRTIO_IRQ, VIRTIO_MMIO_BASE, VIRTIO_MMIO_LEN,
};
use crate::vm::vmm::error::VmmError;
use crate::vm::vmm::exit::ExitState;
use crate::vm::vmm::kick;
use crate::vm::vmm::layout::KVM_TSS_ADDR;
use crate::vm::vmm::memory::{self, GuestMemory};
use crate::vm::vmm::vcpu;
use crate::vm::vmm::x86::cpuid;
use crate::vm::vmm::x86::regs;

/// How long vCPU threads get to leave KVM_RUN once the VM ends.
const STOP_LIMIT: Duration = Duration::from_secs(2);

/// The VM to build.
#[derive(Debug, Clone)]
pub struct MachineConfig {
    /// Nodes, LLCs, cores and threads: vCPUs, CPUID, ACPI tables and APIC IDs follow it.
    pub topology: Shape,
    pub memory_mib: u32,
    pub boot: Boot,
}

/// Opens /dev/kvm with an error that says what to do.
pub fn open_kvm() -> Result<Kvm, VmmError> {
    Kvm::new().map_err(|e| VmmError::NoKvm(open_kvm_error(e)))
}

/// Why /dev/kvm could not be opened, and what to do.
pub fn open_kvm_error(e: impl std::fmt::Display) -> String {
    format!(
        "cannot open /dev/kvm: {e}; check that KVM is enabled and you may use it, or use \
         --backend qemu"
    )
}

/// Creates a VM with the in-kernel irqchip and PIT.
fn create_vm(kvm: &Kvm) -> Result<VmFd, VmmError> {
    let vm = kvm
        .create_vm()
        .map_err(|e| VmmError::kvm("KVM_CREATE_VM", e))?;
    vm.set_tss_address(KVM_TSS_ADDR)
        .map_err(|e| VmmError::kvm("KVM_SET_TSS_ADDR", e))?;
    vm.create_irq_chip()
        .map_err(|e| VmmError::kvm("KVM_CREATE_IRQCHIP", e))?;
    let pit = kvm_pit_config {
        flags: KVM_PIT_SPEAKER_DUMMY,
        ..Default::default()
    };
    vm.create_pit2(pit)
        .map_err(|e| VmmError::kvm("KVM_CREATE_PIT2", e))?;
    Ok(vm)
}

/// The UARTs, kept to flush their last lines at the end.
type Uarts = Vec<Arc<Mutex<Uart>>>;
/// The virtio console, where the machine has one.
type Console = Option<Arc<Mutex<VirtioConsole<LineSink>>>>;

/// The virtio console on its MMIO window, when the boot declares it.
fn virtio_console(
    bus: &mut PortBus,
    vm: &VmFd,
    memory: &GuestMemory,
    events: &Sender<VmEvent>,
) -> Result<Console, VmmError> {
    let console = Arc::new(Mutex::new(VirtioConsole::new(
        memory.clone(),
        IrqLine::connect(vm, VIRTIO_IRQ)?,
        LineSink::records(RecordsChannel::Virtio, events.clone()),
    )));
    bus.insert_mmio(VIRTIO_MMIO_BASE, VIRTIO_MMIO_LEN, console.clone())?;
    Ok(Some(console))
}

/// The two UARTs and the i8042 on a port bus.
fn devices(
    vm: &VmFd,
    exit: &Arc<ExitState>,
    events: &Sender<VmEvent>,
) -> Result<(PortBus, Uarts), VmmError> {
    let mut bus = PortBus::new();
    let mut uarts = Vec::new();
    for (port, irq, kind) in [
        (COM1_PORT, COM1_IRQ, LineKind::Console),
        (COM2_PORT, COM2_IRQ, LineKind::Record),
    ] {
        let uart = Arc::new(Mutex::new(Uart::new(
            IrqLine::connect(vm, irq)?,
            LineSink::new(kind, events.clone()),
        )));
        bus.insert(port, UART_PORTS, uart.clone())?;
        uarts.push(uart);
    }
    bus.insert(
        I8042_PORT,
        I8042_PORTS,
        Arc::new(Mutex::new(I8042::new(exit.clone()))),
    )?;
    bus.insert(
        SLEEP_PORT,
        SLEEP_PORTS,
        Arc::new(Mutex::new(Power::new(exit.clone()))),
    )?;
    Ok((bus, uarts))
}

/// Set (to anything) to print what the guest did with the devices when the VM ends.
pub const DEVICE_COUNTERS_ENV: &str = "SCHEDBOX_VMM_COUNTERS";

/// The devices' counters, one line each.
fn device_counters(resources: &Resources) -> String {
    let mut lines = Vec::new();
    for (name, uart) in ["COM1", "COM2"].iter().zip(&resources.uarts) {
        let uart = uart.lock().unwrap_or_else(|p| p.into_inner());
        lines.push(format!("schedbox-vmm: {name}: {}", uart.counters()));
    }
    let unclaimed: Vec<String> = resources
        .bus
        .unclaimed()
        .iter()
        .map(|(port, n)| format!("{port:#x}×{n}"))
        .collect();
    if let Some(console) = &resources.console {
        let console = console.lock().unwrap_or_else(|p| p.into_inner());
        lines.push(format!(
            "schedbox-vmm: virtio console: {}",
            console.describe_counters()
        ));
    }
    lines.push(format!(
        "schedbox-vmm: unclaimed ports: {}",
        if unclaimed.is_empty() {
            "none".to_string()
        } else {
            unclaimed.join(" ")
        }
    ));
    lines.join("\n")
}

/// Everything that must live as long as the guest runs.
struct Resources {
    _kvm: Kvm,
    _vm: VmFd,
    memory: GuestMemory,
    uarts: Uarts,
    console: Console,
    bus: Arc<PortBus>,
}

/// Builds and starts the VM; events arrive on `events` until `Exited`.
pub fn start(config: &MachineConfig, events: Sender<VmEvent>) -> Result<RunningVm, VmmError> {
    let cpus = config.topology.vcpus();
    if cpus == 0 || cpus > MAX_VCPUS {
        return Err(VmmError::Config(format!(
            "{cpus} vCPUs requested: give 1 to {MAX_VCPUS}"
        )));
    }
    kick::install()?;
    let kvm = open_kvm()?;
    let vm = create_vm(&kvm)?;
    let memory = memory::create(config.memory_mib)?;
    memory::register(&vm, &memory)?;
    let mem_bytes = u64::from(config.memory_mib) << 20;
    let entry = boot::load(&memory, mem_bytes, &config.boot, &config.topology)?;
    let exit = Arc::new(ExitState::new());
    let (mut bus, uarts) = devices(&vm, &exit, &events)?;
    let console = match &config.boot {
        Boot::Kernel(kernel) if kernel.virtio_console => {
            virtio_console(&mut bus, &vm, &memory, &events)?
        }
        _ => None,
    };
    let supported = cpuid::supported(&kvm)?;
    let mut fds = Vec::new();
    for index in 0..cpus {
        fds.push(vcpu::create(
            &vm,
            &supported,
            &config.topology,
            index,
            true,
        )?);
    }
    regs::setup(&fds[0], &memory, entry)?;
    // The supervisor starts first: once vCPUs run, nothing they use may be dropped early.
    let (handoff, handed) = channel::<(Vec<JoinHandle<()>>, Resources)>();
    let supervisor_exit = exit.clone();
    let supervisor = std::thread::Builder::new()
        .name("vm-supervisor".into())
        .spawn(move || {
            if let Ok((threads, resources)) = handed.recv() {
                supervise(&supervisor_exit, threads, resources, &events);
            }
        })
        .map_err(VmmError::Thread)?;
    let bus = Arc::new(bus);
    let threads = spawn_vcpus(fds, bus.clone(), &exit)?;
    let resources = Resources {
        _kvm: kvm,
        _vm: vm,
        memory,
        uarts,
        console,
        bus,
    };
    // The supervisor only ends after receiving this, so the send cannot fail.
    let _ = handoff.send((threads, resources));
    Ok(RunningVm {
        exit,
        supervisor: Some(supervisor),
    })
}

fn spawn_vcpus(
    fds: Vec<VcpuFd>,
    bus: Arc<PortBus>,
    exit: &Arc<ExitState>,
) -> Result<Vec<JoinHandle<()>>, VmmError> {
    let mut threads = Vec::new();
    for (index, fd) in fds.into_iter().enumerate() {
        let (bus, thread_exit) = (bus.clone(), exit.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("vcpu{index}"))
            .spawn(move || vcpu::run(fd, index as u32, bus, thread_exit));
        match spawned {
            Ok(t) => threads.push(t),
            Err(e) => {
                // Stop the ones already running before giving up.
                exit.finish(VmExit::Crashed(format!("cannot start vCPU {index}: {e}")));
                kick::stop_all(&threads, STOP_LIMIT);
                return Err(VmmError::Thread(e));
            }
        }
    }
    Ok(threads)
}

/// Waits for the end, stops the vCPUs, flushes the UARTs, reports `Exited`.
fn supervise(
    exit: &ExitState,
    threads: Vec<JoinHandle<()>>,
    resources: Resources,
    events: &Sender<VmEvent>,
) {
    let mut reason = exit.wait();
    let stopped = kick::stop_all(&threads, STOP_LIMIT);
    for uart in &resources.uarts {
        uart.lock()
            .unwrap_or_else(|p| p.into_inner())
            .flush_partial();
    }
    if let Some(console) = &resources.console {
        console
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .output_mut()
            .flush_partial();
    }
    if std::env::var_os(DEVICE_COUNTERS_ENV).is_some() {
        eprintln!("{}", device_counters(&resources));
    }
    if !stopped {
        if let VmExit::Crashed(text) = &mut reason {
            text.push_str(&format!(" (and a vCPU did not stop within {STOP_LIMIT:?})"));
        }
    }
    let _ = events.send(VmEvent::Exited(reason));
    if stopped {
        for t in threads {
            let _ = t.join();
        }
        // Tearing the VM down takes milliseconds: done after the report.
        drop(resources);
    } else {
        // A vCPU still in KVM_RUN may touch guest memory: never unmap it under its feet.
        std::mem::forget(resources.memory);
    }
}

/// A running VM.
pub struct RunningVm {
    exit: Arc<ExitState>,
    supervisor: Option<JoinHandle<()>>,
}

impl VmHandle for RunningVm {
    fn kill(&mut self) {
        self.exit.finish(VmExit::Killed);
        if let Some(supervisor) = self.supervisor.take() {
            let _ = supervisor.join();
        }
    }
}

impl Drop for RunningVm {
    fn drop(&mut self) {
        self.kill();
    }
}
