//! Payloads: host programs a step runs in the guest beside the workers (`[[payload]]` in
//! a scenario, `--payload` on the command line), lowered to `op payload` lines.

use std::path::{Path, PathBuf};

use super::context::{check_hold, check_name, Ctx, MAX_NAME};
use super::file::{FileSpec, PayloadFile, StatusValue};
use super::{Op, OutputRules, Payload, PayloadData, Scenario, ScenarioError, Step};
use crate::guest::pack;

/// Payloads the guest runs at once; a scenario may start no more.
pub use schedbox_protocol::limits::MAX_PAYLOADS;
/// What a payload must end with unless the scenario says otherwise.
pub const DEFAULT_EXPECT: &str = "0";
/// `expect_status` that accepts any end.
pub const EXPECT_ANY: &str = "any";
/// The status the guest reports for a payload it killed (timeout or scenario end).
pub const KILLED: &str = "killed";
/// Data files a payload may carry.
pub const MAX_PAYLOAD_FILES: usize = 16;
/// Largest signal number a `signal:N` status can carry.
const MAX_SIGNAL: u64 = 64;
const MAX_EXIT_STATUS: u64 = 255;

/// Adds each `[[payload]]` to the end of its step's ops; one that is wrong is recorded
/// in `ctx` and left out.
pub fn lower(ctx: &Ctx, files: &[PayloadFile], steps: &mut [Step]) {
    if files.len() > MAX_PAYLOADS {
        ctx.report(ctx.err(
            "[[payload]]",
            format!(
                "{} payloads, more than the {MAX_PAYLOADS} the guest runs at once: split the scenario",
                files.len()
            ),
        ));
        return;
    }
    let base = Path::new(ctx.source).parent().unwrap_or(Path::new(""));
    let mut names: Vec<String> = Vec::new();
    for (index, file) in files.iter().enumerate() {
        let Some(payload) = ctx.keep(lower_one(ctx, index, file, base, steps)) else {
            continue;
        };
        if names.contains(&payload.name) {
            ctx.report(ctx.err(
                format!("[[payload]] \"{}\"", payload.name),
                "two payloads share this name: give each its own `name`",
            ));
            continue;
        }
        names.push(payload.name.clone());
        let step = file.step.unwrap_or(0) as usize;
        steps[step].ops.push(Op::Payload(payload));
    }
}

fn lower_one(
    ctx: &Ctx,
    index: usize,
    file: &PayloadFile,
    base: &Path,
    steps: &[Step],
) -> Result<Payload, ScenarioError> {
    let label = file.name.clone().unwrap_or_else(|| index.to_string());
    let field = |key: &str| format!("[[payload]] \"{label}\".{key}");
    let host_path = find_program(&file.path, base).map_err(|e| ctx.err(field("path"), e))?;
    let name = match &file.name {
        Some(name) => {
            check_name(ctx, &field("name"), name)?;
            name.clone()
        }
        None => default_name(&host_path),
    };
    let step = file.step.unwrap_or(0);
    if step >= steps.len() as u64 {
        return Err(ctx.err(
            field("step"),
            format!(
                "step {step} does not exist: the scenario has {} step(s), numbered from 0",
                steps.len()
            ),
        ));
    }
    if let Some(cgroup) = &file.cgroup {
        if !cgroups_after(&steps[..=step as usize]).contains(cgroup) {
            return Err(ctx.err(
                field("cgroup"),
                format!("no cgroup {cgroup:?} exists after step {step}'s ops: declare it in [[cgroup]] or add it in an earlier op"),
            ));
        }
    }
    let timeout_ms = match file.timeout_ms {
        Some(ms) => Some(check_hold(ctx, &field("timeout_ms"), ms)?),
        None => None,
    };
    let expect_status = match &file.expect_status {
        Some(value) => expect_status(value).map_err(|e| ctx.err(field("expect_status"), e))?,
        None => DEFAULT_EXPECT.to_string(),
    };
    let args = file.args.clone();
    if let Some(bad) = args.iter().find(|a| a.contains('\0')) {
        return Err(ctx.err(field("args"), format!("{bad:?} contains a NUL byte")));
    }
    let output = output_rules(file).map_err(|(key, e)| ctx.err(field(&key), e))?;
    let guest_path = guest_path(&name, &host_path).map_err(|e| ctx.err(field("name"), e))?;
    let files =
        data_files(&file.files, base, &guest_path).map_err(|e| ctx.err(field("files"), e))?;
    Ok(Payload {
        guest_path,
        name,
        host_path,
        args,
        files,
        cgroup: file.cgroup.clone(),
        timeout_ms,
        expect_status,
        output,
    })
}

