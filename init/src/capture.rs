//! A child's output pipe, drained without blocking: complete lines go out one at a time
//! (as `output` records), up to a cap; the last bytes are kept for the child's final
//! record.

use crate::buf::Buf;
use rustix::fd::OwnedFd;
use rustix::io::Errno;

/// Longest line forwarded whole; longer ones go out in pieces of this size.
pub const LINE: usize = 512;
/// Bytes of output kept for the final record (escaped, they still fit in one record).
pub const TAIL: usize = 768;
/// Reads per drain, so a chatty child cannot hold up the monitor.
const READS_PER_DRAIN: usize = 4;
const CHUNK: usize = 1024;
/// Reads when the child has ended: the rest of the pipe (64 KiB at most).
const READS_AT_END: usize = 128;

pub struct Capture {
    fd: Option<OwnedFd>,
    line: Buf<LINE>,
    tail: [u8; TAIL],
    /// Bytes written to `tail` so far, the ring's write position.
    total: u64,
    max_lines: u32,
    pub lines: u32,
    pub dropped: u32,
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

    /// A capture with no pipe (a child that never started).
    pub fn closed(max_lines: u32) -> Self {
        Capture {
            fd: None,
            line: Buf::new(),
            tail: [0; TAIL],
            total: 0,
            max_lines,
            lines: 0,
            dropped: 0,
        }
    }

    /// Reads what is there now, a bounded amount, handing each complete line to `emit`.
    /// Returns false once the pipe is at its end (every writer gone).
    pub fn drain(&mut self, emit: &mut dyn FnMut(&[u8])) -> bool {
        self.read(READS_PER_DRAIN, emit)
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
        for &b in bytes {
            self.tail[(self.total % TAIL as u64) as usize] = b;
            self.total += 1;
            if b == b'\n' {
                self.flush(emit);
            } else {
                if self.line.len() == LINE - 1 {
                    self.flush(emit);
                }
                self.line.push_byte(b);
            }
        }
    }

    fn flush(&mut self, emit: &mut dyn FnMut(&[u8])) {
        let text = self.line.as_bytes();
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if self.lines < self.max_lines {
            self.lines += 1;
            emit(text);
        } else {
            self.dropped += 1;
        }
        self.line.clear();
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
    fn unfinished_line_goes_out_at_the_end() {
        let mut c = Capture::closed(10);
        let mut got = lines(&mut c, &[b"no newline"]);
        c.finish(&mut |l| got.push(String::from_utf8_lossy(l).into_owned()));
        assert_eq!(got, ["no newline"]);
    }
}
