//! Checks evaluated at the end of a scenario over its workers' outcomes.

mod imbalance;
mod latency;
mod rates;
mod verdict;

use verdict::{at_most, cannot, detail};
pub use verdict::{Detail, Verdict};

use crate::engine::cgroup;
use crate::engine::usage::Usage;
use crate::engine::worker::{Locality, Name, Outcome, RelPath};
use crate::measure::migrations::Moves;
use crate::measure::runqueues::Runqueues;
use crate::platform::buf::Buf;
use crate::platform::record::{CheckResult, Record, RecordKind};
use crate::platform::sys::{NS_PER_MS, NS_PER_US, US_PER_MS};
use crate::work::Expect;
use schedbox_protocol::checks::{CheckKind, Percentile, DEFAULT_PERCENTILE};

/// A `check` line of the plan.
#[derive(Clone)]
pub struct CheckSpec {
    pub kind: CheckKind,
    pub limit: u64,
    pub group: Option<Name>,
    pub cgroup: Option<RelPath>,
    /// `kernel-log` only: every line was forwarded, so the record says how many.
    pub forward: bool,
    /// `latency` only: the figure judged.
    pub percentile: Percentile,
}

/// An empty slot of a scenario's check table, never evaluated.
impl Default for CheckSpec {
    fn default() -> Self {
        CheckSpec {
            kind: CheckKind::Progress,
            limit: 0,
            group: None,
            cgroup: None,
            forward: false,
            percentile: DEFAULT_PERCENTILE,
        }
    }
}

impl CheckSpec {
    fn selects(&self, o: &Outcome) -> bool {
        self.selects_group(o)
            && self
                .cgroup
                .as_ref()
                .is_none_or(|c| c.eq_bytes(o.cgroup.as_bytes()))
    }

    fn selects_group(&self, o: &Outcome) -> bool {
        self.group
            .as_ref()
            .is_none_or(|g| g.eq_bytes(o.group.as_bytes()))
    }
}

/// What the checks look at once a scenario's workers are stopped.
pub struct Scene<'a> {
    pub outcomes: &'a [Outcome],
    /// The scenario's root cgroup: check cgroups are relative to it.
    pub root: &'a [u8],
    pub usage: &'a [Usage],
    /// What the kernel logged during the scenario, or why the log was not read.
    pub kmsg: Result<KernelLog<'a>, &'static str>,
    /// Runnable tasks per CPU, when the scenario has an `imbalance` check.
    pub runqueues: &'a Runqueues,
}

/// The kernel log of a scenario, as the `kernel-log` check sees it.
#[derive(Clone, Copy)]
pub struct KernelLog<'a> {
    /// Problem lines, and the first of them.
    pub count: u64,
    pub first: &'a [u8],
    /// Lines forwarded, and not forwarded, when the check forwards them all.
    pub forwarded: u64,
    pub dropped: u64,
}

/// A worker as details name it: `group/index/pid`.
struct Who<'a>(&'a Outcome);

impl core::fmt::Display for Who<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}/{}/{}", self.0.group, self.0.index, self.0.pid)
    }
}

/// Judges a check from the scenario's outcomes. Not `scheduler`: the scheduler module
/// judges that one from what it saw.
pub fn evaluate(spec: &CheckSpec, scene: &Scene<'_>) -> Verdict {
    let picked = || scene.outcomes.iter().filter(|o| spec.selects(o));
    let limit = spec.limit;
    match spec.kind {
        CheckKind::Progress => progress(picked(), limit),
        CheckKind::Stall => match picked().max_by_key(|o| o.max_gap_ns) {
            Some(o) => at_most(
                o.max_gap_ns / NS_PER_MS,
                limit,
                detail(format_args!("{}", Who(o))),
            ),
            None => at_most(0, limit, Detail::new()),
        },
        CheckKind::Isolation => isolation(picked(), limit),
        CheckKind::Fairness => fairness(picked(), limit),
        CheckKind::Weight => {
            let parent = spec.cgroup.as_ref().map(|c| c.as_bytes());
            let in_group = scene.outcomes.iter().filter(|o| spec.selects_group(o));
            weight(in_group, parent, scene.root, limit)
        }
        CheckKind::Bandwidth => bandwidth(spec, scene),
        CheckKind::WakeLatency => wake_latency(picked(), limit),
        CheckKind::Expect => expected(picked(), limit),
        CheckKind::Migrations => most_moves(picked(), limit, CheckKind::Migrations.word(), |m| {
            m.migrations
        }),
        CheckKind::LlcCrossings => {
            most_moves(picked(), limit, "LLC crossings", |m| Some(m.llc_crossings))
        }
        CheckKind::NodeCrossings => most_moves(picked(), limit, "node crossings", |m| {
            Some(m.node_crossings)
        }),
        CheckKind::NumaLocality => numa_locality(picked(), limit),
        CheckKind::ThroughputCv => rates::throughput_cv(picked(), limit),
        CheckKind::MinRate => rates::min_rate(picked(), limit),
        CheckKind::Latency => latency::latency(picked(), spec.percentile, limit),
        CheckKind::Imbalance => imbalance::imbalance(scene.runqueues, limit),
        CheckKind::KernelLog => match scene.kmsg {
            Ok(log) => at_most(log.count, limit, Detail::from_bytes(log.first)),
            Err(why) => cannot(format_args!("{why}")),
        },
        CheckKind::Scheduler => cannot(format_args!("unsupported")),
    }
}

