//! Scenarios: what to run in the guest and what to check, loaded from TOML and validated
//! on the host so that the guest only ever sees a plan it can carry out.

pub mod catalog;
mod cgroups;
mod context;
mod error;
pub mod file;
pub mod load;
pub(crate) mod locate;
mod model;
pub mod payloads;
mod schedulers;
mod shaped;
mod steps;
mod suggest;
mod validate;
pub mod vocabulary;

use std::path::Path;

use crate::topology::Shape;
pub use error::{ScenarioError, MAX_REPORTED};
pub use model::*;

/// The field of a scenario that pins its machine.
pub const TOPOLOGY_FIELD: &str = "topology";

/// A scenario file parsed but not yet validated: the VM it is validated against depends
/// on its own `topology`, which the caller reads first.
#[derive(Debug, Clone)]
pub struct Unvalidated {
    file: file::ScenarioFile,
    /// The TOML as written, to locate fields in messages.
    text: String,
    pub source: String,
}

impl Unvalidated {
    /// Its `name`, as written (validation checks it).
    pub fn name(&self) -> &str {
        &self.file.name
    }

    /// The labels of the schedulers it declares (`[schedulers.LABEL]`), as written.
    pub fn scheduler_labels(&self) -> Vec<String> {
        self.file.schedulers.keys().cloned().collect()
    }

    /// The shape its `topology` pins, if any; one that cannot be booted in
    /// `memory_mib` is an error naming the field and the fix.
    pub fn topology(&self, memory_mib: u32) -> Result<Option<Shape>, ScenarioError> {
        let Some(text) = &self.file.topology else {
            return Ok(None);
        };
        let err = |message: String| {
            let mut e = ScenarioError::new(&self.source, TOPOLOGY_FIELD, message);
            e.at = locate::locate(&self.text, TOPOLOGY_FIELD);
            e
        };
        let shape = Shape::parse(text).map_err(|e| err(e.to_string()))?;
        crate::topology::fit::fits_vcpus(&shape).map_err(err)?;
        crate::topology::fit::fits_memory(&shape, memory_mib).map_err(err)?;
        Ok(Some(shape))
    }

    /// Validates it for `vm`, which must be the machine it runs on: its own `topology`
    /// if it pins one.
    pub fn validate(&self, vm: &VmShape) -> Result<Scenario, ScenarioError> {
        let mut scenario = validate::lower(&self.file, &self.source, vm)
            .map_err(|problems| ScenarioError::all(problems, &self.text))?;
        scenario.topology = self.topology(vm.memory_mib)?;
        Ok(scenario)
    }
}

/// Reads and parses a scenario file, not yet validated.
pub fn read(path: &Path) -> Result<Unvalidated, ScenarioError> {
    let source = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ScenarioError::new(&source, "", format!("cannot read the scenario: {e}")))?;
    parse_only(&text, &source)
}

/// Parses scenario TOML, not yet validated; `source` names it in errors.
pub fn parse_only(text: &str, source: &str) -> Result<Unvalidated, ScenarioError> {
    let file: file::ScenarioFile = toml::from_str(text).map_err(|e| {
        let hint = suggest::unknown_key_hint(e.message()).unwrap_or_default();
        let mut error = ScenarioError::new(
            source,
            "",
            format!("not a valid scenario (see docs/scenarios.md){hint}:\n{e}"),
        );
        error.at = e.span().map(|span| locate::line_column(text, span.start));
        error
    })?;
    Ok(Unvalidated {
        file,
        text: text.to_string(),
        source: source.to_string(),
    })
}

/// Reads and validates a scenario file for the machine it runs on: its own `topology`
/// if it pins one (with `vm`'s memory), else `vm`.
pub fn load(path: &Path, vm: &VmShape) -> Result<Scenario, ScenarioError> {
    validate_on_own_shape(read(path)?, vm)
}

/// Parses and validates scenario TOML as [`load`] does; `source` names it in errors.
pub fn parse(text: &str, source: &str, vm: &VmShape) -> Result<Scenario, ScenarioError> {
    validate_on_own_shape(parse_only(text, source)?, vm)
}

fn validate_on_own_shape(parsed: Unvalidated, vm: &VmShape) -> Result<Scenario, ScenarioError> {
    let own = parsed.topology(vm.memory_mib)?.map(|topology| VmShape {
        topology,
        memory_mib: vm.memory_mib,
        host: None,
    });
    parsed.validate(own.as_ref().unwrap_or(vm))
}

/// The scenario `schedbox run` uses when given none.
pub const BUILT_IN: &str = include_str!("../../../scenarios/spin.toml");

#[cfg(test)]
mod tests;
