//! The VMM as a launcher backend.

use std::sync::mpsc::Sender;

use crate::vm::backend::{Backend, BackendError, VmEvent, VmHandle, VmSpec};
use crate::vm::vmm::boot::{Boot, KernelBoot, Protocol};
use crate::vm::vmm::machine::{self, MachineConfig};

/// Kernel options this VMM's machine needs: the console on COM1 from the first message on
/// (early console, then the 8250 driver), and reset through the i8042. The ACPI tables
/// describe CPUs, nodes and the power-off register.
pub const DEVICE_CMDLINE: &str = "console=ttyS0 earlyprintk=serial,ttyS0,115200 reboot=k";

/// The full command line for a spec's options.
pub fn kernel_cmdline(spec_cmdline: &str) -> String {
    format!("{DEVICE_CMDLINE} {}", spec_cmdline.trim())
        .trim()
        .to_string()
}

/// Starts `boot` on the VMM in a machine of the spec's shape and memory: how both the
/// kernel backend and the bench's tiny guest launch.
pub fn launch_boot(
    spec: &VmSpec,
    boot: Boot,
    events: Sender<VmEvent>,
) -> Result<Box<dyn VmHandle>, BackendError> {
    let config = MachineConfig {
        topology: spec.topology,
        memory_mib: spec.memory_mib,
        boot,
    };
    Ok(Box::new(machine::start(&config, events)?))
}

/// schedbox's own VMM on KVM.
#[derive(Debug, Clone, Copy, Default)]
pub struct KvmBackend;

impl Backend for KvmBackend {
    fn name(&self) -> String {
        "kvm".to_string()
    }

    fn stops_at_done(&self) -> bool {
        true
    }

    fn launch(
        &self,
        spec: &VmSpec,
        events: Sender<VmEvent>,
    ) -> Result<Box<dyn VmHandle>, BackendError> {
        let boot = Boot::Kernel(KernelBoot {
            path: spec.kernel.clone(),
            cmdline: kernel_cmdline(&spec.cmdline),
            initramfs: spec.initramfs.clone(),
            protocol: Protocol::Auto,
            virtio_console: spec.virtio_records,
        });
        launch_boot(spec, boot, events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_options_come_first() {
        assert_eq!(
            kernel_cmdline("  quiet panic=-1 "),
            format!("{DEVICE_CMDLINE} quiet panic=-1")
        );
        assert_eq!(kernel_cmdline(""), DEVICE_CMDLINE);
    }
}
