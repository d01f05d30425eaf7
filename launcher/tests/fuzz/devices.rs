//! The VMM's devices on their port bus, as the machine wires them, driven by any
//! sequence of port reads and writes a guest may make.

use std::sync::mpsc::channel;
use std::sync::{Arc, Mutex};

use schedbox::vm::backend::{RecordsChannel, VmEvent, VmExit};
use schedbox::vm::vmm::devices::bus::PortBus;
use schedbox::vm::vmm::devices::i8042::{I8042, I8042_PORT, I8042_PORTS, OUTPUT_CAPACITY};
use schedbox::vm::vmm::devices::irq::IrqLine;
use schedbox::vm::vmm::devices::power::{Power, SLEEP_PORT, SLEEP_PORTS};
use schedbox::vm::vmm::devices::serial::{
    LineKind, LineSink, Uart, COM1_PORT, COM2_PORT, LINE_BUFFER, UART_PORTS,
};
use schedbox::vm::vmm::exit::ExitState;
use schedbox::vm::vmm::x86::acpi::S5_TYPE;

use crate::driver::{Choices, Target};

const I8042_COMMAND: u16 = I8042_PORT + 4;
const I8042_STATUS_OUTPUT_FULL: u8 = 1;
const I8042_RESET: u8 = 0xfe;
const SLP_EN: u8 = 1 << 5;

/// Ports a guest touches, and some nobody claims.
const PORTS: &[(u16, u16)] = &[
    (COM1_PORT, UART_PORTS),
    (COM2_PORT, UART_PORTS),
    (I8042_PORT, I8042_PORTS),
    (SLEEP_PORT, SLEEP_PORTS),
    (0x80, 1),
    (0xcf8, 8),
];

/// How the VM should end, by the first write that ends it.
fn expected_end(port: u16, value: u8) -> Option<VmExit> {
    let sleep_type = (value >> 2) & 0x7;
    if port == SLEEP_PORT && value & SLP_EN != 0 && sleep_type == S5_TYPE {
        Some(VmExit::PowerOff)
    } else if port == I8042_COMMAND && value == I8042_RESET {
        Some(VmExit::Reset)
    } else {
        None
    }
}

fn claimed(port: u16) -> bool {
    PORTS[..4]
        .iter()
        .any(|&(base, len)| (base..base + len).contains(&port))
}

fn port_io(input: &[u8]) -> String {
    let exit = Arc::new(ExitState::new());
    let (tx, rx) = channel();
    let mut bus = PortBus::new();
    for (port, kind) in [
        (COM1_PORT, LineKind::Console),
        (COM2_PORT, LineKind::Record),
    ] {
        let irq = IrqLine::unconnected().expect("an eventfd");
        let uart = Uart::new(irq, LineSink::new(kind, tx.clone()));
        bus.insert(port, UART_PORTS, Arc::new(Mutex::new(uart)))
            .expect("free ports");
    }
    let i8042 = Arc::new(Mutex::new(I8042::new(exit.clone())));
    bus.insert(I8042_PORT, I8042_PORTS, i8042)
        .expect("free ports");
    let power = Arc::new(Mutex::new(Power::new(exit.clone())));
    bus.insert(SLEEP_PORT, SLEEP_PORTS, power)
        .expect("free ports");

    let mut choices = Choices::new(input);
    let mut expected = None;
    let mut ops = 0;
    while !choices.is_empty() {
        ops += 1;
        let op = choices.byte();
        let (base, len) = PORTS[usize::from(op >> 1) % PORTS.len()];
        let port = base + choices.below(usize::from(len)) as u16;
        let size = [1, 2, 4][usize::from(op >> 5) % 3];
        if op & 1 == 0 {
            let mut data = vec![0u8; size];
            bus.read(port, &mut data);
            if !claimed(port) {
                assert!(
                    data.iter().all(|&b| b == 0xff),
                    "unclaimed port {port:#x} read {data:?}"
                );
            }
        } else {
            let data = choices.bytes(size);
            if let Some(&first) = data.first() {
                expected = expected.or(expected_end(port, first));
            }
            bus.write(port, data);
        }
    }
    // The controller's output queue, read as the guest would: bounded.
    let mut pending = 0;
    let mut status = [0u8];
    loop {
        bus.read(I8042_COMMAND, &mut status);
        if status[0] & I8042_STATUS_OUTPUT_FULL == 0 {
            break;
        }
        bus.read(I8042_PORT, &mut [0u8]);
        pending += 1;
        assert!(
            pending <= OUTPUT_CAPACITY,
            "the i8042 holds more than {OUTPUT_CAPACITY} bytes for the guest"
        );
    }
    let ended = exit.should_stop().then(|| exit.wait());
    assert_eq!(
        ended, expected,
        "the VM's end does not follow the guest's writes"
    );
    drop(bus);
    drop(tx);
    let mut lines = 0;
    for event in rx.try_iter() {
        if event == VmEvent::Channel(RecordsChannel::Serial) {
            continue;
        }
        let (VmEvent::Console(line) | VmEvent::Record(line)) = &event else {
            panic!("a device sent {event:?}")
        };
        assert!(line.chars().count() <= LINE_BUFFER);
        lines += 1;
    }
    format!(
        "end={ended:?} pending={} lines={} ops={}",
        pending,
        lines.min(3),
        ops.min(8)
    )
}

pub const DEVICES: Target = Target {
    name: "devices",
    max_len: 4096,
    // Each op: a byte (bit 0 write, bits 1.. the port range, bits 5.. the size), the
    // port's offset (2 bytes), then a write's data.
    dictionary: &[
        b"\x05\x04\x00\x20",                 // i8042: read the control register
        b"\x07\x00\x00\x34",                 // sleep register: SLP_EN with S5
        b"\x05\x04\x00\xfe",                 // i8042: pulse reset
        b"\x05\x04\x00\xd2\x05\x00\x00\xa5", // i8042: keyboard loop-back
        b"\x04\x00\x00",                     // i8042: read data
        b"\x03\x00\x00\x0a",                 // COM2: newline
        b"\x03\x03\x00\x80",                 // COM2: divisor latch on
    ],
    seeds: || {
        vec![
            b"\x05\x04\x00\xaa\x04\x00\x00\x04\x04\x00".to_vec(),
            b"\x03\x00\x00S\x03\x00\x00B\x03\x00\x00\n\x07\x00\x00\x34".to_vec(),
        ]
    },
    run: port_io,
    memory: |len| 1024 * 1024 + 256 * len,
};
