//! A virtio console on the virtio-mmio transport (version 2), one port (the guest's
//! hvc0), output only: the guest's records arrive a page per notification where the
//! UART takes one VM exit per byte. The guest finds it through the DSDT (`LNRO0005`).
//!
//! The device reads descriptor chains the guest made up: every guest address goes
//! through vm-memory's bounds checks, a chain is at most as long as its queue, and the
//! only guest memory it writes is the used ring the driver gave it.

use std::io::Write;
use std::sync::atomic::{fence, Ordering};

use vm_memory::{Bytes, GuestAddress, GuestMemoryBackend};

use crate::vm::vmm::devices::bus::PortDevice;
use crate::vm::vmm::devices::irq::IrqLine;
use crate::vm::vmm::memory::GuestMemory;

/// Where the device's registers sit, in the 32-bit MMIO hole.
pub const VIRTIO_MMIO_BASE: u64 = 0xd000_0000;
/// The register window (registers at 0x000-0x0ff, the console's config after them).
pub const VIRTIO_MMIO_LEN: u64 = 0x1000;
/// Its interrupt line (an ISA IRQ no other device uses).
pub const VIRTIO_IRQ: u32 = 5;

/// Registers (virtio 1.2, 4.2.2), as offsets into the window.
pub const MAGIC_VALUE: u16 = 0x000;
pub const VERSION: u16 = 0x004;
pub const DEVICE_ID: u16 = 0x008;
pub const VENDOR_ID: u16 = 0x00c;
pub const DEVICE_FEATURES: u16 = 0x010;
pub const DEVICE_FEATURES_SEL: u16 = 0x014;
pub const DRIVER_FEATURES: u16 = 0x020;
pub const DRIVER_FEATURES_SEL: u16 = 0x024;
pub const QUEUE_SEL: u16 = 0x030;
pub const QUEUE_NUM_MAX: u16 = 0x034;
pub const QUEUE_NUM: u16 = 0x038;
pub const QUEUE_READY: u16 = 0x044;
pub const QUEUE_NOTIFY: u16 = 0x050;
pub const INTERRUPT_STATUS: u16 = 0x060;
pub const INTERRUPT_ACK: u16 = 0x064;
pub const STATUS: u16 = 0x070;
pub const QUEUE_DESC_LOW: u16 = 0x080;
pub const QUEUE_DESC_HIGH: u16 = 0x084;
pub const QUEUE_DRIVER_LOW: u16 = 0x090;
pub const QUEUE_DRIVER_HIGH: u16 = 0x094;
pub const QUEUE_DEVICE_LOW: u16 = 0x0a0;
pub const QUEUE_DEVICE_HIGH: u16 = 0x0a4;
pub const CONFIG_GENERATION: u16 = 0x0fc;
/// The console's config space (cols, rows, max_nr_ports, emerg_wr): all zero.
pub const CONFIG: u16 = 0x100;

/// "virt", little-endian.
pub const MAGIC: u32 = 0x7472_6976;
/// The virtio-mmio layout without the legacy registers.
pub const MMIO_VERSION: u32 = 2;
pub const CONSOLE_DEVICE_ID: u32 = 3;
/// "SBOX": who made the device, for the guest's curiosity.
pub const VENDOR: u32 = 0x584f_4253;
/// The one feature offered: the device follows virtio 1.x (bit 32).
pub const FEATURE_VERSION_1: u64 = 1 << 32;
/// Queue 0 takes input for the port (never filled: the host sends nothing), queue 1
/// carries its output.
pub const RECEIVE_QUEUE: usize = 0;
pub const TRANSMIT_QUEUE: usize = 1;
const QUEUES: usize = 2;
/// The largest queue offered; the driver may choose a smaller power of two.
pub const QUEUE_SIZE_MAX: u16 = 256;
/// Device status bits the driver sets (4.2.2 "Status").
pub const STATUS_DRIVER_OK: u32 = 4;
pub const STATUS_FEATURES_OK: u32 = 8;
pub const STATUS_NEEDS_RESET: u32 = 0x40;
/// InterruptStatus bit: a used ring changed.
pub const INTERRUPT_USED_RING: u32 = 1;
/// Descriptor flags (2.7.5).
pub const DESC_F_NEXT: u16 = 1;
pub const DESC_F_WRITE: u16 = 2;
pub const DESC_F_INDIRECT: u16 = 4;
/// Available ring flag: the driver wants no interrupt for used buffers.
const AVAIL_F_NO_INTERRUPT: u16 = 1;
/// Bytes of one descriptor, of a used ring element, and before the rings' entries.
const DESC_SIZE: u64 = 16;
const USED_ELEM_SIZE: u64 = 8;
const RING_HEADER: u64 = 4;
/// The most bytes one chain may carry: Linux's hvc sends at most a page; a longer chain
/// is refused unread (hard bound on the work one notification makes).
pub const MAX_CHAIN_BYTES: u64 = 64 << 10;
/// Bytes copied out of guest memory at a time.
const COPY_CHUNK: usize = 4096;

