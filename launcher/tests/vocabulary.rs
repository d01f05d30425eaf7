//! The protocol's vocabulary has one definition, the protocol crate's types: no source
//! file of the guest or the host spells a record kind, op, check name or scheduler
//! event as a string literal of its own. A literal used as a record or plan *key*
//! (`.str("scenario", ..)`, `get("cpu")`) is a key, not the word, and is allowed; a
//! line may say `// not vocabulary: <why>` where a word has another meaning.

use std::path::{Path, PathBuf};

use schedbox_protocol::checks::CheckKind;
use schedbox_protocol::vocab::{Op, RecordKind, SchedulerEvent, Word};

/// Functions whose first argument is a key of a line or of a scenario file, not a word
/// of the vocabulary.
const KEY_METHODS: &[&str] = &[
    "str", "num", "word", "get", "text", "int", "all", "key", "key_opt", "opt_text", "opt_num",
    "opt_word", "field", "param", "Long", "add_str", "add_num", "add_word",
];

/// Words with another meaning where they stand: (file, the line's text, why).
const OTHER_MEANINGS: &[(&str, &str, &str)] = &[
    (
        "launcher/src/cli.rs",
        "\"scheduler\" =>",
        "a subcommand or option name",
    ),
    ("launcher/src/cli.rs", "\"check\" =>", "a subcommand"),
    ("launcher/src/cli.rs", "\"payload\" =>", "an option name"),
    (
        "launcher/src/kernel/fetch.rs",
        "join(\"boot\")",
        "a directory of the package",
    ),
    (
        "launcher/src/scenario/file.rs",
        "(\"node\",",
        "a work parameter's key",
    ),
    (
        "launcher/src/scenario/shaped.rs",
        "\"node\"",
        "a work parameter's key",
    ),
    (
        "launcher/src/topology/placement.rs",
        "\"node\"",
        "a unit of a CPU set",
    ),
    (
        "launcher/src/topology/sysfs.rs",
        "strip_prefix(\"node\")",
        "a sysfs directory name (node0, node1, ...)",
    ),
    (
        "launcher/src/scenario/validate.rs",
        "(\"expect\", &check.expect)",
        "a TOML key",
    ),
    (
        "launcher/src/scenario/payloads.rs",
        "\"payload\".to_string()",
        "a default name",
    ),
    (
        "init/src/work/numa_working_set.rs",
        "\"node\"",
        "a work parameter's key",
    ),
    (
        "launcher/src/scenario/locate.rs",
        "(\"check\", \"name\")",
        "a TOML table's name",
    ),
    (
        "launcher/src/scenario/locate.rs",
        "(\"payload\", \"name\")",
        "a TOML table's name",
    ),
    (
        "launcher/src/bench/table.rs",
        "(\"latency\", VALUE)",
        "a column heading",
    ),
    ("launcher/src/cli.rs", "\"scheduler\",", "a command's name"),
    ("launcher/src/cli.rs", "\"check\",", "a command's name"),
    (
        "launcher/src/outcome/ci/junit.rs",
        "(\"scheduler\",",
        "a JUnit property's name",
    ),
];
const EXEMPT: &str = "// not vocabulary:";

fn words() -> Vec<&'static str> {
    let mut words: Vec<&str> = Vec::new();
    words.extend(RecordKind::ALL.iter().map(|w| w.word()));
    words.extend(Op::ALL.iter().map(|w| w.word()));
    words.extend(CheckKind::ALL.iter().map(|w| w.word()));
    words.extend(SchedulerEvent::ALL.iter().map(|w| w.word()));
    words
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The file's code before its unit tests (a `#[cfg(test)]` module comes last), or
/// nothing for a file of tests.
fn code(path: &Path) -> String {
    if path.file_name().is_some_and(|n| n == "tests.rs") {
        return String::new();
    }
    let text = std::fs::read_to_string(path).unwrap();
    match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// Whether the literal starting at byte `at` of `line` is the first argument of a key
/// method: `.str(` right before it.
fn is_key(line: &str, at: usize) -> bool {
    let before = line[..at].trim_end_matches('b');
    let Some(call) = before.strip_suffix('(') else {
        return false;
    };
    let name_start = call
        .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    KEY_METHODS.contains(&&call[name_start..])
}

/// Every `"word"` or `b"word"` of the vocabulary in `text`, as `line: text`.
fn literals(text: &str, words: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for (no, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        if line.trim_start().starts_with("//") || line.contains(EXEMPT) {
            continue;
        }
        for word in words {
            let quoted = format!("\"{word}\"");
            for (at, _) in code.match_indices(&quoted) {
                if !is_key(code, at) {
                    found.push(format!("{}: {}", no + 1, line.trim()));
                }
            }
        }
    }
    found
}

#[test]
fn no_source_file_spells_the_vocabulary_itself() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    rust_files(&root.join("init/src"), &mut files);
    rust_files(&root.join("launcher/src"), &mut files);
    assert!(files.len() > 50, "found only {} files", files.len());
    let words = words();
    let mut found = Vec::new();
    for path in &files {
        let name = path.strip_prefix(&root).unwrap().display().to_string();
        for hit in literals(&code(path), &words) {
            let other = OTHER_MEANINGS
                .iter()
                .any(|(file, text, _)| name == *file && hit.contains(text));
            if !other {
                found.push(format!("{name}:{hit}"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "use the protocol crate's types instead of these literals:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scan_finds_a_literal_and_lets_keys_be() {
    let words = words();
    let text = "match k { \"spawn\" => 1 }\nr.str(\"scenario\", x)\nif v == b\"ejected\" {}\n";
    assert_eq!(
        literals(text, &words).len(),
        2,
        "{:?}",
        literals(text, &words)
    );
    assert!(literals("x(\"stall\") // not vocabulary: a file name", &words).is_empty());
}
