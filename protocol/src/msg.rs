//! Messages and numbers without an allocator: a fixed-capacity text buffer for error
//! messages, a quoting wrapper for bytes that may not be text, and decimal parsing.

use core::fmt::{self, Write};

/// Longest error message either side builds from the plan; longer ones are cut.
pub const MSG_BYTES: usize = 256;

/// A message of at most [`MSG_BYTES`] bytes; what does not fit is dropped.
#[derive(Clone)]
pub struct Msg {
    bytes: [u8; MSG_BYTES],
    len: usize,
}

impl Default for Msg {
    fn default() -> Self {
        Msg {
            bytes: [0; MSG_BYTES],
            len: 0,
        }
    }
}

impl Msg {
    pub fn format(args: fmt::Arguments<'_>) -> Msg {
        let mut m = Msg::default();
        let _ = m.write_fmt(args);
        m
    }

    pub fn as_str(&self) -> &str {
        // Only whole UTF-8 strings are appended, cut at a character boundary.
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

impl Write for Msg {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut n = s.len().min(MSG_BYTES - self.len);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

impl fmt::Display for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// Builds a [`Msg`] like `format!`.
#[macro_export]
macro_rules! msg {
    ($($arg:tt)*) => { $crate::msg::Msg::format(format_args!($($arg)*)) };
}

/// Bytes shown quoted in messages, even when they are not UTF-8 (first 64 bytes).
pub struct Lossy<'a>(pub &'a [u8]);

/// How much of a value a message quotes.
const LOSSY_SHOWN: usize = 64;

impl fmt::Debug for Lossy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for &b in self.0.iter().take(LOSSY_SHOWN) {
            if (0x20..0x7f).contains(&b) && b != b'"' {
                f.write_char(char::from(b))?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        f.write_char('"')
    }
}

/// Parses an unsigned decimal without sign or spaces; None on anything else or overflow.
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(v)
}

/// Parses a decimal with an optional leading `-` or `+`.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let v = i64::try_from(parse_u64(digits)?).ok()?;
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_numbers() {
        assert_eq!(parse_u64(b"2000"), Some(2000));
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"1x"), None);
        assert_eq!(parse_u64(b"99999999999999999999"), None);
        assert_eq!(parse_i64(b"-20"), Some(-20));
        assert_eq!(parse_i64(b"19"), Some(19));
        assert_eq!(parse_i64(b"-"), None);
    }

    #[test]
    fn messages_are_cut_on_a_character_boundary() {
        let long = "é".repeat(MSG_BYTES);
        let m = msg!("{long}");
        assert!(m.as_str().len() <= MSG_BYTES);
        assert!(m.as_str().chars().all(|c| c == 'é'));
    }

    #[test]
    fn lossy_quotes_bytes() {
        let shown = std::format!("{:?}", Lossy(b"a\"\xff"));
        assert_eq!(shown, "\"a\\x22\\xff\"");
    }
}
