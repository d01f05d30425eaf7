//! The machines a run boots: one VM per shape, in the order the shapes first appear,
//! each with the scenarios that run on it. A scenario whose file sets `topology` runs on
//! that shape only, whatever the command line says (the report notes it); every other
//! scenario runs on each shape of the command line: `--topology`'s (several for a
//! gauntlet) or `--cpus` flat. Every scenario is validated against each machine it
//! runs on, its worker memory against that VM's `--memory`.

use crate::cli::VmOptions;
use crate::pipeline::preflight;
use crate::scenario::{self, Scenario, Unvalidated, VmShape};
use crate::topology::{Layout, Shape};

/// One VM of a run.
#[derive(Debug, Clone)]
pub struct ShapeRun {
    pub shape: Shape,
    /// Whether the guest's own view of its topology is checked against `shape`: it was
    /// asked for by name (`--topology` or a scenario's `topology`), not `--cpus`.
    pub verify: bool,
    /// With `--host`: the machine's layout its CPU sets were resolved on, which the
    /// engine's `cpu` records must agree with.
    pub host: Option<&'static Layout>,
    pub scenarios: Vec<Scenario>,
    /// For the report: scenarios whose own shape replaced the command line's.
    pub notes: Vec<String>,
}

/// The scenarios named on the command line (or the built-in one), one VM per shape.
pub fn group(vm: &VmOptions) -> Result<Vec<ShapeRun>, String> {
    let inputs = inputs(vm)?;
    check_names(&inputs)?;
    let named = !vm.topology.is_empty();
    let mut runs: Vec<ShapeRun> = Vec::new();
    for input in &inputs {
        let pinned = input.topology(vm.memory_mib).map_err(|e| e.to_string())?;
        let shapes = pinned.map_or_else(|| vm.shapes(), |s| vec![s]);
        let several = shapes.len() > 1;
        let mut warned = false;
        for shape in shapes {
            let at = match runs.iter().position(|r| r.shape == shape) {
                Some(at) => at,
                None => {
                    runs.push(ShapeRun {
                        shape,
                        verify: named,
                        host: None,
                        scenarios: Vec::new(),
                        notes: Vec::new(),
                    });
                    runs.len() - 1
                }
            };
            let run = &mut runs[at];
            let on = VmShape {
                topology: shape,
                memory_mib: vm.memory_mib,
                host: None,
            };
            let scenario = input.validate(&on).map_err(|e| {
                if several {
                    format!("{e} (on {shape}, one of the gauntlet's shapes)")
                } else {
                    e.to_string()
                }
            })?;
            // Once per file, not once per shape it is validated on.
            if !warned {
                for warning in &scenario.warnings {
                    eprintln!("schedbox: {warning}");
                }
                warned = true;
            }
            run.scenarios.push(scenario);
            if pinned.is_some() {
                run.verify = true;
                run.notes.extend(overridden(input, shape, vm));
            }
        }
    }
    Ok(runs)
}

/// The scenarios of a `--host` run, validated on this machine (`host`); a scenario that
/// pins a VM's shape cannot run there.
pub fn on_host(vm: &VmOptions, host: VmShape) -> Result<ShapeRun, String> {
    let inputs = inputs(vm)?;
    check_names(&inputs)?;
    let mut scenarios = Vec::new();
    for input in &inputs {
        if let Some(shape) = input.topology(host.memory_mib).map_err(|e| e.to_string())? {
            return Err(format!(
                "{}: `topology = \"{shape}\"` asks for a VM of that shape; --host runs on this \
                 machine as it is: drop --host, or drop the scenario's topology",
                input.source
            ));
        }
        let scenario = input.validate(&host).map_err(|e| e.to_string())?;
        for warning in &scenario.warnings {
            eprintln!("schedbox: {warning}");
        }
        scenarios.push(scenario);
    }
    Ok(ShapeRun {
        shape: host.topology,
        verify: false,
        host: host.host,
        scenarios,
        notes: Vec::new(),
    })
}

