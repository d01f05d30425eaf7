//! The device bus: I/O port ranges and MMIO windows, small devices behind one trait;
//! ports and addresses nobody claims read as 0xff.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::vm::vmm::error::VmmError;

/// A device on the bus. `offset` is relative to the device's base port or address.
pub trait PortDevice: Send {
    fn read(&mut self, offset: u16, data: &mut [u8]);
    fn write(&mut self, offset: u16, data: &[u8]);
}

/// A shared device, so that the VMM can reach it after it was put on the bus.
pub type SharedDevice = Arc<Mutex<dyn PortDevice>>;

struct Range {
    base: u16,
    len: u16,
    device: SharedDevice,
}

/// An MMIO window of at most 64 KiB (offsets are 16 bits).
struct Window {
    base: u64,
    len: u64,
    device: SharedDevice,
}

/// The largest MMIO window a device may have.
pub const MAX_WINDOW: u64 = 0x1_0000;

/// Port ranges, MMIO windows and their devices.
#[derive(Default)]
pub struct PortBus {
    ranges: Vec<Range>,
    windows: Vec<Window>,
    /// Accesses to ports nobody claims, per port: ignored, but counted.
    unclaimed: Mutex<BTreeMap<u16, u64>>,
}

/// What an unclaimed port reads as (a floating ISA bus).
const FLOATING_BUS: u8 = 0xff;

impl PortBus {
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts `device` on ports `base..base + len`.
    pub fn insert(&mut self, base: u16, len: u16, device: SharedDevice) -> Result<(), VmmError> {
        let end = u32::from(base) + u32::from(len);
        let overlaps = self.ranges.iter().any(|r| {
            u32::from(base) < u32::from(r.base) + u32::from(r.len) && u32::from(r.base) < end
        });
        if len == 0 || end > 0x1_0000 || overlaps {
            return Err(VmmError::Config(format!(
                "port range {base:#x}+{len} is empty, too long or overlaps another device"
            )));
        }
        self.ranges.push(Range { base, len, device });
        Ok(())
    }

    /// Puts `device` on guest physical addresses `base..base + len`.
    pub fn insert_mmio(
        &mut self,
        base: u64,
        len: u64,
        device: SharedDevice,
    ) -> Result<(), VmmError> {
        let overlaps = self
            .windows
            .iter()
            .any(|w| base < w.base + w.len && w.base < base.saturating_add(len));
        if len == 0 || len > MAX_WINDOW || base.checked_add(len).is_none() || overlaps {
            return Err(VmmError::Config(format!(
                "MMIO window {base:#x}+{len:#x} is empty, too long or overlaps another device"
            )));
        }
        self.windows.push(Window { base, len, device });
        Ok(())
    }

    fn find_window(&self, addr: u64) -> Option<(&SharedDevice, u16)> {
        self.windows
            .iter()
            .find(|w| addr >= w.base && addr - w.base < w.len)
            .map(|w| (&w.device, (addr - w.base) as u16))
    }

    /// An MMIO read; outside every window it reads as a floating bus.
    pub fn mmio_read(&self, addr: u64, data: &mut [u8]) {
        match self.find_window(addr) {
            Some((device, offset)) => lock(device).read(offset, data),
            None => data.fill(FLOATING_BUS),
        }
    }

    /// An MMIO write; outside every window it is dropped.
    pub fn mmio_write(&self, addr: u64, data: &[u8]) {
        if let Some((device, offset)) = self.find_window(addr) {
            lock(device).write(offset, data);
        }
    }

    fn find(&self, port: u16) -> Option<(&SharedDevice, u16)> {
        self.ranges
            .iter()
            .find(|r| port >= r.base && u32::from(port) < u32::from(r.base) + u32::from(r.len))
            .map(|r| (&r.device, port - r.base))
    }

    pub fn read(&self, port: u16, data: &mut [u8]) {
        match self.find(port) {
            Some((device, offset)) => lock(device).read(offset, data),
            None => {
                self.count_unclaimed(port);
                data.fill(FLOATING_BUS)
            }
        }
    }

