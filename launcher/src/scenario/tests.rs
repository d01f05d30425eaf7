use super::*;

const VM: VmShape = VmShape::flat(2, 256);

fn ok(toml: &str) -> Scenario {
    parse(toml, "s.toml", &VM).unwrap_or_else(|e| panic!("{e}"))
}

/// Asserts the scenario is rejected, naming the field and containing `hint`.
fn rejected(toml: &str, field: &str, hint: &str) {
    let err = parse(toml, "s.toml", &VM).expect_err("scenario was accepted");
    assert_eq!(err.source, "s.toml");
    assert!(
        err.field.contains(field),
        "field {:?} does not name {field:?}: {err}",
        err.field
    );
    assert!(
        err.to_string().contains(hint),
        "message lacks {hint:?}: {err}"
    );
}

const SIMPLE: &str = "name = \"s\"\nduration_ms = 500\n";

fn with_workers(extra: &str) -> String {
    format!("{SIMPLE}[[workers]]\ngroup = \"w\"\nwork = \"spin\"\n{extra}\n")
}

#[test]
fn minimal_scenario_gets_a_cgroup_per_group_and_default_checks() {
    let s = ok(&with_workers(""));
    assert_eq!(s.duration_ms(), 500);
    assert_eq!(s.steps.len(), 1);
    assert_eq!(
        s.steps[0].ops[0],
        Op::CgroupAdd {
            path: "w".to_string()
        }
    );
    let Op::Spawn(spawn) = &s.steps[0].ops[1] else {
        panic!("no spawn: {:?}", s.steps[0].ops)
    };
    assert_eq!(
        (spawn.cgroup.as_str(), spawn.count, spawn.policy.as_str()),
        ("w", 1, "other")
    );
    let names: Vec<_> = s
        .checks
        .iter()
        .map(|c| (c.name.as_str(), c.limit))
        .collect();
    assert_eq!(
        names,
        [
            ("progress", 1),
            ("stall", catalog::DEFAULT_STALL_LIMIT_MS),
            ("kernel-log", 0)
        ]
    );
}

#[test]
fn listed_checks_replace_defaults_of_the_same_name() {
    let s = ok(&with_workers(
        "[[check]]\nname = \"stall\"\nlimit = 50\ngroup = \"w\"",
    ));
    let names: Vec<_> = s
        .checks
        .iter()
        .map(|c| (c.name.as_str(), c.limit))
        .collect();
    assert_eq!(names, [("progress", 1), ("kernel-log", 0), ("stall", 50)]);
}

#[test]
fn a_scenario_without_workers_is_not_judged_on_progress() {
    let s = ok(SIMPLE);
    let names: Vec<_> = s.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["stall", "kernel-log"]);
    rejected(
        &format!("{SIMPLE}[[check]]\nname = \"progress\""),
        "progress",
        "no [[workers]] group",
    );
}

#[test]
fn toml_errors_and_unknown_fields_are_rejected() {
    rejected("name = ", "", "not a valid scenario");
    rejected(&format!("{SIMPLE}colour = 1"), "", "colour");
    rejected(&with_workers("speed = 3"), "", "speed");
    rejected(
        &format!("{SIMPLE}[[cgroup]]\npath = \"a\"\nweigth = 3"),
        "",
        "(did you mean `weight`?)",
    );
}

#[test]
fn names_and_durations_are_checked() {
    rejected("name = \"Bad Name\"\nduration_ms = 1", "name", "a-z");
    rejected("name = \"s\"", "duration_ms", "missing");
    rejected(
        "name = \"s\"\nduration_ms = 0",
        "duration_ms",
        "out of range",
    );
    rejected(
        &format!("{SIMPLE}[[step]]\nhold_ms = 5"),
        "duration_ms",
        "not both",
    );
}

#[test]
fn workers_may_expect_a_limit_and_get_the_expect_check() {
    let toml = format!(
        "{SIMPLE}[[workers]]\ngroup = \"f\"\nwork = \"fork-churn\"\nexpect = \"fork-refused\"\n"
    );
    let s = ok(&toml);
    let Op::Spawn(spawn) = &s.steps[0].ops[1] else {
        panic!("no spawn: {:?}", s.steps[0].ops)
    };
    assert_eq!(spawn.expect.as_deref(), Some("fork-refused"));
    assert!(
        s.checks.iter().any(|c| c.name == "expect" && c.limit == 0),
        "{:?}",
        s.checks
    );
    assert!(
        crate::protocol::plan::compile(&[s], &crate::protocol::plan::DEFAULT_CONFIG)
            .contains("work=fork-churn count=1 nice=0 policy=other expect=fork-refused")
    );
    rejected(
        &with_workers("expect = \"fork-refused\""),
        "\"w\".expect",
        "fork-churn",
    );
    rejected(
        &with_workers("expect = \"crash\""),
        "\"w\".expect",
        "oom-killed",
    );
    rejected(
        &format!("{}[[check]]\nname = \"expect\"\n", with_workers("")),
        "\"expect\".name",
        "set expect",
    );
    let oom = ok(&with_workers("expect = \"oom-killed\""));
    assert!(oom.checks.iter().any(|c| c.name == "expect"));
}

