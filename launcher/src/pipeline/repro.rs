//! The one command that reproduces a run that failed or was untestable: the kernel (by
//! path, with its SHA-256 and release in a trailing comment), the scheduler and its
//! arguments, the machine and memory, the options that change the VM, and the scenario
//! files that did not pass. The report holds it (`repro`) and the summary prints it.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::cli::RunOptions;
use crate::outcome::report::Report;
use crate::outcome::verdict::{Outcome, ScenarioOutcome};
use crate::vm::select::{AccelChoice, BackendChoice};

/// The command for `report`'s run, or None when it passed (or was interrupted: a signal
/// is not something to reproduce). `shapes` are the machines to name: the report's own
/// for one VM, those that did not pass for several.
pub fn command(options: &RunOptions, report: &Report, shapes: &[String]) -> Option<String> {
    if !matches!(report.outcome, Outcome::Fail | Outcome::Untestable) {
        return None;
    }
    let mut args: Vec<String> = vec!["schedbox".into(), "run".into()];
    if options.host {
        args.push("--host".into());
    }
    let mut push = |option: &str, value: String| {
        args.push(option.to_string());
        args.push(value);
    };
    if options.host {
        if let Some(t) = options.timeout {
            push("--timeout", format!("{}", t.as_secs_f64()));
        }
    } else {
        push("--kernel", absolute(&report.run.kernel));
        push("--topology", shapes.join(","));
        push("--memory", report.run.memory_mib.to_string());
        vm_options(options, &mut push);
    }
    if let Some(path) = &report.scheduler.path {
        push("--scheduler", absolute(path));
        for a in &report.scheduler.args {
            push("--scheduler-arg", a.clone());
        }
        if let Some(s) = &options.scheduler {
            s.name
                .iter()
                .for_each(|n| push("--scheduler-name", n.clone()));
            if let Some(ms) = s.attach_ms {
                push("--attach-timeout", format!("{}", ms as f64 / 1000.0));
            }
            // Only the labels the files it names declare: another would be refused.
            let labels = declared_labels(&files(report));
            for e in s.extra.iter().filter(|e| labels.contains(&e.label)) {
                let path = absolute(&e.path.display().to_string());
                push("--extra-scheduler", format!("{}={path}", e.label));
            }
        }
    }
    args.extend(files(report));
    if let Some(p) = &options.payload {
        args.push("--payload".into());
        args.push(absolute(&p.path.display().to_string()));
        args.push("--".into());
        args.extend(p.args.iter().cloned());
    }
    let words: Vec<String> = args.iter().map(|a| quote(a)).collect();
    let id = if options.host {
        host_kernel_id(report)
    } else {
        kernel_id(report)
    };
    Some(format!("{}  # {}", words.join(" "), id))
}

/// The options that change what the VM is or does, as given.
fn vm_options(options: &RunOptions, push: &mut impl FnMut(&str, String)) {
    match options.accel {
        AccelChoice::Auto => {}
        AccelChoice::Kvm => push("--accel", "kvm".into()),
        AccelChoice::Tcg => push("--accel", "tcg".into()),
    }
    match options.backend {
        BackendChoice::Auto => {}
        BackendChoice::Qemu => push("--backend", "qemu".into()),
        BackendChoice::Kvm => push("--backend", "kvm".into()),
    }
    if let Some(cpu) = &options.qemu_cpu {
        push("--qemu-cpu", cpu.clone());
    }
    for a in &options.append {
        push("--append", a.clone());
    }
    if let Some(t) = options.timeout {
        push("--timeout", format!("{}", t.as_secs_f64()));
    }
}

/// The scenario files that did not pass (all of them when none was judged on its own);
/// none for the built-in scenario, which a run without files gets.
fn files(report: &Report) -> Vec<String> {
    let not_passed: Vec<&str> = report
        .scenarios
        .iter()
        .filter(|s| !matches!(s.verdict, ScenarioOutcome::Pass))
        .map(|s| s.source.as_str())
        .collect();
    let chosen = if not_passed.is_empty() {
        report.scenarios.iter().map(|s| s.source.as_str()).collect()
    } else {
        not_passed
    };
    chosen
        .into_iter()
        .filter(|s| Path::new(s).is_file())
        .map(str::to_string)
        .collect()
}

/// The scheduler labels the scenario files declare (`[schedulers.LABEL]`).
fn declared_labels(files: &[String]) -> Vec<String> {
    files
        .iter()
        .filter_map(|f| crate::scenario::read(Path::new(f)).ok())
        .flat_map(|s| s.scheduler_labels())
        .collect()
}

/// A `--host` run's kernel: the release that was running (there is no image to hash).
fn host_kernel_id(report: &Report) -> String {
    let release = report
        .run
        .kernel_release
        .as_deref()
        .unwrap_or("unknown release");
    format!("on a host running kernel release {release}")
}

/// `kernel sha256:HEX, release R` (what can be read of it).
fn kernel_id(report: &Report) -> String {
    let release = report
        .release
        .as_deref()
        .or(report.run.kernel_release.as_deref())
        .unwrap_or("unknown release");
    match sha256(Path::new(&report.run.kernel)) {
        Some(hex) => format!("kernel sha256:{hex}, release {release}"),
        None => format!("kernel release {release} (its file could not be read)"),
    }
}

fn sha256(path: &Path) -> Option<String> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Some(
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

fn absolute(path: &str) -> String {
    std::fs::canonicalize(path).map_or_else(|_| path.to_string(), |p| p.display().to_string())
}

/// One shell word: as it is when plainly safe, else in single quotes.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_for_the_shell() {
        assert_eq!(
            quote("scenarios/fail/weight.toml"),
            "scenarios/fail/weight.toml"
        );
        assert_eq!(quote("loglevel=7 quiet"), "'loglevel=7 quiet'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn only_labels_the_named_files_declare_are_given_again() {
        let dir = crate::tempdir::TempDir::new("repro").unwrap();
        let file = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path.display().to_string()
        };
        let with = file(
            "with.toml",
            "name = \"a\"\nduration_ms = 1\n[schedulers.q]\n[schedulers.r]\npath = \"x\"\n",
        );
        let without = file("without.toml", "name = \"b\"\nduration_ms = 1\n");
        assert_eq!(
            declared_labels(&[with.clone(), without.clone()]),
            ["q", "r"]
        );
        assert!(declared_labels(&[without]).is_empty());
    }
}
