use super::*;
use std::string::{String, ToString};

const SPIN: &str = include_str!("../../../docs/examples/spin.plan");
const SCHEDULER: &str = include_str!("../../../docs/examples/scheduler.plan");
const EJECTED: &str = include_str!("../../../docs/examples/scheduler-ejected.plan");
const STALL: &str = include_str!("../../../docs/examples/stall.plan");

fn err(plan: &str) -> (usize, String) {
    let e = validate(plan.as_bytes()).expect_err("plan should be rejected");
    (e.line, e.msg.to_string())
}

/// Each plan is rejected at its line with a message containing its text.
fn assert_rejected(cases: &[(&str, usize, &str)]) {
    for &(plan, line, want) in cases {
        let (got_line, got) = err(plan);
        assert_eq!(got_line, line, "{plan:?}: {got}");
        assert!(got.contains(want), "{plan:?}: {got}");
    }
}

/// A one-scenario, one-step plan around `ops`.
fn with_ops(ops: &str) -> String {
    std::format!("schedbox-plan 1\nscenario name=a\nstep hold_ms=1\n{ops}end\n")
}

#[test]
fn accepts_the_examples() {
    assert_eq!(validate(SPIN.as_bytes()).unwrap().scenarios, 1);
    assert_eq!(validate(SPIN.as_bytes()).unwrap().max_workers, 2);
    assert_eq!(validate(SCHEDULER.as_bytes()).unwrap().scenarios, 1);
    assert_eq!(validate(EJECTED.as_bytes()).unwrap().scenarios, 1);
    assert_eq!(validate(STALL.as_bytes()).unwrap().scenarios, 1);
}

#[test]
fn rejects_unknown_verb_with_its_line() {
    let plan = "schedbox-plan 1\nscenario name=a\nfrobnicate x=1\nend\n";
    assert_eq!(err(plan), (3, "unknown verb \"frobnicate\"".into()));
}

#[test]
fn rejects_bad_structure_and_values() {
    let spawn = "op spawn group=g cgroup=c work=";
    let cases = [
        ("scenario name=a\nend\n", 1, "plan must start"),
        ("schedbox-plan 2\n", 1, "unsupported plan version"),
        (&with_ops("op frob\n"), 4, "unknown op"),
        (
            &with_ops(&(spawn.to_string() + "spin bogus=1\n")),
            4,
            "unknown key \"bogus\"",
        ),
        (&with_ops(&(spawn.to_string() + "warp\n")), 4, "bad value"),
        (
            &with_ops(&(spawn.to_string() + "spin nice=-21\n")),
            4,
            "bad value",
        ),
        (
            "schedbox-plan 1\nscenario name=a\nop stop group=g\nend\n",
            3,
            "op outside a step",
        ),
        (
            "schedbox-plan 1\nscenario name=a\nstep hold_ms=x\nend\n",
            3,
            "bad value",
        ),
        (
            "schedbox-plan 1\nscenario name=a\nstep hold_ms=0\nend\n",
            3,
            "bad value",
        ),
        (
            "schedbox-plan 1\nscenario name=a\nstep\nend\n",
            3,
            "step needs hold_ms=",
        ),
        (
            "schedbox-plan 1\nscenario name=a\nstep hold_ms=5 until=workers\nend\n",
            3,
            "bad value",
        ),
        ("schedbox-plan 1\nscenario name=a\n", 0, "no end"),
        (
            "schedbox-plan 1\nscenario name=a\nend\nconfig sample_ms=5\n",
            4,
            "before the first scenario",
        ),
        ("schedbox-plan 1\nscenario name=a/b\nend\n", 2, "bad value"),
        (
            "schedbox-plan 1\nscenario name=a\ncheck name=speed limit=1\nend\n",
            3,
            "unknown check",
        ),
        (
            "schedbox-plan 1\nscenario name=a  x=1\nend\n",
            2,
            "empty field",
        ),
        (
            "schedbox-plan 1\nscenario name=a name=b\nend\n",
            2,
            "given twice",
        ),
        (&with_ops("op cgroup-add path=../x\n"), 4, "bad value"),
        (&with_ops("op write path=rel value=1\n"), 4, "bad value"),
        (&with_ops("op write path=/x\n"), 4, "write needs value="),
        ("", 0, "empty plan"),
    ];
    assert_rejected(&cases);
}

#[test]
fn accepts_work_keys_only_for_their_work() {
    let ok = with_ops("op spawn group=g cgroup=c work=bursty burst_ms=5 sleep_ms=5\n");
    assert!(validate(ok.as_bytes()).is_ok());
    let bad = with_ops("op spawn group=g cgroup=c work=spin burst_ms=5\n");
    assert_eq!(err(&bad).0, 4);
}

