//! `schedbox plan` and `schedbox initramfs`: what the guest would get, without a VM.

use std::path::Path;

use crate::cli::VmOptions;
use crate::exit::{Exit, Stop};
use crate::output;
use crate::pipeline::prepare::{initramfs_for, load_scenarios};
use crate::protocol::plan::{self, DEFAULT_CONFIG};

/// Prints the plan the scenarios compile to, once the guest's validator accepts it.
pub fn print_plan(vm: &VmOptions) -> Result<Exit, Stop> {
    let scenarios = load_scenarios(vm).map_err(Stop::Usage)?;
    let (plan, _) = plan::compile_checked(&scenarios, &DEFAULT_CONFIG)
        .map_err(|e| Stop::Usage(e.to_string()))?;
    output::print(&plan);
    Ok(Exit::Pass)
}

pub fn write_initramfs(vm: &VmOptions, output: &Path) -> Result<(), Stop> {
    let scenarios = load_scenarios(vm).map_err(Stop::Usage)?;
    let (_, image) = initramfs_for(&scenarios, None, &[])?;
    std::fs::write(output, image)
        .map_err(|e| Stop::io(format!("cannot write {}", output.display()), &e))
}
