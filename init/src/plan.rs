//! The plan (protocol version 1): line syntax and the full validation pass that runs
//! before anything executes, so a bad line 50 never leaves scenarios half run.

use crate::buf::{parse_i64, parse_u64, Buf};
use crate::cpulist::CpuMask;
use crate::{check, work};
use core::fmt::Write;

pub const MAX_LINE: usize = 4096;
pub const MAX_FIELDS: usize = 64;
pub const VERSION: &str = "1";
/// Longest scenario, group or cgroup path accepted; they end up in fixed buffers.
pub const MAX_NAME: usize = 63;
pub const MAX_PATH: usize = 191;

pub type ErrMsg = Buf<256>;

#[derive(Clone, Copy)]
pub struct Field<'a> {
    pub key: &'a str,
    pub val: &'a [u8],
}

/// One parsed plan line: the verb, an optional bare word (the version, the op name) and
/// the decoded `key=value` fields in file order.
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

    /// A value as text; values are checked to be UTF-8 at parse time.
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

fn is_word(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"_.-".contains(&c))
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Decodes `%XX` escapes of `val` into `out`, returning the decoded length.
fn decode(val: &[u8], out: &mut [u8]) -> Result<usize, ErrMsg> {
    let (mut i, mut n) = (0, 0);
    while i < val.len() {
        let c = val[i];
        if c == b'%' {
            let hi = val.get(i + 1).copied().and_then(hex);
            let lo = val.get(i + 2).copied().and_then(hex);
            match (hi, lo) {
                (Some(h), Some(l)) => out[n] = h << 4 | l,
                _ => {
                    return Err(msg(format_args!(
                        "bad percent escape in value {:?}",
                        Lossy(val)
                    )))
                }
            }
            i += 3;
        } else {
            out[n] = c;
            i += 1;
        }
        n += 1;
    }
    Ok(n)
}

fn msg(args: core::fmt::Arguments<'_>) -> ErrMsg {
    let mut m = ErrMsg::new();
    let _ = m.write_fmt(args);
    m
}

/// Shows bytes as a quoted string in messages even if they are not UTF-8.
pub struct Lossy<'a>(pub &'a [u8]);

