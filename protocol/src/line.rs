//! The common line syntax of plans and records: `<verb> [bare] key=value ...`, fields
//! separated by exactly one space, values percent-encoded.

use crate::escape;
use crate::limits::{MAX_FIELDS, MAX_LINE};
use crate::msg;
use crate::msg::{parse_i64, parse_u64, Lossy, Msg};

#[derive(Clone, Copy)]
pub struct Field<'a> {
    pub key: &'a str,
    pub val: &'a [u8],
}

/// One parsed line: the verb, an optional bare word (the version, the op name) and the
/// decoded `key=value` fields in file order.
pub struct Line<'a> {
    pub verb: &'a str,
    pub bare: Option<&'a str>,
    fields: [Field<'a>; MAX_FIELDS],
    count: usize,
}

impl<'a> Line<'a> {
    pub fn fields(&self) -> &[Field<'a>] {
        &self.fields[..self.count]
    }

    pub fn get(&self, key: &str) -> Option<&'a [u8]> {
        self.fields().iter().find(|f| f.key == key).map(|f| f.val)
    }

    /// A value as text; None when it is not UTF-8 (plan values are checked to be at
    /// parse time).
    pub fn text(&self, key: &str) -> Option<&'a str> {
        self.get(key).and_then(|v| core::str::from_utf8(v).ok())
    }

    pub fn num(&self, key: &str) -> Option<u64> {
        self.get(key).and_then(parse_u64)
    }

    pub fn int(&self, key: &str) -> Option<i64> {
        self.get(key).and_then(parse_i64)
    }

    /// Every value of a repeatable key, in order.
    pub fn all<'s>(&'s self, key: &'s str) -> impl Iterator<Item = &'a [u8]> + 's {
        self.fields()
            .iter()
            .filter(move |f| f.key == key)
            .map(|f| f.val)
    }
}

/// Verbs, keys and bare words: `[a-z0-9_.-]+`.
pub fn is_word(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"_.-".contains(&c))
}

/// Where a field's key and value are: the key in the raw line, the value there too or,
/// when it had escapes, decoded in the scratch buffer.
#[derive(Clone, Copy, Default)]
struct Span {
    key: (usize, usize),
    val: (usize, usize),
    decoded: bool,
}

/// The fields of a line after its verb, as spans; decodes escaped values into `scratch`.
fn split_fields<'a>(
    raw: &'a [u8],
    rest: impl Iterator<Item = &'a [u8]>,
    scratch: &mut [u8; MAX_LINE],
    spans: &mut [Span; MAX_FIELDS],
) -> Result<(usize, Option<&'a [u8]>), Msg> {
    let (mut count, mut used, mut bare) = (0, 0, None);
    for (pos, part) in rest.enumerate() {
        if part.is_empty() {
            return Err(msg!(
                "empty field (fields are separated by exactly one space)"
            ));
        }
        let Some(eq) = part.iter().position(|&c| c == b'=') else {
            if pos == 0 && is_word(part) {
                bare = Some(part);
                continue;
            }
            return Err(msg!("field {:?} is not key=value", Lossy(part)));
        };
        let (key, val) = (&part[..eq], &part[eq + 1..]);
        if !is_word(key) {
            return Err(msg!("bad key {:?}", Lossy(key)));
        }
        if count == MAX_FIELDS {
            return Err(msg!("more than {MAX_FIELDS} fields"));
        }
        let offset = |s: &[u8]| s.as_ptr() as usize - raw.as_ptr() as usize;
        let mut span = Span {
            key: (offset(key), key.len()),
            val: (offset(val), val.len()),
            decoded: false,
        };
        if val.contains(&b'%') {
            let n = escape::decode(val, &mut scratch[used..])
                .map_err(|_| msg!("bad percent escape in value {:?}", Lossy(val)))?;
            span = Span {
                val: (used, n),
                decoded: true,
                ..span
            };
            used += n;
        }
        spans[count] = span;
        count += 1;
    }
    Ok((count, bare))
}

/// What a line's decoded values may hold.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Values {
    /// UTF-8 only: plan values name files, groups and arguments.
    Text,
    /// Any bytes: record values carry kernel log text and program output, which the host
    /// shows to people as they are.
    Bytes,
}