#[test]
fn worker_fields_are_checked() {
    rejected(&with_workers("count = 0"), "\"w\".count", "1 to 4096");
    rejected(&with_workers("nice = 20"), "\"w\".nice", "-20 to 19");
    rejected(
        &with_workers("policy = \"deadline\""),
        "\"w\".policy",
        "fifo",
    );
    rejected(&with_workers("prio = 5"), "\"w\".prio", "fifo");
    rejected(
        &with_workers("policy = \"rr\"\nprio = 100"),
        "\"w\".prio",
        "1 to 98",
    );
    rejected(
        &with_workers("policy = \"fifo\"\nprio = 99"),
        "\"w\".prio",
        "PID 1",
    );
    rejected(
        &with_workers("affinity = \"0-2\""),
        "\"w\".affinity",
        "raise --cpus",
    );
    rejected(
        &with_workers("affinity = \"x\""),
        "\"w\".affinity",
        "CPU list",
    );
    rejected(
        &with_workers("spin_us = 5"),
        "\"w\".spin_us",
        "takes no parameters",
    );
    let bad_work = format!("{SIMPLE}[[workers]]\ngroup = \"w\"\nwork = \"dance\"");
    rejected(&bad_work, "\"w\".work", "sleep-wake");
    let odd = format!("{SIMPLE}[[workers]]\ngroup = \"p\"\nwork = \"pipe-pingpong\"\ncount = 3");
    rejected(&odd, "\"p\".count", "even");
    let huge =
        format!("{SIMPLE}[[workers]]\ngroup = \"m\"\nwork = \"page-fault\"\nsize_kb = 200000");
    rejected(&huge, "\"m\".size_kb", "--memory");
    let twice = format!(
        "{}[[workers]]\ngroup = \"w\"\nwork = \"yield\"",
        with_workers("")
    );
    rejected(&twice, "\"w\"", "twice");
}

#[test]
fn cgroup_fields_are_checked() {
    let cg = |body: &str| format!("{SIMPLE}[[cgroup]]\npath = \"a\"\n{body}\n");
    rejected(&cg("cpus = \"5\""), "\"a\".cpus", "raise --cpus");
    rejected(&cg("weight = 0"), "\"a\".weight", "1 to 10000");
    rejected(&cg("max = \"500 100000\""), "\"a\".max", "minimum");
    rejected(&cg("max = \"half\""), "\"a\".max", "50000 100000");
    rejected(&cg("memory_max = \"12Q\""), "\"a\".memory_max", "256M");
    rejected(&cg("memory_max = 100"), "\"a\".memory_max", "at least");
    rejected(&cg("mems = \"1\""), "\"a\".mems", "node 0 only");
    rejected(&cg("pids_max = 0"), "\"a\".pids_max", "≥ 1");
    rejected(
        &format!("{SIMPLE}[[cgroup]]\npath = \"../x\""),
        "path",
        "not a valid cgroup path",
    );
    let s = ok(&cg("memory_max = \"1G\"\nidle = true\npids_max = \"max\""));
    let sets: Vec<_> = s.steps[0]
        .ops
        .iter()
        .filter_map(|op| match op {
            Op::CgroupSet { file, value, .. } => Some(format!("{file}={value}")),
            _ => None,
        })
        .collect();
    assert_eq!(
        sets,
        ["cpu.idle=1", "memory.max=1073741824", "pids.max=max"]
    );
}

#[test]
fn cgroup_churn_needs_two_cgroups_at_the_top() {
    let churn = "[[workers]]\ngroup = \"w\"\nwork = \"cgroup-churn\"\n";
    rejected(
        &format!("{SIMPLE}{churn}"),
        "\"w\".work",
        "which has 1 of the 2 it needs",
    );
    // A nested cgroup is not at the top: the group's own cgroup is under "p".
    rejected(
        &format!("{SIMPLE}[[cgroup]]\npath = \"p\"\n{churn}cgroup = \"p/w\"\n"),
        "\"w\".work",
        "which has 1 of the 2 it needs",
    );
    ok(&format!("{SIMPLE}[[cgroup]]\npath = \"a\"\n{churn}"));
}

#[test]
fn nested_cgroups_get_parents_first() {
    let s = ok(&format!(
        "{SIMPLE}[[cgroup]]\npath = \"a/b/c\"\n[[cgroup]]\npath = \"a\"\nweight = 7"
    ));
    let ops: Vec<String> = s.steps[0].ops.iter().map(|o| format!("{o:?}")).collect();
    assert!(ops[0].contains("path: \"a\""), "{ops:?}");
    assert!(ops[1].contains("cpu.weight"), "{ops:?}");
    assert!(ops[2].contains("path: \"a/b\""), "{ops:?}");
    assert!(ops[3].contains("path: \"a/b/c\""), "{ops:?}");
}

#[test]
fn step_ops_are_checked_against_what_exists() {
    let steps = |ops: &str| {
        format!(
            "name = \"s\"\n[[workers]]\ngroup = \"w\"\nwork = \"spin\"\n\
             [[step]]\nhold_ms = 10\nops = [{{ op = \"spawn\", group = \"w\" }}]\n\
             [[step]]\nhold_ms = 10\nops = [{ops}]\n"
        )
    };
    ok(&steps("{ op = \"stop\", group = \"w\" }"));
    rejected(
        &steps("{ op = \"spawn\", group = \"w\" }"),
        "[[step]] 1.ops[0]",
        "twice",
    );
    rejected(
        &steps("{ op = \"stop\", group = \"x\" }"),
        "[[step]] 1.ops[0]",
        "not running",
    );
    rejected(
        &steps("{ op = \"cgroup-remove\", path = \"w\" }"),
        "[[step]] 1.ops[0]",
        "stop or move",
    );
    rejected(
        &steps("{ op = \"move\", from = \"w\", to = \"z\" }"),
        "ops[0].to",
        "no cgroup",
    );
    rejected(
        &steps("{ op = \"cgroup-add\", path = \"x/y\" }"),
        "ops[0].path",
        "no cgroup \"x\"",
    );
    rejected(
        &steps("{ op = \"cgroup-set\", path = \"w\", file = \"weight\", value = 1 }"),
        "ops[0].file",
        "cpu.weight",
    );
    rejected(&steps("{ op = \"jump\" }"), "", "jump");
    rejected(
        &steps("{ op = \"stop\", group = \"w\", when = 1 }"),
        "",
        "when",
    );
    let never =
        "name = \"s\"\n[[workers]]\ngroup = \"w\"\nwork = \"spin\"\n[[step]]\nhold_ms = 10\n";
    rejected(never, "[[workers]] \"w\"", "never spawned");
}

