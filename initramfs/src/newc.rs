//! The newc header and padding rules (see the kernel's Documentation/driver-api/early-userspace/buffer-format.rst).

/// Magic of the "new ASCII" format without checksums.
pub const MAGIC: &[u8; 6] = b"070701";
/// Bytes in a header: the magic and 13 eight-digit hex fields.
pub const HEADER_LEN: usize = 110;
/// Name of the entry that ends an archive.
pub const TRAILER: &str = "TRAILER!!!";
/// Names and data are padded to this alignment.
const ALIGN: usize = 4;

/// The header fields schedbox varies; the others are 0 (owner root, mtime 0 so archives
/// are reproducible, device 0, no checksum).
pub struct Header {
    pub ino: u32,
    pub mode: u32,
    pub nlink: u32,
    pub filesize: u32,
    pub rdev: (u32, u32),
}

pub fn write_entry(out: &mut Vec<u8>, header: &Header, name: &str, data: &[u8]) {
    let namesize = name.len() as u32 + 1;
    let fields = [
        header.ino,
        header.mode,
        0, // uid
        0, // gid
        header.nlink,
        0, // mtime
        header.filesize,
        0, // devmajor
        0, // devminor
        header.rdev.0,
        header.rdev.1,
        namesize,
        0, // check
    ];
    out.extend_from_slice(MAGIC);
    for field in fields {
        out.extend_from_slice(format!("{field:08X}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad(out);
    out.extend_from_slice(data);
    pad(out);
}

pub fn write_trailer(out: &mut Vec<u8>) {
    let header = Header {
        ino: 0,
        mode: 0,
        nlink: 1,
        filesize: 0,
        rdev: (0, 0),
    };
    write_entry(out, &header, TRAILER, &[]);
}

fn pad(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(ALIGN) {
        out.push(0);
    }
}
