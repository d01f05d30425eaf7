//! The DSDT's AML: the UARTs as PNP0501 devices and the virtio-mmio devices under `\_SB`
//! (a hardware-reduced platform has no legacy PIC, so the kernel maps an ISA IRQ only for
//! a device that declares it), then `\_S5` so the kernel can power off.

/// AML opcodes and prefixes (ACPI 6.x, section 20).
const NAME_OP: u8 = 0x08;
const SCOPE_OP: u8 = 0x10;
const BUFFER_OP: u8 = 0x11;
const PACKAGE_OP: u8 = 0x12;
const ZERO_OP: u8 = 0x00;
const BYTE_PREFIX: u8 = 0x0a;
const STRING_PREFIX: u8 = 0x0d;
const DWORD_PREFIX: u8 = 0x0c;
const EXT_OP_PREFIX: u8 = 0x5b;
const DEVICE_OP: u8 = 0x82;
const ROOT_CHAR: u8 = b'\\';
/// A PkgLength of one byte holds at most this (its own byte included).
const PKG_LENGTH_1_MAX: usize = 0x3f;
/// Two bytes: bits 7-6 of the first say one byte follows; bits 3-0 are the low nibble.
const PKG_LENGTH_2_MAX: usize = 0xfff;
const PKG_LENGTH_2_FLAG: u8 = 0x40;

/// Resource descriptors (ACPI 6.x, section 6.4).
/// I/O port, 16-bit decode: tag 0x47, then decode, min, max, alignment, length.
const IO_PORT_TAG: u8 = 0x47;
const IO_DECODE_16: u8 = 0x01;
/// IRQ without flags (edge, active high, exclusive): tag 0x22, then a 16-bit mask.
const IRQ_NO_FLAGS_TAG: u8 = 0x22;
/// 32-bit fixed memory range: tag 0x86, length 9, then writable, base, length.
const MEMORY32_FIXED: [u8; 3] = [0x86, 0x09, 0x00];
const MEMORY_WRITABLE: u8 = 0x01;
/// End tag with a zero checksum (meaning: not checked).
const END_TAG: [u8; 2] = [0x79, 0x00];

/// EISA ID "PNP0501": a 16550A-compatible UART, compressed as ACPI wants it.
pub const PNP0501: u32 = 0x0105_d041;

/// The hardware ID Linux's virtio-mmio driver matches in ACPI.
pub const VIRTIO_MMIO_HID: &str = "LNRO0005";

/// The sleep type the kernel writes to power off (`\_S5`).
pub const S5_TYPE: u8 = 5;

/// A UART for the DSDT: its base port, how many ports it takes, and its ISA IRQ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SerialPort {
    pub base: u16,
    pub len: u8,
    pub irq: u8,
}

/// A virtio-mmio device for the DSDT: its register window and its ISA IRQ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VirtioMmio {
    pub base: u32,
    pub len: u32,
    pub irq: u8,
}

/// The DSDT's body.
pub fn aml(ports: &[SerialPort], virtio: &[VirtioMmio]) -> Vec<u8> {
    let mut devices = Vec::new();
    for (index, port) in ports.iter().enumerate() {
        devices.extend(serial_device(index, port));
    }
    for (index, device) in virtio.iter().enumerate() {
        devices.extend(virtio_device(index, device));
    }
    let mut out = scope(b"_SB_", &devices);
    out.extend(s5());
    out
}

/// `Scope (\NAME) { body }`.
fn scope(name: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut inner = vec![ROOT_CHAR];
    inner.extend_from_slice(name);
    inner.extend_from_slice(body);
    let mut out = vec![SCOPE_OP];
    out.extend(with_pkg_length(&inner));
    out
}

/// `Device (COMn) { _HID PNP0501, _UID n, _CRS { IO, IRQNoFlags } }`.
fn serial_device(index: usize, port: &SerialPort) -> Vec<u8> {
    let digit = b'1' + (index as u8 % 9);
    let mut inner = vec![b'C', b'O', b'M', digit];
    inner.extend(name(b"_HID", &dword(PNP0501)));
    inner.extend(name(b"_UID", &[BYTE_PREFIX, index as u8 + 1]));
    inner.extend(name(b"_CRS", &buffer(&resources(port))));
    let mut out = vec![EXT_OP_PREFIX, DEVICE_OP];
    out.extend(with_pkg_length(&inner));
    out
}