fn one_step(ops: &str) -> String {
    format!(
        "name = \"s\"\n[[workers]]\ngroup = \"w\"\nwork = \"spin\"\n\
         [[step]]\nhold_ms = 10\nops = [{{ op = \"spawn\", group = \"w\" }}, {ops}]\n"
    )
}

#[test]
fn write_ops_take_an_absolute_path_and_one_line() {
    let s = ok(&one_step(
        "{ op = \"write\", path = \"/proc/sys/kernel/sched_rt_runtime_us\", value = -1 }, \
         { op = \"write\", path = \"/sys/kernel/debug/provoke-crash/DIRECT\", value = \"WARNING\" }",
    ));
    let writes: Vec<_> = s.steps[0]
        .ops
        .iter()
        .filter_map(|op| match op {
            Op::Write { path, value } => Some(format!("{path}={value}")),
            _ => None,
        })
        .collect();
    assert_eq!(
        writes,
        [
            "/proc/sys/kernel/sched_rt_runtime_us=-1",
            "/sys/kernel/debug/provoke-crash/DIRECT=WARNING"
        ]
    );
    for bad in [
        "proc/sys/x",
        "/proc/../etc",
        "/proc//x",
        "/proc/x/",
        "/a b",
        "",
        &format!("/{}", "x".repeat(200)),
    ] {
        rejected(
            &one_step(&format!("{{ op = \"write\", path = {bad:?}, value = 1 }}")),
            "ops[1].path",
            "absolute path",
        );
    }
    rejected(
        &one_step("{ op = \"write\", path = \"/proc/sys/x\", value = \"a\\nb\" }"),
        "ops[1].value",
        "one-line",
    );
    rejected(&one_step("{ op = \"write\", path = \"/x\" }"), "", "value");
}

#[test]
fn freeze_and_thaw_write_cgroup_freeze() {
    let s = ok(&one_step(
        "{ op = \"freeze\", path = \"w\" }, { op = \"thaw\", path = \"w\" }",
    ));
    let sets: Vec<_> = s.steps[0]
        .ops
        .iter()
        .filter_map(|op| match op {
            Op::CgroupSet { path, file, value } => Some(format!("{path}/{file}={value}")),
            _ => None,
        })
        .collect();
    assert_eq!(sets, ["w/cgroup.freeze=1", "w/cgroup.freeze=0"]);
    rejected(
        &one_step("{ op = \"freeze\", path = \"nope\" }"),
        "ops[1].path",
        "no cgroup",
    );
}

#[test]
fn checks_are_checked() {
    let check = |body: &str| with_workers(&format!("[[check]]\n{body}"));
    rejected(&check("name = \"speed\""), "\"speed\".name", "fairness");
    rejected(
        &check("name = \"fairness\""),
        "\"fairness\".cgroup",
        "missing",
    );
    rejected(
        &check("name = \"fairness\"\ncgroup = \"nope\""),
        "\"fairness\".cgroup",
        "no cgroup",
    );
    rejected(
        &check("name = \"progress\"\ngroup = \"nope\""),
        "\"progress\".group",
        "no [[workers]]",
    );
    rejected(
        &check("name = \"kernel-log\"\ngroup = \"w\""),
        "\"kernel-log\".group",
        "does not take",
    );
    rejected(
        &check("name = \"scheduler\"\nlimit = 2"),
        "\"scheduler\".limit",
        "never fail",
    );
    rejected(
        &check("name = \"wake-latency\""),
        "\"wake-latency\".name",
        "sleep-wake",
    );
    let s = ok(&check("name = \"fairness\"\ncgroup = \"w\""));
    let fairness = s.checks.iter().find(|c| c.name == "fairness").unwrap();
    assert_eq!(fairness.limit, 300);
}

#[test]
fn built_in_scenario_is_valid() {
    let s = parse(BUILT_IN, "built-in", &VM).unwrap();
    assert_eq!(s.name, "spin");
    assert_eq!(s.duration_ms(), 2000);
}

/// Every catalog file under scenarios/ is valid on the VM it is written for (the flat
/// one, or the topology batch's shape), and their names are unique, so that any of
/// them can run together in one VM.
#[test]
fn catalog_scenarios_are_valid_and_uniquely_named() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut dirs = vec![root];
    let mut names: Vec<(String, String)> = Vec::new();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") {
                let s = catalog::load_for_check(&path, VM).unwrap_or_else(|e| panic!("{e}"));
                let file = path.display().to_string();
                assert_eq!(s.warnings, Vec::<String>::new(), "{file}");
                if let Some((_, other)) = names.iter().find(|(n, _)| *n == s.name) {
                    panic!("{file} and {other} are both named {:?}", s.name);
                }
                names.push((s.name, file));
            }
        }
    }
    assert!(names.len() > 30, "catalog not found: {names:?}");
}

/// The topology batch's shape is one `--topology` accepts, written as the tests pass it,
/// and every file of the batch declares that shape itself (so each runs alone as well).
#[test]
fn the_topology_batch_shape_is_a_valid_topology_its_files_declare() {
    let shape = catalog::TOPOLOGY_BATCH_SHAPE.topology;
    assert_eq!(Shape::parse(&shape.to_string()), Ok(shape));
    assert_eq!(shape.to_string(), "2n2l1c2t");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(catalog::TOPOLOGY_BATCH_DIR);
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let s = load(&path, &VM).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.topology, Some(shape), "{}", path.display());
        seen += 1;
    }
    assert!(seen >= 8, "{seen} files in {}", dir.display());
}

