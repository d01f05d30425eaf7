//! Putting what the guest boots into memory and choosing its entry: a Linux kernel (with
//! command line, initramfs, memory map and MP table) or a few bytes of code (tests, probe).

use std::path::PathBuf;

use linux_loader::cmdline::Cmdline;
use linux_loader::loader::load_cmdline;
use vm_memory::{Bytes, GuestAddress};

use crate::topology::Shape;
use crate::vm::vmm::devices::power::SLEEP_PORT;
use crate::vm::vmm::devices::serial::{COM1_IRQ, COM1_PORT, COM2_IRQ, COM2_PORT, UART_PORTS};
use crate::vm::vmm::devices::virtio_console::{VIRTIO_IRQ, VIRTIO_MMIO_BASE, VIRTIO_MMIO_LEN};
use crate::vm::vmm::error::VmmError;
use crate::vm::vmm::initrd;
use crate::vm::vmm::kernel::{self, KernelEntry};
use crate::vm::vmm::layout::{
    ACPI_START, CMDLINE_MAX, CMDLINE_START, CODE_START, IOAPIC_ADDR, LAPIC_ADDR, MPTABLE_START,
};
use crate::vm::vmm::memory::{low_ram_end, ram_ranges, GuestMemory};
use crate::vm::vmm::x86::acpi;
use crate::vm::vmm::x86::bootparams::{self, BootInfo};
use crate::vm::vmm::x86::e820::e820_map;
use crate::vm::vmm::x86::mptable;
use crate::vm::vmm::x86::pvh;
use crate::vm::vmm::x86::regs::Entry;

/// The x86 kernel's COMMAND_LINE_SIZE, for kernels whose header does not say.
const DEFAULT_CMDLINE_SIZE: usize = 2048;
/// Highest initramfs address when the kernel does not say (PVH): stay in 32-bit space.
const DEFAULT_INITRD_ADDR_MAX: u64 = 0xffff_ffff;

/// What the VM boots.
#[derive(Debug, Clone)]
pub enum Boot {
    /// A Linux kernel.
    Kernel(KernelBoot),
    /// Raw machine code loaded at [`CODE_START`] and entered there.
    Code { bytes: Vec<u8>, mode: CodeMode },
}

/// A Linux kernel (bzImage or ELF vmlinux) with its full command line and initramfs.
#[derive(Debug, Clone)]
pub struct KernelBoot {
    pub path: PathBuf,
    pub cmdline: String,
    pub initramfs: Vec<u8>,
    pub protocol: Protocol,
    /// Whether the machine has the virtio console (declared in the DSDT) for records.
    pub virtio_console: bool,
}

/// How an ELF kernel is entered (a bzImage always uses the 64-bit boot protocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// PVH when the ELF has the note, the 64-bit boot protocol otherwise.
    #[default]
    Auto,
    /// The 64-bit boot protocol even when the ELF has a PVH note.
    Linux64,
}

/// The CPU mode raw code starts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeMode {
    /// Real mode, CS base at the code.
    Real,
    /// 64-bit mode on identity page tables.
    Long,
}

/// Loads `boot` into `mem` for a VM of `shape`; returns how the boot vCPU starts.
pub fn load(
    mem: &GuestMemory,
    mem_bytes: u64,
    boot: &Boot,
    shape: &Shape,
) -> Result<Entry, VmmError> {
    match boot {
        Boot::Code { bytes, mode } => {
            mem.write_slice(bytes, GuestAddress(CODE_START))
                .map_err(|e| VmmError::Memory(format!("cannot load the code: {e}")))?;
            Ok(match mode {
                CodeMode::Real => Entry::Real { base: CODE_START },
                CodeMode::Long => Entry::Long {
                    rip: CODE_START,
                    rsi: 0,
                },
            })
        }
        Boot::Kernel(kernel) => load_kernel(mem, mem_bytes, kernel, shape),
    }
}

fn load_kernel(
    mem: &GuestMemory,
    mem_bytes: u64,
    boot: &KernelBoot,
    shape: &Shape,
) -> Result<Entry, VmmError> {
    let loaded = kernel::load(mem, &boot.path, boot.protocol == Protocol::Auto)?;
    let (cmdline, initramfs) = (boot.cmdline.as_str(), boot.initramfs.as_slice());
    let (cmdline_size, initrd_max) = match &loaded.entry {
        KernelEntry::Linux64 { header, .. } if header.cmdline_size > 0 => (
            header.cmdline_size as usize,
            u64::from(header.initrd_addr_max),
        ),
        _ => (DEFAULT_CMDLINE_SIZE, DEFAULT_INITRD_ADDR_MAX),
    };
    let cmdline_len = write_cmdline(mem, cmdline, cmdline_size)?;
    let initrd = if initramfs.is_empty() {
        None
    } else {
        let addr = initrd::address(
            low_ram_end(mem_bytes),
            initrd_max,
            loaded.end,
            initramfs.len() as u64,
        )?;
        initrd::write(mem, addr, initramfs)?;
        Some((addr, initramfs.len() as u64))
    };
    let virtio: &[acpi::VirtioMmio] = if boot.virtio_console {
        &VIRTIO_DEVICES
    } else {
        &[]
    };
    let rsdp = write_firmware_tables(mem, mem_bytes, shape, virtio)?;
    let e820 = e820_map(mem_bytes);
    let info = BootInfo {
        cmdline_addr: CMDLINE_START,
        cmdline_len,
        initrd,
        e820: &e820,
        rsdp,
    };
    match loaded.entry {
        KernelEntry::Pvh { entry } => {
            let start_info = pvh::write(mem, &pvh::build(&info))?;
            Ok(Entry::Protected {
                rip: entry,
                ebx: start_info,
            })
        }
        KernelEntry::Linux64 { entry, header } => {
            let zero_page = bootparams::write(mem, &bootparams::build(header, &info)?)?;
            Ok(Entry::Long {
                rip: entry,
                rsi: zero_page,
            })
        }
    }
}

