//! Judge: the guest's records become the verdict and the report (judged once; the report
//! presents it), or the report of a run that never booted.

use crate::outcome::report::{self, RunInfo};
use crate::outcome::rundir::{self, RunDir};
use crate::outcome::verdict::{self, Outcome, Verdict};
use crate::pipeline::prepare::Prepared;
use crate::vm::session::Observed;

/// Writes the programs' logs, judges what the guest reported and builds the report.
pub fn judged(info: RunInfo, prepared: Prepared, observed: &Observed) -> (report::Report, RunDir) {
    let scheduler_asked = prepared.scheduler.is_some();
    let written =
        rundir::write_outputs(prepared.run_dir.path(), &observed.records, scheduler_asked);
    let verdict = verdict::judge(
        observed,
        &verdict::expected_checks(&prepared.scenarios),
        &verdict::expected_payloads(&prepared.scenarios),
    );
    let mut report = report::build(info, &prepared.scenarios, Some(observed), verdict);
    if let Err(e) = written {
        report.host_fault(format!(
            "cannot write the program logs to the run directory: {e}"
        ));
    }
    (report, prepared.run_dir)
}

/// The report of a run whose VM could not be, or was not, started.
pub fn unbooted(
    info: RunInfo,
    prepared: Prepared,
    reason: String,
    outcome: Outcome,
) -> (report::Report, RunDir) {
    let verdict = Verdict {
        outcome,
        reasons: vec![reason],
        notes: Vec::new(),
    };
    let report = report::build(info, &prepared.scenarios, None, verdict);
    (report, prepared.run_dir)
}