/// Why a descriptor chain could not be taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VirtioError {
    /// A ring or descriptor address outside guest memory.
    OutOfMemory(u64),
    /// A descriptor index beyond the queue.
    BadIndex(u16),
    /// A chain longer than its queue (a loop).
    ChainTooLong,
    /// An indirect descriptor, a feature not offered.
    Indirect,
    /// A chain longer than [`MAX_CHAIN_BYTES`].
    TooLong(u64),
    /// The available index moved more than a queue's worth at once.
    AvailJump(u16),
    /// Where the output goes refused it.
    Sink(String),
}

impl std::fmt::Display for VirtioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VirtioError::OutOfMemory(at) => write!(f, "address {at:#x} is outside guest memory"),
            VirtioError::BadIndex(i) => write!(f, "descriptor index {i} is beyond the queue"),
            VirtioError::ChainTooLong => write!(f, "a descriptor chain loops"),
            VirtioError::Indirect => write!(f, "an indirect descriptor (not offered)"),
            VirtioError::TooLong(n) => write!(f, "a chain of {n} bytes or more"),
            VirtioError::AvailJump(n) => write!(f, "the available index moved by {n}"),
            VirtioError::Sink(why) => write!(f, "the output could not be written: {why}"),
        }
    }
}

/// What the guest did with the device, for the VMM's device counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VirtioCounters {
    pub notifies: u64,
    pub chains: u64,
    pub bytes: u64,
    pub interrupts: u64,
    pub errors: u64,
}

/// One split virtqueue as the driver set it up.
#[derive(Debug, Clone, Copy, Default)]
struct Queue {
    size: u16,
    ready: bool,
    desc: u64,
    avail: u64,
    used: u64,
    /// The next available ring entry to take, and the next used ring entry to fill.
    next_avail: u16,
    next_used: u16,
}

/// The virtio console; output bytes go to `W` (a line sink in the VMM).
pub struct VirtioConsole<W: Write> {
    mem: GuestMemory,
    irq: IrqLine,
    out: W,
    status: u32,
    device_features_sel: u32,
    driver_features_sel: u32,
    driver_features: u64,
    queue_sel: u32,
    queues: [Queue; QUEUES],
    interrupt_status: u32,
    counters: VirtioCounters,
}

fn set_half(value: &mut u64, high: bool, half: u32) {
    *value = if high {
        (*value & 0xffff_ffff) | u64::from(half) << 32
    } else {
        (*value & !0xffff_ffff) | u64::from(half)
    };
}

impl<W: Write> VirtioConsole<W> {
    pub fn new(mem: GuestMemory, irq: IrqLine, out: W) -> Self {
        Self {
            mem,
            irq,
            out,
            status: 0,
            device_features_sel: 0,
            driver_features_sel: 0,
            driver_features: 0,
            queue_sel: 0,
            queues: [Queue::default(); QUEUES],
            interrupt_status: 0,
            counters: VirtioCounters::default(),
        }
    }

    pub fn counters(&self) -> &VirtioCounters {
        &self.counters
    }

    /// The device counters in words.
    pub fn describe_counters(&self) -> String {
        let c = &self.counters;
        format!(
            "{} notifications, {} chains, {} bytes out, {} interrupts, {} bad chains",
            c.notifies, c.chains, c.bytes, c.interrupts, c.errors
        )
    }

    /// Where output goes (to flush its last line at the end).
    pub fn output_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// The used ring of each queue the driver made ready: `(address, bytes)`, the only
    /// guest memory the device writes.
    pub fn used_rings(&self) -> Vec<(u64, u64)> {
        self.queues
            .iter()
            .filter(|q| q.ready && q.size > 0)
            .map(|q| (q.used, RING_HEADER + USED_ELEM_SIZE * u64::from(q.size)))
            .collect()
    }

    fn selected(&mut self) -> Option<&mut Queue> {
        self.queues.get_mut(self.queue_sel as usize)
    }

    fn reset(&mut self) {
        self.status = 0;
        self.driver_features = 0;
        self.queue_sel = 0;
        self.queues = [Queue::default(); QUEUES];
        self.interrupt_status = 0;
    }