/// The fewest iterations of a worker; one with none was starved for the whole scenario.
fn progress<'a>(picked: impl Iterator<Item = &'a Outcome>, limit: u64) -> Verdict {
    let Some(o) = picked.min_by_key(|o| o.iterations) else {
        return cannot(format_args!("no workers"));
    };
    let what = if o.iterations == 0 {
        "starved"
    } else {
        "slowest"
    };
    Verdict {
        pass: o.iterations >= limit,
        value: o.iterations,
        detail: detail(format_args!("{what} {}", Who(o))),
    }
}

/// Samples in which a worker had run outside its cgroup's effective cpuset.
fn isolation<'a>(picked: impl Iterator<Item = &'a Outcome> + Clone, limit: u64) -> Verdict {
    if picked.clone().next().is_none() {
        return cannot(format_args!("no workers"));
    }
    if picked.clone().all(|o| o.iso.cpuset.is_empty()) {
        return cannot(format_args!(
            "no cpuset known (is the cpuset controller missing?)"
        ));
    }
    let value = picked.clone().map(|o| o.iso.violations).sum();
    let mut d = Detail::new();
    if let Some(o) = picked.clone().find(|o| o.iso.violations > 0) {
        let mut set: Buf<128> = Buf::new();
        let _ = o.iso.cpuset.write_list(&mut set);
        let cpu = o.iso.bad_cpu.unwrap_or(0);
        d = detail(format_args!(
            "{} ran on CPU {cpu} outside cpuset {set}",
            Who(o)
        ));
    }
    at_most(value, limit, d)
}

/// Spread of CPU time among the selected workers: (max - min) / mean, per mille.
fn fairness<'a>(picked: impl Iterator<Item = &'a Outcome> + Clone, limit: u64) -> Verdict {
    let n = picked.clone().count() as u64;
    let (Some(lo), Some(hi)) = (
        picked.clone().min_by_key(|o| o.cpu_ns),
        picked.clone().max_by_key(|o| o.cpu_ns),
    ) else {
        return cannot(format_args!("no workers"));
    };
    if n < 2 {
        return cannot(format_args!("fairness needs 2 or more workers, got {n}"));
    }
    let total: u64 = picked.map(|o| o.cpu_ns).sum();
    if total == 0 {
        return cannot(format_args!("the workers got no CPU time"));
    }
    let value = permille(u128::from(hi.cpu_ns - lo.cpu_ns), u128::from(total / n));
    let d = detail(format_args!(
        "least {} {} ms, most {} {} ms",
        Who(lo),
        lo.cpu_ns / NS_PER_MS,
        Who(hi),
        hi.cpu_ns / NS_PER_MS
    ));
    at_most(value, limit, d)
}

const PER_MILLE: u128 = 1000;

/// `a / b` in per mille, saturating; b = 0 counts as infinitely far off.
fn permille(a: u128, b: u128) -> u64 {
    if b == 0 {
        return u64::MAX;
    }
    u64::try_from(a * PER_MILLE / b).unwrap_or(u64::MAX)
}

