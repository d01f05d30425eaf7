//! The evidence the guest gathered on failures, each piece kept with the failure it
//! explains: a stall's run queue or sched_ext dump with the stalled worker, an
//! ejection's dump with the scheduler's own output (docs/report.md, "Evidence").

use serde::Serialize;

use crate::protocol::record::{
    EvidenceCause, EvidenceRecord, EvidenceSource, OutputSource, Record, SchedulerEvent,
};
use crate::protocol::words::word;
use schedbox_protocol::checks::CheckKind;
use schedbox_protocol::limits::EVIDENCE_BYTES;

/// One piece of evidence, as report.json's `evidence` has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// The scenario running when the guest gathered it (none: between scenarios).
    pub scenario: Option<String>,
    /// The check whose failure it explains: `stall` or `scheduler`.
    pub check: String,
    #[serde(serialize_with = "word")]
    pub cause: EvidenceCause,
    #[serde(serialize_with = "word")]
    pub source: EvidenceSource,
    /// A stall's worker: its pid, `group/index` and the CPU it was last seen on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<u64>,
    /// The lines, at most `EVIDENCE_BYTES` of them; the bytes beyond are counted.
    pub lines: Vec<String>,
    pub dropped_bytes: u64,
    /// Whether the guest finished sending it (a run cut short may leave it partial).
    pub complete: bool,
    /// An ejection's: the end of the scheduler's output from its last attach on (at
    /// most `EVIDENCE_BYTES`; whole in scheduler.log), where its own exit report is.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scheduler_output: Vec<String>,
}

impl Evidence {
    fn new(scenario: Option<String>, r: &EvidenceRecord) -> Self {
        let check = match r.cause {
            EvidenceCause::Stall => CheckKind::Stall,
            EvidenceCause::Ejected | EvidenceCause::Exited => CheckKind::Scheduler,
        };
        Evidence {
            scenario,
            check: check.word().to_string(),
            cause: r.cause,
            source: r.source,
            pid: r.pid,
            worker: None,
            cpu: r.cpu,
            lines: Vec::new(),
            dropped_bytes: 0,
            complete: false,
            scheduler_output: Vec::new(),
        }
    }

    fn add(&mut self, r: &EvidenceRecord, kept: &mut usize) {
        if let Some(text) = &r.text {
            if *kept + text.len() < EVIDENCE_BYTES {
                *kept += text.len() + 1;
                self.lines.push(text.clone());
            } else {
                self.dropped_bytes += text.len() as u64 + 1;
            }
        }
        if r.lines.is_some() {
            self.complete = true;
            self.dropped_bytes += r.dropped_bytes.unwrap_or(0);
        }
    }

    /// One line for the summary: what it is and where the report keeps it.
    pub fn summary(&self, index: usize) -> String {
        let whose = match (&self.worker, self.pid) {
            (Some(w), Some(pid)) => format!(" of worker {w} (pid {pid})"),
            (None, Some(pid)) => format!(" of pid {pid}"),
            _ => String::new(),
        };
        let what = match self.source {
            EvidenceSource::SchedExtDump if self.lines.is_empty() => {
                "no sched_ext dump (the kernel wrote none)".to_string()
            }
            EvidenceSource::SchedExtDump => "the kernel's sched_ext dump".to_string(),
            EvidenceSource::SchedDebug => format!(
                "sched_debug (run queues) of CPU {}",
                self.cpu.map_or("?".to_string(), |c| c.to_string())
            ),
        };
        let output = if self.scheduler_output.is_empty() {
            String::new()
        } else {
            format!(
                " and {} lines of the scheduler's output",
                self.scheduler_output.len()
            )
        };
        let count = if self.lines.is_empty() {
            String::new()
        } else {
            format!(", {} lines", self.lines.len())
        };
        format!(
            "evidence: {}{whose} ({} check): {what}{count}{output} in report.json evidence[{index}]",
            self.cause, self.check,
        )
    }
}

