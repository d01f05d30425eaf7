//! One vCPU: its setup and the loop that runs it and turns KVM exits into device accesses
//! or the VM's end.

use std::sync::Arc;

use kvm_bindings::{
    kvm_cpuid_entry2, KVM_INTERNAL_ERROR_EMULATION,
    KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES, KVM_SYSTEM_EVENT_CRASH,
    KVM_SYSTEM_EVENT_RESET, KVM_SYSTEM_EVENT_SHUTDOWN,
};
use kvm_ioctls::{VcpuExit, VcpuFd, VmFd};

use crate::topology::Shape;
use crate::vm::backend::VmExit;
use crate::vm::vmm::devices::bus::PortBus;
use crate::vm::vmm::error::VmmError;
use crate::vm::vmm::exit::ExitState;
use crate::vm::vmm::x86::cpuid;
use crate::vm::vmm::x86::lapic;
use crate::vm::vmm::x86::msrs;
use crate::vm::vmm::x86::regs;

/// What one KVM_RUN led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Handled; run again.
    Continue,
    /// HLT reached userspace (only without an in-kernel irqchip).
    Halted,
    /// The VM must end.
    End(VmExit),
}

/// Creates vCPU `index` of a VM of `shape` with its CPUID, MSRs, FPU and (with an
/// irqchip) LAPIC. Its KVM id is its APIC ID, which KVM makes the initial APIC ID.
pub fn create(
    vm: &VmFd,
    supported: &[kvm_cpuid_entry2],
    shape: &Shape,
    index: u32,
    irqchip: bool,
) -> Result<VcpuFd, VmmError> {
    let fd = vm
        .create_vcpu(u64::from(shape.apic_id(index)))
        .map_err(|e| VmmError::kvm("KVM_CREATE_VCPU", e))?;
    let entries = cpuid::for_vcpu(supported, shape, index);
    fd.set_cpuid2(&cpuid::to_kvm(&entries)?)
        .map_err(|e| VmmError::kvm("KVM_SET_CPUID2", e))?;
    msrs::setup(&fd)?;
    regs::setup_fpu(&fd)?;
    if irqchip {
        lapic::setup(&fd)?;
    }
    Ok(fd)
}

/// Runs a vCPU until the VM ends; records why if this vCPU ended it.
pub fn run(mut fd: VcpuFd, index: u32, bus: Arc<PortBus>, exit: Arc<ExitState>) {
    while !exit.should_stop() {
        match step(&mut fd, index, &bus) {
            Step::Continue | Step::Halted => {}
            Step::End(reason) => {
                exit.finish(reason);
                return;
            }
        }
    }
}

/// Runs the vCPU once and handles the exit.
pub fn step(fd: &mut VcpuFd, index: u32, bus: &PortBus) -> Step {
    let needs_state = match fd.run() {
        Ok(VcpuExit::IoOut(port, data)) => {
            bus.write(port, data);
            return Step::Continue;
        }
        Ok(VcpuExit::IoIn(port, data)) => {
            bus.read(port, data);
            return Step::Continue;
        }
        Ok(VcpuExit::MmioRead(addr, data)) => {
            bus.mmio_read(addr, data);
            return Step::Continue;
        }
        Ok(VcpuExit::MmioWrite(addr, data)) => {
            bus.mmio_write(addr, data);
            return Step::Continue;
        }
        Ok(VcpuExit::IrqWindowOpen | VcpuExit::Intr) => return Step::Continue,
        Ok(VcpuExit::Hlt) => return Step::Halted,
        Ok(VcpuExit::SystemEvent(kind, _)) => return Step::End(system_event(kind, index)),
        Ok(VcpuExit::FailEntry(reason, _)) => {
            return Step::End(VmExit::Crashed(format!(
                "KVM could not enter vCPU {index} (hardware entry failure reason {reason:#x})"
            )))
        }
        Ok(VcpuExit::Shutdown) => false,
        Ok(VcpuExit::InternalError) => true,
        Ok(other) => {
            return Step::End(VmExit::Crashed(format!(
                "vCPU {index} stopped on an unexpected KVM exit: {other:?}"
            )))
        }
        Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => return Step::Continue,
        Err(e) => {
            return Step::End(VmExit::Crashed(format!(
                "KVM_RUN failed on vCPU {index}: {e}"
            )))
        }
    };
    let rip = fd.get_regs().map(|r| r.rip).ok();
    if needs_state {
        let internal = read_internal_error(fd);
        Step::End(VmExit::Crashed(describe_internal_error(
            index, rip, &internal,
        )))
    } else {
        Step::End(VmExit::Crashed(describe_shutdown(index, rip)))
    }
}

/// The `internal` part of kvm_run after KVM_EXIT_INTERNAL_ERROR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InternalError {
    pub suberror: u32,
    pub ndata: u32,
    pub data: [u64; 16],
}