/// For cgroups with `(weight, usage)`, the worst relative deviation of a cgroup's share
/// of the usage from its share of the weights, per mille, and which cgroup it was.
pub fn worst_weight_deviation(groups: &[(u64, u64)]) -> Option<(u64, usize)> {
    let total_w: u128 = groups.iter().map(|g| u128::from(g.0)).sum();
    let total_u: u128 = groups.iter().map(|g| u128::from(g.1)).sum();
    if total_w == 0 || total_u == 0 {
        return None;
    }
    // |u/U - w/W| / (w/W) = |u*W - w*U| / (w*U)
    let dev = |&(w, u): &(u64, u64)| {
        let (w, u) = (u128::from(w), u128::from(u));
        let off = (u * total_w).abs_diff(w * total_u);
        permille(off, (w * total_u).max(1))
    };
    // The first of equally bad cgroups.
    groups
        .iter()
        .map(dev)
        .enumerate()
        .map(|(i, d)| (d, i))
        .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
}

const MAX_WEIGHT_GROUPS: usize = 16;

/// The cgroup whose `cpu.weight` a worker's CPU time counts for: with `parent` (the
/// check's cgroup), the child of `parent` the worker is in or below; None for a worker
/// elsewhere. Without `parent`, the worker's own cgroup.
pub fn weight_cgroup<'a>(cgroup: &'a [u8], parent: Option<&[u8]>) -> Option<&'a [u8]> {
    let Some(p) = parent else {
        return Some(cgroup);
    };
    let rest = cgroup.strip_prefix(p)?.strip_prefix(b"/")?;
    let child = rest
        .split(|&c| c == b'/')
        .next()
        .filter(|c| !c.is_empty())?;
    Some(&cgroup[..p.len() + 1 + child.len()])
}

/// CPU time share vs `cpu.weight` share across the children of `parent` that hold
/// selected workers (without `parent`, across the workers' own cgroups). Meaningful
/// only when those cgroups are siblings whose workers compete for the same CPUs the
/// whole time (always runnable, confined to a shared cpuset): otherwise idle CPUs let
/// every cgroup have what it asks for, whatever its weight.
fn weight<'a>(
    picked: impl Iterator<Item = &'a Outcome>,
    parent: Option<&[u8]>,
    root: &[u8],
    limit: u64,
) -> Verdict {
    let mut names: [&[u8]; MAX_WEIGHT_GROUPS] = [b""; MAX_WEIGHT_GROUPS];
    let mut groups = [(0u64, 0u64); MAX_WEIGHT_GROUPS];
    let mut n = 0;
    for o in picked {
        let Some(cg) = weight_cgroup(o.cgroup.as_bytes(), parent) else {
            continue;
        };
        let i = match names[..n].iter().position(|c| *c == cg) {
            Some(i) => i,
            None if n < MAX_WEIGHT_GROUPS => {
                let Some(w) = cgroup::weight(root, cg) else {
                    return cannot(format_args!(
                        "cannot read cpu.weight of cgroup {}",
                        RelPath::from_bytes(cg)
                    ));
                };
                names[n] = cg;
                groups[n].0 = w;
                n += 1;
                n - 1
            }
            None => return cannot(format_args!("more than {MAX_WEIGHT_GROUPS} cgroups")),
        };
        groups[i].1 += o.cpu_ns;
    }
    if n < 2 {
        return cannot(format_args!(
            "weight needs workers in 2 or more cgroups, got {n}"
        ));
    }
    let Some((value, i)) = worst_weight_deviation(&groups[..n]) else {
        return cannot(format_args!("the workers got no CPU time"));
    };
    let total_w: u64 = groups[..n].iter().map(|g| g.0).sum();
    let total_u: u64 = groups[..n].iter().map(|g| g.1).sum();
    let d = detail(format_args!(
        "cgroup {} got {} per mille of the CPU time, its weight {} is {} per mille",
        RelPath::from_bytes(names[i]),
        permille(u128::from(groups[i].1), u128::from(total_u)),
        groups[i].0,
        permille(u128::from(groups[i].0), u128::from(total_w))
    ));
    at_most(value, limit, d)
}

/// What a `quota`/`period` (µs) lets a cgroup use in a window of `elapsed_ns`, in ns.
/// The window need not start on a period boundary, and the kernel hands out a whole
/// quota for the period in progress, so the window counts one period more.
pub fn allowed_ns(elapsed_ns: u64, quota: u64, period: u64) -> u128 {
    let window_ns = u128::from(elapsed_ns) + u128::from(period) * u128::from(NS_PER_US);
    u128::from(quota) * window_ns / u128::from(period.max(1))
}

/// CPU time used over what a `quota`/`period` allows in `elapsed_ns`, per mille.
pub fn bandwidth_permille(used_us: u64, elapsed_ns: u64, quota: u64, period: u64) -> u64 {
    let allowed_ns = allowed_ns(elapsed_ns, quota, period);
    permille(u128::from(used_us) * u128::from(NS_PER_US), allowed_ns)
}

