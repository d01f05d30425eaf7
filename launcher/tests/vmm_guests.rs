//! Tiny hand-assembled guests on the VMM: they write to COM1/COM2 through the UART model
//! and end by reset, triple fault or a halt that only a kill ends.

use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use schedbox::topology::Shape;
use schedbox::vm::backend::{RecordsChannel, VmEvent, VmExit, VmHandle};
use schedbox::vm::vmm::{start, Boot, CodeMode, MachineConfig};

/// Longest a tiny guest may take to reach its end before the test kills it.
const GUEST_LIMIT: Duration = Duration::from_secs(10);
const MEMORY_MIB: u32 = 64;
const COM1: u16 = 0x3f8;
const COM2: u16 = 0x2f8;

/// Emits machine code for a guest that prints lines; works in real and long mode.
struct Program {
    mode: CodeMode,
    code: Vec<u8>,
}

impl Program {
    fn new(mode: CodeMode) -> Self {
        Self {
            mode,
            code: Vec::new(),
        }
    }

    /// `mov dx, port` then `mov al, b; out dx, al` for each byte.
    fn print(mut self, port: u16, text: &str) -> Self {
        if self.mode == CodeMode::Long {
            self.code.push(0x66); // operand-size prefix: 16-bit DX
        }
        self.code.push(0xba);
        self.code.extend_from_slice(&port.to_le_bytes());
        for b in text.bytes() {
            self.code.extend_from_slice(&[0xb0, b, 0xee]);
        }
        self
    }

    /// `mov al, 0xfe; out 0x64, al; cli; hlt`: pulse the reset line through the i8042.
    fn reset(mut self) -> Vec<u8> {
        self.code
            .extend_from_slice(&[0xb0, 0xfe, 0xe6, 0x64, 0xfa, 0xf4]);
        self.code
    }

    /// `cli; hlt`: stop for good.
    fn halt(mut self) -> Vec<u8> {
        self.code.extend_from_slice(&[0xfa, 0xf4]);
        self.code
    }

    /// `ud2` with an empty IDT: #UD, #GP, double fault, triple fault.
    fn triple_fault(mut self) -> Vec<u8> {
        self.code.extend_from_slice(&[0x0f, 0x0b]);
        self.code
    }
}

fn boot(bytes: Vec<u8>, mode: CodeMode, cpus: u32) -> (Box<dyn VmHandle>, Receiver<VmEvent>) {
    let (tx, rx) = channel();
    let config = MachineConfig {
        topology: Shape::flat(cpus),
        memory_mib: MEMORY_MIB,
        boot: Boot::Code { bytes, mode },
    };
    let vm = start(&config, tx).unwrap_or_else(|e| panic!("cannot start the VM: {e}"));
    (Box::new(vm), rx)
}

/// Collects events until `Exited`, killing the VM if it runs past `GUEST_LIMIT`.
fn collect(mut vm: Box<dyn VmHandle>, rx: &Receiver<VmEvent>) -> (Vec<VmEvent>, VmExit) {
    let deadline = Instant::now() + GUEST_LIMIT;
    let mut events = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(VmEvent::Exited(reason)) => return (events, reason),
            Ok(event) => events.push(event),
            Err(_) => {
                vm.kill();
                let rest: Vec<VmEvent> = rx.try_iter().collect();
                panic!("guest did not end within {GUEST_LIMIT:?}; events {events:?} then {rest:?}");
            }
        }
    }
}

fn console(text: &str) -> VmEvent {
    VmEvent::Console(text.to_string())
}

fn record(text: &str) -> VmEvent {
    VmEvent::Record(text.to_string())
}

/// What the VMM sends before the first record on COM2: which channel carries them.
fn serial_channel() -> VmEvent {
    VmEvent::Channel(RecordsChannel::Serial)
}

#[test]
fn real_mode_guest_prints_on_both_ports_and_resets() {
    let code = Program::new(CodeMode::Real)
        .print(COM1, "hello from real mode\r\n")
        .print(COM2, "SBX1 boot cpus=1\n")
        .print(COM1, "unfinished")
        .reset();
    let (vm, rx) = boot(code, CodeMode::Real, 1);
    let (events, exit) = collect(vm, &rx);
    assert_eq!(exit, VmExit::Reset);
    assert_eq!(
        events,
        vec![
            console("hello from real mode"),
            serial_channel(),
            record("SBX1 boot cpus=1"),
            console("unfinished"),
        ]
    );
}