#[test]
fn a_float_value_names_its_field_and_the_accepted_types() {
    let op = format!(
        "{}[[step]]\nhold_ms = 10\nops = [{{ op = \"write\", path = \"/proc/x\", value = 1.5 }}]\n",
        "name = \"s\"\n"
    );
    rejected(&op, "", "`value` = 1.5 is a float: give an integer");
    let cgroup = "name = \"s\"\nduration_ms = 10\n[[cgroup]]\npath = \"a\"\nmemory_max = 2.5\n";
    rejected(cgroup, "", "`memory_max` = 2.5 is a float");
    let boolean = "name = \"s\"\nduration_ms = 10\n[[cgroup]]\npath = \"a\"\npids_max = true\n";
    rejected(
        boolean,
        "",
        "an integer (e.g. 512 or -1) or a string (e.g. \"256M\") for `pids_max`",
    );
    let fine = "name = \"s\"\nduration_ms = 10\n[[cgroup]]\npath = \"a\"\nmemory_max = \"256M\"\npids_max = 10\n";
    ok(fine);
}

#[test]
fn the_default_stall_limit_grows_with_the_workers_a_cpu_runs() {
    let stall = |s: &Scenario| s.checks.iter().find(|c| c.name == "stall").unwrap().limit;
    assert_eq!(stall(&ok(&with_workers("count = 2"))), 1000);
    // 128 spinners a CPU on the two-CPU VM.
    assert_eq!(stall(&ok(&with_workers("count = 256"))), 4175);
    // Listed without a limit: the same default; with one: as given.
    let listed = with_workers("count = 256") + "[[check]]\nname = \"stall\"\n";
    assert_eq!(stall(&ok(&listed)), 4175);
    let given = with_workers("count = 256") + "[[check]]\nname = \"stall\"\nlimit = 900\n";
    assert_eq!(stall(&ok(&given)), 900);
    // Pinned to one CPU, 4 workers share it.
    assert_eq!(
        stall(&ok(&with_workers("count = 4\naffinity = \"0\""))),
        1075
    );
}

#[test]
fn kernel_log_patterns_compile_and_belong_to_kernel_log() {
    let check = |extra: &str| format!("{}[[check]]\n{extra}\n", with_workers(""));
    let s = ok(&check(
        "name = \"kernel-log\"\nallow = ['lkdtm_WARNING']\nexpect = ['Performing direct entry']",
    ));
    let log = &s
        .checks
        .iter()
        .find(|c| c.name == "kernel-log")
        .unwrap()
        .log;
    assert_eq!((log.allow.len(), log.expect.len()), (1, 1));
    let plan = crate::protocol::plan::compile(&[s], &crate::protocol::plan::DEFAULT_CONFIG);
    assert!(
        plan.contains("check name=kernel-log limit=0 forward=1\n"),
        "{plan}"
    );
    rejected(
        &check("name = \"kernel-log\"\nallow = ['(unclosed']"),
        "[[check]] \"kernel-log\".allow[0]",
        "is not a regular expression",
    );
    rejected(
        &check("name = \"stall\"\nexpect = ['x']"),
        "[[check]] \"stall\".expect",
        "only the kernel-log check takes allow and expect",
    );
}

#[test]
fn payload_output_rules_are_checked() {
    let payload =
        |extra: &str| format!("{SIMPLE}[[payload]]\nname = \"t\"\npath = \"/bin/true\"\n{extra}\n");
    let s = ok(&payload(
        "format = \"tap\"\nfail_on = ['BUG']\npass_on = ['^# Totals']",
    ));
    let p = s.payloads().next().unwrap();
    assert!(p.output.tap);
    assert_eq!((p.output.fail_on.len(), p.output.pass_on.len()), (1, 1));
    rejected(
        &payload("format = \"junit\""),
        "[[payload]] \"t\".format",
        "unknown format \"junit\"",
    );
    rejected(
        &payload("pass_on = ['a', '[']"),
        "[[payload]] \"t\".pass_on[1]",
        "not a regular expression",
    );
}

#[test]
fn a_pinned_topology_is_the_machine_the_scenario_is_validated_on() {
    let pinned = with_workers("affinity = \"llc:1\"")
        .replace("name = \"s\"\n", "name = \"s\"\ntopology = \"1n2l1c1t\"\n");
    // The flat VM has no LLC 1; the scenario's own shape does.
    let s = ok(&pinned);
    assert_eq!(
        s.topology.map(|t| t.to_string()).as_deref(),
        Some("1n2l1c1t")
    );
    let Op::Spawn(spawn) = &s.steps[0].ops[1] else {
        panic!("{:?}", s.steps[0].ops)
    };
    assert_eq!(spawn.affinity.as_deref(), Some("1"));
    assert_eq!(ok(&with_workers("")).topology, None);
    rejected(
        &SIMPLE.replace("name = \"s\"\n", "name = \"s\"\ntopology = \"3n2l\"\n"),
        "topology",
        "cannot be split evenly over 3 nodes",
    );
}

fn shaped(work: &str, extra: &str, shape: &str) -> Result<Scenario, ScenarioError> {
    let vm = VmShape {
        topology: crate::topology::Shape::parse(shape).unwrap(),
        memory_mib: 512,
        host: None,
    };
    let toml =
        format!("{SIMPLE}[[workers]]\ngroup = \"w\"\nwork = \"{work}\"\ncount = 2\n{extra}\n");
    parse(&toml, "s.toml", &vm)
}