/// CPU time of `cgroup` while it had workers, over what its `cpu.max` allows.
fn bandwidth(spec: &CheckSpec, scene: &Scene<'_>) -> Verdict {
    let Some(cg) = spec.cgroup.as_ref() else {
        return cannot(format_args!("bandwidth needs cgroup="));
    };
    let Some(u) = scene
        .usage
        .iter()
        .find(|u| u.cgroup.eq_bytes(cg.as_bytes()))
    else {
        return cannot(format_args!("cgroup {cg} never had workers"));
    };
    let (quota, period) = match cgroup::cpu_max(scene.root, cg.as_bytes()) {
        Some((Some(q), p)) => (q, p),
        Some((None, _)) => return cannot(format_args!("cgroup {cg} has no cpu.max quota")),
        None => return cannot(format_args!("cannot read cpu.max of {cg}")),
    };
    let (used_us, elapsed_ns) = (u.end_us - u.start_us, u.end_ns - u.start_ns);
    if elapsed_ns == 0 {
        return cannot(format_args!("cgroup {cg} had workers for no time"));
    }
    let value = bandwidth_permille(used_us, elapsed_ns, quota, period);
    let d = detail(format_args!(
        "{cg} used {} ms of CPU in {} ms, cpu.max {quota} {period} allows {} ms",
        used_us / US_PER_MS,
        elapsed_ns / NS_PER_MS,
        // Printed as a u64: formatting a u128 would cost the guest a kilobyte of code.
        u64::try_from(allowed_ns(elapsed_ns, quota, period) / u128::from(NS_PER_MS))
            .unwrap_or(u64::MAX)
    ));
    at_most(value, spec.limit, d)
}

/// Workers that were meant to meet a limit (`expect`) and did not: forks never refused,
/// no OOM kill. The detail names the first such worker, or what was seen.
fn expected<'a>(picked: impl Iterator<Item = &'a Outcome>, limit: u64) -> Verdict {
    let (mut expecting, mut missed, mut refused, mut killed) = (0u64, 0u64, 0u64, 0u64);
    let mut first_miss: Option<&Outcome> = None;
    for o in picked.filter(|o| o.expect != Expect::Nothing) {
        expecting += 1;
        refused += o.forks_refused;
        killed += u64::from(o.oom_killed);
        let met = match o.expect {
            Expect::ForkRefused => o.forks_refused > 0,
            _ => o.oom_killed,
        };
        if !met {
            missed += 1;
            first_miss.get_or_insert(o);
        }
    }
    if expecting == 0 {
        return cannot(format_args!("no worker expects a limit"));
    }
    let d = match first_miss {
        Some(o) => detail(format_args!("{} was not {}", Who(o), o.expect.past())),
        None => detail(format_args!("{refused} forks refused, {killed} OOM kills")),
    };
    at_most(missed, limit, d)
}

/// The most moves (by `count`) of a selected worker, naming it.
fn most_moves<'a>(
    picked: impl Iterator<Item = &'a Outcome> + Clone,
    limit: u64,
    what: &str,
    count: fn(&Moves) -> Option<u64>,
) -> Verdict {
    if picked.clone().next().is_none() {
        return cannot(format_args!("no workers"));
    }
    if let Some(o) = picked.clone().find(|o| count(&o.moves).is_none()) {
        return cannot(format_args!(
            "the kernel did not say the {what} of {} (no /proc/<pid>/sched: \
             CONFIG_SCHED_DEBUG off?)",
            Who(o)
        ));
    }
    let Some((n, o)) = picked
        .filter_map(|o| count(&o.moves).map(|n| (n, o)))
        .max_by_key(|(n, _)| *n)
    else {
        return cannot(format_args!("no workers"));
    };
    at_most(n, limit, detail(format_args!("{} made {n} {what}", Who(o))))
}

/// The least share (per mille) of a `numa-working-set` worker's pages on its nodes.
fn numa_locality<'a>(picked: impl Iterator<Item = &'a Outcome>, limit: u64) -> Verdict {
    let mut worst: Option<(u64, &Outcome, Locality)> = None;
    for o in picked {
        let Some(n) = o.numa else { continue };
        if n.pages == 0 {
            return cannot(format_args!(
                "{} had no pages of its working set in numa_maps",
                Who(o)
            ));
        }
        let share = permille(u128::from(n.local_pages), u128::from(n.pages));
        if worst.is_none_or(|(w, _, _)| share < w) {
            worst = Some((share, o, n));
        }
    }
    let Some((share, o, n)) = worst else {
        return cannot(format_args!("no numa-working-set workers"));
    };
    Verdict {
        pass: share >= limit,
        value: share,
        detail: detail(format_args!(
            "{} had {} of {} pages on its nodes",
            Who(o),
            n.local_pages,
            n.pages
        )),
    }
}