/// The one VM of a command that boots one (plan, initramfs, soak, bench); scenarios that
/// pin different shapes need `run`.
pub fn single(vm: &VmOptions) -> Result<ShapeRun, String> {
    let mut runs = group(vm)?;
    if runs.len() == 1 {
        return Ok(runs.remove(0));
    }
    let each: Vec<String> = runs
        .iter()
        .map(|r| {
            let sources: Vec<&str> = r.scenarios.iter().map(|s| s.source.as_str()).collect();
            format!("{} for {}", r.shape, sources.join(", "))
        })
        .collect();
    Err(format!(
        "these scenarios need {} machines ({}): this command boots one; give the scenarios \
         of one shape at a time, or run them all with `schedbox run`",
        runs.len(),
        each.join("; ")
    ))
}

/// The scenario files, read and parsed, or the built-in one.
fn inputs(vm: &VmOptions) -> Result<Vec<Unvalidated>, String> {
    if vm.scenarios.is_empty() {
        let built_in = scenario::parse_only(scenario::BUILT_IN, "built-in spin scenario");
        return Ok(vec![built_in.map_err(|e| e.to_string())?]);
    }
    vm.scenarios
        .iter()
        .map(|path| {
            preflight::scenario_file(path)?;
            scenario::read(path).map_err(|e| e.to_string())
        })
        .collect()
}

/// Scenario names are unique in a run: records, logs and the report's table name them.
fn check_names(inputs: &[Unvalidated]) -> Result<(), String> {
    for (i, s) in inputs.iter().enumerate() {
        if let Some(first) = inputs[..i].iter().find(|o| o.name() == s.name()) {
            return Err(format!(
                "{}: scenario name {:?} is also used by {}: names must be unique in a run",
                s.source,
                s.name(),
                first.source
            ));
        }
    }
    Ok(())
}