fn shaped_err(work: &str, extra: &str, shape: &str, field: &str, hint: &str) {
    let err = shaped(work, extra, shape).expect_err("scenario was accepted");
    assert!(err.field.ends_with(field), "{field}: {err}");
    assert!(err.to_string().contains(hint), "{hint}: {err}");
}

#[test]
fn shape_bound_work_needs_the_shape_it_pins_to() {
    shaped_err(
        "smt-sibling-spin",
        "",
        "1n2l2c1t",
        ".work",
        "--topology with 2t",
    );
    assert!(shaped("smt-sibling-spin", "", "1n1l1c2t").is_ok());
    shaped_err(
        "cross-llc-pingpong",
        "",
        "1n1l4c1t",
        ".work",
        "2 or more LLCs",
    );
    assert!(shaped("cross-llc-pingpong", "", "1n2l1c1t").is_ok());
    shaped_err(
        "numa-working-set",
        "node = 2",
        "2n2l1c1t",
        ".node",
        "nodes 0-1",
    );
    shaped_err(
        "numa-working-set",
        "node = 1\nnodes = 2",
        "2n2l1c1t",
        ".nodes",
        "lower node or nodes",
    );
    shaped_err(
        "numa-working-set",
        "mempolicy = \"preferred\"\nnodes = 2",
        "2n2l1c1t",
        ".nodes",
        "takes one node",
    );
    shaped_err(
        "numa-working-set",
        "mempolicy = \"local\"",
        "2n2l1c1t",
        ".mempolicy",
        "use one of bind, preferred, interleave",
    );
    shaped_err(
        "spin",
        "mempolicy = \"bind\"",
        "2n2l1c1t",
        ".mempolicy",
        "remove it",
    );
}

#[test]
fn a_word_key_travels_as_its_word() {
    let s = shaped(
        "numa-working-set",
        "node = 1\nmempolicy = \"interleave\"",
        "2n2l1c1t",
    )
    .unwrap();
    let plan = crate::protocol::plan::compile_checked(&[s], &crate::protocol::plan::DEFAULT_CONFIG)
        .unwrap()
        .0;
    assert!(
        plan.contains("work=numa-working-set count=2") && plan.contains(" mempolicy=interleave"),
        "{plan}"
    );
}

#[test]
fn numa_locality_needs_a_working_set() {
    rejected(
        &format!("{}[[check]]\nname = \"numa-locality\"\n", with_workers("")),
        "name",
        "add a group with work = \"numa-working-set\"",
    );
    let s = shaped(
        "numa-working-set",
        "[[check]]\nname = \"numa-locality\"",
        "2n2l1c1t",
    )
    .unwrap();
    let check = s.checks.iter().find(|c| c.name == "numa-locality").unwrap();
    assert_eq!(check.limit, 950);
}

/// The three typos that once changed a test silently, all in one file: each is
/// reported, at its line and column, with the name it was likely meant to be.
#[test]
fn typos_are_reported_together_where_they_are() {
    let toml = "name = \"t\"\n\
                [[cgroup]]\npath = \"capped\"\ncpus = \"1\"\nmax = \"50000 100000\"\n\
                [[workers]]\ngroup = \"w\"\nwork = \"spin\"\ncgroup = \"caped\"\n\
                [[workers]]\ngroup = \"p\"\nwork = \"spin\"\ncgroup = \"capped\"\naffinity = \"0\"\n\
                [[step]]\nhold_ms = 10\nops = [{ op = \"spawn\", group = \"w\" },\n\
                { op = \"spawn\", group = \"p\" },\n\
                { op = \"cgroup-set\", path = \"capped\", file = \"cpu.maxx\", value = \"max\" }]\n";
    let err = parse(toml, "s.toml", &VM).expect_err("typos accepted");
    let text = err.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("s.toml:9:10: [[workers]] \"w\".cgroup: no [[cgroup]] \"caped\" (did you mean \"capped\"?)"),
        "{text}"
    );
    assert!(
        lines[1]
            .starts_with("s.toml:14:12: [[workers]] \"p\".affinity: CPUs 0 are none of the CPUs 1"),
        "{text}"
    );
    assert!(
        lines[2]
            .starts_with("s.toml:19:46: [[step]] 0.ops[2].file: \"cpu.maxx\" is not a cgroup file")
            && lines[2].contains("(did you mean \"cpu.max\"?)"),
        "{text}"
    );
}

#[test]
fn a_worker_cgroup_is_declared_or_its_own() {
    let declared = format!("{SIMPLE}[[cgroup]]\npath = \"capped\"\nweight = 50\n");
    let rejected_here = |extra: &str, hint: &str| {
        rejected(
            &format!("{declared}[[workers]]\ngroup = \"w\"\nwork = \"spin\"\n{extra}\n"),
            "\"w\".cgroup",
            hint,
        )
    };
    rejected_here("cgroup = \"caped\"", "did you mean \"capped\"");
    rejected_here("cgroup = \"capped/fast\"", "declare it with [[cgroup]]");
    rejected_here("cgroup = \"caped/w\"", "declare it with [[cgroup]]");
    // Its own name under a declared cgroup is as safe as at the root.
    let under = ok(&format!(
        "{declared}[[workers]]\ngroup = \"w\"\nwork = \"spin\"\ncgroup = \"capped/w\"\n"
    ));
    assert_eq!(under.warnings, Vec::<String>::new());
    let own = ok(&format!(
        "{declared}[[workers]]\ngroup = \"w\"\nwork = \"spin\"\ncgroup = \"w\"\n"
    ));
    assert_eq!(own.warnings.len(), 1, "{:?}", own.warnings);
    assert!(own.warnings[0].contains("\"capped\" is declared but no worker group"));
    let used = ok(&format!(
        "{declared}[[workers]]\ngroup = \"w\"\nwork = \"spin\"\ncgroup = \"capped\"\n"
    ));
    assert_eq!(used.warnings, Vec::<String>::new());
    // A parent is used through its children.
    let parent = ok(&format!(
        "{SIMPLE}[[cgroup]]\npath = \"top\"\ncpus = \"0\"\n[[cgroup]]\npath = \"top/w\"\n\
         [[workers]]\ngroup = \"w\"\nwork = \"spin\"\ncgroup = \"top/w\"\n"
    ));
    assert_eq!(parent.warnings, Vec::<String>::new());
}