/// The worst p99 wake latency (µs) among the selected sleep-wake workers.
fn wake_latency<'a>(picked: impl Iterator<Item = &'a Outcome>, limit: u64) -> Verdict {
    let p99s = picked
        .filter(|o| crate::work::WORKS[o.work].name == "sleep-wake")
        .filter_map(|o| o.wake.map(|w| (w.p99_ns, o)));
    match p99s.max_by_key(|(ns, _)| *ns) {
        Some((ns, o)) => at_most(
            crate::engine::worker::ns_to_us(ns),
            limit,
            detail(format_args!("{}", Who(o))),
        ),
        None => cannot(format_args!("no sleep-wake workers woke")),
    }
}

pub fn report(scenario: &[u8], spec: &CheckSpec, v: &Verdict) {
    report_detail(scenario, spec, v.pass, v.value, v.detail.as_bytes());
}

/// Reports a `kernel-log` check that forwarded every line, with how many it sent and
/// how many it could not: the host judges the lines.
pub fn report_forwarded(scenario: &[u8], spec: &CheckSpec, v: &Verdict, log: &KernelLog<'_>) {
    record(scenario, spec, v.pass, v.value, v.detail.as_bytes())
        .num("forwarded", log.forwarded)
        .num("dropped", log.dropped)
        .send();
}

/// Reports a check whose detail is built at run time (what happened to the scheduler).
pub fn report_detail(scenario: &[u8], spec: &CheckSpec, pass: bool, value: u64, detail: &[u8]) {
    record(scenario, spec, pass, value, detail).send();
}