/// Guest paths a payload's file may not take: the initramfs's own files and what PID 1
/// mounts over.
const RESERVED_GUEST_PATHS: &[&str] = &["/init", "/plan", "/dev", "/proc", "/sys", "/tmp", "/run"];

/// `files`: regular files (relative to the scenario's directory), each beside the program
/// under its own file name, or at its `to` path.
fn data_files(specs: &[FileSpec], base: &Path, program: &str) -> Result<Vec<PayloadData>, String> {
    if specs.len() > MAX_PAYLOAD_FILES {
        return Err(format!(
            "{} files, more than the {MAX_PAYLOAD_FILES} a payload carries: put them in fewer files",
            specs.len()
        ));
    }
    let mut files: Vec<PayloadData> = Vec::new();
    for spec in specs {
        let (path, to) = match spec {
            FileSpec::Beside(path) => (path, None),
            FileSpec::Placed { path, to } => (path, Some(to.as_str())),
        };
        let host_path = base.join(path);
        if !host_path.is_file() {
            return Err(format!("{}: no such file", host_path.display()));
        }
        let guest_path = match to {
            None => beside(path, &host_path, program)?,
            Some(to) => placed(path, to)?,
        };
        if guest_path == program || files.iter().any(|f| f.guest_path == guest_path) {
            return Err(format!(
                "{path:?}: another file of this payload (or its program) is also {guest_path}: give each a path of its own"
            ));
        }
        files.push(PayloadData {
            host_path,
            guest_path,
        });
    }
    Ok(files)
}

/// The guest path beside the program, under the file's own name.
fn beside(path: &str, host_path: &Path, program: &str) -> Result<String, String> {
    let dir = program.rsplit_once('/').map_or("", |(dir, _)| dir);
    let name = host_path
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| pack::is_plain_name(n))
        .ok_or_else(|| {
            format!("{path:?}: the file name must be letters, digits, '.', '_' or '-': copy or link it under such a name, or give it a `to` path")
        })?;
    Ok(format!("{dir}/{name}"))
}

/// A `to` path: absolute, plain, and not one the guest's own files or mounts take.
fn placed(path: &str, to: &str) -> Result<String, String> {
    if !pack::is_guest_path(to) {
        return Err(format!(
            "{path:?}: `to` {to:?} must be an absolute path without empty, `.` or `..` parts"
        ));
    }
    let taken = RESERVED_GUEST_PATHS
        .iter()
        .find(|r| to == **r || to.starts_with(&format!("{r}/")));
    if let Some(taken) = taken {
        return Err(format!(
            "{path:?}: `to` {to:?} is under {taken}, which the guest's init owns: choose another path"
        ));
    }
    Ok(to.to_string())
}

/// A step that holds until the payloads end needs one started by then.
pub fn check_until(ctx: &Ctx, steps: &[Step]) -> Result<(), ScenarioError> {
    let mut started = false;
    for (index, step) in steps.iter().enumerate() {
        started |= step.ops.iter().any(|op| matches!(op, Op::Payload(_)));
        if step.until_payloads && !started {
            return Err(ctx.err(
                format!("[[step]] {index}.until"),
                format!(
                    "no payload has started by step {index}: add a [[payload]] with `step` \
                     {index} or earlier, or drop `until`"
                ),
            ));
        }
    }
    Ok(())
}

/// `format = "tap"`: its output is read as TAP.
pub const FORMAT_TAP: &str = "tap";

