//! Percent-encoding, the line syntax (the protocol crate's one parser, in its text and
//! its bytes mode) and single record lines.

use schedbox::protocol::record::{self, Line, Record, MARKER};
use schedbox::protocol::wire;
use schedbox_protocol::escape;
use schedbox_protocol::limits::{MAX_FIELDS, MAX_LINE};
use schedbox_protocol::line::Values;
use schedbox_protocol::line::{self, is_word};
use schedbox_protocol::vocab::{RecordKind, Verb, Word};

use crate::driver::{shape, Target};

const SYNTAX: &[&[u8]] = &[
    b"SBX1 ",
    b"=",
    b" ",
    b"%",
    b"%2",
    b"%25",
    b"%3D",
    b"%20",
    b"%C3%A9",
    b"%ff",
    b"\r",
    b"\n",
    b"\0",
    b"\xc3",
    b"\xff",
    b"op ",
    b"spawn",
    b"key=",
    b"t_ms=",
    b"arg=",
    b"18446744073709551616",
];

/// Linear in the input: a few copies of it, decoded or encoded.
fn small(len: usize) -> usize {
    64 * 1024 + 16 * len
}

fn encoded(value: &[u8]) -> String {
    let mut out = String::new();
    escape::encode(value, &mut out).expect("writing to a String");
    out
}

fn percent(input: &[u8]) -> String {
    let text = encoded(input);
    assert!(text.bytes().all(|b| b == b'%' || escape::is_plain(b)));
    let mut back = vec![0; text.len()];
    let n = escape::decode(text.as_bytes(), &mut back).expect("encoded text decodes");
    assert_eq!(&back[..n], input, "decode(encode(x)) != x");
    let mut out = vec![0; input.len()];
    let decoded = escape::decode(input, &mut out).map(|n| out[..n].to_vec());
    if let Ok(decoded) = &decoded {
        assert!(decoded.len() <= input.len());
        let again = encoded(decoded);
        let mut round = vec![0; again.len()];
        let n = escape::decode(again.as_bytes(), &mut round).expect("re-encoded text decodes");
        assert_eq!(&round[..n], &decoded[..]);
    }
    let lossy = String::from_utf8_lossy(input);
    assert_eq!(
        wire::decode_value(&wire::encode_value(&lossy)).as_deref(),
        Ok(&*lossy),
        "the launcher's decode_value(encode_value(x)) != x"
    );
    if let Ok(text) = std::str::from_utf8(input) {
        let host = wire::decode_value(text).ok();
        let guest = decoded
            .as_ref()
            .ok()
            .map(|d| String::from_utf8_lossy(d).into_owned());
        assert_eq!(host, guest, "host and guest decode {text:?} differently");
    }
    let escapes = input.iter().filter(|&&b| b == b'%').count().min(3);
    format!(
        "{} escapes={escapes}",
        if decoded.is_ok() { "ok" } else { "bad" }
    )
}

pub const PERCENT: Target = Target {
    name: "percent",
    max_len: 512,
    dictionary: SYNTAX,
    seeds: || {
        vec![
            b"a%20b%25%3D%22".to_vec(),
            b"%".to_vec(),
            b"\xc3\xa9 =\"".to_vec(),
        ]
    },
    run: percent,
    memory: small,
};

/// A parsed line written back in the canonical form: the encoder's output.
pub fn canonical(parsed: &line::Line<'_>) -> String {
    // Any verb, not only the plan's: written as the builder writes its fields.
    let mut out = parsed.verb.to_string();
    if let Some(bare) = parsed.bare {
        out.push(' ');
        out.push_str(bare);
    }
    for field in parsed.fields() {
        let text = std::str::from_utf8(field.val).expect("values are UTF-8");
        out.push_str(&format!(" {}={}", field.key, wire::encode_value(text)));
    }
    out
}

type Fields = (String, Option<String>, Vec<(String, Vec<u8>)>);

fn fields_of(parsed: &line::Line<'_>) -> Fields {
    let pairs = parsed
        .fields()
        .iter()
        .map(|f| (f.key.to_string(), f.val.to_vec()));
    (
        parsed.verb.to_string(),
        parsed.bare.map(str::to_string),
        pairs.collect(),
    )
}