    fn read_register(&mut self, offset: u16) -> u32 {
        match offset {
            MAGIC_VALUE => MAGIC,
            VERSION => MMIO_VERSION,
            DEVICE_ID => CONSOLE_DEVICE_ID,
            VENDOR_ID => VENDOR,
            DEVICE_FEATURES => match self.device_features_sel {
                0 => FEATURE_VERSION_1 as u32,
                1 => (FEATURE_VERSION_1 >> 32) as u32,
                _ => 0,
            },
            QUEUE_NUM_MAX => self.selected().map_or(0, |_| u32::from(QUEUE_SIZE_MAX)),
            QUEUE_READY => self.selected().map_or(0, |q| u32::from(q.ready)),
            INTERRUPT_STATUS => self.interrupt_status,
            STATUS => self.status,
            // The config never changes, and is all zeros (no size, no ports).
            _ => 0,
        }
    }

    fn write_register(&mut self, offset: u16, value: u32) {
        match offset {
            DEVICE_FEATURES_SEL => self.device_features_sel = value,
            DRIVER_FEATURES_SEL => self.driver_features_sel = value,
            DRIVER_FEATURES => match self.driver_features_sel {
                0 | 1 => set_half(
                    &mut self.driver_features,
                    self.driver_features_sel == 1,
                    value,
                ),
                _ => {}
            },
            QUEUE_SEL => self.queue_sel = value,
            QUEUE_NOTIFY => self.notify(value),
            INTERRUPT_ACK => self.interrupt_status &= !value,
            STATUS if value == 0 => self.reset(),
            STATUS => self.set_status(value),
            _ => self.write_queue_register(offset, value),
        }
    }

    /// FEATURES_OK only sticks when the driver took nothing the device did not offer.
    fn set_status(&mut self, value: u32) {
        let accepted = self.driver_features & !FEATURE_VERSION_1 == 0;
        self.status = if accepted {
            value
        } else {
            value & !STATUS_FEATURES_OK
        };
    }

    fn write_queue_register(&mut self, offset: u16, value: u32) {
        let Some(queue) = self.selected() else {
            return;
        };
        match offset {
            // Only powers of two up to the maximum; anything else leaves the queue unusable.
            QUEUE_NUM => {
                let valid = value.is_power_of_two() && value <= u32::from(QUEUE_SIZE_MAX);
                queue.size = if valid { value as u16 } else { 0 };
            }
            QUEUE_READY => queue.ready = value == 1,
            QUEUE_DESC_LOW | QUEUE_DESC_HIGH => {
                set_half(&mut queue.desc, offset == QUEUE_DESC_HIGH, value)
            }
            QUEUE_DRIVER_LOW | QUEUE_DRIVER_HIGH => {
                set_half(&mut queue.avail, offset == QUEUE_DRIVER_HIGH, value)
            }
            QUEUE_DEVICE_LOW | QUEUE_DEVICE_HIGH => {
                set_half(&mut queue.used, offset == QUEUE_DEVICE_HIGH, value)
            }
            _ => {}
        }
    }

    /// The driver added buffers to queue `index`: output is taken at once, so that the
    /// guest (which waits for its buffer to come back) goes on without an interrupt.
    fn notify(&mut self, index: u32) {
        self.counters.notifies += 1;
        if index as usize != TRANSMIT_QUEUE || self.status & STATUS_DRIVER_OK == 0 {
            return;
        }
        let queue = self.queues[TRANSMIT_QUEUE];
        if !queue.ready || queue.size == 0 {
            return;
        }
        match self.drain(queue) {
            Ok(queue) => self.queues[TRANSMIT_QUEUE] = queue,
            Err(_) => {
                // The driver broke the queue: it must reset the device.
                self.counters.errors += 1;
                self.status |= STATUS_NEEDS_RESET;
            }
        }
    }

    /// Takes every available chain; returns the queue's new positions.
    fn drain(&mut self, mut queue: Queue) -> Result<Queue, VirtioError> {
        let avail_idx: u16 = self.load(queue.avail + 2)?;
        let pending = avail_idx.wrapping_sub(queue.next_avail);
        if pending > queue.size {
            return Err(VirtioError::AvailJump(pending));
        }
        let mut used_any = false;
        while queue.next_avail != avail_idx {
            let slot = u64::from(queue.next_avail % queue.size);
            let head: u16 = self.load(queue.avail + RING_HEADER + 2 * slot)?;
            self.take_chain(&queue, head)?;
            self.put_used(&queue, head)?;
            queue.next_avail = queue.next_avail.wrapping_add(1);
            queue.next_used = queue.next_used.wrapping_add(1);
            self.store(queue.used + 2, queue.next_used)?;
            self.counters.chains += 1;
            used_any = true;
        }
        let avail_flags: u16 = self.load(queue.avail)?;
        if used_any && avail_flags & AVAIL_F_NO_INTERRUPT == 0 {
            self.interrupt_status |= INTERRUPT_USED_RING;
            self.counters.interrupts += 1;
            // A lost interrupt only delays a guest that polls its buffers back anyway.
            let _ = vm_superio::Trigger::trigger(&self.irq);
        }
        Ok(queue)
    }

