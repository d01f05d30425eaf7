//! The host's scenario checks and the guest's plan validator agree at, below and beyond
//! every limit: each edge case is given to the host as a scenario and to the guest's
//! validator as the plan line it stands for, and both must accept it or both refuse it.

use schedbox::protocol::plan::{compile_checked, config_for_checking, DEFAULT_CONFIG};
use schedbox::scenario::catalog::load_for_check;
use schedbox::scenario::{parse, VmShape};
use schedbox::scheduler::first_scheduler_op;
use schedbox::topology::Shape;
use schedbox_protocol::limits::{
    MAX_CGROUP_DEPTH, MAX_HOLD_MS, MAX_NAME, MAX_PATH, MAX_WORKERS, NICE_RANGE, RT_PRIO_RANGE,
};
use schedbox_protocol::plan::validate;
use schedbox_protocol::works::{CGROUP_CHURN, WORKS};

/// Big enough that the VM's size or shape is never the limit under test: 256 vCPUs, as
/// many NUMA nodes as a working set may name, LLCs and SMT for the shape-bound works.
const VM: VmShape = VmShape {
    topology: Shape {
        nodes: 64,
        llcs: 64,
        cores_per_llc: 2,
        threads_per_core: 2,
        remote_distance: 20,
    },
    memory_mib: 1 << 20,
    host: None,
};

/// One edge case: a scenario file, and the plan body (after `step hold_ms=1`, or the
/// whole scenario when `whole`) that carries the same value to the guest.
struct Edge {
    what: String,
    toml: String,
    plan: String,
}

fn workers(extra: &str) -> String {
    format!("name = \"e\"\nduration_ms = 1\n[[workers]]\ngroup = \"w\"\nwork = \"spin\"\n{extra}\n")
}

fn spawn_plan(extra: &str) -> String {
    plan_with(&format!("op spawn group=w cgroup=w work=spin {extra}\n"))
}

fn plan_with(ops: &str) -> String {
    format!("schedbox-plan 1\nscenario name=e\nstep hold_ms=1\n{ops}end\n")
}

fn edge(what: impl Into<String>, toml: String, plan: String) -> Edge {
    Edge {
        what: what.into(),
        toml,
        plan,
    }
}

fn spawn_edges() -> Vec<Edge> {
    let mut edges = Vec::new();
    for n in [0, 1, MAX_WORKERS as i64, MAX_WORKERS as i64 + 1] {
        edges.push(edge(
            format!("count {n}"),
            workers(&format!("count = {n}")),
            spawn_plan(&format!("count={n}")),
        ));
    }
    let (lo, hi) = NICE_RANGE;
    for n in [lo - 1, lo, hi, hi + 1] {
        edges.push(edge(
            format!("nice {n}"),
            workers(&format!("nice = {n}")),
            spawn_plan(&format!("nice={n}")),
        ));
    }
    let (lo, hi) = RT_PRIO_RANGE;
    for p in [lo - 1, lo, hi, hi + 1] {
        edges.push(edge(
            format!("fifo prio {p}"),
            workers(&format!("policy = \"fifo\"\nprio = {p}")),
            spawn_plan(&format!("policy=fifo prio={p}")),
        ));
    }
    for cpus in ["0-255", "256", "255"] {
        edges.push(edge(
            format!("affinity {cpus}"),
            workers(&format!("affinity = \"{cpus}\"")),
            spawn_plan(&format!("affinity={cpus}")),
        ));
    }
    edges.extend(thread_edges());
    edges
}

/// `threads = true` for every work type (only `THREAD_WORKS` may), and with `expect`.
fn thread_edges() -> Vec<Edge> {
    let mut edges: Vec<Edge> = WORKS
        .iter()
        .filter(|w| w.name != CGROUP_CHURN.name)
        .map(|w| {
            let toml = format!(
                "name = \"e\"\nduration_ms = 1\n[[workers]]\ngroup = \"w\"\nwork = \"{}\"\n\
                 count = 2\nthreads = true\n",
                w.name
            );
            let plan = plan_with(&format!(
                "op spawn group=w cgroup=w work={} count=2 threads=1\n",
                w.name
            ));
            edge(format!("{} as threads", w.name), toml, plan)
        })
        .collect();
    edges.push(edge(
        "threads with expect",
        workers("threads = true\nexpect = \"oom-killed\""),
        spawn_plan("threads=1 expect=oom-killed"),
    ));
    edges
}

fn work_key_edges() -> Vec<Edge> {
    let mut edges = Vec::new();
    for work in WORKS {
        for key in work.keys {
            if !key.words.is_empty() {
                edges.extend(word_key_edges(work.name, key));
                continue;
            }
            let values = [key.min.saturating_sub(1), key.min, key.max, key.max + 1];
            // cgroup-churn moves its workers among the scenario's top cgroups: it needs two.
            let other = if work.name == CGROUP_CHURN.name {
                "[[cgroup]]\npath = \"other\"\n"
            } else {
                ""
            };
            for v in values.into_iter().filter(|&v| v > 0 || key.min > 0) {
                let toml = format!(
                    "name = \"e\"\nduration_ms = 1\n[[workers]]\ngroup = \"w\"\nwork = \"{}\"\n\
                     count = 2\n{} = {v}\n{other}",
                    work.name, key.name
                );
                let plan = plan_with(&format!(
                    "op spawn group=w cgroup=w work={} count=2 {}={v}\n",
                    work.name, key.name
                ));
                edges.push(edge(
                    format!("{}.{} = {v}", work.name, key.name),
                    toml,
                    plan,
                ));
            }
        }
        if work.paired {
            for n in [2, 3] {
                let toml = format!(
                    "name = \"e\"\nduration_ms = 1\n[[workers]]\ngroup = \"w\"\nwork = \"{}\"\ncount = {n}\n",
                    work.name
                );
                let plan = plan_with(&format!(
                    "op spawn group=w cgroup=w work={} count={n}\n",
                    work.name
                ));
                edges.push(edge(format!("{} count {n}", work.name), toml, plan));
            }
        }
    }
    edges
}

