//! `schedbox check`: scenario files validated as `run` would (each on its own
//! `topology`, else on each shape of the command line), the plan included, without a
//! VM. Every file is checked; any error is exit 2.

use std::path::Path;

use crate::cli::VmOptions;
use crate::exit::{Exit, Stop};
use crate::output;
use crate::pipeline::preflight;
use crate::protocol::plan;
use crate::scenario::{self, VmShape};
use crate::selection;

pub fn check(vm: &VmOptions) -> Result<Exit, Stop> {
    let files = selection::expand(&vm.scenarios).map_err(Stop::Usage)?;
    let mut errors = 0;
    for file in &files {
        match check_file(file, vm) {
            Ok(name) => output::print(&format!("ok {} ({name})\n", file.display())),
            Err(why) => {
                errors += 1;
                output::note(&format!("schedbox: {why}"));
            }
        }
    }
    if errors > 0 {
        return Err(Stop::Usage(format!(
            "{errors} of {} scenario files are not valid",
            files.len()
        )));
    }
    Ok(Exit::Pass)
}

/// Validates one file on every machine it would run on; its name if it is valid.
fn check_file(path: &Path, vm: &VmOptions) -> Result<String, String> {
    preflight::scenario_file(path)?;
    let read = scenario::read(path).map_err(|e| e.to_string())?;
    let pinned = read.topology(vm.memory_mib).map_err(|e| e.to_string())?;
    let shapes = pinned.map_or_else(|| vm.shapes(), |s| vec![s]);
    let several = shapes.len() > 1;
    for topology in shapes {
        let on = VmShape {
            topology,
            memory_mib: vm.memory_mib,
            host: None,
        };
        let scenario = read.validate(&on).map_err(|e| match several {
            true => format!("{e} (on {topology})"),
            false => e.to_string(),
        })?;
        let scenarios = [scenario];
        plan::compile_checked(&scenarios, &plan::config_for_checking(&scenarios))
            .map_err(|e| e.to_string())?;
    }
    Ok(read.name().to_string())
}