impl core::fmt::Debug for Lossy<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_char('"')?;
        for &b in self.0.iter().take(64) {
            if (0x20..0x7f).contains(&b) && b != b'"' {
                f.write_char(char::from(b))?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        f.write_char('"')
    }
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
) -> Result<(usize, Option<&'a [u8]>), ErrMsg> {
    let (mut count, mut used, mut bare) = (0, 0, None);
    for (pos, part) in rest.enumerate() {
        if part.is_empty() {
            return Err(msg(format_args!(
                "empty field (fields are separated by exactly one space)"
            )));
        }
        let Some(eq) = part.iter().position(|&c| c == b'=') else {
            if pos == 0 && is_word(part) {
                bare = Some(part);
                continue;
            }
            return Err(msg(format_args!(
                "field {:?} is not key=value",
                Lossy(part)
            )));
        };
        let (key, val) = (&part[..eq], &part[eq + 1..]);
        if !is_word(key) {
            return Err(msg(format_args!("bad key {:?}", Lossy(key))));
        }
        if count == MAX_FIELDS {
            return Err(msg(format_args!("more than {MAX_FIELDS} fields")));
        }
        let offset = |s: &[u8]| s.as_ptr() as usize - raw.as_ptr() as usize;
        let mut span = Span {
            key: (offset(key), key.len()),
            val: (offset(val), val.len()),
            decoded: false,
        };
        if val.contains(&b'%') {
            let n = decode(val, &mut scratch[used..])?;
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

/// Splits one line (without its `\n`) into verb, bare word and decoded fields. Decoded
/// values live in `scratch`, so the line borrows both.
pub fn parse_line<'a>(raw: &'a [u8], scratch: &'a mut [u8; MAX_LINE]) -> Result<Line<'a>, ErrMsg> {
    if raw.len() >= MAX_LINE {
        return Err(msg(format_args!("line longer than {} bytes", MAX_LINE - 1)));
    }
    let mut parts = raw.split(|&c| c == b' ');
    let verb = parts.next().unwrap_or_default();
    if !is_word(verb) {
        return Err(msg(format_args!("bad verb {:?}", Lossy(verb))));
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
        if core::str::from_utf8(val).is_err() {
            return Err(msg(format_args!("value of {key} is not UTF-8")));
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

/// What a verb or op accepts.
struct Spec {
    name: &'static str,
    required: &'static [&'static str],
    optional: &'static [&'static str],
}

const VERBS: &[Spec] = &[
    Spec {
        name: "schedbox-plan",
        required: &[],
        optional: &[],
    },
    Spec {
        name: "config",
        required: &[],
        optional: &["heartbeat_ms", "sample_ms", "kmsg"],
    },
    Spec {
        name: "scheduler",
        required: &["path"],
        optional: &["name", "attach_ms", "arg"],
    },
    Spec {
        name: "scenario",
        required: &["name"],
        optional: &[],
    },
    Spec {
        name: "step",
        required: &["hold_ms"],
        optional: &[],
    },
    Spec {
        name: "op",
        required: &[],
        optional: &[],
    },
    Spec {
        name: "check",
        required: &["name", "limit"],
        optional: &["group", "cgroup"],
    },
    Spec {
        name: "end",
        required: &[],
        optional: &[],
    },
];

const OPS: &[Spec] = &[
    Spec {
        name: "cgroup-add",
        required: &["path"],
        optional: &[],
    },
    Spec {
        name: "cgroup-remove",
        required: &["path"],
        optional: &[],
    },
    Spec {
        name: "cgroup-set",
        required: &["path", "file", "value"],
        optional: &[],
    },
    Spec {
        name: "spawn",
        required: &["group", "cgroup", "work"],
        optional: &["count", "nice", "policy", "prio", "affinity", "expect"],
    },
    Spec {
        name: "stop",
        required: &["group"],
        optional: &[],
    },
    Spec {
        name: "move",
        required: &["from", "to"],
        optional: &[],
    },
    Spec {
        name: "affinity",
        required: &["group", "cpus"],
        optional: &[],
    },
    Spec {
        name: "write",
        required: &["path", "value"],
        optional: &[],
    },
    Spec {
        name: "payload",
        required: &["name", "path"],
        optional: &["cgroup", "arg", "timeout_ms"],
    },
];

const REPEATABLE: &[&str] = &["arg"];
pub const POLICIES: &[&str] = &["other", "batch", "idle", "fifo", "rr"];

fn find(specs: &'static [Spec], name: &str) -> Option<&'static Spec> {
    specs.iter().find(|s| s.name == name)
}

/// Checks keys against a spec (plus `extra` keys, the work keys of a spawn).
fn check_keys(line: &Line<'_>, spec: &Spec, what: &str, extra: &[&str]) -> Result<(), ErrMsg> {
    for (i, f) in line.fields().iter().enumerate() {
        let known = spec.required.contains(&f.key)
            || spec.optional.contains(&f.key)
            || extra.contains(&f.key);
        if !known {
            return Err(msg(format_args!("unknown key \"{}\" for {}", f.key, what)));
        }
        if !REPEATABLE.contains(&f.key) && line.fields()[..i].iter().any(|g| g.key == f.key) {
            return Err(msg(format_args!("key \"{}\" given twice", f.key)));
        }
    }
    for key in spec.required {
        if line.get(key).is_none() {
            return Err(msg(format_args!("{} needs {}=", what, key)));
        }
    }
    Ok(())
}

fn is_name(v: &[u8]) -> bool {
    !v.is_empty()
        && v.len() <= MAX_NAME
        && v != b"."
        && v != b".."
        && !v.contains(&b'/')
        && !v.contains(&0)
}

/// A cgroup path relative to the scenario root: `a/b`; empty means the root itself.
fn is_rel_path(v: &[u8]) -> bool {
    v.len() <= MAX_PATH && (v.is_empty() || v.split(|&c| c == b'/').all(is_name))
}

/// Checks the value of one key by what the key means (`path` is a file for the
/// scheduler, payloads and the `write` op, a cgroup for the other ops). `what` is the
/// verb, or the op.
fn check_value(what: &str, key: &str, val: &[u8]) -> Result<(), ErrMsg> {
    let ok = match key {
        "path" if what == "write" => {
            val.first() == Some(&b'/') && !val.contains(&0) && val.len() <= MAX_PATH
        }
        "path" if matches!(what, "scheduler" | "payload") => {
            val.first() == Some(&b'/') && !val.contains(&0)
        }
        "arg" => !val.contains(&0),
        "nice" => parse_i64(val).is_some_and(|n| (-20..=19).contains(&n)),
        "policy" => POLICIES.iter().any(|p| p.as_bytes() == val),
        "affinity" | "cpus" => CpuMask::parse(val).is_some(),
        "kmsg" => val == b"0" || val == b"1",
        "work" => work::spec(val).is_some(),
        "expect" => crate::worker::Expect::parse(val).is_some(),
        "group" | "file" | "name" => is_name(val),
        "cgroup" | "path" | "from" | "to" => is_rel_path(val),
        "count" | "limit" | "prio" | "stride" => parse_u64(val).is_some(),
        "heartbeat_ms" | "sample_ms" => parse_u64(val).is_some_and(|n| n > 0),
        k if k.ends_with("_ms") || k.ends_with("_us") || k.ends_with("_kb") => {
            parse_u64(val).is_some()
        }
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(msg(format_args!("bad value {:?} for {}", Lossy(val), key)))
    }
}

/// Where the validator is in the plan's structure.
#[derive(Default)]
pub struct Validator {
    seen_version: bool,
    seen_config: bool,
    seen_scheduler: bool,
    seen_scenario: bool,
    in_scenario: bool,
    in_step: bool,
    pub scenarios: usize,
}

impl Validator {
    /// Validates one parsed line in context.
    pub fn line(&mut self, line: &Line<'_>) -> Result<(), ErrMsg> {
        let Some(spec) = find(VERBS, line.verb) else {
            return Err(msg(format_args!("unknown verb \"{}\"", line.verb)));
        };
        if !self.seen_version {
            if line.verb != "schedbox-plan" {
                return Err(msg(format_args!(
                    "plan must start with \"schedbox-plan {VERSION}\""
                )));
            }
        } else if line.verb == "schedbox-plan" {
            return Err(msg(format_args!("schedbox-plan given twice")));
        }
        match line.verb {
            "schedbox-plan" => self.version(line)?,
            "op" => self.op(line)?,
            "check" => {
                check_keys(line, spec, "check", &[])?;
                self.need_scenario("check")?;
                if !check::NAMES.contains(&line.text("name").unwrap_or("")) {
                    return Err(msg(format_args!(
                        "unknown check {:?}",
                        Lossy(line.get("name").unwrap_or(b""))
                    )));
                }
            }
            verb => {
                check_keys(line, spec, verb, &[])?;
                self.structure(line)?;
            }
        }
        if line.bare.is_some() && !matches!(line.verb, "schedbox-plan" | "op") {
            return Err(msg(format_args!(
                "{} takes only key=value fields",
                line.verb
            )));
        }
        let what = match (line.verb, line.bare) {
            ("op", Some(op)) => op,
            (verb, _) => verb,
        };
        for f in line.fields() {
            check_value(what, f.key, f.val)?;
        }
        Ok(())
    }

    fn version(&mut self, line: &Line<'_>) -> Result<(), ErrMsg> {
        if line.bare != Some(VERSION) || line.count != 0 {
            return Err(msg(format_args!(
                "unsupported plan version (this init reads \"schedbox-plan {VERSION}\")"
            )));
        }
        self.seen_version = true;
        Ok(())
    }

    fn need_scenario(&self, what: &str) -> Result<(), ErrMsg> {
        if self.in_scenario {
            Ok(())
        } else {
            Err(msg(format_args!("{what} outside a scenario")))
        }
    }

    /// The ordering rules of the verbs other than op and check.
    fn structure(&mut self, line: &Line<'_>) -> Result<(), ErrMsg> {
        let verb = line.verb;
        match verb {
            "config" | "scheduler" => {
                let seen = if verb == "config" {
                    &mut self.seen_config
                } else {
                    &mut self.seen_scheduler
                };
                if core::mem::replace(seen, true) {
                    return Err(msg(format_args!("{verb} given twice")));
                }
                if self.seen_scenario {
                    return Err(msg(format_args!(
                        "{verb} must come before the first scenario"
                    )));
                }
            }
            "scenario" => {
                if self.in_scenario {
                    return Err(msg(format_args!(
                        "scenario inside a scenario (missing end)"
                    )));
                }
                self.in_scenario = true;
                self.seen_scenario = true;
                self.in_step = false;
                self.scenarios += 1;
            }
            "step" => {
                self.need_scenario(verb)?;
                self.in_step = true;
            }
            "end" => {
                self.need_scenario(verb)?;
                self.in_scenario = false;
                self.in_step = false;
            }
            _ => {}
        }
        Ok(())
    }

    fn op(&mut self, line: &Line<'_>) -> Result<(), ErrMsg> {
        let Some(name) = line.bare else {
            return Err(msg(format_args!(
                "op needs an op name: op <name> key=value ..."
            )));
        };
        let Some(spec) = find(OPS, name) else {
            return Err(msg(format_args!("unknown op \"{name}\"")));
        };
        let work_keys = match line.get("work").and_then(work::spec) {
            Some(w) if name == "spawn" => w.keys,
            _ => &[],
        };
        check_keys(line, spec, name, work_keys)?;
        if !self.in_step {
            return Err(msg(format_args!("op outside a step")));
        }
        Ok(())
    }

    /// Checks what can only be known at the end of the plan.
    pub fn finish(&self) -> Result<(), ErrMsg> {
        if !self.seen_version {
            return Err(msg(format_args!(
                "empty plan (expected \"schedbox-plan {VERSION}\")"
            )));
        }
        if self.in_scenario {
            return Err(msg(format_args!("last scenario has no end")));
        }
        Ok(())
    }
}

/// A plan error: the line number (0 for end of plan) and the message.
pub struct PlanError {
    pub line: usize,
    pub msg: ErrMsg,
}

/// Validates a whole plan, returning the number of scenarios.
pub fn validate(plan: &[u8]) -> Result<usize, PlanError> {
    let mut v = Validator::default();
    let mut scratch = [0u8; MAX_LINE];
    for (no, raw) in lines(plan) {
        let line = parse_line(raw, &mut scratch).map_err(|msg| PlanError { line: no, msg })?;
        v.line(&line).map_err(|msg| PlanError { line: no, msg })?;
    }
    v.finish().map_err(|msg| PlanError { line: 0, msg })?;
    Ok(v.scenarios)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPIN: &str = include_str!("../../docs/examples/spin.plan");

    fn err(plan: &str) -> (usize, String) {
        let e = validate(plan.as_bytes()).expect_err("plan should be rejected");
        (e.line, e.msg.to_string())
    }

    /// Each plan is rejected at its line with a message containing its text.
    fn assert_rejected(cases: &[(&str, usize, &str)]) {
        for &(plan, line, want) in cases {
            let (got_line, got) = err(plan);
            assert_eq!(got_line, line, "{plan:?}: {got}");
            assert!(got.contains(want), "{plan:?}: {got}");
        }
    }

    #[test]
    fn accepts_the_spin_example() {
        assert_eq!(validate(SPIN.as_bytes()).ok(), Some(1));
    }

    #[test]
    fn parses_the_spin_example_fields() {
        let mut scratch = [0; MAX_LINE];
        let (no, raw) = lines(SPIN.as_bytes())
            .find(|(_, l)| l.starts_with(b"op spawn"))
            .unwrap();
        assert_eq!(no, 7);
        let line = parse_line(raw, &mut scratch).unwrap();
        assert_eq!(line.verb, "op");
        assert_eq!(line.bare, Some("spawn"));
        assert_eq!(line.text("group"), Some("spin"));
        assert_eq!(line.num("count"), Some(2));
        assert_eq!(line.int("nice"), Some(0));
        assert_eq!(line.text("policy"), Some("other"));
        assert_eq!(line.get("missing"), None);
    }

    #[test]
    fn decodes_percent_escapes() {
        let mut scratch = [0; MAX_LINE];
        let line = parse_line(
            b"op cgroup-set path=a file=cpu.max value=50000%20100000 x=%25%3D",
            &mut scratch,
        )
        .unwrap();
        assert_eq!(line.get("value"), Some(&b"50000 100000"[..]));
        assert_eq!(line.get("x"), Some(&b"%="[..]));
        assert!(parse_line(b"op x v=%2", &mut scratch).is_err());
        assert!(parse_line(b"op x v=%zz", &mut scratch).is_err());
    }

    #[test]
    fn repeatable_args_keep_order() {
        let mut scratch = [0; MAX_LINE];
        let line = parse_line(b"scheduler path=/s arg=-v arg=--x%20y", &mut scratch).unwrap();
        let args: Vec<&[u8]> = line.all("arg").collect();
        assert_eq!(args, vec![&b"-v"[..], &b"--x y"[..]]);
        let mut v = Validator::default();
        v.line(&parse_line(b"schedbox-plan 1", &mut [0; MAX_LINE]).unwrap())
            .unwrap();
        v.line(&line).unwrap();
    }

    #[test]
    fn rejects_unknown_verb_with_its_line() {
        let plan = "schedbox-plan 1\nscenario name=a\nfrobnicate x=1\nend\n";
        assert_eq!(err(plan), (3, "unknown verb \"frobnicate\"".into()));
    }

    #[test]
    fn rejects_bad_structure_and_values() {
        let cases = [
            ("scenario name=a\nend\n", 1, "plan must start"),
            ("schedbox-plan 2\n", 1, "unsupported plan version"),
            ("schedbox-plan 1\nscenario name=a\nstep hold_ms=1\nop frob\nend\n", 4, "unknown op"),
            ("schedbox-plan 1\nscenario name=a\nstep hold_ms=1\nop spawn group=g cgroup=c work=spin bogus=1\nend\n", 4, "unknown key \"bogus\""),
            ("schedbox-plan 1\nscenario name=a\nstep hold_ms=1\nop spawn group=g cgroup=c work=warp\nend\n", 4, "bad value"),
            ("schedbox-plan 1\nscenario name=a\nstep hold_ms=1\nop spawn group=g cgroup=c work=spin nice=-21\nend\n", 4, "bad value"),
            ("schedbox-plan 1\nscenario name=a\nop stop group=g\nend\n", 3, "op outside a step"),
            ("schedbox-plan 1\nscenario name=a\nstep hold_ms=x\nend\n", 3, "bad value"),
            ("schedbox-plan 1\nscenario name=a\nstep\nend\n", 3, "step needs hold_ms="),
            ("schedbox-plan 1\nscenario name=a\n", 0, "no end"),
            ("schedbox-plan 1\nscenario name=a\nend\nconfig sample_ms=5\n", 4, "before the first scenario"),
            ("schedbox-plan 1\nscenario name=a/b\nend\n", 2, "bad value"),
            ("schedbox-plan 1\nscenario name=a\ncheck name=speed limit=1\nend\n", 3, "unknown check"),
            ("schedbox-plan 1\nscenario name=a  x=1\nend\n", 2, "empty field"),
            ("schedbox-plan 1\nscenario name=a name=b\nend\n", 2, "given twice"),
            ("schedbox-plan 1\nscenario name=a\nstep hold_ms=1\nop cgroup-add path=../x\nend\n", 4, "bad value"),
            ("schedbox-plan 1\nscenario name=a\nstep hold_ms=1\nop write path=rel value=1\nend\n", 4, "bad value"),
            ("schedbox-plan 1\nscenario name=a\nstep hold_ms=1\nop write path=/x\nend\n", 4, "write needs value="),
            ("", 0, "empty plan"),
        ];
        assert_rejected(&cases);
    }

    #[test]
    fn accepts_work_keys_only_for_their_work() {
        let ok = "schedbox-plan 1\nscenario name=a\nstep hold_ms=1\nop spawn group=g cgroup=c work=bursty burst_ms=5 sleep_ms=5\nend\n";
        assert!(validate(ok.as_bytes()).is_ok());
        let bad = "schedbox-plan 1\nscenario name=a\nstep hold_ms=1\nop spawn group=g cgroup=c work=spin burst_ms=5\nend\n";
        assert_eq!(err(bad).0, 4);
    }

    #[test]
    fn a_spawn_may_expect_a_limit_and_the_expect_check_counts_it() {
        let ok = "schedbox-plan 1\nscenario name=a\nstep hold_ms=1\nop spawn group=g cgroup=c work=fork-churn expect=fork-refused\nop spawn group=h cgroup=c work=page-fault expect=oom-killed\ncheck name=expect limit=0\nend\n";
        assert!(validate(ok.as_bytes()).is_ok());
        let bad = "schedbox-plan 1\nscenario name=a\nstep hold_ms=1\nop spawn group=g cgroup=c work=spin expect=never\nend\n";
        assert_eq!(err(bad), (4, "bad value \"never\" for expect".into()));
    }

    #[test]
    fn write_takes_an_absolute_path() {
        let ok = "schedbox-plan 1\nscenario name=a\nstep hold_ms=1\nop write path=/sys/kernel/debug/provoke-crash/DIRECT value=WARNING\nop cgroup-add path=g\nend\n";
        assert!(validate(ok.as_bytes()).is_ok());
    }

    #[test]
    fn accepts_the_scheduler_example() {
        let plan = include_str!("../../docs/examples/scheduler.plan");
        assert_eq!(validate(plan.as_bytes()).ok(), Some(1));
    }

    #[test]
    fn scheduler_and_payload_lines() {
        let ok = "schedbox-plan 1\nscheduler path=/payload/scx_qmap name=qmap attach_ms=5000 arg=-t arg=10\nscenario name=a\nstep hold_ms=1\nop payload name=help path=/payload/scx_simple arg=-h cgroup=w timeout_ms=100\nend\n";
        assert_eq!(validate(ok.as_bytes()).ok(), Some(1));
        let cases = [
            ("schedbox-plan 1\nscheduler path=/s log=x\n", 2, "unknown key \"log\""),
            ("schedbox-plan 1\nscheduler path=s\n", 2, "bad value"),
            ("schedbox-plan 1\nscenario name=a\nstep hold_ms=1\npayload name=p path=/x\nend\n", 4, "unknown verb"),
            ("schedbox-plan 1\nscenario name=a\nstep hold_ms=1\nop payload name=p path=rel\nend\n", 4, "bad value"),
            ("schedbox-plan 1\nscenario name=a\nstep hold_ms=1\nop payload path=/x\nend\n", 4, "payload needs name="),
            ("schedbox-plan 1\nscenario name=a\nstep hold_ms=1\nop payload name=p path=/x cgroup=/abs\nend\n", 4, "bad value"),
            ("schedbox-plan 1\nscenario name=a\nstep hold_ms=1\nop cgroup-add path=/abs\nend\n", 4, "bad value"),
            ("schedbox-plan 1\nscenario name=a\nop payload name=p path=/x\nend\n", 3, "op outside a step"),
        ];
        assert_rejected(&cases);
    }

    #[test]
    fn comments_and_blank_lines_keep_numbering() {
        let plan = "# c\nschedbox-plan 1\n\nscenario name=a\nbad\nend\n";
        assert_eq!(err(plan).0, 5);
    }
}