/// `fail_on`, `pass_on` (regular expressions that compile) and `format`; an error
/// names the key at fault.
fn output_rules(file: &PayloadFile) -> Result<OutputRules, (String, String)> {
    for (key, patterns) in [("fail_on", &file.fail_on), ("pass_on", &file.pass_on)] {
        for (i, pattern) in patterns.iter().enumerate() {
            regex::Regex::new(pattern).map_err(|e| {
                (
                    format!("{key}[{i}]"),
                    format!("{pattern:?} is not a regular expression (Rust regex syntax): {e}"),
                )
            })?;
        }
    }
    let tap = match file.format.as_deref() {
        None => false,
        Some(FORMAT_TAP) => true,
        Some(other) => {
            return Err((
                "format".to_string(),
                format!("unknown format {other:?}: the one format is \"{FORMAT_TAP}\" (TAP / kselftest output); leave it out for plain output"),
            ))
        }
    };
    Ok(OutputRules {
        fail_on: file.fail_on.clone(),
        pass_on: file.pass_on.clone(),
        tap,
    })
}

/// The cgroups that exist once these steps' ops have run.
fn cgroups_after(steps: &[Step]) -> Vec<String> {
    let mut cgroups: Vec<String> = Vec::new();
    for op in steps.iter().flat_map(|s| &s.ops) {
        match op {
            Op::CgroupAdd { path } => cgroups.push(path.clone()),
            Op::CgroupRemove { path } => cgroups.retain(|c| c != path),
            _ => {}
        }
    }
    cgroups
}

/// `expect_status`: an exit status, `"killed"`, `"signal:N"` or `"any"`.
fn expect_status(value: &StatusValue) -> Result<String, String> {
    let text = match value {
        StatusValue::Code(n) => n.to_string(),
        StatusValue::Word(t) => t.clone(),
    };
    let status_ok = text.parse::<u64>().is_ok_and(|n| n <= MAX_EXIT_STATUS);
    let signal_ok = text
        .strip_prefix("signal:")
        .and_then(|n| n.parse::<u64>().ok())
        .is_some_and(|n| (1..=MAX_SIGNAL).contains(&n));
    if text == EXPECT_ANY || text == KILLED || signal_ok || status_ok {
        Ok(text)
    } else {
        Err(format!(
            "{text:?} is not a status: give an exit status 0-{MAX_EXIT_STATUS}, \"killed\", \
             \"signal:N\" or \"any\""
        ))
    }
}

/// Finds a program as a shell would: a path with a `/` is taken as it is (relative to
/// `base`, the scenario's directory), a bare name is looked up in `$PATH`.
pub fn find_program(path: &str, base: &Path) -> Result<PathBuf, String> {
    if path.is_empty() {
        return Err("give the program's path".to_string());
    }
    if path.contains('/') {
        let full = base.join(path);
        return runnable(&full).map(|()| full);
    }
    let search = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&search)
        .map(|dir| dir.join(path))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!("{path:?} is not a file in $PATH: give its path (e.g. \"./{path}\")")
        })
}

/// A program the guest can run: an executable regular file; else what it is instead.
fn runnable(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("{shown}: no such file"),
        _ => format!("{shown}: cannot read it: {e}"),
    })?;
    if meta.is_dir() {
        return Err(format!(
            "{shown} is a directory: give the program file in it"
        ));
    }
    if !meta.is_file() {
        return Err(format!(
            "{shown} is not a regular file: give a program file"
        ));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(format!(
            "{shown} is not executable: make it so (chmod +x) or give the program itself"
        ));
    }
    Ok(())
}

