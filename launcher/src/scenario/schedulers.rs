//! The schedulers a scenario names: whether the run's scheduler starts detached
//! (`scheduler = "detached"`) and the others it declares by label (`[schedulers.LABEL]`)
//! for `scheduler-attach` and `scheduler-replace` to start.

use super::context::{check_name, Ctx};
use super::file::ScenarioFile;
use super::NamedScheduler;
use schedbox_protocol::vocab::{SchedulerStart, Word};

/// The field that says how the run's scheduler starts.
pub const START_FIELD: &str = "scheduler"; // not vocabulary: a TOML key

/// Whether the run's scheduler starts detached.
pub fn starts_detached(ctx: &Ctx, file: &ScenarioFile) -> bool {
    let Some(text) = &file.scheduler else {
        return false;
    };
    match SchedulerStart::parse(text.as_bytes()) {
        Some(start) => start == SchedulerStart::Detached,
        None => {
            ctx.report(ctx.err(
                START_FIELD,
                format!(
                    "unknown {text:?}: give \"{}\" (the run's scheduler is not attached until \
                     a step attaches it) or \"{}\" (the default)",
                    SchedulerStart::Detached,
                    SchedulerStart::Attached
                ),
            ));
            false
        }
    }
}

/// The `[schedulers.LABEL]` tables, each label a valid name and each argument one
/// the guest can pass.
pub fn declared(ctx: &Ctx, file: &ScenarioFile) -> Vec<NamedScheduler> {
    let mut out = Vec::new();
    for (label, s) in &file.schedulers {
        let field = format!("schedulers.{label}");
        if ctx.keep(check_name(ctx, &field, label)).is_none() {
            continue;
        }
        if s.program_is_empty() {
            ctx.report(ctx.err(
                format!("{field}.path"),
                "empty: give a program (a path or a name, as --scheduler takes it), or leave \
                 `path` out and give it with --extra-scheduler LABEL=PATH",
            ));
            continue;
        }
        if let Some(n) = s.args.iter().position(|a| a.contains('\0')) {
            ctx.report(ctx.err(format!("{field}.args[{n}]"), "contains a NUL byte"));
            continue;
        }
        out.push(NamedScheduler {
            label: label.clone(),
            program: s.path.clone(),
            args: s.args.clone(),
            name: s.name.clone(),
        });
    }
    out
}

impl super::file::SchedulerFile {
    fn program_is_empty(&self) -> bool {
        self.path.as_deref().is_some_and(str::is_empty)
    }
}