/// Splits one line (without its `\n`) into verb, bare word and decoded fields. Decoded
/// values live in `scratch`, so the line borrows both. The one parser of the line
/// syntax: the guest reads plans with it, the host records.
pub fn parse_line<'a>(
    raw: &'a [u8],
    scratch: &'a mut [u8; MAX_LINE],
    values: Values,
) -> Result<Line<'a>, Msg> {
    if raw.len() >= MAX_LINE {
        return Err(msg!("line longer than {} bytes", MAX_LINE - 1));
    }
    let mut parts = raw.split(|&c| c == b' ');
    let verb = parts.next().unwrap_or_default();
    if !is_word(verb) {
        return Err(msg!("bad verb {:?}", Lossy(verb)));
    }
    let mut spans = [Span::default(); MAX_FIELDS];
    let (count, bare) = split_fields(raw, parts, scratch, &mut spans)?;
    let scratch: &'a [u8] = scratch;
    let mut line = Line {
        verb: as_str(verb),
        bare: bare.map(as_str),
        fields: [Field { key: "", val: &[] }; MAX_FIELDS],
        count,
    };
    for (field, sp) in line.fields.iter_mut().zip(&spans[..count]) {
        let key = as_str(&raw[sp.key.0..sp.key.0 + sp.key.1]);
        let src = if sp.decoded { scratch } else { raw };
        let val = &src[sp.val.0..sp.val.0 + sp.val.1];
        if values == Values::Text && core::str::from_utf8(val).is_err() {
            return Err(msg!("value of {key} is not UTF-8"));
        }
        *field = Field { key, val };
    }
    Ok(line)
}

/// Words were checked to be ASCII.
fn as_str(b: &[u8]) -> &str {
    core::str::from_utf8(b).unwrap_or("")
}

/// Iterates over `(line number, raw line)` of a plan, skipping comments and blank lines.
pub fn lines(plan: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    plan.split(|&c| c == b'\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix(b"\r").unwrap_or(l)))
        .filter(|(_, l)| !l.is_empty() && l[0] != b'#')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields() {
        let mut scratch = [0; MAX_LINE];
        let line = parse_line(
            b"op spawn group=spin cgroup=work work=spin count=2 nice=-3",
            &mut scratch,
            Values::Text,
        )
        .unwrap();
        assert_eq!(line.verb, "op");
        assert_eq!(line.bare, Some("spawn"));
        assert_eq!(line.text("group"), Some("spin"));
        assert_eq!(line.num("count"), Some(2));
        assert_eq!(line.int("nice"), Some(-3));
        assert_eq!(line.get("missing"), None);
    }

    #[test]
    fn decodes_percent_escapes() {
        let mut scratch = [0; MAX_LINE];
        let line = parse_line(
            b"op cgroup-set path=a file=cpu.max value=50000%20100000 x=%25%3D",
            &mut scratch,
            Values::Text,
        )
        .unwrap();
        assert_eq!(line.get("value"), Some(&b"50000 100000"[..]));
        assert_eq!(line.get("x"), Some(&b"%="[..]));
        assert!(parse_line(b"op x v=%2", &mut scratch, Values::Text).is_err());
        assert!(parse_line(b"op x v=%zz", &mut scratch, Values::Text).is_err());
    }

    #[test]
    fn repeatable_args_keep_order() {
        let mut scratch = [0; MAX_LINE];
        let line = parse_line(
            b"scheduler path=/s arg=-v arg=--x%20y",
            &mut scratch,
            Values::Text,
        )
        .unwrap();
        let args: std::vec::Vec<&[u8]> = line.all("arg").collect();
        assert_eq!(args, std::vec![&b"-v"[..], &b"--x y"[..]]);
    }

    #[test]
    fn byte_values_are_kept_when_asked_for() {
        let mut scratch = [0; MAX_LINE];
        assert!(parse_line(b"kmsg text=%FF", &mut scratch, Values::Text).is_err());
        let line = parse_line(b"kmsg text=%FF", &mut scratch, Values::Bytes).unwrap();
        assert_eq!(line.get("text"), Some(&b"\xff"[..]));
        assert_eq!(line.text("text"), None);
    }

    #[test]
    fn rejects_bad_syntax() {
        let mut scratch = [0; MAX_LINE];
        for bad in [
            &b"Op x=1"[..],
            b"op  x=1",
            b"op x=1 =2",
            b"op x=1 y",
            b"op X=1",
            b"op v=%ff",
        ] {
            assert!(
                parse_line(bad, &mut scratch, Values::Text).is_err(),
                "{:?}",
                Lossy(bad)
            );
        }
        let long = [b'a'; MAX_LINE];
        assert!(parse_line(&long, &mut scratch, Values::Text).is_err());
    }
}
