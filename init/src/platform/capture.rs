//! A child's output pipe, drained without blocking: complete lines go out one at a time
//! (as `output` records), up to a cap of lines or bytes; the last bytes are kept for the
//! child's final record and, when lines were held back, for the lines at its end.

use crate::platform::buf::Buf;
use rustix::fd::OwnedFd;
use rustix::io::Errno;

/// Longest line forwarded whole; longer ones go out in pieces of this size.
pub const LINE: usize = 512;
/// Bytes of output kept for the final record (escaped, they still fit in one record).
pub const TAIL: usize = 768;
/// Bytes of held-back lines kept from the output's end, to be sent when it ends.
const RING: usize = schedbox_protocol::limits::PAYLOAD_TAIL_BYTES;
/// Reads per drain, so a chatty child cannot hold up the monitor: 32 KiB a drain, more
/// than a terminal holds (its line discipline buffers 4 KiB).
const READS_PER_DRAIN: usize = 8;
const CHUNK: usize = 4096;
/// Reads when the child has ended: the rest of the pipe (64 KiB at most).
const READS_AT_END: usize = 128;

pub struct Capture {
    fd: Option<OwnedFd>,
    line: Buf<LINE>,
    tail: [u8; TAIL],
    /// Bytes written to `tail` so far, the ring's write position.
    total: u64,
    max_lines: u32,
    max_bytes: u64,
    pub lines: u32,
    /// Bytes of the lines sent, newlines included.
    bytes: u64,
    /// The lines held back, each with a newline, the last `RING` bytes of them; mapped
    /// when the first one is (most children never get there).
    held: Option<Ring>,
    pub dropped: u64,
    /// The last drain read something: more is likely on its way.
    flowing: bool,
}

/// A ring of `RING` bytes in its own anonymous mapping.
struct Ring {
    ptr: *mut u8,
    /// Bytes written so far.
    total: u64,
}

impl Ring {
    fn new() -> Option<Ring> {
        use rustix::mm::{mmap_anonymous, MapFlags, ProtFlags};
        // SAFETY: a fresh private mapping, owned by this Ring until its drop.
        let ptr = unsafe {
            mmap_anonymous(
                core::ptr::null_mut(),
                RING,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE,
            )
        };
        ptr.ok().map(|p| Ring {
            ptr: p.cast(),
            total: 0,
        })
    }

    fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            // SAFETY: the index is below RING, the mapping's length.
            unsafe { *self.ptr.add((self.total % RING as u64) as usize) = b };
            self.total += 1;
        }
    }

    fn at(&self, i: u64) -> u8 {
        // SAFETY: as in push.
        unsafe { *self.ptr.add((i % RING as u64) as usize) }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: the mapping made in new, unmapped once.
        let _ = unsafe { rustix::mm::munmap(self.ptr.cast(), RING) };
    }
}

impl Default for Capture {
    fn default() -> Self {
        Capture::closed(0)
    }
}

impl Capture {
    pub fn new(fd: OwnedFd, max_lines: u32) -> Self {
        Capture {
            fd: Some(fd),
            ..Capture::closed(max_lines)
        }
    }

    /// Sends lines while they fit in `max_bytes` (their newlines included).
    pub fn with_byte_cap(fd: OwnedFd, max_bytes: u64) -> Self {
        Capture {
            fd: Some(fd),
            max_bytes,
            ..Capture::closed(u32::MAX)
        }
    }

    /// A capture with no pipe (a child that never started).
    pub fn closed(max_lines: u32) -> Self {
        Capture {
            fd: None,
            line: Buf::new(),
            tail: [0; TAIL],
            total: 0,
            max_lines,
            max_bytes: u64::MAX,
            lines: 0,
            bytes: 0,
            held: None,
            dropped: 0,
            flowing: false,
        }
    }

    /// Reads what is there now, a bounded amount, handing each complete line to `emit`.
    /// Returns false once the pipe is at its end (every writer gone).
    pub fn drain(&mut self, emit: &mut dyn FnMut(&[u8])) -> bool {
        let before = self.total;
        let open = self.read(READS_PER_DRAIN, emit);
        self.flowing = open && self.total > before;
        open
    }

    /// The last drain read output and the pipe is still open: the child is printing.
    pub fn flowing(&self) -> bool {
        self.flowing
    }

    /// Reads the rest (the child has ended), sends the unfinished line, closes the pipe.
    pub fn finish(&mut self, emit: &mut dyn FnMut(&[u8])) {
        self.read(READS_AT_END, emit);
        if !self.line.is_empty() {
            self.flush(emit);
        }
        self.fd = None;
    }

