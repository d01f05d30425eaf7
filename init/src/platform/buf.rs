//! Fixed-capacity byte strings: paths, messages and record lines without an allocator.

use core::ffi::CStr;
use core::fmt;

/// A byte string of at most `N - 1` bytes, always followed by a NUL so it can be passed
/// to the kernel as a path. Writes past the capacity are dropped and set `overflow`.
#[derive(Clone)]
pub struct Buf<const N: usize> {
    bytes: [u8; N],
    len: usize,
    overflow: bool,
}

impl<const N: usize> Default for Buf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Buf<N> {
    pub const fn new() -> Self {
        Self {
            bytes: [0; N],
            len: 0,
            overflow: false,
        }
    }

    pub fn from_bytes(b: &[u8]) -> Self {
        let mut s = Self::new();
        s.push(b);
        s
    }

    pub fn clear(&mut self) {
        self.len = 0;
        self.overflow = false;
        self.bytes[0] = 0;
    }

    /// Appends as much of `b` as fits.
    pub fn push(&mut self, b: &[u8]) {
        let room = N - 1 - self.len;
        let n = b.len().min(room);
        self.bytes[self.len..self.len + n].copy_from_slice(&b[..n]);
        self.len += n;
        self.bytes[self.len] = 0;
        if n < b.len() {
            self.overflow = true;
        }
    }

    pub fn push_byte(&mut self, b: u8) {
        self.push(&[b]);
    }

    pub fn push_u64(&mut self, v: u64) {
        let mut tmp = [0u8; 20];
        self.push(fmt_u64(v, &mut tmp));
    }

    pub fn truncate(&mut self, len: usize) {
        if len < self.len {
            self.len = len;
            self.bytes[len] = 0;
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when something did not fit.
    pub fn overflowed(&self) -> bool {
        self.overflow
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// The content as a C string (cut at an interior NUL, if any).
    pub fn as_cstr(&self) -> &CStr {
        match CStr::from_bytes_until_nul(&self.bytes[..=self.len]) {
            Ok(c) => c,
            Err(_) => c"",
        }
    }

    pub fn eq_bytes(&self, b: &[u8]) -> bool {
        self.as_bytes() == b
    }
}

impl<const N: usize> fmt::Write for Buf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}

impl<const N: usize> fmt::Debug for Buf<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", crate::engine::plan::Lossy(self.as_bytes()))
    }
}

impl<const N: usize> fmt::Display for Buf<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match core::str::from_utf8(self.as_bytes()) {
            Ok(s) => f.write_str(s),
            Err(_) => f.write_str("<non-utf8>"),
        }
    }
}

/// Formats `v` in decimal into `tmp`, returning the digits.
pub fn fmt_u64(mut v: u64, tmp: &mut [u8; 20]) -> &[u8] {
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    &tmp[i..]
}

pub use schedbox_protocol::msg::{parse_i64, parse_u64};

/// Strips trailing whitespace (newlines from sysfs and procfs files).
pub fn trim_end(s: &[u8]) -> &[u8] {
    let mut n = s.len();
    while n > 0 && s[n - 1].is_ascii_whitespace() {
        n -= 1;
    }
    &s[..n]
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;

    #[test]
    fn push_truncates_and_flags_overflow() {
        let mut b: Buf<5> = Buf::new();
        b.push(b"abcdef");
        assert_eq!(b.as_bytes(), b"abcd");
        assert!(b.overflowed());
        assert_eq!(b.as_cstr().to_bytes(), b"abcd");
    }

    #[test]
    fn formats_numbers() {
        let mut b: Buf<64> = Buf::new();
        b.push_u64(0);
        b.push_byte(b' ');
        b.push_u64(u64::MAX);
        write!(b, " {}", -5).unwrap();
        assert_eq!(b.as_bytes(), b"0 18446744073709551615 -5");
    }
}
