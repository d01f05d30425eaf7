//! Schedulers besides the run's: those scenarios declare by label (`[schedulers.LABEL]`)
//! for `scheduler-attach` and `scheduler-replace`, with the program
//! `--extra-scheduler LABEL=PATH` gives where it overrides or supplies one. Each is
//! packed with its libraries in a folder of its own.

use std::path::{Path, PathBuf};

use super::{locate, SchedulerInfo};
use crate::cli::ExtraScheduler;
use crate::protocol::plan::LabelledScheduler;
use crate::scenario::{NamedScheduler, Scenario};

/// Guest folders of labelled schedulers start with this, then the label.
const GUEST_DIR_PREFIX: &str = "scheduler-"; // not vocabulary: a directory in the guest

/// A labelled scheduler of the run, found and ready to pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labelled {
    pub label: String,
    pub info: SchedulerInfo,
}

impl Labelled {
    pub fn plan_line(&self) -> LabelledScheduler {
        LabelledScheduler {
            label: self.label.clone(),
            scheduler: self.info.plan_line(),
        }
    }
}

/// Every label the scenarios declare, one declaration a label (two scenarios that
/// declare a label differently are refused), each program found: the command line's,
/// else the scenario's. A label the command line gives that no scenario declares is
/// refused too: it would change nothing, so it is likely mistyped.
pub fn resolve(
    scenarios: &[Scenario],
    extra: &[ExtraScheduler],
    attach_ms: u64,
) -> Result<Vec<Labelled>, String> {
    let declared = declarations(scenarios)?;
    if let Some(e) = extra
        .iter()
        .find(|e| !declared.iter().any(|(d, _)| d.label == e.label))
    {
        let labels: Vec<&str> = declared.iter().map(|(d, _)| d.label.as_str()).collect();
        return Err(format!(
            "--extra-scheduler {}={}: no scenario of this run declares [schedulers.{}] \
             (declared: {})",
            e.label,
            e.path.display(),
            e.label,
            if labels.is_empty() {
                "none".to_string()
            } else {
                labels.join(", ")
            }
        ));
    }
    declared
        .into_iter()
        .map(|(d, scenario)| {
            let given = extra.iter().find(|e| e.label == d.label);
            let path = program(d, scenario, given)?;
            let info = SchedulerInfo::packed_in(
                &format!("{GUEST_DIR_PREFIX}{}", d.label),
                path,
                d.args.clone(),
                d.name.clone(),
                attach_ms,
            )?;
            Ok(Labelled {
                label: d.label.clone(),
                info,
            })
        })
        .collect()
}

/// Each label once, with the first scenario that declares it.
fn declarations(scenarios: &[Scenario]) -> Result<Vec<(&NamedScheduler, &Scenario)>, String> {
    let mut out: Vec<(&NamedScheduler, &Scenario)> = Vec::new();
    for scenario in scenarios {
        for d in &scenario.schedulers {
            match out.iter().find(|(o, _)| o.label == d.label) {
                Some((o, first)) if *o != d => {
                    return Err(format!(
                        "{} and {} declare [schedulers.{}] differently: one run packs one \
                         scheduler a label; give them the same path, args and name, or \
                         different labels",
                        first.source, scenario.source, d.label
                    ))
                }
                Some(_) => {}
                None => out.push((d, scenario)),
            }
        }
    }
    Ok(out)
}

/// The program: the command line's, else the scenario's (a path relative to its file's
/// folder, or a name as `--scheduler` takes it).
fn program(
    d: &NamedScheduler,
    scenario: &Scenario,
    given: Option<&ExtraScheduler>,
) -> Result<PathBuf, String> {
    if let Some(e) = given {
        return locate(&e.path, &format!("--extra-scheduler {}", e.label));
    }
    let what = format!("{}: schedulers.{}.path", scenario.source, d.label);
    let Some(text) = &d.program else {
        return Err(format!(
            "{what}: not given: add `path = ...` to [schedulers.{0}], or give \
             --extra-scheduler {0}=PATH",
            d.label
        ));
    };
    let relative = text.contains('/') && !text.starts_with('/');
    let base = Path::new(&scenario.source)
        .parent()
        .unwrap_or(Path::new(""));
    let program = if relative {
        base.join(text)
    } else {
        PathBuf::from(text)
    };
    locate(&program, &what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{parse, VmShape};

    const VM: VmShape = VmShape::flat(2, 256);

    fn scenario(source: &str, table: &str) -> Scenario {
        let toml = format!("name = \"a\"\nduration_ms = 100\nscheduler = \"detached\"\n{table}");
        parse(&toml, source, &VM).unwrap()
    }

    #[test]
    fn the_command_line_gives_or_overrides_a_program() {
        let declared = scenario(
            "/x/a.toml",
            "[schedulers.q]\npath = \"/bin/true\"\nargs = [\"-S\"]\n",
        );
        let found = resolve(std::slice::from_ref(&declared), &[], 5).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].info.path, Path::new("/bin/true"));
        assert_eq!(found[0].info.guest_path, "/payload/scheduler-q/true");
        assert_eq!(found[0].info.args, ["-S"]);
        let given = ExtraScheduler {
            label: "q".into(),
            path: "/bin/false".into(),
        };
        let found = resolve(std::slice::from_ref(&declared), &[given], 5).unwrap();
        assert_eq!(found[0].info.path, Path::new("/bin/false"));
        assert_eq!(found[0].info.args, ["-S"], "the args stay the scenario's");
        let line = found[0].plan_line();
        assert_eq!(line.label, "q");
        assert_eq!(line.scheduler.attach_ms, 5);
    }

    #[test]
    fn missing_mismatched_and_unused_labels_are_refused() {
        let no_path = scenario("/x/a.toml", "[schedulers.q]\nargs = [\"-S\"]\n");
        let err = resolve(&[no_path], &[], 5).unwrap_err();
        assert!(err.contains("--extra-scheduler q=PATH"), "{err}");
        let one = scenario("/x/a.toml", "[schedulers.q]\npath = \"/bin/true\"\n");
        let other = scenario("/x/b.toml", "[schedulers.q]\npath = \"/bin/false\"\n");
        let err = resolve(&[one.clone(), other], &[], 5).unwrap_err();
        assert!(
            err.contains("/x/a.toml and /x/b.toml declare [schedulers.q] differently"),
            "{err}"
        );
        let typo = ExtraScheduler {
            label: "qq".into(),
            path: "/bin/true".into(),
        };
        let err = resolve(&[one], &[typo], 5).unwrap_err();
        assert!(
            err.contains("no scenario of this run declares [schedulers.qq] (declared: q)"),
            "{err}"
        );
        let relative = scenario("/nonexistent/a.toml", "[schedulers.q]\npath = \"bin/x\"\n");
        let err = resolve(&[relative], &[], 5).unwrap_err();
        assert!(err.contains("/nonexistent/bin/x"), "{err}");
    }
}
