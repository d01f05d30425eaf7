//! 8250/16550 UARTs (vm-superio's model) whose output becomes line events: COM1 carries the
//! kernel console, COM2 the guest's records.

use std::io::{self, Write};
use std::sync::mpsc::Sender;

use vm_superio::serial::NoEvents;
use vm_superio::Serial;

use crate::vm::backend::{RecordsChannel, VmEvent};
use crate::vm::lines::LineCutter;
use crate::vm::vmm::devices::bus::PortDevice;
use crate::vm::vmm::devices::irq::IrqLine;

/// COM1: the kernel console.
pub const COM1_PORT: u16 = 0x3f8;
pub const COM1_IRQ: u32 = 4;
/// COM2: the record port.
pub const COM2_PORT: u16 = 0x2f8;
pub const COM2_IRQ: u32 = 3;
/// Registers of one UART.
pub const UART_PORTS: u16 = 8;
pub use crate::vm::lines::LINE_BUFFER;

/// Which event a port's lines become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Console,
    Record,
}

/// Cuts the byte stream into lines and sends each as an event; a records sink names its
/// channel before its first line.
pub struct LineSink {
    kind: LineKind,
    cutter: LineCutter,
    events: Sender<VmEvent>,
    /// The channel still to announce (records only).
    announce: Option<RecordsChannel>,
}

impl LineSink {
    /// A sink for `kind`; records are announced as the serial port's.
    pub fn new(kind: LineKind, events: Sender<VmEvent>) -> Self {
        let announce = (kind == LineKind::Record).then_some(RecordsChannel::Serial);
        Self {
            kind,
            cutter: LineCutter::default(),
            events,
            announce,
        }
    }

    /// A records sink for `channel`.
    pub fn records(channel: RecordsChannel, events: Sender<VmEvent>) -> Self {
        Self {
            announce: Some(channel),
            ..Self::new(LineKind::Record, events)
        }
    }

    fn emitter<'a>(
        kind: LineKind,
        events: &'a Sender<VmEvent>,
        announce: &'a mut Option<RecordsChannel>,
    ) -> impl FnMut(String) + 'a {
        move |text| {
            let event = match kind {
                LineKind::Console => VmEvent::Console(text),
                LineKind::Record => {
                    if let Some(channel) = announce.take() {
                        let _ = events.send(VmEvent::Channel(channel));
                    }
                    VmEvent::Record(text)
                }
            };
            // Nobody listening any more is not the guest's problem.
            let _ = events.send(event);
        }
    }

    /// Sends what is left of an unfinished line (at the end of the VM).
    pub fn flush_partial(&mut self) {
        let emit = Self::emitter(self.kind, &self.events, &mut self.announce);
        self.cutter.finish(emit);
    }
}

impl Write for LineSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let emit = Self::emitter(self.kind, &self.events, &mut self.announce);
        self.cutter.push(buf, emit);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One UART on the port bus.
pub struct Uart {
    serial: Serial<IrqLine, NoEvents, LineSink>,
    /// Guest accesses per register offset, for the VMM's device counters.
    reads: [u64; UART_PORTS as usize],
    writes: [u64; UART_PORTS as usize],
}

/// Register offsets the counters name.
const THR: usize = 0;
const IER: usize = 1;
const IIR: usize = 2;
const LSR: usize = 5;

impl Uart {
    pub fn new(irq: IrqLine, sink: LineSink) -> Self {
        Self {
            serial: Serial::new(irq, sink),
            reads: [0; UART_PORTS as usize],
            writes: [0; UART_PORTS as usize],
        }
    }

    /// What the guest did with this UART: bytes sent, IER writes, IIR and LSR reads,
    /// interrupts raised.
    pub fn counters(&self) -> String {
        format!(
            "{} bytes out, {} IER writes, {} IIR reads, {} LSR reads, {} interrupts",
            self.writes[THR],
            self.writes[IER],
            self.reads[IIR],
            self.reads[LSR],
            self.serial.interrupt_evt().fired()
        )
    }

    /// Sends an unfinished last line.
    pub fn flush_partial(&mut self) {
        self.serial.writer_mut().flush_partial();
    }

    /// The interrupt line (tests).
    pub fn irq(&self) -> &IrqLine {
        self.serial.interrupt_evt()
    }
}

impl PortDevice for Uart {
    fn read(&mut self, offset: u16, data: &mut [u8]) {
        if let Some(n) = self.reads.get_mut(usize::from(offset)) {
            *n += 1;
        }
        let value = self.serial.read(offset as u8);
        data.fill(value);
    }

    fn write(&mut self, offset: u16, data: &[u8]) {
        if let Some(n) = self.writes.get_mut(usize::from(offset)) {
            *n += data.len() as u64;
        }
        for &b in data {
            // A failed interrupt or a lost byte must not stop the guest.
            let _ = self.serial.write(offset as u8, b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;

    const THR: u16 = super::THR as u16;
    const IER: u16 = super::IER as u16;
    const LSR: u16 = super::LSR as u16;
    const LSR_THR_EMPTY: u8 = 0x20;
    const IER_THR_EMPTY: u8 = 0x02;

    fn uart(kind: LineKind) -> (Uart, std::sync::mpsc::Receiver<VmEvent>) {
        let (tx, rx) = channel();
        (
            Uart::new(IrqLine::unconnected().unwrap(), LineSink::new(kind, tx)),
            rx,
        )
    }

    fn send(u: &mut Uart, text: &[u8]) {
        for b in text {
            u.write(THR, &[*b]);
        }
    }

    #[test]
    fn bytes_become_lines() {
        let (mut u, rx) = uart(LineKind::Record);
        send(&mut u, b"SBX1 boot cpus=2\r\nSBX1 done");
        assert_eq!(
            rx.try_recv().unwrap(),
            VmEvent::Channel(RecordsChannel::Serial)
        );
        assert_eq!(
            rx.try_recv().unwrap(),
            VmEvent::Record("SBX1 boot cpus=2".into())
        );
        assert!(rx.try_recv().is_err(), "no line before its newline");
        u.flush_partial();
        assert_eq!(rx.try_recv().unwrap(), VmEvent::Record("SBX1 done".into()));
    }

    #[test]
    fn console_lines_and_long_lines_are_cut() {
        let (mut u, rx) = uart(LineKind::Console);
        send(&mut u, &vec![b'x'; LINE_BUFFER + 3]);
        send(&mut u, b"\n");
        assert_eq!(
            rx.try_recv().unwrap(),
            VmEvent::Console("x".repeat(LINE_BUFFER))
        );
        assert_eq!(rx.try_recv().unwrap(), VmEvent::Console("xxx".into()));
    }

    #[test]
    fn transmitter_always_ready_and_interrupts_when_enabled() {
        let (mut u, _rx) = uart(LineKind::Console);
        let mut lsr = [0u8];
        u.read(LSR, &mut lsr);
        assert_ne!(lsr[0] & LSR_THR_EMPTY, 0);
        u.irq().take_count();
        u.write(IER, &[IER_THR_EMPTY]);
        send(&mut u, b"a");
        assert!(u.irq().take_count() >= 1, "THR-empty interrupt fired");
        let counters = u.counters();
        assert!(
            counters.starts_with("1 bytes out, 1 IER writes, 0 IIR reads, 1 LSR reads, "),
            "{counters}"
        );
    }
}
