//! The plan: the guest's validator on any bytes, and scenario TOML through the host's
//! loader and plan compiler, whose lines must parse back to what it encoded.

use std::path::Path;

use schedbox::protocol::plan::{compile_checked, PlanConfig, PlanScheduler, DEFAULT_CONFIG};
use schedbox::scenario::{self, VmShape};
use schedbox_protocol::limits::MAX_LINE;
use schedbox_protocol::line::{self, Values};
use schedbox_protocol::plan;

use crate::driver::{shape, Target};
use crate::text::canonical;

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");

/// Files under `dir` (recursively) whose names end in `suffix`.
pub fn files_ending(dir: &Path, suffix: &str) -> Vec<Vec<u8>> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            found.extend(files_ending(&path, suffix));
        } else if path.to_string_lossy().ends_with(suffix) {
            found.extend(std::fs::read(&path).ok());
        }
    }
    found
}

fn plan_lines(text: &[u8]) -> usize {
    text.split(|&b| b == b'\n').count()
}

fn plan_validator(input: &[u8]) -> String {
    match plan::validate(input) {
        Ok(summary) => {
            // The canonical form of every line is the same plan to the guest.
            let mut again = Vec::new();
            for (_, raw) in line::lines(input) {
                let mut scratch = [0u8; MAX_LINE];
                let parsed = line::parse_line(raw, &mut scratch, Values::Text)
                    .expect("a valid plan's lines parse");
                again.extend_from_slice(canonical(&parsed).as_bytes());
                again.push(b'\n');
            }
            let summary_again = plan::validate(&again)
                .unwrap_or_else(|e| panic!("the canonical form of a valid plan is refused: {e}"));
            assert_eq!(summary_again, summary);
            format!(
                "ok scenarios={} workers={}",
                summary.scenarios.min(3),
                summary.max_workers.min(3)
            )
        }
        Err(e) => {
            assert!(
                e.line <= plan_lines(input),
                "error on line {} of {}",
                e.line,
                plan_lines(input)
            );
            shape(e.msg.as_str())
        }
    }
}

pub const PLAN: Target = Target {
    name: "plan",
    max_len: 16 * 1024,
    dictionary: &[
        b"schedbox-plan 1\n",
        b"config ",
        b"scenario name=s\n",
        b"step ",
        b"op ",
        b"spawn ",
        b"check ",
        b"end\n",
        b"\n",
        b"=",
        b" ",
        b"%",
        b"count=",
        b"group=",
        b"cgroup=",
        b"work=spin",
        b"ms=",
        b"4294967296",
        b"18446744073709551615",
        b"-1",
        b"#",
    ],
    seeds: || {
        let mut seeds = files_ending(&Path::new(MANIFEST).join("../docs/examples"), ".plan");
        seeds.extend(compiled_plans());
        seeds
    },
    run: plan_validator,
    memory: |len| 256 * 1024 + 16 * len,
};

/// The machine scenarios are validated for.
const VM: VmShape = VmShape::flat(4, 1024);

fn source() -> String {
    format!("{MANIFEST}/../scenarios/fuzz.toml")
}

/// The plans of the tree's scenarios.
fn compiled_plans() -> Vec<Vec<u8>> {
    files_ending(&Path::new(MANIFEST).join("../scenarios"), ".toml")
        .iter()
        .filter_map(|text| {
            let s = scenario::parse(&String::from_utf8_lossy(text), &source(), &VM).ok()?;
            Some(compile_checked(&[s], &DEFAULT_CONFIG).ok()?.0.into_bytes())
        })
        .collect()
}

