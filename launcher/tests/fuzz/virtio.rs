//! The virtio console driven by any sequence of MMIO accesses and guest memory writes a
//! guest may make, descriptor tables and rings included: it never writes guest memory
//! outside the used rings the driver gave it, and what it outputs came from guest memory.

use std::io::{self, Write};

use schedbox::vm::vmm::devices::bus::PortDevice;
use schedbox::vm::vmm::devices::irq::IrqLine;
use schedbox::vm::vmm::devices::virtio_console::{
    VirtioConsole, DESC_F_NEXT, DESC_F_WRITE, DRIVER_FEATURES, DRIVER_FEATURES_SEL, INTERRUPT_ACK,
    QUEUE_DESC_LOW, QUEUE_DEVICE_LOW, QUEUE_DRIVER_LOW, QUEUE_NOTIFY, QUEUE_NUM, QUEUE_READY,
    QUEUE_SEL, STATUS, STATUS_DRIVER_OK, STATUS_FEATURES_OK, TRANSMIT_QUEUE, VIRTIO_MMIO_LEN,
};
use schedbox::vm::vmm::memory::{self, GuestMemory};
use vm_memory::{Bytes, GuestAddress};

use crate::driver::{Choices, Target};

/// A small guest, so that random addresses land on the rings often.
const MEM_BYTES: usize = 0x4000;
/// Registers a driver writes, most of the time picked from these.
const REGISTERS: &[u16] = &[
    STATUS,
    DRIVER_FEATURES_SEL,
    DRIVER_FEATURES,
    QUEUE_SEL,
    QUEUE_NUM,
    QUEUE_DESC_LOW,
    QUEUE_DRIVER_LOW,
    QUEUE_DEVICE_LOW,
    QUEUE_READY,
    QUEUE_NOTIFY,
    INTERRUPT_ACK,
];
/// What the guest's memory holds before the input writes to it.
const FILL: u8 = 0xa5;
const ALL_STATUS: u32 = 1 | 2 | STATUS_FEATURES_OK | STATUS_DRIVER_OK;

/// Counts output bytes without keeping them.
#[derive(Default)]
struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn snapshot(mem: &GuestMemory) -> Vec<u8> {
    let mut bytes = vec![0u8; MEM_BYTES];
    mem.read_slice(&mut bytes, GuestAddress(0))
        .expect("the guest's memory");
    bytes
}

fn set(dev: &mut VirtioConsole<Counter>, offset: u16, value: u32) {
    dev.write(offset, &value.to_le_bytes());
}

/// Sets the transmit queue up as a driver would, at addresses the input picks.
fn driver_setup(dev: &mut VirtioConsole<Counter>, choices: &mut Choices) {
    set(dev, STATUS, 0);
    set(dev, DRIVER_FEATURES_SEL, 1);
    set(dev, DRIVER_FEATURES, 1);
    set(dev, QUEUE_SEL, TRANSMIT_QUEUE as u32);
    set(dev, QUEUE_NUM, 1 << (choices.byte() % 9));
    for register in [QUEUE_DESC_LOW, QUEUE_DRIVER_LOW, QUEUE_DEVICE_LOW] {
        set(dev, register, choices.below(MEM_BYTES) as u32);
    }
    set(dev, QUEUE_READY, 1);
    set(dev, STATUS, ALL_STATUS);
}

/// A descriptor written into guest memory: mostly small, inside memory.
fn write_descriptor(mem: &GuestMemory, choices: &mut Choices) {
    let at = choices.below(MEM_BYTES) as u64 & !15;
    let addr = choices.below(MEM_BYTES) as u64;
    let len = u32::from(choices.u16());
    let flags = u16::from(choices.byte()) & (DESC_F_NEXT | DESC_F_WRITE | 4);
    let next = u16::from(choices.byte());
    let mut desc = [0u8; 16];
    desc[..8].copy_from_slice(&addr.to_le_bytes());
    desc[8..12].copy_from_slice(&len.to_le_bytes());
    desc[12..14].copy_from_slice(&flags.to_le_bytes());
    desc[14..].copy_from_slice(&next.to_le_bytes());
    let _ = mem.write_slice(&desc, GuestAddress(at));
}