fn record(scenario: &[u8], spec: &CheckSpec, pass: bool, value: u64, detail: &[u8]) -> Record {
    let mut r = Record::new(RecordKind::Check)
        .str("scenario", scenario)
        .word("name", spec.kind)
        .word(
            "result",
            if pass {
                CheckResult::Pass
            } else {
                CheckResult::Fail
            },
        )
        .num("value", value)
        .num("limit", spec.limit);
    if !detail.is_empty() {
        r = r.str("detail", detail);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::cpulist::CpuMask;

    fn out(group: &str, iterations: u64, gap_ms: u64) -> Outcome {
        Outcome {
            group: Name::from_bytes(group.as_bytes()),
            iterations,
            max_gap_ns: gap_ms * NS_PER_MS,
            pid: 40,
            ..Outcome::default()
        }
    }

    fn on(cgroup: &str, cpu_ms: u64) -> Outcome {
        Outcome {
            cgroup: RelPath::from_bytes(cgroup.as_bytes()),
            cpu_ns: cpu_ms * NS_PER_MS,
            ..out("g", 1, 0)
        }
    }

    fn spec(name: &str, limit: u64, group: Option<&str>) -> CheckSpec {
        CheckSpec {
            kind: schedbox_protocol::vocab::Word::parse(name.as_bytes()).unwrap(),
            limit,
            group: group.map(|g| Name::from_bytes(g.as_bytes())),
            cgroup: None,
            forward: false,
            percentile: DEFAULT_PERCENTILE,
        }
    }

    fn scene(outcomes: &[Outcome]) -> Scene<'_> {
        Scene {
            outcomes,
            root: b"/nonexistent",
            usage: &[],
            kmsg: Ok(KernelLog {
                count: 0,
                first: b"",
                forwarded: 0,
                dropped: 0,
            }),
            runqueues: idle_runqueues(),
        }
    }

    /// A sampler that saw nothing (no scenario here has an `imbalance` check).
    fn idle_runqueues() -> &'static Runqueues {
        Box::leak(Box::default())
    }

    fn eval(spec: &CheckSpec, outcomes: &[Outcome]) -> Verdict {
        evaluate(spec, &scene(outcomes))
    }

    fn says(v: &Verdict) -> String {
        String::from_utf8(v.detail.as_bytes().to_vec()).unwrap()
    }

    /// A scratch cgroup tree: (cgroup, file, contents).
    struct Tree(std::path::PathBuf);

    impl Tree {
        fn new(tag: &str, files: &[(&str, &str, &str)]) -> Tree {
            let dir = std::env::temp_dir().join(format!("sbx-check-{tag}-{}", std::process::id()));
            for (cg, file, text) in files {
                std::fs::create_dir_all(dir.join(cg)).unwrap();
                std::fs::write(dir.join(cg).join(file), text).unwrap();
            }
            Tree(dir)
        }

        fn root(&self) -> &[u8] {
            self.0.to_str().unwrap().as_bytes()
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn progress_is_the_minimum_and_names_the_starved() {
        let outs = [out("a", 10, 0), out("a", 3, 0), out("b", 0, 0)];
        let v = eval(&spec("progress", 2, Some("a")), &outs);
        assert!(v.pass && v.value == 3);
        assert_eq!(says(&v), "slowest a/0/40");
        let v = eval(&spec("progress", 1, None), &outs);
        assert!(!v.pass && v.value == 0);
        assert_eq!(says(&v), "starved b/0/40");
        let v = eval(&spec("progress", 1, Some("zzz")), &outs);
        assert!(!v.pass && says(&v) == "no workers");
    }

    #[test]
    fn stall_is_the_longest_gap() {
        let mut outs = [out("a", 1, 12), out("a", 1, 1500)];
        outs[1].index = 1;
        let v = eval(&spec("stall", 1000, None), &outs);
        assert!(!v.pass && v.value == 1500);
        assert_eq!(says(&v), "a/1/40");
        let v = eval(&spec("stall", 2000, None), &outs);
        assert!(v.pass);
    }

    #[test]
    fn wake_latency_is_the_worst_p99_of_sleep_wake_workers() {
        let sw = crate::work::WORKS
            .iter()
            .position(|w| w.name == "sleep-wake")
            .unwrap();
        let mut a = out("a", 1, 0);
        a.work = sw;
        let wake = |p99_ns, max_ns| crate::measure::wakes::WakeStats {
            p50_ns: 10_000,
            p90_ns: 20_000,
            p99_ns,
            max_ns,
            samples: 100,
        };
        a.wake = Some(wake(90_000, 200_000));
        let mut b = a.clone();
        b.wake = Some(wake(300_000, 400_000));
        let spin = out("a", 1, 0);
        let v = eval(
            &spec("wake-latency", 250, None),
            &[a.clone(), b, spin.clone()],
        );
        assert!(!v.pass && v.value == 300);
        let v = eval(&spec("wake-latency", 250, None), &[a]);
        assert!(v.pass && v.value == 90);
        let v = eval(&spec("wake-latency", 250, None), &[spin]);
        assert!(!v.pass && !v.detail.is_empty());
    }

    #[test]
    fn expect_counts_the_workers_that_did_not_meet_their_limit() {
        let mut forker = out("f", 1, 0);
        forker.expect = Expect::ForkRefused;
        forker.forks_refused = 250;
        let mut hog = out("h", 1, 0);
        hog.expect = Expect::OomKilled;
        hog.oom_killed = true;
        let plain = out("p", 1, 0);
        let spec_ = spec("expect", 0, None);
        let v = eval(&spec_, &[forker.clone(), hog.clone(), plain.clone()]);
        assert!(v.pass && v.value == 0, "{}", v.detail);
        assert_eq!(v.detail.as_bytes(), b"250 forks refused, 1 OOM kills");
        hog.oom_killed = false;
        forker.forks_refused = 0;
        let v = eval(&spec_, &[forker, hog]);
        assert!(!v.pass && v.value == 2);
        assert!(
            v.detail.to_string().ends_with("was not refused a fork"),
            "{}",
            v.detail
        );
        let v = eval(&spec_, &[plain]);
        assert!(!v.pass && v.detail.to_string().contains("no worker expects"));
    }

    #[test]
    fn isolation_sums_violations_and_names_the_first() {
        let mut a = out("a", 1, 0);
        a.iso.cpuset = CpuMask::parse(b"0").unwrap();
        let mut b = a.clone();
        b.index = 1;
        b.iso.violations = 3;
        b.iso.bad_cpu = Some(1);
        let v = eval(&spec("isolation", 0, None), &[a.clone(), b]);
        assert!(!v.pass && v.value == 3);
        assert_eq!(says(&v), "a/1/40 ran on CPU 1 outside cpuset 0");
        let v = eval(&spec("isolation", 0, None), &[a]);
        assert!(v.pass && v.value == 0);
        let v = eval(&spec("isolation", 0, None), &[out("a", 1, 0)]);
        assert!(!v.pass && says(&v).contains("no cpuset"));
    }

    #[test]
    fn fairness_is_the_spread_over_the_mean() {
        let mut outs = [on("c", 900), on("c", 1100), on("d", 10)];
        outs[1].index = 1;
        let mut s = spec("fairness", 250, None);
        s.cgroup = Some(RelPath::from_bytes(b"c"));
        let v = eval(&s, &outs);
        assert!(v.pass && v.value == 200, "{}", v.value);
        assert_eq!(says(&v), "least g/0/40 900 ms, most g/1/40 1100 ms");
        s.limit = 199;
        assert!(!eval(&s, &outs).pass);
        s.cgroup = Some(RelPath::from_bytes(b"d"));
        assert!(says(&eval(&s, &outs)).contains("2 or more"));
    }

    #[test]
    fn weight_deviation_is_relative_to_the_weight_share() {
        assert_eq!(
            worst_weight_deviation(&[(100, 200), (400, 800)]),
            Some((0, 0))
        );
        // Equal use where 1:4 was due: the light cgroup got 2.5 times its share.
        assert_eq!(
            worst_weight_deviation(&[(100, 500), (400, 500)]),
            Some((1500, 0))
        );
        assert_eq!(worst_weight_deviation(&[(100, 0), (400, 0)]), None);
    }

    #[test]
    fn weight_reads_cpu_weight_of_each_cgroup() {
        let t = Tree::new(
            "weight",
            &[("lo", "cpu.weight", "100\n"), ("hi", "cpu.weight", "400\n")],
        );
        let outs = [on("lo", 210), on("hi", 790)];
        let sc = Scene {
            root: t.root(),
            ..scene(&outs)
        };
        let v = evaluate(&spec("weight", 100, None), &sc);
        assert!(v.pass && v.value == 50, "{}", v.value);
        assert_eq!(
            says(&v),
            "cgroup lo got 210 per mille of the CPU time, its weight 100 is 200 per mille"
        );
        let skewed = [on("lo", 500), on("hi", 500)];
        let v = evaluate(
            &spec("weight", 100, None),
            &Scene {
                outcomes: &skewed,
                ..sc
            },
        );
        assert!(!v.pass && v.value == 1500);
        let one = [on("lo", 5)];
        let v = evaluate(
            &spec("weight", 100, None),
            &Scene {
                outcomes: &one,
                ..sc
            },
        );
        assert!(!v.pass && says(&v).contains("2 or more cgroups"));
        let v = eval(&spec("weight", 100, None), &outs);
        assert!(!v.pass && says(&v).contains("cannot read cpu.weight"));
    }

    #[test]
    fn weight_with_a_cgroup_compares_its_children() {
        let t = Tree::new(
            "weight-parent",
            &[
                ("p/lo", "cpu.weight", "100\n"),
                ("p/hi", "cpu.weight", "400\n"),
            ],
        );
        // Workers below a child count for the child; workers elsewhere do not count.
        let outs = [
            on("p/lo", 100),
            on("p/lo/deep", 110),
            on("p/hi", 790),
            on("q", 5000),
        ];
        let mut s = spec("weight", 100, None);
        s.cgroup = Some(RelPath::from_bytes(b"p"));
        let sc = Scene {
            root: t.root(),
            ..scene(&outs)
        };
        let v = evaluate(&s, &sc);
        assert!(v.pass && v.value == 50, "{} {}", v.value, says(&v));
        assert!(says(&v).starts_with("cgroup p/lo got 210"), "{}", says(&v));
        s.cgroup = Some(RelPath::from_bytes(b"q"));
        assert!(says(&evaluate(&s, &sc)).contains("got 0"));
    }

    #[test]
    fn weight_cgroup_is_the_child_of_the_parent() {
        assert_eq!(weight_cgroup(b"a/b/c", Some(b"a")), Some(&b"a/b"[..]));
        assert_eq!(weight_cgroup(b"a/b", Some(b"a")), Some(&b"a/b"[..]));
        assert_eq!(weight_cgroup(b"a", Some(b"a")), None);
        assert_eq!(weight_cgroup(b"ab/c", Some(b"a")), None);
        assert_eq!(weight_cgroup(b"x/y", None), Some(&b"x/y"[..]));
    }

    #[test]
    fn bandwidth_is_use_over_quota() {
        // One second and the period in progress: 11 periods of 20 ms.
        assert_eq!(
            bandwidth_permille(220_000, 1_000_000_000, 20_000, 100_000),
            1000
        );
        assert_eq!(
            bandwidth_permille(110_000, 1_000_000_000, 20_000, 100_000),
            500
        );
        let t = Tree::new(
            "bw",
            &[
                ("cap", "cpu.max", "20000 100000\n"),
                ("free", "cpu.max", "max 100000\n"),
            ],
        );
        let usage = [Usage {
            cgroup: RelPath::from_bytes(b"cap"),
            start_us: 1000,
            start_ns: 0,
            end_us: 1000 + 320_000,
            end_ns: 1_500_000_000,
        }];
        let sc = Scene {
            root: t.root(),
            usage: &usage,
            ..scene(&[])
        };
        let mut s = spec("bandwidth", 1100, None);
        s.cgroup = Some(RelPath::from_bytes(b"cap"));
        let v = evaluate(&s, &sc);
        assert!(v.pass && v.value == 1000, "{}", v.value);
        assert_eq!(
            says(&v),
            "cap used 320 ms of CPU in 1500 ms, cpu.max 20000 100000 allows 320 ms"
        );
        s.limit = 900;
        assert!(!evaluate(&s, &sc).pass);
        s.cgroup = Some(RelPath::from_bytes(b"free"));
        assert!(says(&evaluate(&s, &sc)).contains("never had workers"));
        s.cgroup = None;
        assert!(says(&evaluate(&s, &sc)).contains("needs cgroup="));
    }

    #[test]
    fn kernel_log_counts_problem_lines() {
        let v = evaluate(
            &spec("kernel-log", 0, None),
            &Scene {
                kmsg: Ok(KernelLog {
                    count: 2,
                    first: b"WARNING: x",
                    forwarded: 0,
                    dropped: 0,
                }),
                ..scene(&[])
            },
        );
        assert!(!v.pass && v.value == 2 && says(&v) == "WARNING: x");
        let v = evaluate(&spec("kernel-log", 0, None), &scene(&[]));
        assert!(v.pass && v.detail.is_empty());
        let v = evaluate(
            &spec("kernel-log", 0, None),
            &Scene {
                kmsg: Err("off"),
                ..scene(&[])
            },
        );
        assert!(!v.pass && says(&v) == "off");
    }

    #[test]
    fn moves_are_the_most_of_a_worker() {
        let mut a = out("a", 1, 0);
        a.moves = Moves {
            migrations: Some(4),
            llc_crossings: 1,
            node_crossings: 0,
        };
        let mut b = a.clone();
        b.index = 1;
        b.moves.migrations = Some(9);
        let v = eval(&spec("migrations", 5, None), &[a.clone(), b.clone()]);
        assert!(!v.pass && v.value == 9);
        assert_eq!(says(&v), "a/1/40 made 9 migrations");
        let v = eval(&spec("llc-crossings", 1, None), &[a.clone(), b.clone()]);
        assert!(v.pass && v.value == 1);
        assert!(eval(&spec("node-crossings", 0, None), &[a.clone()]).pass);
        b.moves.migrations = None;
        let v = eval(&spec("migrations", 5, None), &[a, b]);
        assert!(!v.pass && says(&v).contains("CONFIG_SCHED_DEBUG"));
    }

    #[test]
    fn numa_locality_is_the_least_share_on_the_nodes() {
        let mut a = out("a", 1, 0);
        a.numa = Some(Locality {
            pages: 1000,
            local_pages: 990,
        });
        let mut b = a.clone();
        b.index = 1;
        b.numa = Some(Locality {
            pages: 1000,
            local_pages: 900,
        });
        let v = eval(&spec("numa-locality", 950, None), &[a.clone(), b.clone()]);
        assert!(!v.pass && v.value == 900);
        assert_eq!(says(&v), "a/1/40 had 900 of 1000 pages on its nodes");
        assert!(eval(&spec("numa-locality", 950, None), &[a]).pass);
        let v = eval(&spec("numa-locality", 950, None), &[out("s", 1, 0)]);
        assert!(!v.pass && says(&v).contains("no numa-working-set"));
        b.numa = Some(Locality::default());
        assert!(says(&eval(&spec("numa-locality", 950, None), &[b])).contains("no pages"));
    }

    #[test]
    fn unknown_checks_fail_loudly() {
        let v = eval(&spec("scheduler", 0, None), &[]);
        assert!(!v.pass && says(&v) == "unsupported");
    }
}