/// The device's resources: its ports and its IRQ.
fn resources(port: &SerialPort) -> Vec<u8> {
    let [lo, hi] = port.base.to_le_bytes();
    let mut out = vec![IO_PORT_TAG, IO_DECODE_16, lo, hi, lo, hi, 1, port.len];
    let mask = (1u16 << port.irq).to_le_bytes();
    out.extend([IRQ_NO_FLAGS_TAG, mask[0], mask[1]]);
    out.extend(END_TAG);
    out
}

/// `Device (VIOn) { _HID "LNRO0005", _UID n, _CRS { Memory32Fixed, IRQNoFlags } }`.
fn virtio_device(index: usize, device: &VirtioMmio) -> Vec<u8> {
    let digit = b'0' + (index as u8 % 10);
    let mut inner = vec![b'V', b'I', b'O', digit];
    let mut hid = vec![STRING_PREFIX];
    hid.extend(VIRTIO_MMIO_HID.bytes());
    hid.push(0);
    inner.extend(name(b"_HID", &hid));
    inner.extend(name(b"_UID", &[BYTE_PREFIX, index as u8]));
    let mut resources = MEMORY32_FIXED.to_vec();
    resources.push(MEMORY_WRITABLE);
    resources.extend(device.base.to_le_bytes());
    resources.extend(device.len.to_le_bytes());
    let mask = (1u16 << device.irq).to_le_bytes();
    resources.extend([IRQ_NO_FLAGS_TAG, mask[0], mask[1]]);
    resources.extend(END_TAG);
    inner.extend(name(b"_CRS", &buffer(&resources)));
    let mut out = vec![EXT_OP_PREFIX, DEVICE_OP];
    out.extend(with_pkg_length(&inner));
    out
}

/// `Name (\_S5, Package (2) { 5, 0 })`.
fn s5() -> Vec<u8> {
    const ELEMENTS: u8 = 2;
    let mut package = vec![PACKAGE_OP];
    package.extend(with_pkg_length(&[ELEMENTS, BYTE_PREFIX, S5_TYPE, ZERO_OP]));
    name(b"_S5_", &package)
}

fn name(seg: &[u8; 4], value: &[u8]) -> Vec<u8> {
    let mut out = vec![NAME_OP];
    out.extend_from_slice(seg);
    out.extend_from_slice(value);
    out
}

fn dword(value: u32) -> Vec<u8> {
    let mut out = vec![DWORD_PREFIX];
    out.extend(value.to_le_bytes());
    out
}

/// `Buffer (n) { bytes }`.
fn buffer(bytes: &[u8]) -> Vec<u8> {
    let mut inner = vec![BYTE_PREFIX, bytes.len() as u8];
    inner.extend_from_slice(bytes);
    let mut out = vec![BUFFER_OP];
    out.extend(with_pkg_length(&inner));
    out
}

/// `inner` preceded by its PkgLength (which counts its own bytes too).
fn with_pkg_length(inner: &[u8]) -> Vec<u8> {
    let one = inner.len() + 1;
    let mut out = if one <= PKG_LENGTH_1_MAX {
        vec![one as u8]
    } else {
        let two = inner.len() + 2;
        assert!(two <= PKG_LENGTH_2_MAX, "AML object of {two} bytes");
        vec![PKG_LENGTH_2_FLAG | (two & 0xf) as u8, (two >> 4) as u8]
    };
    out.extend_from_slice(inner);
    out
}