/// The note for a scenario that pinned `shape` where the command line asked for others.
fn overridden(input: &Unvalidated, shape: Shape, vm: &VmOptions) -> Option<String> {
    if vm.shapes().contains(&shape) {
        return None;
    }
    let asked = if vm.topology.is_empty() {
        format!("--cpus {}", vm.cpus)
    } else {
        let shapes: Vec<String> = vm.topology.iter().map(Shape::to_string).collect();
        format!("--topology {}", shapes.join(","))
    };
    Some(format!(
        "{} runs on its own topology = \"{shape}\"; the command line's {asked} does not \
         apply to it",
        input.source
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{DEFAULT_CPUS, DEFAULT_MEMORY_MIB};
    use crate::tempdir::TempDir;

    const SPIN: &str = "duration_ms = 100\n[[workers]]\ngroup = \"w\"\nwork = \"spin\"\n";

    /// Scenario files named `name` with `extra` lines before the body, in `dir`.
    fn scenarios(dir: &TempDir, files: &[(&str, &str)]) -> Vec<std::path::PathBuf> {
        files
            .iter()
            .map(|(name, extra)| {
                let path = dir.path().join(format!("{name}.toml"));
                std::fs::write(&path, format!("name = \"{name}\"\n{extra}\n{SPIN}")).unwrap();
                path
            })
            .collect()
    }

    fn vm(topology: &str, scenarios: Vec<std::path::PathBuf>) -> VmOptions {
        VmOptions {
            cpus: DEFAULT_CPUS,
            topology: if topology.is_empty() {
                Vec::new()
            } else {
                crate::topology::sets::parse_list(topology).unwrap()
            },
            memory_mib: DEFAULT_MEMORY_MIB,
            scenarios,
        }
    }

    /// Each VM as "shape: scenario names", in order.
    fn layout(runs: &[ShapeRun]) -> Vec<String> {
        runs.iter()
            .map(|r| {
                let names: Vec<&str> = r.scenarios.iter().map(|s| s.name.as_str()).collect();
                format!("{}: {}", r.shape, names.join(" "))
            })
            .collect()
    }

    #[test]
    fn pinned_scenarios_get_a_vm_per_shape_in_order_of_first_appearance() {
        let dir = TempDir::new("shapes-pinned").unwrap();
        let files = scenarios(
            &dir,
            &[
                ("a", "topology = \"1n2l1c1t\""),
                ("b", ""),
                ("c", "topology = \"smt2\""),
                ("d", "topology = \"1n2l1c1t\""),
            ],
        );
        let runs = group(&vm("", files)).unwrap();
        assert_eq!(
            layout(&runs),
            ["1n2l1c1t: a d", "1n1l2c1t: b", "1n1l1c2t: c"]
        );
        assert_eq!(
            runs.iter().map(|r| r.verify).collect::<Vec<_>>(),
            [true, false, true]
        );
        assert_eq!(runs[0].scenarios[0].topology, Shape::parse("1n2l1c1t").ok());
        assert_eq!(runs[1].scenarios[0].topology, None);
        assert!(
            runs[0].notes[0].contains("runs on its own topology = \"1n2l1c1t\"; the command line's --cpus 2 does not apply"),
            "{:?}",
            runs[0].notes
        );
    }

    #[test]
    fn a_gauntlet_multiplies_only_the_unpinned_scenarios() {
        let dir = TempDir::new("shapes-gauntlet").unwrap();
        let files = scenarios(&dir, &[("a", ""), ("b", "topology = \"uni\""), ("c", "")]);
        let runs = group(&vm("1n1l2c1t,1n2l1c1t", files)).unwrap();
        assert_eq!(
            layout(&runs),
            ["1n1l2c1t: a c", "1n2l1c1t: a c", "1n1l1c1t: b"]
        );
        assert!(runs.iter().all(|r| r.verify));
        // A pinned shape the gauntlet has too shares its VM, with no note.
        let files = scenarios(&dir, &[("a", ""), ("b", "topology = \"flat2\"")]);
        let runs = group(&vm("1n1l2c1t,1n2l1c1t", files)).unwrap();
        assert_eq!(layout(&runs), ["1n1l2c1t: a b", "1n2l1c1t: a"]);
        assert!(runs[0].notes.is_empty(), "{:?}", runs[0].notes);
        assert!(single(&vm("1n1l2c1t,1n2l1c1t", Vec::new()))
            .unwrap_err()
            .contains("need 2 machines (1n1l2c1t for built-in spin scenario; 1n2l1c1t for"));
    }

    #[test]
    fn each_scenario_is_validated_on_each_of_its_shapes() {
        let dir = TempDir::new("shapes-invalid").unwrap();
        let pinned_llc = "affinity = \"llc:1\"";
        let files = scenarios(&dir, &[("a", "")]);
        let body = std::fs::read_to_string(&files[0]).unwrap() + pinned_llc + "\n";
        std::fs::write(&files[0], body).unwrap();
        // llc:1 exists on 1n2l1c1t and not on 1n1l2c1t: the second shape names it.
        let err = group(&vm("1n2l1c1t,1n1l2c1t", files)).unwrap_err();
        assert!(
            err.contains("affinity")
                && err.ends_with("(on 1n1l2c1t, one of the gauntlet's shapes)"),
            "{err}"
        );
        for (topology, want) in [
            ("2x", "a.toml:2:12: topology: topology \"2x\" is neither NnLlCcTt"),
            ("1n1l128c", "a.toml:2:12: topology: 1n1l128c1t has 128 vCPUs, more than the 64"),
            ("8n8l1c1t", "a.toml:2:12: topology: --memory 256 split over the 8 nodes of 8n8l1c1t leaves 32 MiB a node, less than 64: raise --memory to at least 512"),
        ] {
            let files = scenarios(&dir, &[("a", &format!("topology = \"{topology}\""))]);
            let err = group(&vm("", files)).unwrap_err();
            assert!(err.contains(want), "{topology}: {err}");
        }
    }

    #[test]
    fn worker_memory_is_checked_against_each_vm() {
        let dir = TempDir::new("shapes-memory").unwrap();
        let big = "[[workers]]\ngroup = \"m\"\nwork = \"page-fault\"\nsize_kb = 200000\n";
        let path = dir.path().join("m.toml");
        std::fs::write(
            &path,
            format!("name = \"m\"\ntopology = \"numa2\"\nduration_ms = 100\n{big}"),
        )
        .unwrap();
        let mut options = vm("", vec![path]);
        let err = group(&options).unwrap_err();
        assert!(err.contains("more than half the VM's 256 MiB"), "{err}");
        options.memory_mib = 512;
        assert_eq!(layout(&group(&options).unwrap()), ["2n2l2c1t: m"]);
    }
}