#[test]
fn write_takes_an_absolute_path() {
    let ok = with_ops(
        "op write path=/sys/kernel/debug/provoke-crash/DIRECT value=WARNING\nop cgroup-add path=g\n",
    );
    assert!(validate(ok.as_bytes()).is_ok());
}

#[test]
fn scheduler_and_payload_lines() {
    let ok = "schedbox-plan 1\nscheduler path=/payload/scx_qmap name=qmap attach_ms=5000 arg=-t arg=10\nscenario name=a\nstep hold_ms=1\nop payload name=help path=/payload/scx_simple arg=-h cgroup=w timeout_ms=100\nend\n";
    assert_eq!(validate(ok.as_bytes()).unwrap().scenarios, 1);
    let cases = [
        (
            "schedbox-plan 1\nscheduler path=/s log=x\n",
            2,
            "unknown key \"log\"",
        ),
        ("schedbox-plan 1\nscheduler path=s\n", 2, "bad value"),
        (&with_ops("payload name=p path=/x\n"), 4, "unknown verb"),
        (&with_ops("op payload name=p path=rel\n"), 4, "bad value"),
        (&with_ops("op payload path=/x\n"), 4, "payload needs name="),
        (
            &with_ops("op payload name=p path=/x cgroup=/abs\n"),
            4,
            "bad value",
        ),
        (&with_ops("op cgroup-add path=/abs\n"), 4, "bad value"),
        (
            "schedbox-plan 1\nscenario name=a\nop payload name=p path=/x\nend\n",
            3,
            "op outside a step",
        ),
    ];
    assert_rejected(&cases);
}

#[test]
fn comments_and_blank_lines_keep_numbering() {
    let plan = "# c\nschedbox-plan 1\n\nscenario name=a\nbad\nend\n";
    assert_eq!(err(plan).0, 5);
}

/// `n` copies of `line`.
fn repeat(line: &str, n: usize) -> String {
    line.repeat(n)
}

#[test]
fn counts_workers_per_scenario_at_and_beyond_the_limit() {
    let at = with_ops(&std::format!(
        "op spawn group=g cgroup=c work=spin count={MAX_WORKERS}\n"
    ));
    assert_eq!(validate(at.as_bytes()).unwrap().max_workers, MAX_WORKERS);
    let split = with_ops(&repeat(
        "op spawn group=g cgroup=c work=spin count=1024\n",
        MAX_WORKERS / 1024 + 1,
    ));
    assert!(err(&split).1.contains("more than 4096 workers"));
    let beyond = with_ops(&std::format!(
        "op spawn group=g cgroup=c work=spin count={}\n",
        MAX_WORKERS + 1
    ));
    assert!(err(&beyond).1.contains("more than 4096 workers"));
    // Each scenario counts its own workers.
    let two = std::format!("{}{}", at, &at["schedbox-plan 1\n".len()..]);
    assert_eq!(validate(two.as_bytes()).unwrap().scenarios, 2);
}

#[test]
fn counts_checks_cgroups_and_payloads() {
    let checks = std::format!(
        "schedbox-plan 1\nscenario name=a\n{}end\n",
        repeat("check name=progress limit=1\n", MAX_CHECKS + 1)
    );
    assert!(err(&checks).1.contains("more than 32 checks"));
    let cgroups = with_ops(&repeat("op cgroup-add path=c\n", MAX_CGROUPS + 1));
    assert!(err(&cgroups).1.contains("more than 64 cgroups"));
    let payloads = with_ops(&repeat("op payload name=p path=/p\n", MAX_PAYLOADS + 1));
    assert!(err(&payloads).1.contains("more than 16 payloads"));
    let at = with_ops(&repeat("op payload name=p path=/p\n", MAX_PAYLOADS));
    assert!(validate(at.as_bytes()).is_ok());
}

#[test]
fn checks_work_keys_pairs_and_priorities() {
    let cases: [(&str, usize, &str); 9] = [
        (
            &with_ops("op spawn group=g cgroup=c work=mixed spin_us=0\n"),
            4,
            "out of range",
        ),
        (
            &with_ops("op spawn group=g cgroup=c work=mixed spin_us=x\n"),
            4,
            "out of range",
        ),
        (
            &with_ops("op spawn group=g cgroup=c work=numa-working-set mempolicy=local\n"),
            4,
            "give one of bind, preferred, interleave",
        ),
        (
            &with_ops("op spawn group=g cgroup=c work=pipe-pingpong count=3\n"),
            4,
            "even count",
        ),
        (
            &with_ops("op spawn group=g cgroup=c work=spin policy=fifo\n"),
            4,
            "prio=",
        ),
        (
            &with_ops("op spawn group=g cgroup=c work=spin policy=rr prio=99\n"),
            4,
            "prio=",
        ),
        (
            &with_ops("op spawn group=g cgroup=c work=spin prio=5\n"),
            4,
            "fifo and rr only",
        ),
        (
            &with_ops("op spawn group=g cgroup=c work=spin affinity=0-256\n"),
            4,
            "bad value",
        ),
        (
            "schedbox-plan 1\nscenario name=a\ncheck name=scheduler limit=2\nend\n",
            3,
            "could never fail",
        ),
    ];
    assert_rejected(&cases);
    let ok = with_ops("op spawn group=g cgroup=c work=spin policy=fifo prio=98 count=2\n");
    assert!(validate(ok.as_bytes()).is_ok());
    let numa =
        with_ops("op spawn group=g cgroup=c work=numa-working-set node=1 nodes=1 mempolicy=bind\n");
    assert!(validate(numa.as_bytes()).is_ok());
}

