//! One timed boot of a Linux guest under the watchdog, and what each benchmark reads
//! from its records.

use std::path::Path;
use std::time::Duration;

use crate::outcome::rundir;
use crate::pipeline::boot::observe;
use crate::protocol::record::Record;
use crate::vm::backend::{Backend, VmSpec};
use crate::vm::session::Observed;

const NS_PER_MS: f64 = 1e6;

/// Boots `spec` on `backend`, keeping console.log, records.log and the plan in `dir`.
/// A guest that never reported, or reported an error, is an Err saying so.
pub fn boot(
    backend: &dyn Backend,
    spec: &VmSpec,
    plan: &str,
    timeout: Duration,
    dir: &Path,
) -> Result<Observed, String> {
    let io = |e: std::io::Error| format!("{}: {e}", dir.display());
    std::fs::create_dir_all(dir).map_err(io)?;
    std::fs::write(dir.join(rundir::PLAN), plan).map_err(io)?;
    let observed = observe(backend, spec, timeout, dir, (false, None))
        .map_err(|stop| stop.to_string())?
        .map_err(|e| e.to_string())?;
    let logs = dir.display();
    if observed.timings.boot_record_ms.is_none() {
        return Err(format!("init never reported: {}; see {logs}", observed.end));
    }
    if let Some((place, msg)) = observed.records.iter().find_map(|r| match r {
        Record::Error { place, msg, .. } => Some((place, msg)),
        _ => None,
    }) {
        return Err(format!(
            "the guest reported an error ({place}: {msg}); see {logs}"
        ));
    }
    Ok(observed)
}

/// Milliseconds from launch to the `boot` record, and to the end of the VM. The guest
/// must have finished its plan (`done`).
pub fn spin_times(observed: &Observed) -> Result<(f64, f64), String> {
    let t = &observed.timings;
    match (t.boot_record_ms, t.done_record_ms) {
        (Some(boot), Some(_)) => Ok((boot as f64, t.total_ms as f64)),
        _ => Err(format!("the guest did not finish: {}", observed.end)),
    }
}

/// PID 1's CPU time, over the whole scenario and during its holds alone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MonitorCost {
    /// The whole scenario: its CPU time over its wall time on all guest CPUs (a
    /// fraction), and that CPU time in ms. It includes forking, readying and stopping
    /// the workers.
    pub share: f64,
    pub cpu_ms: f64,
    /// The holds only, while the monitor samples: the same fraction and CPU time.
    pub hold_share: f64,
    pub hold_cpu_ms: f64,
}

/// PID 1's cost in the (first) scenario, from its `scenario-end` record.
pub fn monitor_share(observed: &Observed) -> Result<MonitorCost, String> {
    let mut cpus = None;
    let mut start = None;
    for record in &observed.records {
        match record {
            Record::Boot { cpus: n, .. } => cpus = Some(*n),
            Record::Scenario { t_ms, .. } => start = Some(*t_ms),
            Record::ScenarioEnd {
                t_ms,
                init_cpu_ns: Some(cpu_ns),
                hold_ms: Some(hold_ms),
                hold_cpu_ns: Some(hold_cpu_ns),
                ..
            } => {
                let cpus = cpus.unwrap_or(1).max(1) as f64;
                let share = |cpu_ns: u64, wall_ms: u64| {
                    cpu_ns as f64 / (wall_ms.max(1) as f64 * NS_PER_MS * cpus)
                };
                let wall_ms = t_ms.saturating_sub(start.unwrap_or(0));
                return Ok(MonitorCost {
                    share: share(*cpu_ns, wall_ms),
                    cpu_ms: *cpu_ns as f64 / NS_PER_MS,
                    hold_share: share(*hold_cpu_ns, *hold_ms),
                    hold_cpu_ms: *hold_cpu_ns as f64 / NS_PER_MS,
                });
            }
            _ => {}
        }
    }
    Err(
        "no scenario-end record with init_cpu_ns, hold_ms and hold_cpu_ns (an older init?)"
            .to_string(),
    )
}

/// From the worker's last progress to the monitor seeing its gap over the limit, ms.
pub fn stall_latency(observed: &Observed) -> Result<f64, String> {
    observed
        .records
        .iter()
        .find_map(|r| match r {
            Record::Stall(s) => Some(s),
            _ => None,
        })
        .ok_or_else(|| "the starved worker was not reported stalled".to_string())
        .and_then(|s| match (s.last_progress_ms, s.detected_ms) {
            (Some(last), Some(seen)) => Ok(seen.saturating_sub(last) as f64),
            _ => Err("the stall record lacks last_progress_ms/detected_ms".to_string()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::examples;
    use crate::vm::session::{RunEnd, Timings};

    fn observed(example: &str) -> Observed {
        Observed {
            records: examples::records(&examples::text(example)),
            arrivals_ms: Vec::new(),
            malformed: Default::default(),
            console_tail: Vec::new(),
            panic: None,
            records_channels: Vec::new(),
            end: RunEnd::Exited(crate::vm::backend::VmExit::PowerOff),
            machine: crate::vm::backend::Machine::Vm,
            timings: Timings {
                boot_record_ms: Some(900),
                done_record_ms: Some(3000),
                total_ms: 3100,
                ..Timings::default()
            },
        }
    }

    #[test]
    fn reads_the_measures_from_real_records() {
        let stall = observed("stall.records");
        assert_eq!(stall_latency(&stall), Ok(1584.0 - 1081.0));
        // 89.1 ms of PID 1 over 1083 ms on 2 CPUs; 21 ms in its 1000 ms hold.
        let cost = monitor_share(&stall).unwrap();
        let near = |a: f64, b: f64| (a - b).abs() < 1e-6;
        assert!(near(cost.share, 0.089_114_073 / (1.083 * 2.0)), "{cost:?}");
        assert!(near(cost.cpu_ms, 89.114_073), "{cost:?}");
        assert!(near(cost.hold_share, 0.021 / 2.0), "{cost:?}");
        assert!(near(cost.hold_cpu_ms, 21.0), "{cost:?}");
        assert_eq!(spin_times(&stall), Ok((900.0, 3100.0)));
    }

    #[test]
    fn missing_measures_are_errors() {
        let spin = observed("spin.records");
        assert!(stall_latency(&spin).unwrap_err().contains("not reported"));
        let mut unfinished = spin.clone();
        unfinished.timings.done_record_ms = None;
        assert!(spin_times(&unfinished).is_err());
        let mut old = spin;
        old.records
            .retain(|r| !matches!(r, Record::ScenarioEnd { .. }));
        assert!(monitor_share(&old).is_err());
    }
}