    /// Copies the device-readable part of the chain at `head` to the output, once the
    /// whole chain has been checked (a bad chain outputs nothing).
    fn take_chain(&mut self, queue: &Queue, head: u16) -> Result<(), VirtioError> {
        let parts = self.readable_parts(queue, head)?;
        let mut chunk = [0u8; COPY_CHUNK];
        for (addr, len) in parts {
            let mut done = 0u64;
            while done < u64::from(len) {
                let n = (u64::from(len) - done).min(COPY_CHUNK as u64) as usize;
                let from = GuestAddress(addr + done);
                self.mem
                    .read_slice(&mut chunk[..n], from)
                    .map_err(|_| VirtioError::OutOfMemory(from.0))?;
                self.out
                    .write_all(&chunk[..n])
                    .map_err(|e| VirtioError::Sink(e.to_string()))?;
                done += n as u64;
            }
            self.counters.bytes += done;
        }
        Ok(())
    }

    /// The chain's device-readable parts `(address, length)`: each inside guest memory,
    /// at most [`MAX_CHAIN_BYTES`] in all, the chain no longer than its queue.
    fn readable_parts(&self, queue: &Queue, head: u16) -> Result<Vec<(u64, u32)>, VirtioError> {
        let mut parts = Vec::new();
        let (mut index, mut total) = (head, 0u64);
        for _ in 0..queue.size {
            if index >= queue.size {
                return Err(VirtioError::BadIndex(index));
            }
            let at = queue.desc + DESC_SIZE * u64::from(index);
            let addr: u64 = self.load(at)?;
            let len: u32 = self.load(at + 8)?;
            let flags: u16 = self.load(at + 12)?;
            let next: u16 = self.load(at + 14)?;
            if flags & DESC_F_INDIRECT != 0 {
                return Err(VirtioError::Indirect);
            }
            if flags & DESC_F_WRITE == 0 && len > 0 {
                total += u64::from(len);
                if total > MAX_CHAIN_BYTES {
                    return Err(VirtioError::TooLong(total));
                }
                if !self.mem.check_range(GuestAddress(addr), len as usize) {
                    return Err(VirtioError::OutOfMemory(addr));
                }
                parts.push((addr, len));
            }
            if flags & DESC_F_NEXT == 0 {
                return Ok(parts);
            }
            index = next;
        }
        Err(VirtioError::ChainTooLong)
    }

    /// Writes the used element for `head` (nothing was written into the chain).
    fn put_used(&mut self, queue: &Queue, head: u16) -> Result<(), VirtioError> {
        let slot = u64::from(queue.next_used % queue.size);
        let at = queue.used + RING_HEADER + USED_ELEM_SIZE * slot;
        self.store(at, u32::from(head))?;
        self.store(at + 4, 0u32)?;
        // The element must be visible before the index that publishes it.
        fence(Ordering::Release);
        Ok(())
    }

    fn load<T: vm_memory::ByteValued>(&self, at: u64) -> Result<T, VirtioError> {
        self.mem
            .read_obj(GuestAddress(at))
            .map_err(|_| VirtioError::OutOfMemory(at))
    }

    fn store<T: vm_memory::ByteValued>(&self, at: u64, value: T) -> Result<(), VirtioError> {
        self.mem
            .write_obj(value, GuestAddress(at))
            .map_err(|_| VirtioError::OutOfMemory(at))
    }
}

impl<W: Write + Send> PortDevice for VirtioConsole<W> {
    /// Registers are 32 bits wide; a narrower access to one reads its low bytes.
    fn read(&mut self, offset: u16, data: &mut [u8]) {
        let register = offset & !3;
        let value = self.read_register(register).to_le_bytes();
        let shift = usize::from(offset & 3);
        for (i, byte) in data.iter_mut().enumerate() {
            *byte = value.get(shift + i).copied().unwrap_or(0);
        }
    }

    /// Only aligned 32-bit writes mean anything (as the transport requires).
    fn write(&mut self, offset: u16, data: &[u8]) {
        if offset & 3 != 0 || offset >= CONFIG {
            return;
        }
        let Ok(bytes) = <[u8; 4]>::try_from(data) else {
            return;
        };
        self.write_register(offset, u32::from_le_bytes(bytes));
    }
}

#[cfg(test)]
mod tests;