/// A payload name from its program's file name: lower case, other characters as `-`.
pub fn default_name(program: &Path) -> String {
    let file = program
        .file_name()
        .map(|f| f.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let name: String = file
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(MAX_NAME)
        .collect();
    if name.is_empty() {
        "payload".to_string()
    } else {
        name
    }
}

fn guest_path(name: &str, host_path: &Path) -> Result<String, String> {
    pack::payload_path(name, host_path).map_err(|e| e.to_string())
}

/// A payload for every scenario (`--payload`): started at the end of the first step's
/// ops, in PID 1's cgroup, stopped when the scenario ends.
pub fn cli_payload(program: &Path, args: Vec<String>) -> Result<Payload, String> {
    let host_path = find_program(&program.to_string_lossy(), Path::new(""))
        .map_err(|e| format!("--payload: {e}"))?;
    let name = default_name(&host_path);
    Ok(Payload {
        guest_path: guest_path(&name, &host_path).map_err(|e| format!("--payload: {e}"))?,
        name,
        host_path,
        args,
        files: Vec::new(),
        cgroup: None,
        timeout_ms: None,
        expect_status: DEFAULT_EXPECT.to_string(),
        output: OutputRules::default(),
    })
}

/// Adds `payload` to the first step of every scenario.
pub fn run_in_every_scenario(scenarios: &mut [Scenario], payload: &Payload) -> Result<(), String> {
    for scenario in scenarios {
        let taken: Vec<&Payload> = scenario.payloads().collect();
        if taken.iter().any(|p| p.name == payload.name) {
            return Err(format!(
                "{}: a [[payload]] is already named {:?}, like --payload's program: rename it",
                scenario.source, payload.name
            ));
        }
        if taken.len() >= MAX_PAYLOADS {
            return Err(format!(
                "{}: has {MAX_PAYLOADS} payloads already, the most the guest runs at once: \
                 --payload does not fit",
                scenario.source
            ));
        }
        if let Some(first) = scenario.steps.first_mut() {
            first.ops.push(Op::Payload(payload.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_checked() {
        assert_eq!(expect_status(&StatusValue::Code(3)).unwrap(), "3");
        for ok in ["any", "killed", "signal:9", "0"] {
            assert_eq!(expect_status(&StatusValue::Word(ok.into())).unwrap(), ok);
        }
        for bad in ["256", "signal:0", "signal:x", "crashed"] {
            let err = expect_status(&StatusValue::Word(bad.into())).unwrap_err();
            assert!(err.contains("\"any\""), "{bad}: {err}");
        }
        for bad in [256, -1] {
            assert!(expect_status(&StatusValue::Code(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn payload_mistakes_name_the_field() {
        let vm = crate::scenario::VmShape::flat(2, 256);
        let base = "name = \"p\"\n[[cgroup]]\npath = \"w\"\n[[step]]\nhold_ms = 10\n\
                    [[step]]\nhold_ms = 10\nops = [{ op = \"cgroup-remove\", path = \"w\" }]\n";
        for (payload, hint) in [
            (
                "path = \"/nonexistent/x\"",
                "[[payload]] \"0\".path: /nonexistent/x: no such file",
            ),
            (
                "path = \"sh\"\nstep = 2",
                "step 2 does not exist: the scenario has 2 step(s)",
            ),
            (
                "path = \"sh\"\nstep = 1\ncgroup = \"w\"",
                "no cgroup \"w\" exists after step 1",
            ),
            ("path = \"sh\"\nname = \"A\"", "\"A\" is not a valid name"),
            (
                "path = \"sh\"\nexpect_status = \"ok\"",
                "expect_status: \"ok\" is not a status",
            ),
            (
                "path = \"sh\"\ntimeout_ms = 0",
                "timeout_ms: 0 ms is out of range",
            ),
            ("path = \"sh\"\ncolour = 1", "unknown field `colour`"),
            (
                "path = \"sh\"\nfiles = [\"/nonexistent/data\"]",
                "\"0\".files: /nonexistent/data: no such file",
            ),
            (
                "path = \"sh\"\nfiles = [\"/bin/sh\"]",
                "is also /payload/sh/sh: give each a path of its own",
            ),
            (
                "path = \"sh\"\nfiles = [\"/etc/passwd\", \"/etc/passwd\"]",
                "is also /payload/sh/passwd",
            ),
            (
                "path = \"sh\"\nfiles = [{ path = \"/etc/passwd\", to = \"etc/passwd\" }]",
                "must be an absolute path",
            ),
            (
                "path = \"sh\"\nfiles = [{ path = \"/etc/passwd\", to = \"/usr/../init\" }]",
                "must be an absolute path",
            ),
            (
                "path = \"sh\"\nfiles = [{ path = \"/etc/passwd\", to = \"/dev/null\" }]",
                "is under /dev, which the guest's init owns",
            ),
            (
                "path = \"sh\"\nfiles = [{ path = \"/etc/passwd\", to = \"/plan\" }]",
                "is under /plan",
            ),
        ] {
            let toml = format!("{base}[[payload]]\n{payload}\n");
            let err = crate::scenario::parse(&toml, "p.toml", &vm)
                .unwrap_err()
                .to_string();
            assert!(err.contains(hint), "{payload}: {err}");
        }
        let twice = format!("{base}[[payload]]\npath = \"sh\"\n[[payload]]\npath = \"/bin/sh\"\n");
        let err = crate::scenario::parse(&twice, "p.toml", &vm)
            .unwrap_err()
            .to_string();
        assert!(err.contains("two payloads share this name"), "{err}");
        let ok = format!("{base}[[payload]]\npath = \"sh\"\ncgroup = \"w\"\nexpect_status = 2\n");
        let scenario = crate::scenario::parse(&ok, "p.toml", &vm).unwrap();
        let payload = scenario.payloads().next().unwrap();
        assert_eq!(
            (payload.name.as_str(), payload.guest_path.as_str()),
            ("sh", "/payload/sh/sh")
        );
        assert_eq!(payload.expect_status, "2");
        // Started after the first step's own ops.
        assert!(matches!(scenario.steps[0].ops.last(), Some(Op::Payload(_))));
    }

    #[test]
    fn a_hold_until_the_payloads_end_needs_a_payload() {
        let vm = crate::scenario::VmShape::flat(2, 256);
        let steps = "name = \"u\"\n[[step]]\nhold_ms = 10\n[[step]]\nhold_ms = 10000\nuntil = \"payloads\"\n";
        let none = crate::scenario::parse(steps, "u.toml", &vm)
            .unwrap_err()
            .to_string();
        assert!(
            none.contains("[[step]] 1.until: no payload has started by step 1"),
            "{none}"
        );
        let late = format!("{steps}[[payload]]\npath = \"sh\"\nstep = 1\n");
        let scenario = crate::scenario::parse(&late, "u.toml", &vm).unwrap();
        assert!(scenario.steps[1].until_payloads && !scenario.steps[0].until_payloads);
        let (plan, _) = crate::protocol::plan::compile_checked(
            &[scenario],
            &crate::protocol::plan::DEFAULT_CONFIG,
        )
        .unwrap();
        assert!(
            plan.contains("step hold_ms=10000 until=payloads\n"),
            "{plan}"
        );
        let word = steps.replace("\"payloads\"", "\"workers\"");
        let err = crate::scenario::parse(&word, "u.toml", &vm)
            .unwrap_err()
            .to_string();
        assert!(err.contains("1.until: unknown \"workers\""), "{err}");
    }

    #[test]
    fn names_come_from_the_program() {
        assert_eq!(
            default_name(Path::new("/usr/bin/X11-Tool.sh")),
            "x11-tool-sh"
        );
        assert_eq!(default_name(Path::new("/")), "payload");
    }

    #[test]
    fn programs_are_found_like_a_shell_would() {
        assert!(find_program("sh", Path::new("")).is_ok());
        let err = find_program("no-such-program-here", Path::new("")).unwrap_err();
        assert!(err.contains("$PATH"), "{err}");
        let err = find_program("./nope", Path::new("/tmp")).unwrap_err();
        assert!(err.contains("/tmp/./nope: no such file"), "{err}");
        let err = find_program("/tmp", Path::new("")).unwrap_err();
        assert!(err.contains("/tmp is a directory"), "{err}");
        let err = find_program("/etc/passwd", Path::new("")).unwrap_err();
        assert!(err.contains("/etc/passwd is not executable"), "{err}");
        assert_eq!(find_program("/bin/sh", Path::new("")), Ok("/bin/sh".into()));
    }
}
