//! Percent-encoding of values (docs/protocol.md, "Common line syntax"): every byte
//! outside printable ASCII, and `%`, `=` and `"`, is written as `%XX`.

use core::fmt;

/// Whether a byte may appear in a value as it is.
#[inline]
pub fn is_plain(byte: u8) -> bool {
    matches!(byte, 0x21..=0x7e) && !matches!(byte, b'%' | b'=' | b'"')
}

/// Writes `value` percent-encoded (upper-case hex).
pub fn encode(value: &[u8], out: &mut impl fmt::Write) -> fmt::Result {
    for &byte in value {
        if is_plain(byte) {
            out.write_char(char::from(byte))?;
        } else {
            write!(out, "%{byte:02X}")?;
        }
    }
    Ok(())
}

/// A `%` not followed by two hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadEscape;

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Decodes `%XX` escapes (either case) of `value` into `out`, which must hold at least
/// `value.len()` bytes; returns the decoded length.
pub fn decode(value: &[u8], out: &mut [u8]) -> Result<usize, BadEscape> {
    let (mut i, mut n) = (0, 0);
    while i < value.len() {
        let c = value[i];
        if c == b'%' {
            let hi = value.get(i + 1).copied().and_then(hex);
            let lo = value.get(i + 2).copied().and_then(hex);
            let (Some(h), Some(l)) = (hi, lo) else {
                return Err(BadEscape);
            };
            out[n] = h << 4 | l;
            i += 3;
        } else {
            out[n] = c;
            i += 1;
        }
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;

    #[test]
    fn round_trips_every_byte() {
        let all: std::vec::Vec<u8> = (0..=255).collect();
        let mut text = String::new();
        encode(&all, &mut text).unwrap();
        assert!(text.bytes().all(|b| b == b'%' || is_plain(b)));
        let mut back = [0u8; 256 * 3];
        let n = decode(text.as_bytes(), &mut back).unwrap();
        assert_eq!(&back[..n], &all[..]);
    }

    #[test]
    fn encodes_space_percent_equals_quote() {
        let mut text = String::new();
        encode(b"a b%=\"", &mut text).unwrap();
        assert_eq!(text, "a%20b%25%3D%22");
    }

    #[test]
    fn rejects_bad_escapes() {
        let mut out = [0u8; 8];
        assert_eq!(decode(b"%2", &mut out), Err(BadEscape));
        assert_eq!(decode(b"%zz", &mut out), Err(BadEscape));
        assert_eq!(decode(b"%2f", &mut out), Ok(1));
    }
}