/// The UARTs as the DSDT declares them.
const SERIAL_PORTS: [acpi::SerialPort; 2] = [
    acpi::SerialPort {
        base: COM1_PORT,
        len: UART_PORTS as u8,
        irq: COM1_IRQ as u8,
    },
    acpi::SerialPort {
        base: COM2_PORT,
        len: UART_PORTS as u8,
        irq: COM2_IRQ as u8,
    },
];

/// The virtio console as the DSDT declares it.
const VIRTIO_DEVICES: [acpi::VirtioMmio; 1] = [acpi::VirtioMmio {
    base: VIRTIO_MMIO_BASE as u32,
    len: VIRTIO_MMIO_LEN as u32,
    irq: VIRTIO_IRQ as u8,
}];

/// The ACPI tables of `shape` (the kernel prefers them), and for a flat machine also the
/// MP table, whose processor entries number APIC IDs 0..n. Returns the RSDP's address.
fn write_firmware_tables(
    mem: &GuestMemory,
    mem_bytes: u64,
    shape: &Shape,
    virtio_devices: &[acpi::VirtioMmio],
) -> Result<u64, VmmError> {
    let ram = ram_ranges(mem_bytes);
    let platform = acpi::Platform {
        shape,
        ram: &ram,
        lapic_addr: LAPIC_ADDR,
        ioapic_addr: IOAPIC_ADDR,
        sleep_port: SLEEP_PORT,
        serial_ports: &SERIAL_PORTS,
        virtio_devices,
    };
    let tables = acpi::build(&platform, ACPI_START);
    if ACPI_START + tables.bytes.len() as u64 > MPTABLE_START {
        return Err(VmmError::Config(format!(
            "the ACPI tables for {} vCPUs do not fit below the MP table",
            shape.vcpus()
        )));
    }
    mem.write_slice(&tables.bytes, GuestAddress(ACPI_START))
        .map_err(|e| VmmError::Memory(format!("cannot write the ACPI tables: {e}")))?;
    if (0..shape.vcpus()).all(|cpu| shape.apic_id(cpu) == cpu) {
        mptable::write(mem, shape.vcpus())?;
    }
    Ok(tables.rsdp_addr())
}

/// Writes the command line; returns its length. Fails clearly when the kernel cannot take it.
pub fn write_cmdline(mem: &GuestMemory, text: &str, kernel_max: usize) -> Result<usize, VmmError> {
    let max = kernel_max.min(CMDLINE_MAX - 1);
    let text = text.trim();
    if text.len() > max {
        return Err(VmmError::Config(format!(
            "the kernel command line is {} bytes; this kernel accepts at most {max}",
            text.len()
        )));
    }
    if let Some(bad) = text.chars().find(|c| !matches!(c, ' '..='~')) {
        return Err(VmmError::Config(format!(
            "bad kernel command line {text:?}: {bad:?} is not printable ASCII"
        )));
    }
    let cmdline = Cmdline::try_from(text, max + 1)
        .map_err(|e| VmmError::Config(format!("bad kernel command line {text:?}: {e}")))?;
    load_cmdline(mem, GuestAddress(CMDLINE_START), &cmdline)
        .map_err(|e| VmmError::Memory(format!("cannot write the command line: {e}")))?;
    Ok(text.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::vmm::memory::create_bytes;

    #[test]
    fn cmdline_is_written_nul_terminated() {
        let mem = create_bytes(1 << 20).unwrap();
        let len = write_cmdline(&mem, " console=ttyS0 quiet ", 2048).unwrap();
        assert_eq!(len, "console=ttyS0 quiet".len());
        let mut buf = vec![0u8; len + 1];
        mem.read_slice(&mut buf, GuestAddress(CMDLINE_START))
            .unwrap();
        assert_eq!(&buf, b"console=ttyS0 quiet\0");
    }

    #[test]
    fn cmdline_too_long_or_bad_is_refused() {
        let mem = create_bytes(1 << 20).unwrap();
        let err = write_cmdline(&mem, &"a".repeat(300), 255)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("300 bytes") && err.contains("at most 255"),
            "{err}"
        );
        let err = write_cmdline(&mem, "init=/bin/\u{e9}", 2048)
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad kernel command line"), "{err}");
    }

    #[test]
    fn code_is_loaded_at_its_entry() {
        let mem = create_bytes(1 << 20).unwrap();
        let boot = Boot::Code {
            bytes: vec![0xf4],
            mode: CodeMode::Real,
        };
        assert_eq!(
            load(&mem, 1 << 20, &boot, &Shape::flat(1)).unwrap(),
            Entry::Real { base: CODE_START }
        );
        let b: u8 = mem.read_obj(GuestAddress(CODE_START)).unwrap();
        assert_eq!(b, 0xf4);
    }
}