/// A word key's first and last word, and a word it does not take.
fn word_key_edges(work: &str, key: &schedbox_protocol::works::Key) -> Vec<Edge> {
    let last = key.words[key.words.len() - 1];
    [key.words[0], last, "nope"]
        .into_iter()
        .map(|word| {
            let toml = format!(
                "name = \"e\"\nduration_ms = 1\n[[workers]]\ngroup = \"w\"\nwork = \"{work}\"\n\
                 count = 2\n{} = \"{word}\"\n",
                key.name
            );
            let plan = plan_with(&format!(
                "op spawn group=w cgroup=w work={work} count=2 {}={word}\n",
                key.name
            ));
            edge(format!("{work}.{} = {word}", key.name), toml, plan)
        })
        .collect()
}

fn name_and_path_edges() -> Vec<Edge> {
    let mut edges = Vec::new();
    for len in [MAX_NAME, MAX_NAME + 1] {
        let name = "n".repeat(len);
        edges.push(edge(
            format!("scenario name of {len} bytes"),
            format!("name = \"{name}\"\nduration_ms = 1\n"),
            format!("schedbox-plan 1\nscenario name={name}\nstep hold_ms=1\nend\n"),
        ));
        edges.push(edge(
            format!("group name of {len} bytes"),
            format!("name = \"e\"\nduration_ms = 1\n[[cgroup]]\npath = \"c\"\n[[workers]]\ngroup = \"{name}\"\ncgroup = \"c\"\nwork = \"spin\"\n"),
            plan_with(&format!("op spawn group={name} cgroup=c work=spin\n")),
        ));
    }
    for depth in [MAX_CGROUP_DEPTH, MAX_CGROUP_DEPTH + 1] {
        let path = vec!["c"; depth].join("/");
        edges.push(cgroup_edge(format!("cgroup depth {depth}"), &path));
    }
    for len in [MAX_PATH, MAX_PATH + 1] {
        // Components of 47 bytes and a last one to make up the length.
        let mut parts = vec!["a".repeat(47); len / 48];
        parts.push("b".repeat(len - parts.len() * 48));
        let path = parts.join("/");
        assert_eq!(path.len(), len);
        edges.push(cgroup_edge(format!("cgroup path of {len} bytes"), &path));
        let file = format!("/{}", "f".repeat(len - 1));
        edges.push(edge(
            format!("write path of {len} bytes"),
            format!("name = \"e\"\n[[step]]\nhold_ms = 1\nops = [{{ op = \"write\", path = \"{file}\", value = \"1\" }}]\n"),
            plan_with(&format!("op write path={file} value=1\n")),
        ));
    }
    for hold in [0, 1, MAX_HOLD_MS, MAX_HOLD_MS + 1] {
        edges.push(edge(
            format!("hold {hold} ms"),
            format!("name = \"e\"\nduration_ms = {hold}\n"),
            format!("schedbox-plan 1\nscenario name=e\nstep hold_ms={hold}\nend\n"),
        ));
    }
    edges
}

fn cgroup_edge(what: String, path: &str) -> Edge {
    edge(
        what,
        format!("name = \"e\"\nduration_ms = 1\n[[cgroup]]\npath = \"{path}\"\n"),
        plan_with(&format!("op cgroup-add path={path}\n")),
    )
}

#[test]
fn host_and_guest_agree_on_every_limit() {
    let edges: Vec<Edge> = [spawn_edges(), work_key_edges(), name_and_path_edges()]
        .into_iter()
        .flatten()
        .collect();
    assert!(edges.len() > 60, "only {} edge cases", edges.len());
    let mut disagreements = Vec::new();
    for e in &edges {
        let host = parse(&e.toml, "edge.toml", &VM)
            .map_err(|err| err.to_string())
            .and_then(|s| compile_checked(&[s], &DEFAULT_CONFIG).map_err(|err| err.to_string()));
        let guest = validate(e.plan.as_bytes());
        if host.is_ok() != guest.is_ok() {
            disagreements.push(format!(
                "{}: host {:?}, guest {:?}",
                e.what,
                host.as_ref().err(),
                guest.as_ref().err().map(|g| g.to_string())
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

#[test]
fn every_catalog_scenario_compiles_to_a_plan_the_guest_accepts() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios");
    let vm = VmShape::flat(2, 256);
    let mut seen = 0;
    for dir in std::fs::read_dir(root).unwrap().flatten() {
        let files: Vec<_> = match std::fs::read_dir(dir.path()) {
            Ok(entries) => entries.flatten().map(|e| e.path()).collect(),
            Err(_) => vec![dir.path()],
        };
        for path in files
            .iter()
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        {
            let scenario = load_for_check(path, vm).unwrap_or_else(|e| panic!("{e}"));
            // A scenario that detaches or attaches the scheduler runs only with one, and
            // with the schedulers it names by label.
            let config = config_for_checking(std::slice::from_ref(&scenario));
            assert_eq!(
                config.scheduler.is_some(),
                first_scheduler_op(std::slice::from_ref(&scenario)).is_some(),
                "{}",
                path.display()
            );
            compile_checked(&[scenario], &config)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            seen += 1;
        }
    }
    assert!(seen >= 40, "only {seen} scenarios found under {root}");
}