#[test]
fn names_and_paths_at_and_beyond_their_limits() {
    let name = "n".repeat(MAX_NAME);
    let ok = std::format!("schedbox-plan 1\nscenario name={name}\nend\n");
    assert!(validate(ok.as_bytes()).is_ok());
    let long = std::format!("schedbox-plan 1\nscenario name={name}n\nend\n");
    assert!(err(&long).1.contains("bad value"));
    let deep = std::vec!["c"; MAX_CGROUP_DEPTH + 1].join("/");
    assert!(err(&with_ops(&std::format!("op cgroup-add path={deep}\n")))
        .1
        .contains("bad value"));
    let deep_ok = std::vec!["c"; MAX_CGROUP_DEPTH].join("/");
    assert!(validate(with_ops(&std::format!("op cgroup-add path={deep_ok}\n")).as_bytes()).is_ok());
}

#[test]
fn a_spawn_may_expect_a_limit_and_the_expect_check_counts_it() {
    let ok = with_ops("op spawn group=g cgroup=c work=fork-churn expect=fork-refused\nop spawn group=h cgroup=c work=page-fault expect=oom-killed\n");
    let ok = ok.replace("end\n", "check name=expect limit=0\nend\n");
    assert!(validate(ok.as_bytes()).is_ok());
    let bad = with_ops("op spawn group=g cgroup=c work=spin expect=never\n");
    assert_eq!(err(&bad), (4, "bad value \"never\" for expect".into()));
}

#[test]
fn only_the_kernel_log_check_forwards_lines() {
    let check = |line: &str| std::format!("schedbox-plan 1\nscenario name=a\n{line}\nend\n");
    validate(check("check name=kernel-log limit=0 forward=1").as_bytes()).unwrap();
    assert_rejected(&[
        (
            &check("check name=stall limit=1 forward=1"),
            3,
            "only the kernel-log check takes forward=",
        ),
        (
            &check("check name=kernel-log limit=0 forward=2"),
            3,
            "bad value",
        ),
    ]);
}

#[test]
fn scheduler_ops_need_the_scheduler_in_the_state_they_change() {
    let head = "schedbox-plan 1\nscheduler path=/payload/scheduler/scx_simple\nscenario name=a\nstep hold_ms=1\n";
    let ok = std::format!(
        "{head}op scheduler-detach\nstep hold_ms=1\nop scheduler-attach\nop scheduler-restart\nend\nscenario name=b\nstep hold_ms=1\nop scheduler-restart\nend\n"
    );
    assert_eq!(validate(ok.as_bytes()).unwrap().scenarios, 2);
    let cases = [
        (
            &with_ops("op scheduler-detach\n")[..],
            4,
            "scheduler-detach needs a scheduler line",
        ),
        (
            &std::format!("{head}op scheduler-attach\nend\n"),
            5,
            "the scheduler is attached here",
        ),
        (
            &std::format!("{head}op scheduler-detach\nop scheduler-restart\nend\n"),
            6,
            "scheduler-restart: the scheduler is detached here",
        ),
        (
            &std::format!("{head}op scheduler-restart key=1\nend\n"),
            5,
            "unknown key",
        ),
    ];
    assert_rejected(&cases);
}

