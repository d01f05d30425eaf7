//! Judge: the guest's records become the verdict and the report (judged once; the report
//! presents it), or the report of a run that never booted.

use std::time::Instant;

use crate::outcome::report::{self, Judged, RunInfo};
use crate::outcome::rundir::{self, RunDir};
use crate::outcome::timeline::{self, HostMarks};
use crate::outcome::verdict::{self, Outcome, Verdict};
use crate::pipeline::prepare::Prepared;
use crate::topology::{self, Mismatch};
use crate::vm::session::Observed;

/// Writes the programs' logs, judges what the guest reported and builds the report.
/// `launched` is when the VM was launched: the report's timeline places the run on it.
pub fn judged(
    info: RunInfo,
    prepared: Prepared,
    observed: &Observed,
    launched: Instant,
) -> (report::Report, RunDir) {
    let scheduler_asked = prepared.scheduler.is_some();
    let written =
        rundir::write_outputs(prepared.run_dir.path(), &observed.records, scheduler_asked);
    let mut verdict = verdict::judge(
        observed,
        &verdict::expected_checks(&prepared.scenarios),
        &verdict::expected_payloads(&prepared.scenarios),
    );
    if let Some(mismatch) = topology_mismatch(&prepared, observed) {
        // Whatever the checks said, they said it of a machine nobody asked for.
        verdict = Verdict {
            outcome: Outcome::Untestable,
            reasons: vec![mismatch.to_string()],
            notes: verdict.notes,
            scenarios: Vec::new(),
            checks: verdict.checks,
            payloads: verdict.payloads,
        };
    }
    let mut report = report::build(Judged {
        info,
        scenarios: &prepared.scenarios,
        scheduler: prepared.scheduler.as_ref(),
        observed: Some(observed),
        verdict,
    });
    report.notes.extend(prepared.notes.iter().cloned());
    if let Err(e) = written {
        report.host_fault(format!(
            "cannot write the program logs to the run directory: {e}"
        ));
    }
    let launch_ms = timeline::ms_between(prepared.started, launched);
    let marks = HostMarks {
        launch_ms,
        exit_ms: Some(launch_ms + observed.timings.total_ms),
        judged_ms: timeline::ms_between(prepared.started, Instant::now()),
    };
    report.timeline = timeline::build(marks, Some(observed), &prepared.scenarios);
    (report, prepared.run_dir)
}

/// The report of a run whose VM could not be, or was not, started.
pub fn unbooted(
    info: RunInfo,
    prepared: Prepared,
    reason: String,
    outcome: Outcome,
) -> (report::Report, RunDir) {
    let given_up_ms = timeline::ms_between(prepared.started, Instant::now());
    let verdict = Verdict {
        outcome,
        reasons: vec![reason],
        notes: Vec::new(),
        scenarios: Vec::new(),
        checks: Vec::new(),
        payloads: Vec::new(),
    };
    let mut report = report::build(Judged {
        info,
        scenarios: &prepared.scenarios,
        scheduler: prepared.scheduler.as_ref(),
        observed: None,
        verdict,
    });
    report.notes.extend(prepared.notes.iter().cloned());
    let marks = HostMarks {
        launch_ms: given_up_ms,
        exit_ms: None,
        judged_ms: timeline::ms_between(prepared.started, Instant::now()),
    };
    report.timeline = timeline::build(marks, None, &prepared.scenarios);
    (report, prepared.run_dir)
}

/// The differences between the shape asked for (`--topology`, or the scenarios' own)
/// and the guest's own view, once the guest booted far enough to report it.
fn topology_mismatch(prepared: &Prepared, observed: &Observed) -> Option<Mismatch> {
    if let Some(layout) = prepared.host_layout {
        observed.timings.boot_record_ms?;
        return topology::verify_host(layout, &observed.records).err();
    }
    if !prepared.verify_topology {
        return None;
    }
    observed.timings.boot_record_ms?;
    topology::verify(&prepared.shape, prepared.memory_mib, &observed.records).err()
}