#[test]
fn cgroup_set_files_are_ones_the_kernel_has_and_takes() {
    let set = |file: &str| {
        format!(
            "name = \"s\"\n[[cgroup]]\npath = \"a\"\n[[step]]\nhold_ms = 10\n\
             ops = [{{ op = \"cgroup-set\", path = \"a\", file = \"{file}\", value = 1 }}]\n"
        )
    };
    rejected(&set("cpu.maxx"), "ops[0].file", "did you mean \"cpu.max\"");
    rejected(&set("cpu.stat"), "ops[0].file", "only reports");
    rejected(
        &set("nonsense"),
        "ops[0].file",
        "cpu, cpuset, memory, pids or io",
    );
    for file in [
        "cpu.weight",
        "memory.high",
        "cpuset.cpus.partition",
        "cgroup.freeze",
    ] {
        ok(&set(file));
    }
}

#[test]
fn an_affinity_must_meet_its_cgroup_cpus() {
    let toml = |affinity: &str, op_cpus: &str| {
        format!(
            "name = \"s\"\n[[cgroup]]\npath = \"top\"\ncpus = \"1\"\n[[cgroup]]\npath = \"top/in\"\n\
             [[workers]]\ngroup = \"w\"\nwork = \"spin\"\ncgroup = \"top/in\"\naffinity = \"{affinity}\"\n\
             [[step]]\nhold_ms = 10\nops = [{{ op = \"spawn\", group = \"w\" }},\n\
             {{ op = \"affinity\", group = \"w\", cpus = \"{op_cpus}\" }}]\n"
        )
    };
    ok(&toml("0-1", "1"));
    // An op that rewrites the cpuset moves the bound: the kernel judges the new one.
    let rewritten = toml("1", "0").replace(
        "{ op = \"affinity\"",
        "{ op = \"cgroup-set\", path = \"top\", file = \"cpuset.cpus\", value = \"0-1\" },\n{ op = \"affinity\"",
    );
    ok(&rewritten);
    // The nearest ancestor that sets cpus is the bound.
    rejected(&toml("0", "1"), "\"w\".affinity", "cgroup \"top\" allows");
    rejected(&toml("1", "0"), "ops[1].cpus", "none of the CPUs 1");
}

#[test]
fn problems_past_the_bound_are_counted() {
    let mut toml = String::from(SIMPLE);
    for i in 0..MAX_REPORTED + 3 {
        toml += &format!("[[workers]]\ngroup = \"g{i}\"\nwork = \"spinn\"\n");
    }
    let err = parse(&toml, "s.toml", &VM).unwrap_err();
    assert_eq!(err.more.len(), MAX_REPORTED - 1);
    assert_eq!(err.unlisted, 3);
    assert!(err.to_string().contains("did you mean \"spin\""), "{err}");
    assert!(
        err.to_string()
            .ends_with("3 more problems not listed: fix these first"),
        "{err}"
    );
}

#[test]
fn a_group_whose_entry_is_wrong_is_not_reported_again_where_it_is_used() {
    let toml = "name = \"s\"\n[[workers]]\ngroup = \"w\"\nwork = \"nope\"\n\
                [[step]]\nhold_ms = 10\nops = [{ op = \"spawn\", group = \"w\" }]\n\
                [[check]]\nname = \"stall\"\ngroup = \"w\"\n";
    let err = parse(toml, "s.toml", &VM).unwrap_err();
    assert!(err.more.is_empty(), "{err}");
    assert!(err.message.contains("unknown work \"nope\""), "{err}");
}