/// The pieces of evidence in `records`, in the order the guest gathered them.
pub fn collect(records: &[Record]) -> Vec<Evidence> {
    let mut pieces: Vec<(u64, Evidence, usize)> = Vec::new();
    let mut scenario: Option<&str> = None;
    for record in records {
        match record {
            Record::Scenario { name, .. } => scenario = Some(name),
            Record::ScenarioEnd { .. } => scenario = None,
            Record::Evidence(r) => {
                let at = match pieces.iter().position(|(c, ..)| *c == r.capture) {
                    Some(at) => at,
                    None => {
                        let piece = Evidence::new(scenario.map(String::from), r);
                        pieces.push((r.capture, piece, 0));
                        pieces.len() - 1
                    }
                };
                let (_, piece, kept) = &mut pieces[at];
                piece.add(r, kept);
            }
            _ => {}
        }
    }
    let mut out: Vec<Evidence> = pieces.into_iter().map(|(_, e, _)| e).collect();
    for piece in &mut out {
        piece.worker = worker_name(records, piece);
    }
    attach_scheduler_output(records, &mut out);
    out
}

/// `group/index` of the worker with the piece's pid in its scenario.
fn worker_name(records: &[Record], piece: &Evidence) -> Option<String> {
    let pid = piece.pid?;
    records.iter().find_map(|r| match r {
        Record::Worker(w) if w.pid == pid && Some(&w.scenario) == piece.scenario.as_ref() => {
            Some(format!("{}/{}", w.group, w.index))
        }
        _ => None,
    })
}

/// Gives each ejection's piece the end of the scheduler's output from the attach
/// before it to the next attach (its exit report is printed as it exits).
fn attach_scheduler_output(records: &[Record], pieces: &mut [Evidence]) {
    let mut attachment = 0;
    let mut seen_pieces = Vec::new();
    let mut outputs: Vec<Vec<&str>> = vec![Vec::new()];
    for record in records {
        match record {
            Record::Scheduler(s) if s.event == SchedulerEvent::Attached => {
                attachment += 1;
                outputs.push(Vec::new());
            }
            Record::Output(o) if o.source == OutputSource::Scheduler => {
                outputs[attachment].push(&o.text);
            }
            Record::Evidence(r)
                if r.cause != EvidenceCause::Stall
                    && !seen_pieces.iter().any(|(c, _)| *c == r.capture) =>
            {
                seen_pieces.push((r.capture, attachment));
            }
            _ => {}
        }
    }
    let mut ejections = pieces
        .iter_mut()
        .filter(|p| p.cause != EvidenceCause::Stall);
    for (_, attachment) in seen_pieces {
        let Some(piece) = ejections.next() else {
            break;
        };
        piece.scheduler_output = tail(&outputs[attachment]);
    }
}