/// One device access from the input; the guest memory the device may have changed.
fn device_op(dev: &mut VirtioConsole<Counter>, op: u8, choices: &mut Choices) {
    let width = [1, 2, 4][usize::from(op >> 4) % 3];
    if op & 8 == 0 {
        let offset = if choices.one_in(4) {
            choices.below(VIRTIO_MMIO_LEN as usize) as u16
        } else {
            REGISTERS[choices.below(REGISTERS.len())]
        };
        let value = if choices.one_in(2) {
            u32::from(choices.byte() % 4)
        } else {
            u32::from_le_bytes([
                choices.byte(),
                choices.byte(),
                choices.byte(),
                choices.byte(),
            ])
        };
        dev.write(offset, &value.to_le_bytes()[..width]);
    } else {
        let offset = choices.below(VIRTIO_MMIO_LEN as usize) as u16;
        let mut data = [0u8; 4];
        dev.read(offset, &mut data[..width]);
    }
}

/// Every byte that changed outside the used rings (the device's only writes).
fn stray_writes(before: &[u8], after: &[u8], rings: &[(u64, u64)]) -> Vec<usize> {
    let allowed = |at: usize| {
        rings
            .iter()
            .any(|&(base, len)| (at as u64) >= base && (at as u64) - base < len)
    };
    (0..MEM_BYTES)
        .filter(|&at| before[at] != after[at] && !allowed(at))
        .collect()
}

fn virtio_io(input: &[u8]) -> String {
    let mem = memory::create_bytes(MEM_BYTES as u64).expect("a small guest");
    // Not zeros: a stray write of a zero must change something to be seen.
    mem.write_slice(&[FILL; MEM_BYTES], GuestAddress(0))
        .expect("the guest's memory");
    let irq = IrqLine::unconnected().expect("an eventfd");
    let mut dev = VirtioConsole::new(mem.clone(), irq, Counter::default());
    let mut choices = Choices::new(input);
    let mut ops = 0;
    while !choices.is_empty() {
        ops += 1;
        let op = choices.byte();
        match op % 4 {
            0 => driver_setup(&mut dev, &mut choices),
            1 => write_descriptor(&mem, &mut choices),
            2 => {
                let at = choices.below(MEM_BYTES) as u64;
                let len = usize::from(choices.byte() % 9);
                let _ = mem.write_slice(choices.bytes(len), GuestAddress(at));
            }
            _ => {
                let before = snapshot(&mem);
                let rings = dev.used_rings();
                device_op(&mut dev, op, &mut choices);
                let stray = stray_writes(&before, &snapshot(&mem), &rings);
                assert!(
                    stray.is_empty(),
                    "the device wrote guest memory outside its used rings {rings:x?}: at {stray:x?}"
                );
            }
        }
    }
    let c = dev.counters().clone();
    let out = dev.output_mut().0;
    assert_eq!(out, c.bytes, "output that did not come from a chain");
    format!(
        "chains={} errors={} interrupts={} ops={}",
        c.chains.min(4),
        c.errors.min(2),
        c.interrupts.min(2),
        ops.min(8)
    )
}

pub const VIRTIO: Target = Target {
    name: "virtio",
    max_len: 4096,
    // Ops: 0 a driver's set-up (queue size, ring addresses), 1 a descriptor, 2 bytes of
    // guest memory, 3 a register access (bit 3 read, bits 4.. the width).
    dictionary: &[
        b"\x00\x03\x00\x00\x00\x01\x00\x02", // set-up: 8 entries, rings at 0, 0x100, 0x200
        b"\x01\x00\x00\x00\x10\x10\x00\x00\x00", // descriptor 0: 16 bytes at 0x1000
        b"\x23\x01\x09\x00\x00\x01",         // notify the transmit queue
        b"\x02\x02\x01\x02\x01\x00",         // avail.idx = 1
    ],
    seeds: || {
        vec![
            // A driver's set-up (2 entries; descriptors at 0, avail at 0x100, used at
            // 0x200), descriptor 0 (16 bytes at 0x1000), avail.ring[0] = 0, avail.idx = 1,
            // then a notify of the transmit queue: one chain out.
            [
                &b"\x00\x01\x00\x00\x00\x01\x00\x02"[..],
                b"\x01\x00\x00\x00\x10\x10\x00\x00\x00",
                b"\x02\x04\x01\x02\x00\x00",
                b"\x02\x02\x01\x02\x01\x00",
                b"\x23\x01\x09\x00\x00\x01",
            ]
            .concat(),
            // Register reads of every width.
            b"\x2b\x00\x00\x1b\x70\x00\x0b\x34\x00".to_vec(),
        ]
    },
    run: virtio_io,
    memory: |len| 1024 * 1024 + 256 * len,
};