/// Every file a `[[cgroup]]` declaration sets is one the kernel has and takes writes to,
/// by the same list `cgroup-set` is checked against.
#[test]
fn declared_settings_write_files_the_kernel_has() {
    let s = ok(&format!(
        "{SIMPLE}[[cgroup]]\npath = \"a\"\ncpus = \"0\"\nmems = \"0\"\nweight = 5\n\
         max = \"max\"\nidle = false\nmemory_max = \"1G\"\nmemory_high = \"1G\"\n\
         pids_max = 9\n[[workers]]\ngroup = \"w\"\nwork = \"spin\"\ncgroup = \"a\"\n"
    ));
    let files: Vec<&str> = s.steps[0]
        .ops
        .iter()
        .filter_map(|op| match op {
            Op::CgroupSet { file, .. } => Some(file.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(files.len(), 8, "{files:?}");
    for file in files {
        let known = schedbox_protocol::cgroup_files::cgroup_file(file);
        assert!(known.is_some_and(|f| f.writable), "{file}");
    }
}

/// A scenario of one spinner and steps whose ops (after the spawn) are `steps`.
fn with_steps(steps: &[&str]) -> String {
    let mut toml = "name = \"s\"\n[[workers]]\ngroup = \"spin\"\nwork = \"spin\"\n[[step]]\nhold_ms = 10\nops = [{ op = \"spawn\", group = \"spin\" }]\n".to_string();
    for ops in steps {
        toml.push_str(&format!("[[step]]\nhold_ms = 10\nops = [{ops}]\n"));
    }
    toml
}

fn stall_limit(s: &Scenario) -> u64 {
    s.checks.iter().find(|c| c.name == "stall").unwrap().limit
}

#[test]
fn scheduler_ops_follow_the_schedulers_state_and_grant_their_switches() {
    let detach = "{ op = \"scheduler-detach\" }";
    let attach = "{ op = \"scheduler-attach\" }";
    let restart = "{ op = \"scheduler-restart\" }";
    let s = ok(&with_steps(&[detach, attach, restart]));
    assert_eq!(s.steps[1].ops, [Op::SchedulerDetach]);
    assert_eq!(s.steps[3].ops, [Op::SchedulerRestart]);
    // The busiest step (the restart) counts: two switches.
    assert_eq!(stall_limit(&s), 1000 + 2 * 1000);
    assert_eq!(
        stall_limit(&ok(&with_steps(&[]))),
        1000,
        "no transitions, no grant"
    );
    rejected(
        &with_steps(&[attach]),
        "[[step]] 1.ops[0]",
        "the scheduler is attached at this point",
    );
    rejected(
        &with_steps(&[detach, restart]),
        "[[step]] 2.ops[0]",
        "scheduler-restart: the scheduler is detached at this point",
    );
}

#[test]
fn hotplug_ops_refuse_cpu0_every_cpu_and_cpus_the_vm_lacks() {
    let off = |cpus: &str| format!("{{ op = \"cpu-offline\", cpus = \"{cpus}\" }}");
    let on = |cpus: &str| format!("{{ op = \"cpu-online\", cpus = \"{cpus}\" }}");
    let s = ok(&with_steps(&[&off("1"), &on("1")]));
    assert_eq!(s.steps[1].ops, [Op::CpuOffline { cpus: "1".into() }]);
    // The spinner and CPU 1's share go to CPU 0 alone; a hotplug is two switches.
    assert_eq!(stall_limit(&s), 1000 + 2 * 1000);
    let field = "[[step]] 1.ops[0].cpus";
    rejected(&with_steps(&[&off("0")]), field, "names CPU 0");
    rejected(
        &with_steps(&[&off("0-1")]),
        field,
        "would take every CPU of the machine (2) offline",
    );
    rejected(&with_steps(&[&off("2")]), field, "use CPUs the VM has");
    rejected(
        &with_steps(&[&on("1")]),
        field,
        "CPU 1 is online at this point",
    );
    rejected(
        &with_steps(&[&off("1"), &off("1")]),
        "[[step]] 2.ops[0].cpus",
        "CPU 1 is offline at this point",
    );
}

#[test]
fn a_scenario_may_start_detached_and_name_other_schedulers_by_label() {
    let qmap =
        "[schedulers.qmap-stall]\npath = \"scx_qmap\"\nargs = [\"-t\", \"10\"]\nname = \"qmap\"\n";
    let attach = "{ op = \"scheduler-attach\" }";
    let replace = "{ op = \"scheduler-replace\", scheduler = \"qmap-stall\" }";
    let attach_qmap = "{ op = \"scheduler-attach\", scheduler = \"qmap-stall\" }";
    let detach = "{ op = \"scheduler-detach\" }";
    let detached =
        |steps: &[&str]| format!("scheduler = \"detached\"\n{}{qmap}", with_steps(steps));
    let s = ok(&detached(&[attach, replace, detach, attach_qmap]));
    assert!(s.starts_detached);
    assert_eq!(
        s.schedulers,
        [NamedScheduler {
            label: "qmap-stall".into(),
            program: Some("scx_qmap".into()),
            args: vec!["-t".into(), "10".into()],
            name: Some("qmap".into()),
        }]
    );
    assert_eq!(
        s.steps[2].ops,
        [Op::SchedulerReplace {
            label: "qmap-stall".into()
        }]
    );
    assert_eq!(
        s.steps[4].ops,
        [Op::SchedulerAttach {
            label: Some("qmap-stall".into())
        }]
    );
    // A replacement is two switches of class.
    assert_eq!(stall_limit(&s), 1000 + 2 * 1000);
    assert!(!ok(&with_steps(&[])).starts_detached);
    rejected(
        &detached(&[replace]),
        "[[step]] 1.ops[0]",
        "the scheduler is detached at this point",
    );
    rejected(
        &format!("{}{qmap}", with_steps(&[attach])),
        "[[step]] 1.ops[0]",
        "the scheduler is attached at this point",
    );
    rejected(
        &format!("scheduler = \"off\"\n{}", with_steps(&[])),
        "scheduler",
        "unknown \"off\": give \"detached\"",
    );
    rejected(
        &format!("{}[schedulers.Bad]\npath = \"x\"\n", with_steps(&[])),
        "schedulers.Bad",
        "not a valid name",
    );
}

#[test]
fn an_unknown_scheduler_label_is_refused_at_its_line_and_column() {
    let toml = format!(
        "{}[schedulers.qmap-stall]\n",
        with_steps(&["{ op = \"scheduler-replace\", scheduler = \"qmap-stal\" }"])
    );
    let err = parse(&toml, "s.toml", &VM).expect_err("an unknown label was accepted");
    assert_eq!(err.field, "[[step]] 1.ops[0].scheduler");
    assert_eq!(err.at, Some((10, 48)), "{err}");
    let text = err.to_string();
    assert!(text.starts_with("s.toml:10:48: "), "{text}");
    assert!(text.contains("(did you mean \"qmap-stall\"?)"), "{text}");
    rejected(
        &with_steps(&["{ op = \"scheduler-attach\", scheduler = \"qmap\" }"]),
        "[[step]] 1.ops[0].scheduler",
        "it declares none",
    );
}

/// A scenario with a spin group `w`, a timer-latency group `t` and `check`.
fn two_works_with(check: &str) -> String {
    format!(
        "{SIMPLE}[[workers]]\ngroup = \"w\"\nwork = \"spin\"\n\n[[workers]]\ngroup = \"t\"\n\
         work = \"timer-latency\"\n\n[[check]]\n{check}\n"
    )
}

fn lowered(s: &Scenario, name: &str) -> Check {
    s.checks.iter().find(|c| c.name == name).unwrap().clone()
}

#[test]
fn latency_takes_a_percentile_and_a_limit_in_us_or_ms() {
    let s = ok(&two_works_with(
        "name = \"latency\"\ngroup = \"t\"\nlimit_ms = 5",
    ));
    let c = lowered(&s, "latency");
    assert_eq!(c.limit, 5000);
    assert_eq!(c.params.percentile, Some(catalog::DEFAULT_PERCENTILE));
    let s = ok(&two_works_with(
        "name = \"latency\"\npercentile = \"p90\"\nlimit = 700",
    ));
    let c = lowered(&s, "latency");
    assert_eq!(
        (c.limit, c.params.percentile),
        (700, Some(catalog::Percentile::P90))
    );
    rejected(
        &two_works_with("name = \"latency\"\npercentile = \"p95\""),
        "\"latency\".percentile",
        "use one of p50, p90, p99, max",
    );
    rejected(
        &two_works_with("name = \"latency\"\nlimit = 1\nlimit_ms = 1"),
        "\"latency\".limit_ms",
        "not both",
    );
    rejected(
        &two_works_with("name = \"latency\"\ngroup = \"w\""),
        "\"latency\".group",
        "group \"w\" runs no such work",
    );
    rejected(
        &with_workers("[[check]]\nname = \"latency\""),
        "\"latency\".name",
        "time their wake-ups",
    );
    rejected(
        &two_works_with("name = \"stall\"\npercentile = \"p99\""),
        "\"stall\".percentile",
        "only the latency check",
    );
    rejected(
        &two_works_with("name = \"stall\"\nlimit_ms = 5"),
        "\"stall\".limit_ms",
        "only the latency check",
    );
}

#[test]
fn rate_checks_compare_workers_of_one_work_type() {
    rejected(
        &two_works_with("name = \"throughput-cv\""),
        "\"throughput-cv\".group",
        "runs spin, timer-latency: name a group",
    );
    let s = ok(&two_works_with(
        "name = \"min-rate\"\ngroup = \"w\"\nlimit = 10",
    ));
    assert_eq!(lowered(&s, "min-rate").limit, 10);
    let s = ok(&with_workers("[[check]]\nname = \"throughput-cv\""));
    assert_eq!(lowered(&s, "throughput-cv").limit, 300);
}

#[test]
fn imbalance_takes_a_window_within_bounds() {
    let s = ok(&with_workers("[[check]]\nname = \"imbalance\""));
    let c = lowered(&s, "imbalance");
    assert_eq!(
        (c.limit, c.params.window_ms),
        (2000, Some(catalog::DEFAULT_IMBALANCE_WINDOW_MS))
    );
    rejected(
        &with_workers("[[check]]\nname = \"imbalance\"\nwindow_ms = 50"),
        "\"imbalance\".window_ms",
        "not within 200..30000 ms",
    );
    rejected(
        &with_workers("[[check]]\nname = \"imbalance\"\ngroup = \"w\""),
        "\"imbalance\".group",
        "does not take",
    );
    rejected(
        &with_workers("[[check]]\nname = \"imbalance\"\n\n[[check]]\nname = \"imbalance\""),
        "\"imbalance\".name",
        "a second imbalance check",
    );
    rejected(
        &with_workers("[[check]]\nname = \"progress\"\nwindow_ms = 500"),
        "\"progress\".window_ms",
        "only the imbalance check",
    );
}

#[test]
fn a_group_may_run_as_threads_of_work_that_keeps_to_its_thread() {
    let team = "[[workers]]\ngroup = \"r\"\nwork = \"request-loop\"\ncount = 4\nthreads = true";
    ok(&with_workers(&format!("count = 4\nthreads = true\n{team}")));
    let s = ok(&with_workers("count = 4\nthreads = true"));
    let Op::Spawn(spawn) = &s.steps[0].ops[1] else {
        panic!("no spawn: {:?}", s.steps[0].ops)
    };
    assert!(spawn.threads);
    assert_eq!(spawn.count, 4);
    let plain = ok(&with_workers("threads = false"));
    let Op::Spawn(spawn) = &plain.steps[0].ops[1] else {
        panic!("no spawn: {:?}", plain.steps[0].ops)
    };
    assert!(!spawn.threads);
}

#[test]
fn threads_are_refused_to_work_that_cannot_run_as_threads() {
    let toml = |work: &str, extra: &str| {
        format!("{SIMPLE}[[workers]]\ngroup = \"w\"\nwork = \"{work}\"\nthreads = true\n{extra}")
    };
    for work in [
        "fork-churn",
        "cgroup-churn",
        "stress-mix",
        "signal-storm",
        "pipe-pingpong",
    ] {
        let extra = if work == "pipe-pingpong" {
            "count = 2\n"
        } else {
            ""
        };
        rejected(
            &toml(work, extra),
            "\"w\".threads",
            &format!("{work} workers cannot run as threads"),
        );
    }
    rejected(
        &toml("fork-churn", ""),
        "threads",
        "threads = true takes one of spin, yield",
    );
    rejected(
        &toml("page-fault", "expect = \"oom-killed\"\n"),
        "threads",
        "cannot run as threads",
    );
    rejected(
        &toml("spin", "expect = \"oom-killed\"\n"),
        "threads",
        "threads = true cannot take expect",
    );
    rejected(&with_workers("threads = 1"), "", "expected a boolean");
}