/// The last lines of `lines` that fit in `EVIDENCE_BYTES`.
fn tail(lines: &[&str]) -> Vec<String> {
    let mut kept = 0;
    let start = lines
        .iter()
        .rposition(|l| {
            kept += l.len() + 1;
            kept > EVIDENCE_BYTES
        })
        .map_or(0, |i| i + 1);
    lines[start..].iter().map(|l| l.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::record::{decode, Line};

    fn records(text: &str) -> Vec<Record> {
        text.lines()
            .map(|l| match decode(l) {
                Line::Record(r) => r,
                other => panic!("{l}: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_stalls_run_queue_is_kept_with_its_worker_and_scenario() {
        let records = records(
            "SBX1 scenario name=s t_ms=1\n\
             SBX1 evidence capture=1 cause=stall source=sched-debug pid=43 cpu=0 text=cpu#0,%202.0%20MHz\n\
             SBX1 evidence capture=1 cause=stall source=sched-debug pid=43 cpu=0 text=%20S%20sbx-victim-0\n\
             SBX1 evidence capture=1 cause=stall source=sched-debug pid=43 cpu=0 lines=2 dropped_bytes=7\n\
             SBX1 worker scenario=s group=victim index=0 pid=43 work=spin iterations=1 cpu_ns=1 wait_ns=1 slices=1 cpus=0\n\
             SBX1 scenario-end name=s t_ms=9\n",
        );
        let pieces = collect(&records);
        assert_eq!(pieces.len(), 1);
        let p = &pieces[0];
        assert_eq!(p.scenario.as_deref(), Some("s"));
        assert_eq!(p.check, "stall");
        assert_eq!(p.worker.as_deref(), Some("victim/0"));
        assert_eq!(p.lines, ["cpu#0, 2.0 MHz", " S sbx-victim-0"]);
        assert_eq!(p.dropped_bytes, 7);
        assert!(p.complete);
        assert_eq!(
            p.summary(0),
            "evidence: stall of worker victim/0 (pid 43) (stall check): sched_debug (run queues) of CPU 0, \
             2 lines in report.json evidence[0]"
        );
    }

    #[test]
    fn an_ejection_keeps_the_dump_and_the_schedulers_exit_output() {
        let records = records(
            "SBX1 scheduler event=attached name=q state=enabled ops=qmap pid=9 t_ms=1\n\
             SBX1 output source=scheduler name=q text=started\n\
             SBX1 scenario name=s t_ms=2\n\
             SBX1 scheduler event=ejected name=q state=disabled ops=qmap pid=9 t_ms=5\n\
             SBX1 evidence capture=1 cause=ejected source=sched-ext-dump text=CPU%20states\n\
             SBX1 evidence capture=1 cause=ejected source=sched-ext-dump lines=1 dropped_bytes=0\n\
             SBX1 output source=scheduler name=q text=DEBUG%20DUMP\n",
        );
        let pieces = collect(&records);
        assert_eq!(pieces.len(), 1);
        assert_eq!(pieces[0].check, "scheduler");
        assert_eq!(pieces[0].lines, ["CPU states"]);
        assert_eq!(pieces[0].scheduler_output, ["started", "DEBUG DUMP"]);
    }

    #[test]
    fn an_exit_without_a_dump_keeps_the_schedulers_output_and_says_so() {
        let records = records(
            "SBX1 scheduler event=attached name=q state=enabled ops=qmap pid=9 t_ms=1\n\
             SBX1 output source=scheduler name=q text=bye\n\
             SBX1 scheduler event=exited name=q state=disabled ops=qmap pid=9 t_ms=5 status=1 output=bye\n\
             SBX1 evidence capture=1 cause=exited source=sched-ext-dump lines=0 dropped_bytes=0\n",
        );
        let pieces = collect(&records);
        assert_eq!(pieces.len(), 1);
        assert_eq!(pieces[0].check, "scheduler");
        assert!(pieces[0].lines.is_empty() && pieces[0].complete);
        assert_eq!(pieces[0].scheduler_output, ["bye"]);
        assert_eq!(
            pieces[0].summary(0),
            "evidence: exited (scheduler check): no sched_ext dump (the kernel wrote none) \
             and 1 lines of the scheduler's output in report.json evidence[0]"
        );
    }

    #[test]
    fn lines_beyond_the_bound_are_counted_not_kept() {
        let long = "x".repeat(1000);
        let mut text = String::from("SBX1 scenario name=s t_ms=1\n");
        for _ in 0..40 {
            text += &format!(
                "SBX1 evidence capture=1 cause=stall source=sched-debug pid=1 cpu=0 text={long}\n"
            );
        }
        let pieces = collect(&records(&text));
        let kept: usize = pieces[0].lines.iter().map(|l| l.len() + 1).sum();
        assert!(kept <= EVIDENCE_BYTES, "{kept}");
        assert_eq!(pieces[0].lines.len() + 8, 40);
        assert_eq!(pieces[0].dropped_bytes, 8 * 1001);
        assert!(!pieces[0].complete);
        assert_eq!(tail(&["a", "b"]), ["a", "b"]);
    }
}
