//! The I/O port bus: small devices behind one trait; ports nobody claims read as 0xff.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::vm::vmm::error::VmmError;

/// A device on the port bus. `offset` is relative to the device's base port.
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

/// Port ranges and their devices.
#[derive(Default)]
pub struct PortBus {
    ranges: Vec<Range>,
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