#[test]
fn labelled_schedulers_are_replaced_and_attached_by_label() {
    let head = "schedbox-plan 1\nscheduler path=/payload/scheduler/scx_simple\nscheduler path=/payload/scheduler-qmap/scx_qmap label=qmap arg=-S\n";
    let ok = std::format!(
        "{head}scenario name=a scheduler=detached\nstep hold_ms=1\nop scheduler-attach label=qmap\nstep hold_ms=1\nop scheduler-replace label=qmap\nop scheduler-detach\nop scheduler-attach\nend\nscenario name=b\nstep hold_ms=1\nop scheduler-replace label=qmap\nend\n"
    );
    assert_eq!(validate(ok.as_bytes()).unwrap().scenarios, 2);
    let one = "schedbox-plan 1\nscheduler path=/payload/scheduler/scx_simple\n";
    let cases = [
        (
            &std::format!("{head}scenario name=a\nstep hold_ms=1\nop scheduler-replace label=other\nend\n")[..],
            6,
            "no scheduler line with label=\"other\"",
        ),
        (
            &std::format!("{head}scenario name=a\nstep hold_ms=1\nop scheduler-replace\nend\n"),
            6,
            "scheduler-replace needs label=",
        ),
        (
            &std::format!("{head}scenario name=a scheduler=detached\nstep hold_ms=1\nop scheduler-replace label=qmap\nend\n"),
            6,
            "the scheduler is detached here",
        ),
        (
            &std::format!("{head}scheduler path=/payload/x label=qmap\n"),
            4,
            "label=\"qmap\" given twice",
        ),
        (
            &std::format!("{one}scheduler path=/payload/x\n"),
            3,
            "given twice",
        ),
        (
            "schedbox-plan 1\nscenario name=a scheduler=detached\nend\n",
            2,
            "needs a scheduler line",
        ),
        (
            &std::format!("{one}scenario name=a scheduler=off\nend\n"),
            3,
            "bad value",
        ),
        (
            &std::format!("{one}scenario name=a\nend\nscheduler path=/payload/x label=q\n"),
            5,
            "must come before the first scenario",
        ),
    ];
    assert_rejected(&cases);
}

#[test]
fn hotplug_ops_never_touch_cpu0_and_follow_each_cpus_state() {
    let ok = with_ops("op cpu-offline cpus=1-2\nop cpu-online cpus=1\nop cpu-offline cpus=1\n");
    assert_eq!(validate(ok.as_bytes()).unwrap().scenarios, 1);
    let cases = [
        (
            &with_ops("op cpu-offline cpus=0-1\n")[..],
            4,
            "CPU 0 cannot",
        ),
        (
            &with_ops("op cpu-online cpus=1\n"),
            4,
            "CPU 1 is online here",
        ),
        (
            &with_ops("op cpu-offline cpus=1\nop cpu-offline cpus=3,1\n"),
            5,
            "CPU 1 is offline here",
        ),
        (&with_ops("op cpu-offline\n"), 4, "cpu-offline needs cpus="),
        (&with_ops("op cpu-offline cpus=x\n"), 4, "bad value"),
    ];
    assert_rejected(&cases);
}

#[test]
fn only_latency_takes_a_percentile_and_only_imbalance_a_window() {
    let check = |line: &str| std::format!("schedbox-plan 1\nscenario name=a\n{line}\nend\n");
    validate(check("check name=latency limit=500 percentile=p90").as_bytes()).unwrap();
    validate(check("check name=imbalance limit=2000 window_ms=500").as_bytes()).unwrap();
    assert_rejected(&[
        (
            &check("check name=stall limit=1 percentile=p99"),
            3,
            "only the latency check takes percentile=",
        ),
        (
            &check("check name=latency limit=1 percentile=p95"),
            3,
            "bad value \"p95\" for percentile",
        ),
        (
            &check("check name=latency limit=1 window_ms=500"),
            3,
            "only the imbalance check takes window_ms=",
        ),
        (
            &check("check name=imbalance limit=1 window_ms=100"),
            3,
            "window_ms of 100 is not within 200..30000",
        ),
        (
            &check("check name=imbalance limit=1 window_ms=30001"),
            3,
            "window_ms of 30001 is not within 200..30000",
        ),
    ]);
}

#[test]
fn only_work_that_keeps_to_its_thread_runs_as_threads() {
    for work in [
        "spin",
        "sleep-wake",
        "timer-latency",
        "request-loop",
        "futex-pingpong",
    ] {
        let ok = with_ops(&std::format!(
            "op spawn group=g cgroup=c work={work} count=4 threads=1\n"
        ));
        validate(ok.as_bytes()).unwrap();
    }
    validate(with_ops("op spawn group=g cgroup=c work=fork-churn threads=0\n").as_bytes()).unwrap();
    assert_rejected(&[
        (
            &with_ops("op spawn group=g cgroup=c work=fork-churn threads=1\n"),
            4,
            "work fork-churn cannot run as threads (threads=1)",
        ),
        (
            &with_ops("op spawn group=g cgroup=c work=cgroup-churn threads=1\n"),
            4,
            "work cgroup-churn cannot run as threads",
        ),
        (
            &with_ops("op spawn group=g cgroup=c work=signal-storm count=2 threads=1\n"),
            4,
            "work signal-storm cannot run as threads",
        ),
        (
            &with_ops("op spawn group=g cgroup=c work=spin threads=1 expect=oom-killed\n"),
            4,
            "threads=1 cannot take expect=",
        ),
        (
            &with_ops("op spawn group=g cgroup=c work=spin threads=yes\n"),
            4,
            "bad value \"yes\" for threads",
        ),
    ]);
}
