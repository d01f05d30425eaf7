//! The line syntax shared by plans and records: `<word> key=value ...` with
//! percent-encoded values (docs/protocol.md, "Common line syntax").

use std::fmt;

pub use schedbox_protocol::limits::MAX_LINE;
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
    pub fn new(word: &str) -> Self {
        Self {
            line: word.to_string(),
        }
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

/// A parsed line: its word and decoded `key=value` fields, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    pub word: String,
    pub pairs: Vec<(String, String)>,
}

impl Fields {
    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses `word key=value ...` (fields separated by exactly one space).
pub fn parse_line(line: &str) -> Result<Fields, WireError> {
    if line.len() >= MAX_LINE {
        return Err(WireError(format!("line longer than {MAX_LINE} bytes")));
    }
    let mut parts = line.split(' ');
    let word = parts.next().unwrap_or_default();
    if word.is_empty() {
        return Err(WireError("line has no leading word".to_string()));
    }
    let mut pairs = Vec::new();
    for part in parts {
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| WireError(format!("field {part:?} is not key=value")))?;
        if !valid_key(key) {
            return Err(WireError(format!("bad key {key:?}")));
        }
        pairs.push((key.to_string(), decode_value(value)?));
    }
    Ok(Fields {
        word: word.to_string(),
        pairs,
    })
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
    fn lines_parse_into_decoded_fields() {
        let fields = parse_line("error where=plan msg=a%20b empty=").unwrap();
        assert_eq!(fields.word, "error");
        assert_eq!(fields.get("msg"), Some("a b"));
        assert_eq!(fields.get("empty"), Some(""));
        assert_eq!(fields.get("missing"), None);
    }

    #[test]
    fn malformed_lines_are_errors() {
        for line in ["", " x", "a  b=1", "a b", "a B=1", "a b=%4", "a b=%zz"] {
            assert!(parse_line(line).is_err(), "{line:?} accepted");
        }
        assert!(parse_line(&format!("a b={}", "x".repeat(MAX_LINE))).is_err());
    }

    #[test]
    fn builder_encodes_values() {
        let line = LineBuilder::new("op")
            .bare("cgroup-set")
            .key("value", "50000 100000")
            .key_opt("prio", None::<u32>)
            .build();
        assert_eq!(line, "op cgroup-set value=50000%20100000");
    }
}
