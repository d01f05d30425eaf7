//! The windows of a scenario: from its start to its end, which sched_ext scheduler the
//! kernel had attached, and from when to when (a detach or replacement the scenario
//! asked for opens a window without one, or with the replacement). The `scheduler`
//! check judges the windows a scheduler was meant to be attached; the report lists them
//! all, with guest times.

use serde::Serialize;

use crate::protocol::record::{Record, SchedulerEvent};

/// One stretch of a scenario with one scheduler attached, or none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Window {
    /// The attached scheduler as its records name it; None: the kernel's fair class.
    pub scheduler: Option<String>,
    /// Guest time (ms since boot) it began and ended.
    pub from_ms: u64,
    pub to_ms: u64,
    /// The scheduler event that opened it; None when the scenario's start did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opened_by: Option<String>,
}

/// The scheduler attached after an event, as far as the run's records tell.
fn attached_after(event: SchedulerEvent, name: &str) -> Option<String> {
    match event {
        SchedulerEvent::Attached | SchedulerEvent::Restarted => Some(name.to_string()),
        _ => None,
    }
}

/// The windows of scenario `name`, in order; empty when the run has no scheduler
/// records (no sched_ext scheduler under test) or the scenario never ended.
pub fn of_scenario(name: &str, records: &[Record]) -> Vec<Window> {
    let mut attached: Option<String> = None;
    let mut open: Option<Window> = None;
    let mut windows = Vec::new();
    let mut any = false;
    for record in records {
        match record {
            Record::Scheduler(s) => {
                any = true;
                let now = attached_after(s.event, &s.name);
                if let Some(w) = open.as_mut().filter(|_| now != attached) {
                    w.to_ms = s.t_ms;
                    let next = Window {
                        scheduler: now.clone(),
                        from_ms: s.t_ms,
                        to_ms: s.t_ms,
                        opened_by: Some(s.event.word().to_string()),
                    };
                    windows.push(std::mem::replace(w, next));
                }
                attached = now;
            }
            Record::Scenario { name: n, t_ms } if n == name => {
                open = Some(Window {
                    scheduler: attached.clone(),
                    from_ms: *t_ms,
                    to_ms: *t_ms,
                    opened_by: None,
                });
            }
            Record::ScenarioEnd { name: n, t_ms, .. } if n == name => {
                if let Some(mut w) = open.take() {
                    w.to_ms = *t_ms;
                    windows.push(w);
                }
            }
            _ => {}
        }
    }
    if !any || open.is_some() {
        return Vec::new();
    }
    windows.retain(|w| w.to_ms > w.from_ms || w.opened_by.is_none());
    windows
}

/// One line for the summary: `none 1.57-5.30 s, scx_simple 5.30-6.88 s`.
pub fn describe(windows: &[Window]) -> String {
    windows
        .iter()
        .map(|w| {
            format!(
                "{} {:.2}-{:.2} s",
                w.scheduler.as_deref().unwrap_or("none"),
                w.from_ms as f64 / 1000.0,
                w.to_ms as f64 / 1000.0
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::record::{decode, Line};

    fn records(lines: &[&str]) -> Vec<Record> {
        lines
            .iter()
            .map(|l| match decode(l) {
                Line::Record(r) => r,
                _ => panic!("not a record: {l}"),
            })
            .collect()
    }

    const ATTACH: &str = "SBX1 scheduler event=attached name=scx_simple state=enabled ops=simple pid=44 t_ms=5298 op=scheduler-attach took_ms=2088 state_before=disabled ops_before=";

    #[test]
    fn a_scenario_that_starts_detached_has_two_windows() {
        let run = records(&[
            "SBX1 scenario name=a t_ms=1568",
            ATTACH,
            "SBX1 scenario-end name=a t_ms=6881 init_cpu_ns=1 outcome=pass",
            "SBX1 scheduler event=stopped name=scx_simple state=disabled ops=simple pid=44 t_ms=7000 status=0",
        ]);
        let windows = of_scenario("a", &run);
        assert_eq!(
            windows,
            [
                Window {
                    scheduler: None,
                    from_ms: 1568,
                    to_ms: 5298,
                    opened_by: None
                },
                Window {
                    scheduler: Some("scx_simple".into()),
                    from_ms: 5298,
                    to_ms: 6881,
                    opened_by: Some("attached".into())
                },
            ]
        );
        assert_eq!(
            describe(&windows),
            "none 1.57-5.30 s, scx_simple 5.30-6.88 s"
        );
    }

    #[test]
    fn a_replacement_opens_a_window_of_its_own_and_no_scheduler_means_none() {
        let run = records(&[
            "SBX1 scheduler event=attached name=scx_simple state=enabled ops=simple pid=3 t_ms=1000",
            "SBX1 scenario name=a t_ms=1500",
            "SBX1 scheduler event=detached name=scx_simple state=disabled ops=simple pid=3 t_ms=2600 op=scheduler-replace took_ms=100 state_before=enabled ops_before=simple",
            "SBX1 scheduler event=attached name=qmap state=enabled ops=qmap pid=9 t_ms=3000 op=scheduler-replace took_ms=400 state_before=disabled ops_before=",
            "SBX1 scheduler event=ejected name=qmap state=disabled ops=qmap pid=9 t_ms=9000 reason=runnable%20task%20stall",
            "SBX1 scenario-end name=a t_ms=12000 init_cpu_ns=1 outcome=fail",
        ]);
        let shown = describe(&of_scenario("a", &run));
        assert_eq!(
            shown,
            "scx_simple 1.50-2.60 s, none 2.60-3.00 s, qmap 3.00-9.00 s, none 9.00-12.00 s"
        );
        assert!(of_scenario("b", &run).is_empty());
        let plain = records(&[
            "SBX1 scenario name=a t_ms=1500",
            "SBX1 scenario-end name=a t_ms=2000 init_cpu_ns=1 outcome=pass",
        ]);
        assert!(of_scenario("a", &plain).is_empty());
    }
}