fn scenario_toml(input: &[u8]) -> String {
    let text = String::from_utf8_lossy(input);
    let parsed = match scenario::parse(&text, &source(), &VM) {
        Ok(parsed) => parsed,
        Err(e) => {
            let message = e.to_string();
            assert!(!message.trim().is_empty(), "an empty scenario error");
            let first = message
                .lines()
                .nth(1)
                .or(message.lines().next())
                .unwrap_or("");
            return format!("refused {}", shape(first.split(':').next().unwrap_or("")));
        }
    };
    let (plan, _) = match compile_checked(&[parsed], &DEFAULT_CONFIG) {
        Ok(compiled) => compiled,
        Err(refused) => return format!("plan refused {}", shape(&refused.0)),
    };
    for raw in plan.lines() {
        let mut scratch = [0u8; MAX_LINE];
        let parsed = line::parse_line(raw.as_bytes(), &mut scratch, Values::Text)
            .unwrap_or_else(|e| panic!("compiled line {raw:?} does not parse: {e}"));
        assert_eq!(
            canonical(&parsed),
            raw,
            "a compiled line does not read back to its fields"
        );
    }
    let verbs: std::collections::BTreeSet<&str> = plan
        .lines()
        .filter_map(|l| l.split(' ').nth(1))
        .filter(|w| !w.contains('='))
        .collect();
    format!(
        "compiled {}",
        verbs.into_iter().collect::<Vec<_>>().join(",")
    )
}

pub const SCENARIO: Target = Target {
    name: "scenario",
    max_len: 8 * 1024,
    dictionary: &[
        b"name = \"s\"\n",
        b"duration_ms = ",
        b"[[workers]]\n",
        b"[[cgroup]]\n",
        b"[[check]]\n",
        b"[[step]]\n",
        b"[[payload]]\n",
        b"count = ",
        b"work = \"spin\"\n",
        b"cpus = \"0-1\"\n",
        b"topology = \"1n1l2c1t\"\n",
        b"kind = \"",
        b"\"",
        b"=",
        b"\n",
        b"[",
        b"]",
        b"{",
        b"}",
        b"4294967296",
        b"18446744073709551615",
        b"-1",
        b"1e9",
        b"llc:1",
        b"node:0",
    ],
    seeds: || files_ending(&Path::new(MANIFEST).join("../scenarios"), ".toml"),
    run: scenario_toml,
    memory: |len| 16 * 1024 * 1024 + 1024 * len,
};

/// Splits an input into the scheduler line's values: path, name, then arguments.
fn scheduler_of(input: &[u8]) -> PlanScheduler {
    let mut parts = input
        .split(|&b| b == PART)
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let path = format!("/{}", parts.next().unwrap_or_default());
    let name = parts.next().filter(|n| !n.is_empty());
    PlanScheduler {
        path,
        name,
        attach_ms: 1000,
        args: parts.collect(),
    }
}

/// Separates the values in a `plan_args` input.
const PART: u8 = 0xff;

fn plan_args(input: &[u8]) -> String {
    let scheduler = scheduler_of(input);
    let scenario =
        scenario::parse(scenario::BUILT_IN, &source(), &VM).expect("the built-in scenario");
    let config = PlanConfig {
        scheduler: Some(scheduler.clone()),
        ..DEFAULT_CONFIG
    };
    let (plan, _) = match compile_checked(&[scenario], &config) {
        Ok(compiled) => compiled,
        Err(refused) => return format!("refused {}", shape(&refused.0)),
    };
    let raw = plan
        .lines()
        .find(|l| l.starts_with("scheduler "))
        .expect("a scheduler line");
    let mut scratch = [0u8; MAX_LINE];
    let parsed = line::parse_line(raw.as_bytes(), &mut scratch, Values::Text)
        .expect("an accepted line parses");
    let text = |key: &str| parsed.text(key).map(str::to_string);
    assert_eq!(
        text("path"),
        Some(scheduler.path.clone()),
        "path changed on the way"
    );
    assert_eq!(text("name"), scheduler.name, "name changed on the way");
    let args: Vec<&[u8]> = parsed.all("arg").collect();
    let sent: Vec<&[u8]> = scheduler.args.iter().map(|a| a.as_bytes()).collect();
    assert_eq!(args, sent, "arguments changed on the way");
    format!("compiled args={}", scheduler.args.len().min(4))
}

pub const PLAN_ARGS: Target = Target {
    name: "plan_args",
    max_len: 6 * 1024,
    dictionary: &[
        b"\xff",
        b" ",
        b"%",
        b"=",
        b"\"",
        b"\0",
        b"\n",
        b"\xc3\xa9",
        b"-v",
        b"--x=1",
    ],
    seeds: || {
        vec![
            b"s/scx_simple\xffsimple\xff-v\xff--slice 5ms".to_vec(),
            b"s\xff\xff%41".to_vec(),
        ]
    },
    run: plan_args,
    memory: |len| 4 * 1024 * 1024 + 256 * len,
};