    fn read(&mut self, reads: usize, emit: &mut dyn FnMut(&[u8])) -> bool {
        let mut chunk = [0u8; CHUNK];
        for _ in 0..reads {
            let Some(fd) = &self.fd else { return false };
            match rustix::io::read(fd, &mut chunk) {
                Ok(0) => {
                    self.fd = None;
                    return false;
                }
                Ok(n) => self.feed(&chunk[..n], emit),
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => return true,
                Err(_) => {
                    self.fd = None;
                    return false;
                }
            }
        }
        true
    }

    /// Splits bytes into lines; keeps the last `TAIL` bytes.
    pub fn feed(&mut self, bytes: &[u8], emit: &mut dyn FnMut(&[u8])) {
        self.keep_tail(bytes);
        // In runs up to the next newline, one copy each: under TCG a byte at a time
        // costs more than the rest of a line's way out.
        let mut rest = bytes;
        while let Some(&first) = rest.first() {
            if first == b'\n' {
                self.flush(emit);
                rest = &rest[1..];
            } else if self.line.len() == LINE - 1 {
                self.flush(emit);
            } else {
                let run = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
                let n = run.min(LINE - 1 - self.line.len());
                self.line.push(&rest[..n]);
                rest = &rest[n..];
            }
        }
    }

    /// Writes `bytes` into the ring of the last `TAIL` bytes.
    fn keep_tail(&mut self, bytes: &[u8]) {
        let skip = bytes.len().saturating_sub(TAIL);
        let keep = &bytes[skip..];
        let at = ((self.total + skip as u64) % TAIL as u64) as usize;
        let first = keep.len().min(TAIL - at);
        self.tail[at..at + first].copy_from_slice(&keep[..first]);
        self.tail[..keep.len() - first].copy_from_slice(&keep[first..]);
        self.total += bytes.len() as u64;
    }

    /// Sends the line when it is within the caps and none was held back before it (what
    /// is sent from the start stays whole).
    fn flush(&mut self, emit: &mut dyn FnMut(&[u8])) {
        let text = self.line.as_bytes();
        let size = text.len() as u64 + 1;
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        let fits = self.lines < self.max_lines
            && self.bytes.saturating_add(size) <= self.max_bytes
            && self.dropped == 0;
        if fits {
            self.lines += 1;
            self.bytes += size;
            emit(text);
        } else {
            self.dropped += 1;
            if self.held.is_none() && self.max_bytes != u64::MAX {
                self.held = Ring::new();
            }
            if let Some(ring) = &mut self.held {
                ring.push(text);
                ring.push(b"\n");
            }
        }
        self.line.clear();
    }

    /// Once the child has ended ([`Capture::finish`]): hands `emit` the held-back
    /// lines that are still in the ring, the complete lines among the last `RING`
    /// bytes, and no longer counts them as dropped. Returns how many it handed over.
    pub fn held_back_tail(&mut self, emit: &mut dyn FnMut(&[u8])) -> u64 {
        let Some(ring) = self.held.take() else {
            return 0;
        };
        let mut at = ring.total.saturating_sub(RING as u64);
        if at > 0 {
            // The oldest line kept is cut: start after its end.
            while at < ring.total && ring.at(at) != b'\n' {
                at += 1;
            }
            at += 1;
        }
        let mut line: Buf<LINE> = Buf::new();
        let mut sent = 0;
        for i in at..ring.total {
            match ring.at(i) {
                b'\n' => {
                    emit(line.as_bytes());
                    line.clear();
                    sent += 1;
                }
                b => line.push_byte(b),
            }
        }
        self.dropped = self.dropped.saturating_sub(sent);
        sent
    }

