//! The record stream: bytes as a guest writes them to the record port, arriving in pieces
//! of any size, cut into lines by each backend (the VMM's UART sink, the QEMU socket
//! reader) and parsed as records.

use std::io::{Read, Write};
use std::sync::mpsc::channel;

use schedbox::protocol::record::{self, Line, MARKER};
use schedbox::vm::backend::VmEvent;
use schedbox::vm::qemu::read_lines;
use schedbox::vm::vmm::devices::bus::PortDevice;
use schedbox::vm::vmm::devices::irq::IrqLine;
use schedbox::vm::vmm::devices::serial::{LineKind, LineSink, Uart, LINE_BUFFER};

use crate::driver::{Choices, Rng, Target};

/// Hands out its bytes in pieces of the sizes a generator picks, as a socket may.
struct Pieces<'a> {
    data: &'a [u8],
    rng: Rng,
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (1 + self.rng.below(64)).min(self.data.len()).min(buf.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn lines(events: std::sync::mpsc::Receiver<VmEvent>) -> Vec<String> {
    // A port names its channel once, before its first line.
    let mut first = true;
    events
        .try_iter()
        .filter_map(|e| {
            let was_first = std::mem::replace(&mut first, false);
            match e {
                VmEvent::Record(line) => Some(line),
                VmEvent::Channel(_) if was_first => None,
                other => panic!("a record port sent {other:?}"),
            }
        })
        .collect()
}

/// The QEMU backend's reader over the socket.
fn qemu_lines(stream: &[u8], seed: u64) -> Vec<String> {
    let (tx, rx) = channel();
    read_lines(
        Pieces {
            data: stream,
            rng: Rng::new(seed),
        },
        &tx,
        VmEvent::Record,
    );
    drop(tx);
    lines(rx)
}

/// The VMM's COM2: every byte through the UART's transmit register, then the sink's
/// unfinished line at the VM's end.
fn vmm_lines(stream: &[u8]) -> Vec<String> {
    let (tx, rx) = channel();
    let irq = IrqLine::unconnected().expect("an eventfd");
    let mut uart = Uart::new(irq, LineSink::new(LineKind::Record, tx));
    for &b in stream {
        uart.write(0, &[b]);
    }
    uart.flush_partial();
    drop(uart);
    lines(rx)
}

/// The sink alone, written in pieces.
fn sink_lines(stream: &[u8], seed: u64) -> Vec<String> {
    let (tx, rx) = channel();
    let mut sink = LineSink::new(LineKind::Record, tx);
    let mut rng = Rng::new(seed);
    let mut rest = stream;
    while !rest.is_empty() {
        let n = (1 + rng.below(300)).min(rest.len());
        sink.write_all(&rest[..n])
            .expect("the sink takes everything");
        rest = &rest[n..];
    }
    sink.flush_partial();
    drop(sink);
    lines(rx)
}

fn record_stream(input: &[u8]) -> String {
    let mut choices = Choices::new(input);
    let seed = u64::from(choices.u16()) + 1;
    let stream = choices.bytes(usize::MAX);
    let from_qemu = qemu_lines(stream, seed);
    let from_vmm = vmm_lines(stream);
    assert_eq!(
        from_qemu, from_vmm,
        "the QEMU and VMM backends cut the stream differently"
    );
    assert_eq!(
        sink_lines(stream, seed * 7),
        from_vmm,
        "the sink's lines depend on how the bytes arrived"
    );
    let newlines = stream.iter().filter(|&&b| b == b'\n').count();
    assert!(from_vmm.len() >= newlines);
    let (mut records, mut malformed, mut cut) = (0, 0, false);
    for line in &from_vmm {
        assert!(!line.contains('\n'));
        assert!(
            line.chars().count() <= LINE_BUFFER,
            "a line of {} bytes was buffered",
            line.len()
        );
        cut |= line.chars().count() == LINE_BUFFER;
        let marked = line
            .strip_prefix(MARKER)
            .is_some_and(|r| r.starts_with(' '));
        match record::decode(line) {
            Line::Record(_) => records += 1,
            Line::Malformed(_) => malformed += 1,
            Line::NotRecord => assert!(!marked, "record line {line:?} dropped as stray output"),
        }
    }
    format!(
        "lines={} records={} malformed={} cut={cut}",
        from_vmm.len().min(4),
        records.min(3),
        malformed.min(3)
    )
}

pub const RECORD_STREAM: Target = Target {
    name: "record_stream",
    max_len: 3 * LINE_BUFFER,
    dictionary: &[
        b"SBX1 ",
        b"\n",
        b"\r\n",
        b"\r",
        b"heartbeat t_ms=1\n",
        b"done status=ok t_ms=9\n",
        b"%",
        b"\0",
        b"\xff",
        b"\xc3",
        b"=",
    ],
    seeds: || {
        let spin = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/examples/spin.records"
        ))
        .unwrap_or_default();
        let mut long = b"\x01\x00SBX1 heartbeat t_ms=".to_vec();
        long.extend(std::iter::repeat_n(b'7', LINE_BUFFER + 100));
        let mut seeded = vec![3, 0];
        seeded.extend(spin);
        vec![
            seeded,
            long,
            b"\x05\x00SBX1 done status=ok t_ms=1\r\r\n".to_vec(),
        ]
    },
    run: record_stream,
    memory: |len| 1024 * 1024 + 64 * len,
};