#[test]
fn long_mode_guest_prints_then_triple_faults() {
    let code = Program::new(CodeMode::Long)
        .print(COM2, "SBX1 heartbeat t_ms=1\n")
        .print(COM1, "64-bit\n")
        .triple_fault();
    let (vm, rx) = boot(code, CodeMode::Long, 1);
    let (events, exit) = collect(vm, &rx);
    assert_eq!(
        events,
        vec![
            serial_channel(),
            record("SBX1 heartbeat t_ms=1"),
            console("64-bit")
        ]
    );
    match exit {
        VmExit::Crashed(why) => assert!(why.contains("triple fault on vCPU 0"), "{why}"),
        other => panic!("expected a crash, got {other:?}"),
    }
}

#[test]
fn halted_smp_guest_is_stopped_by_kill() {
    let code = Program::new(CodeMode::Long).print(COM1, "halting\n").halt();
    let (mut vm, rx) = boot(code, CodeMode::Long, 2);
    let first = rx.recv_timeout(GUEST_LIMIT).expect("no console line");
    assert_eq!(first, console("halting"));
    // The guest now halts forever with interrupts off: only a kill ends it.
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
    let killed_at = Instant::now();
    vm.kill();
    vm.kill(); // idempotent
    assert_eq!(
        rx.recv_timeout(GUEST_LIMIT),
        Ok(VmEvent::Exited(VmExit::Killed))
    );
    assert!(
        rx.recv_timeout(Duration::from_millis(50)).is_err(),
        "nothing after Exited"
    );
    eprintln!("kill took {:?}", killed_at.elapsed());
}

/// Real-mode code that programs the PIC, enables COM1's THR-empty interrupt and waits in
/// HLT; the interrupt handler (IRQ4, vector 0x0c) prints a record on COM2 and resets.
/// Assembled from:
/// ```text
///  0: cli; mov ax, cs; mov ds, ax; xor ax, ax; mov es, ax
///  9: mov word es:[0x30], handler; mov es:[0x32], cs     ; IVT[0x0c]
/// 15: out 0x20 <- 0x11; out 0x21 <- 0x08, 0x04, 0x01     ; PIC ICW1-4, vectors 8..15
/// 25: out 0x21 <- 0xef                                   ; unmask IRQ4 only
/// 29: mov dx, 0x3f9; mov al, 2; out dx, al; sti          ; COM1 IER = THR empty
/// 30: wait: hlt; jmp wait
/// 33: handler: mov si, msg; mov dx, 0x2f8
/// 39: next: lodsb; test al, al; jz reset; out dx, al; jmp next
/// 41: reset: mov al, 0xfe; out 0x64, al; cli; hlt
/// 47: msg: "SBX1 irq line=4\n\0"
/// ```
const IRQ_GUEST: [u8; 88] = [
    0xfa, 0x8c, 0xc8, 0x8e, 0xd8, 0x31, 0xc0, 0x8e, 0xc0, 0x26, 0xc7, 0x06, 0x30, 0x00, 0x33, 0x00,
    0x26, 0x8c, 0x0e, 0x32, 0x00, 0xb0, 0x11, 0xe6, 0x20, 0xb0, 0x08, 0xe6, 0x21, 0xb0, 0x04, 0xe6,
    0x21, 0xb0, 0x01, 0xe6, 0x21, 0xb0, 0xef, 0xe6, 0x21, 0xba, 0xf9, 0x03, 0xb0, 0x02, 0xee, 0xfb,
    0xf4, 0xeb, 0xfd, 0xbe, 0x47, 0x00, 0xba, 0xf8, 0x02, 0xac, 0x84, 0xc0, 0x74, 0x03, 0xee, 0xeb,
    0xf8, 0xb0, 0xfe, 0xe6, 0x64, 0xfa, 0xf4, 0x53, 0x42, 0x58, 0x31, 0x20, 0x69, 0x72, 0x71, 0x20,
    0x6c, 0x69, 0x6e, 0x65, 0x3d, 0x34, 0x0a, 0x00,
];

#[test]
fn uart_interrupt_reaches_the_guest() {
    let (vm, rx) = boot(IRQ_GUEST.to_vec(), CodeMode::Real, 1);
    let (events, exit) = collect(vm, &rx);
    assert_eq!(events, vec![serial_channel(), record("SBX1 irq line=4")]);
    assert_eq!(exit, VmExit::Reset);
}

#[test]
fn bad_machine_is_refused_clearly() {
    let (tx, _rx) = channel();
    let config = MachineConfig {
        topology: Shape::flat(0),
        memory_mib: MEMORY_MIB,
        boot: Boot::Code {
            bytes: vec![0xf4],
            mode: CodeMode::Real,
        },
    };
    let err = start(&config, tx.clone())
        .err()
        .expect("0 vCPUs accepted")
        .to_string();
    assert!(err.contains("0 vCPUs requested"), "{err}");
    let config = MachineConfig {
        topology: Shape::flat(1),
        memory_mib: 1,
        ..config
    };
    let err = start(&config, tx)
        .err()
        .expect("1 MiB accepted")
        .to_string();
    assert!(err.contains("out of range"), "{err}");
}