/// The bytes mode (records) reads every line the text mode (plans) reads the same way,
/// and refuses no more: it differs only in letting values be other than UTF-8.
fn agree(raw: &[u8], text: &Result<Fields, String>) {
    let mut scratch = [0u8; MAX_LINE];
    let bytes = line::parse_line(raw, &mut scratch, Values::Bytes)
        .map(|l| fields_of(&l))
        .map_err(|e| e.as_str().to_string());
    match (text, &bytes) {
        (Ok(t), Ok(b)) => assert_eq!(t, b, "the two modes read {raw:?} differently"),
        (Ok(_), Err(e)) => panic!("bytes mode refuses {raw:?}, text mode does not: {e}"),
        (Err(why), Ok(_)) => assert!(why.contains("not UTF-8"), "{raw:?}: {why}"),
        (Err(_), Err(_)) => {}
    }
}

fn line_syntax(raw: &[u8]) -> String {
    let mut scratch = [0u8; MAX_LINE];
    let parsed = line::parse_line(raw, &mut scratch, Values::Text);
    let result = match &parsed {
        Ok(l) => {
            assert!(raw.len() < MAX_LINE);
            assert!(is_word(l.verb.as_bytes()) && l.fields().len() <= MAX_FIELDS);
            assert!(l.fields().iter().all(|f| is_word(f.key.as_bytes())));
            Ok(fields_of(l))
        }
        Err(e) => Err(e.as_str().to_string()),
    };
    if let Ok(fields) = &result {
        let parsed = parsed.as_ref().expect("parsed");
        let text = canonical(parsed);
        if text.len() < MAX_LINE {
            let mut again_scratch = [0u8; MAX_LINE];
            let again = line::parse_line(text.as_bytes(), &mut again_scratch, Values::Text)
                .unwrap_or_else(|e| panic!("canonical form {text:?} does not parse: {e}"));
            assert_eq!(
                &fields_of(&again),
                fields,
                "parse(encode(parse(x))) != parse(x)"
            );
        }
    }
    agree(raw, &result);
    match result {
        Ok((verb, bare, fields)) => format!(
            "ok {} bare={} fields={}",
            if Verb::parse(verb.as_bytes()).is_some() {
                verb
            } else {
                "other".into()
            },
            bare.is_some(),
            fields.len().min(4)
        ),
        Err(e) => shape(&e),
    }
}

pub const LINE_SYNTAX: Target = Target {
    name: "line_syntax",
    max_len: MAX_LINE + 16,
    dictionary: SYNTAX,
    seeds: || {
        vec![
            b"op spawn group=spin cgroup=work work=spin count=2 nice=-3".to_vec(),
            b"scheduler path=/s arg=-v arg=--x%20y".to_vec(),
            b"error where=plan msg=a%20b empty=".to_vec(),
        ]
    },
    run: line_syntax,
    memory: small,
};

fn record_kind(record: &Record) -> String {
    format!("{record:?}")
        .split(['(', ' ', '{'])
        .next()
        .unwrap_or("")
        .to_string()
}

fn record_line(raw: &[u8]) -> String {
    // The backends hand the session each line lossily decoded, without its newline.
    let text = String::from_utf8_lossy(raw);
    let line = text.split('\n').next().unwrap_or("");
    let is_record = line
        .strip_suffix('\r')
        .unwrap_or(line)
        .strip_prefix(MARKER)
        .is_some_and(|rest| rest.starts_with(' '));
    match record::decode(line) {
        Line::NotRecord => {
            assert!(
                !is_record,
                "a record line was taken for stray output: {line:?}"
            );
            "not-record".into()
        }
        Line::Malformed(why) => {
            assert!(is_record && !why.is_empty());
            format!(
                "malformed {}",
                shape(why.split(" in record").next().unwrap_or(""))
            )
        }
        Line::Record(record) => {
            assert!(is_record);
            let kind = line.split(' ').nth(1).unwrap_or("");
            assert!(
                RecordKind::parse(kind.as_bytes()).is_some(),
                "a record of unknown kind {kind:?} was read"
            );
            format!("record {}", record_kind(&record))
        }
    }
}

pub const RECORD_LINE: Target = Target {
    name: "record_line",
    max_len: MAX_LINE + 64,
    dictionary: &[
        b"SBX1 ",
        b"boot ",
        b"worker ",
        b"check ",
        b"done ",
        b"status=ok",
        b"result=pass",
        b"t_ms=1",
        b"distances=10,20",
        b"%",
        b"%zz",
        b"\r",
        b"=",
        b" ",
        b"18446744073709551616",
    ],
    seeds: || {
        let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/examples");
        let mut seeds: Vec<Vec<u8>> = Vec::new();
        if let Ok(dir) = std::fs::read_dir(examples) {
            for entry in dir.flatten() {
                let text = std::fs::read(entry.path()).unwrap_or_default();
                seeds.extend(text.split(|&b| b == b'\n').map(<[u8]>::to_vec));
            }
        }
        seeds
    },
    run: record_line,
    memory: small,
};