/// Reads a PkgLength at the start of `bytes`: (the length it says, its own size).
pub fn read_pkg_length(bytes: &[u8]) -> (usize, usize) {
    let follow = usize::from(bytes[0] >> 6);
    if follow == 0 {
        return (usize::from(bytes[0] & 0x3f), 1);
    }
    let mut len = usize::from(bytes[0] & 0x0f);
    for (i, b) in bytes[1..=follow].iter().enumerate() {
        len |= usize::from(*b) << (4 + 8 * i);
    }
    (len, 1 + follow)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PORTS: [SerialPort; 2] = [
        SerialPort {
            base: 0x3f8,
            len: 8,
            irq: 4,
        },
        SerialPort {
            base: 0x2f8,
            len: 8,
            irq: 3,
        },
    ];

    /// A Name object: its NameSeg and the bytes of its value.
    type Named = ([u8; 4], Vec<u8>);

    /// The objects of a Device body: its name and each Name in it.
    fn device_names(body: &[u8]) -> ([u8; 4], Vec<Named>) {
        let seg: [u8; 4] = body[..4].try_into().unwrap();
        let mut names = Vec::new();
        let mut at = 4;
        while at < body.len() {
            assert_eq!(body[at], NAME_OP, "only Names in a device: {body:02x?}");
            let n: [u8; 4] = body[at + 1..at + 5].try_into().unwrap();
            let value_at = at + 5;
            let value_len = match body[value_at] {
                DWORD_PREFIX => 5,
                BYTE_PREFIX => 2,
                BUFFER_OP => 1 + read_pkg_length(&body[value_at + 1..]).0,
                STRING_PREFIX => 1 + body[value_at..].iter().position(|&b| b == 0).unwrap(),
                other => panic!("unexpected value op {other:#x}"),
            };
            names.push((n, body[value_at..value_at + value_len].to_vec()));
            at = value_at + value_len;
        }
        (seg, names)
    }

    #[test]
    fn uarts_are_pnp0501_devices_with_their_ports_and_irqs_then_s5() {
        let aml = aml(&PORTS, &[]);
        assert_eq!(aml[0], SCOPE_OP);
        let (scope_len, size) = read_pkg_length(&aml[1..]);
        assert_eq!(&aml[1 + size..1 + size + 5], b"\\_SB_");
        let scope_end = 1 + scope_len;
        let mut at = 1 + size + 5;
        let mut seen = Vec::new();
        while at < scope_end {
            assert_eq!(aml[at..at + 2], [EXT_OP_PREFIX, DEVICE_OP]);
            let (len, size) = read_pkg_length(&aml[at + 2..]);
            let body = &aml[at + 2 + size..at + 2 + len];
            let (seg, names) = device_names(body);
            let value = |n: &[u8; 4]| names.iter().find(|(k, _)| k == n).unwrap().1.clone();
            assert_eq!(value(b"_HID"), dword(PNP0501));
            let crs = value(b"_CRS");
            let res = &crs[crs.len() - 13..];
            seen.push((seg, value(b"_UID")[1], res.to_vec()));
            at += 2 + len;
        }
        assert_eq!(at, scope_end, "devices fill the scope exactly");
        assert_eq!(seen.len(), 2);
        assert_eq!(&seen[0].0, b"COM1");
        assert_eq!(seen[0].1, 1);
        assert_eq!(
            seen[0].2,
            [0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08, 0x22, 0x10, 0x00, 0x79, 0x00]
        );
        assert_eq!((&seen[1].0, seen[1].1), (b"COM2", 2));
        assert_eq!(&seen[1].2[2..4], &[0xf8, 0x02]);
        assert_eq!(&seen[1].2[8..11], &[0x22, 0x08, 0x00], "IRQ 3");
        assert_eq!(&aml[scope_end..], s5().as_slice());
        assert_eq!(
            s5(),
            [
                NAME_OP,
                b'_',
                b'S',
                b'5',
                b'_',
                PACKAGE_OP,
                0x05,
                0x02,
                BYTE_PREFIX,
                5,
                0x00
            ],
            "Name (\\_S5, Package (2) {{ 5, 0 }})"
        );
    }

    #[test]
    fn a_virtio_mmio_device_has_its_hid_window_and_irq() {
        let device = VirtioMmio {
            base: 0xd000_0000,
            len: 0x1000,
            irq: 5,
        };
        let aml = aml(&[], &[device]);
        let (_, size) = read_pkg_length(&aml[1..]);
        let at = 1 + size + 5;
        assert_eq!(aml[at..at + 2], [EXT_OP_PREFIX, DEVICE_OP]);
        let (len, size) = read_pkg_length(&aml[at + 2..]);
        let (seg, names) = device_names(&aml[at + 2 + size..at + 2 + len]);
        assert_eq!(&seg, b"VIO0");
        let value = |n: &[u8; 4]| names.iter().find(|(k, _)| k == n).unwrap().1.clone();
        assert_eq!(value(b"_HID"), b"\x0dLNRO0005\x00");
        let crs = value(b"_CRS");
        assert_eq!(
            crs[crs.len() - 17..],
            [
                0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x10, 0x00, 0x00, 0x22, 0x20,
                0x00, 0x79, 0x00
            ]
        );
    }

    #[test]
    fn pkg_lengths_round_trip_across_the_one_byte_limit() {
        for n in [0, 1, 61, 62, 63, 64, 200, 4000] {
            let encoded = with_pkg_length(&vec![0xaa; n]);
            let (len, size) = read_pkg_length(&encoded);
            assert_eq!(len, encoded.len(), "{n} bytes");
            assert_eq!(size, if n < PKG_LENGTH_1_MAX { 1 } else { 2 });
        }
    }
}