    pub fn write(&self, port: u16, data: &[u8]) {
        match self.find(port) {
            Some((device, offset)) => lock(device).write(offset, data),
            None => self.count_unclaimed(port),
        }
    }

    fn count_unclaimed(&self, port: u16) {
        let mut counts = self.unclaimed.lock().unwrap_or_else(|p| p.into_inner());
        *counts.entry(port).or_default() += 1;
    }

    /// Ports nobody claims that the guest touched, and how often.
    pub fn unclaimed(&self) -> Vec<(u16, u64)> {
        let counts = self.unclaimed.lock().unwrap_or_else(|p| p.into_inner());
        counts.iter().map(|(&port, &n)| (port, n)).collect()
    }
}

/// Locks a device; a panic in another vCPU thread must not take this one down too.
pub fn lock(device: &SharedDevice) -> std::sync::MutexGuard<'_, dyn PortDevice + 'static> {
    device
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Recorder {
        writes: Vec<(u16, u8)>,
    }

    impl PortDevice for Recorder {
        fn read(&mut self, offset: u16, data: &mut [u8]) {
            data.fill(offset as u8);
        }
        fn write(&mut self, offset: u16, data: &[u8]) {
            self.writes.push((offset, data[0]));
        }
    }

    #[test]
    fn routes_by_offset_and_floats_elsewhere() {
        let dev = Arc::new(Mutex::new(Recorder::default()));
        let mut bus = PortBus::new();
        bus.insert(0x3f8, 8, dev.clone()).unwrap();
        bus.write(0x3fb, &[7]);
        bus.write(0x400, &[9]);
        let mut b = [0u8; 1];
        bus.read(0x3fd, &mut b);
        assert_eq!(b, [5]);
        let mut w = [0u8; 2];
        bus.read(0x80, &mut w);
        assert_eq!(w, [0xff, 0xff]);
        assert_eq!(dev.lock().unwrap().writes, vec![(3, 7)]);
        assert_eq!(bus.unclaimed(), [(0x80, 1), (0x400, 1)]);
    }

    #[test]
    fn mmio_windows_route_by_offset_and_refuse_overlaps() {
        let dev = Arc::new(Mutex::new(Recorder::default()));
        let mut bus = PortBus::new();
        bus.insert_mmio(0xd000_0000, 0x1000, dev.clone()).unwrap();
        bus.mmio_write(0xd000_0070, &[4, 0, 0, 0]);
        bus.mmio_write(0xd000_1000, &[9]);
        let mut b = [0u8; 4];
        bus.mmio_read(0xd000_0034, &mut b);
        assert_eq!(b, [0x34; 4]);
        bus.mmio_read(0xcfff_ffff, &mut b);
        assert_eq!(b, [0xff; 4]);
        assert_eq!(dev.lock().unwrap().writes, vec![(0x70, 4)]);
        let other = || Arc::new(Mutex::new(Recorder::default()));
        assert!(bus.insert_mmio(0xd000_0800, 0x1000, other()).is_err());
        assert!(bus.insert_mmio(u64::MAX - 1, 0x10, other()).is_err());
        assert!(bus
            .insert_mmio(0xe000_0000, MAX_WINDOW + 1, other())
            .is_err());
        assert!(bus.insert_mmio(0xd000_1000, 0x1000, other()).is_ok());
    }

    #[test]
    fn overlapping_ranges_are_refused() {
        let mut bus = PortBus::new();
        bus.insert(0x60, 5, Arc::new(Mutex::new(Recorder::default())))
            .unwrap();
        assert!(bus
            .insert(0x64, 1, Arc::new(Mutex::new(Recorder::default())))
            .is_err());
        assert!(bus
            .insert(0xffff, 2, Arc::new(Mutex::new(Recorder::default())))
            .is_err());
        assert!(bus
            .insert(0x65, 1, Arc::new(Mutex::new(Recorder::default())))
            .is_ok());
    }
}