fn read_internal_error(fd: &mut VcpuFd) -> InternalError {
    let run = fd.get_kvm_run();
    // SAFETY: after KVM_EXIT_INTERNAL_ERROR the kernel filled the `internal` member; all of
    // its bit patterns are valid integers.
    let internal = unsafe { run.__bindgen_anon_1.internal };
    InternalError {
        suberror: internal.suberror,
        ndata: internal.ndata,
        data: internal.data,
    }
}

fn system_event(kind: u32, index: u32) -> VmExit {
    match kind {
        KVM_SYSTEM_EVENT_SHUTDOWN => VmExit::PowerOff,
        KVM_SYSTEM_EVENT_RESET => VmExit::Reset,
        KVM_SYSTEM_EVENT_CRASH => {
            VmExit::Crashed(format!("the guest reported a crash on vCPU {index}"))
        }
        other => VmExit::Crashed(format!("unexpected system event {other} on vCPU {index}")),
    }
}

fn format_rip(rip: Option<u64>) -> String {
    rip.map_or_else(|| "an unknown RIP".to_string(), |r| format!("RIP {r:#x}"))
}

/// KVM_EXIT_SHUTDOWN: the guest triple-faulted.
pub fn describe_shutdown(index: u32, rip: Option<u64>) -> String {
    format!(
        "triple fault on vCPU {index} at {} (KVM_EXIT_SHUTDOWN): the guest crashed during boot \
         or reset the CPU",
        format_rip(rip)
    )
}

/// KVM_EXIT_INTERNAL_ERROR, emulation failures called out: they mean this host's KVM cannot
/// run the kernel.
pub fn describe_internal_error(index: u32, rip: Option<u64>, e: &InternalError) -> String {
    let at = format_rip(rip);
    if e.suberror != KVM_INTERNAL_ERROR_EMULATION {
        let data: Vec<String> = e.data[..(e.ndata as usize).min(16)]
            .iter()
            .map(|d| format!("{d:#x}"))
            .collect();
        return format!(
            "KVM internal error {} on vCPU {index} at {at} (data: [{}])",
            e.suberror,
            data.join(", ")
        );
    }
    let mut insn = String::new();
    if e.ndata >= 3
        && e.data[0] & u64::from(KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) != 0
    {
        let bytes: Vec<u8> = e.data[1..3].iter().flat_map(|d| d.to_le_bytes()).collect();
        let len = usize::from(bytes[0]).min(15);
        let hex: Vec<String> = bytes[1..1 + len]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        insn = format!(", instruction bytes {}", hex.join(" "));
    }
    format!(
        "KVM internal error: emulation failure on vCPU {index} at {at}{insn}. This host's KVM \
         cannot run the kernel: it emulates guest code and does not support this instruction \
         (a nested or software KVM?); use --backend qemu"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emulation_failure_names_rip_bytes_and_the_way_out() {
        let mut data = [0u64; 16];
        data[0] = 1;
        // insn_size 3, bytes 0f 01 d9 (vmmcall).
        data[1] = u64::from_le_bytes([3, 0x0f, 0x01, 0xd9, 0, 0, 0, 0]);
        let e = InternalError {
            suberror: KVM_INTERNAL_ERROR_EMULATION,
            ndata: 3,
            data,
        };
        let msg = describe_internal_error(1, Some(0xffff_ffff_8100_0000), &e);
        assert!(msg.contains("emulation failure on vCPU 1"), "{msg}");
        assert!(msg.contains("RIP 0xffffffff81000000"), "{msg}");
        assert!(msg.contains("instruction bytes 0f 01 d9"), "{msg}");
        assert!(msg.contains("--backend qemu"), "{msg}");
    }

    #[test]
    fn other_internal_errors_show_their_data() {
        let mut data = [0u64; 16];
        data[0] = 0x80000021;
        let e = InternalError {
            suberror: 3,
            ndata: 1,
            data,
        };
        let msg = describe_internal_error(0, None, &e);
        assert_eq!(
            msg,
            "KVM internal error 3 on vCPU 0 at an unknown RIP (data: [0x80000021])"
        );
    }

    #[test]
    fn system_events_map_to_exits() {
        assert_eq!(system_event(KVM_SYSTEM_EVENT_SHUTDOWN, 0), VmExit::PowerOff);
        assert_eq!(system_event(KVM_SYSTEM_EVENT_RESET, 0), VmExit::Reset);
        assert!(matches!(
            system_event(KVM_SYSTEM_EVENT_CRASH, 0),
            VmExit::Crashed(_)
        ));
        assert!(describe_shutdown(2, Some(0x10)).contains("triple fault on vCPU 2 at RIP 0x10"));
    }
}
