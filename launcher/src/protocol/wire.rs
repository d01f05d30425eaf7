//! The line syntax shared by plans and records: `<word> key=value ...` with
//! percent-encoded values (docs/protocol.md, "Common line syntax").

use std::fmt;

pub use schedbox_protocol::limits::MAX_LINE;
use schedbox_protocol::vocab::{Op, Verb};
use schedbox_protocol::{escape, line::is_word};

/// A line that does not follow the common syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError(pub String);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WireError {}

/// Percent-encodes every byte outside 0x21..=0x7e, and `%`, `=` and `"`.
pub fn encode_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    // Writing into a String cannot fail.
    let _ = escape::encode(value.as_bytes(), &mut out);
    out
}

/// Decodes `%XX` escapes; invalid UTF-8 in the result is replaced, not rejected, since
/// values such as kernel log text are only shown to people.
pub fn decode_value(value: &str) -> Result<String, WireError> {
    let mut out = vec![0; value.len()];
    let n = escape::decode(value.as_bytes(), &mut out)
        .map_err(|_| WireError(format!("bad percent escape in {value:?}")))?;
    out.truncate(n);
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn valid_key(key: &str) -> bool {
    is_word(key.as_bytes())
}

/// Builds a line: the word, optional bare fields, then `key=value` pairs, values encoded.
#[derive(Debug, Clone)]
pub struct LineBuilder {
    line: String,
}

impl LineBuilder {
    /// A plan line of this verb.
    pub fn new(verb: Verb) -> Self {
        Self {
            line: verb.word().to_string(),
        }
    }

    /// An `op` line of this op.
    pub fn op(op: Op) -> Self {
        Self::new(Verb::Op).bare(op.word())
    }

    pub fn bare(mut self, field: &str) -> Self {
        self.line.push(' ');
        self.line.push_str(field);
        self
    }

    pub fn key(mut self, key: &str, value: impl fmt::Display) -> Self {
        debug_assert!(valid_key(key), "bad key {key:?}");
        self.line.push(' ');
        self.line.push_str(key);
        self.line.push('=');
        self.line.push_str(&encode_value(&value.to_string()));
        self
    }

    pub fn key_opt(self, key: &str, value: Option<impl fmt::Display>) -> Self {
        match value {
            Some(value) => self.key(key, value),
            None => self,
        }
    }

    pub fn build(self) -> String {
        self.line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_percent_encoding() {
        let value = "line 3: unknown verb \"x\" 100% a=b é\n";
        let encoded = encode_value(value);
        assert_eq!(
            encoded,
            "line%203:%20unknown%20verb%20%22x%22%20100%25%20a%3Db%20%C3%A9%0A"
        );
        assert_eq!(decode_value(&encoded).unwrap(), value);
    }

    #[test]
    fn builder_encodes_values() {
        let line = LineBuilder::op(Op::CgroupSet)
            .key("value", "50000 100000")
            .key_opt("prio", None::<u32>)
            .build();
        assert_eq!(line, "op cgroup-set value=50000%20100000");
    }
}
