//! What every validation helper works with: the file being validated, the VM it is
//! checked against, the problems found so far, and the checks of names and holds that
//! all sections share.

use std::cell::RefCell;

use super::{ScenarioError, VmShape};
use crate::cpulist;
use crate::topology::placement;
pub use schedbox_protocol::limits::{MAX_HOLD_MS, MAX_NAME};

/// Where errors are reported from, the VM values are checked against, and what was
/// found wrong so far: validation goes on past a problem so that a file's mistakes are
/// reported together.
pub struct Ctx<'a> {
    pub source: &'a str,
    pub vm: &'a VmShape,
    found: RefCell<Vec<ScenarioError>>,
    warnings: RefCell<Vec<String>>,
    /// Worker groups whose entry was rejected: later references to them are not
    /// reported again as unknown.
    failed_groups: RefCell<Vec<String>>,
}

impl<'a> Ctx<'a> {
    pub fn new(source: &'a str, vm: &'a VmShape) -> Ctx<'a> {
        Ctx {
            source,
            vm,
            found: RefCell::default(),
            warnings: RefCell::default(),
            failed_groups: RefCell::default(),
        }
    }

    pub fn err(&self, field: impl Into<String>, message: impl Into<String>) -> ScenarioError {
        ScenarioError::new(self.source, field, message)
    }

    /// Records a problem for the report; validation goes on.
    pub fn report(&self, problem: ScenarioError) {
        self.found.borrow_mut().push(problem);
    }

    /// The value, or None with the problem recorded for the report.
    pub fn keep<T>(&self, result: Result<T, ScenarioError>) -> Option<T> {
        result.map_err(|e| self.report(e)).ok()
    }

    /// Notes a worker group whose entry was rejected.
    pub fn group_failed(&self, group: &str) {
        self.failed_groups.borrow_mut().push(group.to_string());
    }

    /// Whether `group` is a worker group whose entry was rejected (and reported).
    pub fn is_failed_group(&self, group: &str) -> bool {
        self.failed_groups.borrow().iter().any(|g| g == group)
    }

    /// Something that is not wrong but likely not meant, printed before the run.
    pub fn warn(&self, message: String) {
        self.warnings
            .borrow_mut()
            .push(format!("{}: warning: {message}", self.source));
    }

    pub fn failed(&self) -> bool {
        self.problems() > 0
    }

    /// How many problems were found so far.
    pub fn problems(&self) -> usize {
        self.found.borrow().len()
    }

    /// The problems found (in the order found) and the warnings.
    pub fn finish(self) -> (Vec<ScenarioError>, Vec<String>) {
        (self.found.into_inner(), self.warnings.into_inner())
    }

    /// Resolves a CPU set (a CPU list, or topology-relative: `llc:1`, `node:0`, ...)
    /// against the VM's shape; the plan carries it as a CPU list.
    pub fn cpus(&self, field: &str, text: &str) -> Result<String, ScenarioError> {
        Ok(cpulist::format(&self.cpu_set(field, text)?))
    }

    /// The CPUs a list or topology-relative set names in the VM.
    pub fn cpu_set(
        &self,
        field: &str,
        text: &str,
    ) -> Result<std::collections::BTreeSet<u32>, ScenarioError> {
        placement::resolve(text, &self.vm.layout()).map_err(|e| {
            self.err(
                field,
                format!("{e}: use CPUs the VM has, or raise --cpus or --topology"),
            )
        })
    }
}

/// Names of scenarios and worker groups: they end up in cgroup paths and records.
pub fn check_name(ctx: &Ctx, field: &str, name: &str) -> Result<(), ScenarioError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ctx.err(
            field,
            format!(
                "{name:?} is not a valid name: use 1-{MAX_NAME} characters from a-z, 0-9, '-' and '_'"
            ),
        ))
    }
}

pub fn check_hold(ctx: &Ctx, field: &str, hold_ms: u64) -> Result<u64, ScenarioError> {
    if hold_ms == 0 || hold_ms > MAX_HOLD_MS {
        return Err(ctx.err(
            field,
            format!("{hold_ms} ms is out of range: give 1 to {MAX_HOLD_MS} ms"),
        ));
    }
    Ok(hold_ms)
}
