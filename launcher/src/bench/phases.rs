//! The median timeline of several runs: each phase's median and range, in the order
//! the runs went through them.

use crate::bench::stats::Samples;
use crate::outcome::timeline::{Phase, Timeline};

/// One phase over the runs: its name (with its scenario's) and its ms in each run.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseSamples {
    pub label: String,
    pub ms: Samples,
}

/// A phase's name in the table: a scenario's own go after the scenario's name.
fn label(phase: Phase, scenario: Option<&str>) -> String {
    match scenario {
        Some(name) => format!("{name} {}", phase.word()),
        None => phase.word().to_string(),
    }
}

/// One run's phases as (label, ms), in order, a phase seen twice (unaccounted time at
/// several places) added up at its first place.
fn folded(timeline: &Timeline) -> Vec<(String, u64)> {
    let mut phases: Vec<(String, u64)> = Vec::new();
    for span in &timeline.phases {
        let name = label(span.phase, span.scenario.as_deref());
        match phases.iter_mut().find(|(n, _)| *n == name) {
            Some((_, ms)) => *ms += span.ms,
            None => phases.push((name, span.ms)),
        }
    }
    phases
}

/// Every phase the runs went through, in the order of the first run that had it; a
/// run without a phase spent 0 ms in it. Last, the runs' wall time.
pub fn medians(timelines: &[Timeline]) -> Vec<PhaseSamples> {
    let runs: Vec<Vec<(String, u64)>> = timelines.iter().map(folded).collect();
    let mut labels: Vec<String> = Vec::new();
    for (name, _) in runs.iter().flatten() {
        if !labels.contains(name) {
            labels.push(name.clone());
        }
    }
    let mut phases: Vec<PhaseSamples> = labels
        .into_iter()
        .map(|label| {
            let ms = runs
                .iter()
                .map(|run| run.iter().find(|(n, _)| *n == label).map_or(0, |p| p.1) as f64)
                .collect();
            PhaseSamples {
                label,
                ms: Samples(ms),
            }
        })
        .collect();
    if !timelines.is_empty() {
        phases.push(PhaseSamples {
            label: WALL.to_string(),
            ms: Samples(timelines.iter().map(|t| t.wall_ms as f64).collect()),
        });
    }
    phases
}

/// The label of the runs' wall time, after their phases.
pub const WALL: &str = "all (wall)";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::timeline::Span;

    fn timeline(phases: &[(Phase, Option<&str>, u64)]) -> Timeline {
        let mut at = 0;
        let phases = phases
            .iter()
            .map(|&(phase, scenario, ms)| {
                let span = Span {
                    phase,
                    scenario: scenario.map(str::to_string),
                    start_ms: at,
                    ms,
                };
                at += ms;
                span
            })
            .collect();
        Timeline {
            wall_ms: at,
            phases,
        }
    }

    #[test]
    fn each_phase_gets_its_median_over_the_runs_in_order() {
        let e = Some("empty");
        let runs = [
            timeline(&[
                (Phase::Preparation, None, 10),
                (Phase::Kernel, None, 800),
                (Phase::Hold, e, 1),
                (Phase::Unaccounted, None, 4),
                (Phase::PowerOff, None, 30),
                (Phase::Unaccounted, None, 2),
            ]),
            timeline(&[
                (Phase::Preparation, None, 30),
                (Phase::Kernel, None, 900),
                (Phase::Hold, e, 1),
                (Phase::PowerOff, None, 50),
            ]),
            timeline(&[
                (Phase::Preparation, None, 20),
                (Phase::Kernel, None, 700),
                (Phase::Hold, e, 1),
                (Phase::PowerOff, None, 40),
                (Phase::Judging, None, 5),
            ]),
        ];
        let medians = medians(&runs);
        let got: Vec<_> = medians
            .iter()
            .map(|p| (p.label.as_str(), p.ms.median(), p.ms.min_max()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("preparation", Some(20.0), Some((10.0, 30.0))),
                ("kernel", Some(800.0), Some((700.0, 900.0))),
                ("empty hold", Some(1.0), Some((1.0, 1.0))),
                // 4 + 2 in the first run, none in the others.
                ("unaccounted", Some(0.0), Some((0.0, 6.0))),
                ("power-off", Some(40.0), Some((30.0, 50.0))),
                ("judging", Some(0.0), Some((0.0, 5.0))),
                (WALL, Some(847.0), Some((766.0, 981.0))),
            ]
        );
    }

    #[test]
    fn no_runs_no_phases() {
        assert!(medians(&[]).is_empty());
    }
}