    /// The last bytes of output, oldest first, without the final newline.
    pub fn tail(&self) -> Buf<{ TAIL + 1 }> {
        let mut out = Buf::new();
        let start = self.total.saturating_sub(TAIL as u64);
        for i in start..self.total {
            out.push_byte(self.tail[(i % TAIL as u64) as usize]);
        }
        if out.as_bytes().ends_with(b"\n") {
            out.truncate(out.len() - 1);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(c: &mut Capture, input: &[&[u8]]) -> Vec<String> {
        let mut got = Vec::new();
        for part in input {
            c.feed(part, &mut |l| {
                got.push(String::from_utf8_lossy(l).into_owned())
            });
        }
        got
    }

    #[test]
    fn joins_pieces_into_lines_and_caps_them() {
        let mut c = Capture::closed(2);
        let got = lines(
            &mut c,
            &[b"local=1 glo", b"bal=2\r\nEXIT: x\n", b"third\nfourth\n"],
        );
        assert_eq!(got, ["local=1 global=2", "EXIT: x"]);
        assert_eq!((c.lines, c.dropped), (2, 2));
        assert_eq!(
            c.tail().as_bytes(),
            b"local=1 global=2\r\nEXIT: x\nthird\nfourth"
        );
    }

    #[test]
    fn splits_long_lines_and_keeps_only_the_tail() {
        let mut c = Capture::closed(100);
        let long = vec![b'x'; LINE + 10];
        let got = lines(&mut c, &[&long, b"\n"]);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].len(), LINE - 1);
        let mut c = Capture::closed(0);
        let big: Vec<u8> = (0..2000u32).map(|i| b'a' + (i % 26) as u8).collect();
        lines(&mut c, &[&big]);
        assert_eq!(c.tail().as_bytes(), &big[2000 - TAIL..]);
    }

    #[test]
    fn over_the_byte_cap_the_head_and_the_lines_at_the_end_go_out() {
        let mut c = Capture::closed(u32::MAX);
        c.max_bytes = 10;
        assert!(c.held.is_none());
        let mut input: Vec<u8> = b"abc\ndefg\nhij\n".to_vec();
        // Enough held-back lines to overflow the ring: only its last lines come back.
        for i in 0..RING / 4 {
            input.extend_from_slice(format!("{:03}\n", i % 1000).as_bytes());
        }
        input.extend_from_slice(b"last\nend");
        let got = lines(&mut c, &[&input]);
        assert_eq!(got, ["abc", "defg"], "the head: 4 + 5 bytes fit in 10");
        c.finish(&mut |_| panic!("nothing more fits"));
        let total_dropped = c.dropped;
        let mut tail = Vec::new();
        let sent = c.held_back_tail(&mut |l| tail.push(String::from_utf8_lossy(l).into_owned()));
        assert_eq!(tail.len() as u64, sent);
        assert_eq!(&tail[tail.len() - 2..], ["last", "end"]);
        assert!(
            tail.iter()
                .all(|l| l.len() == 3 || l == "last" || l == "end"),
            "whole lines only"
        );
        assert_eq!(c.dropped, total_dropped - sent);
        assert!(c.dropped > 0 && sent as usize >= RING / 4 - 2);
    }

    #[test]
    fn a_small_overflow_sends_every_held_back_line() {
        let mut c = Capture::closed(u32::MAX);
        c.max_bytes = 4;
        let got = lines(&mut c, &[b"abc\nd\ne\n"]);
        assert_eq!(got, ["abc"]);
        let mut tail = Vec::new();
        c.held_back_tail(&mut |l| tail.push(String::from_utf8_lossy(l).into_owned()));
        assert_eq!(tail, ["d", "e"]);
        assert_eq!(c.dropped, 0);
    }

    #[test]
    fn unfinished_line_goes_out_at_the_end() {
        let mut c = Capture::closed(10);
        let mut got = lines(&mut c, &[b"no newline"]);
        c.finish(&mut |l| got.push(String::from_utf8_lossy(l).into_owned()));
        assert_eq!(got, ["no newline"]);
    }

    #[test]
    fn lines_and_tail_do_not_depend_on_how_the_bytes_come() {
        let mut input = Vec::new();
        for n in 0..300u32 {
            let width = (n as usize * 7) % (LINE + 40);
            input.extend(std::iter::repeat_n(b'a' + (n % 26) as u8, width));
            input.extend_from_slice(if n % 5 == 0 { b"\r\n" } else { b"\n" });
        }
        input.extend_from_slice(b"unfinished");
        let run = |piece: usize| {
            let mut c = Capture::closed(u32::MAX);
            let mut got = Vec::new();
            for part in input.chunks(piece) {
                c.feed(part, &mut |l| got.push(l.to_vec()));
            }
            c.finish(&mut |l| got.push(l.to_vec()));
            (got, c.tail().as_bytes().to_vec())
        };
        let one = run(1);
        assert!(one.0.len() > 300 && one.1.ends_with(b"unfinished"));
        for piece in [2, 69, 70, LINE - 1, LINE, TAIL + 1, 4096, input.len()] {
            assert_eq!(run(piece), one, "pieces of {piece}");
        }
    }
}
