//! How many workers may be runnable on one CPU at once, for limits that depend on it
//! (the default stall limit: a task waits its turn behind the others on its CPU).

use std::collections::{BTreeMap, BTreeSet};

use super::Spawn;
use crate::cpulist;

/// The most workers that may compete for one CPU: each group's workers spread evenly
/// over the CPUs it may use (its `affinity`, else the `cpus` of its cgroup or the
/// nearest ancestor that sets them, else all), summed per CPU, rounded up. Every worker
/// counts as runnable, whatever its work: an upper bound, never an underestimate.
/// `machine` are the machine's CPUs (a VM's 0..N, a host's online ones, numbered as they
/// are); `cgroup_cpus` the declared cgroups' (path, cpus); CPUs in `offline` (those a
/// step takes offline) count as gone, but the first, and a group left with none of its
/// CPUs spreads over the rest, as the kernel moves it there.
pub fn runnable_per_cpu(
    machine: &BTreeSet<u32>,
    groups: &[Spawn],
    cgroup_cpus: &[(String, String)],
    offline: &BTreeSet<u32>,
) -> u64 {
    let first = machine.first().copied().unwrap_or(0);
    let mut all: BTreeSet<u32> = machine
        .iter()
        .copied()
        .filter(|c| !offline.contains(c) || *c == first)
        .collect();
    all.insert(first);
    let mut load: BTreeMap<u32, f64> = all.iter().map(|&c| (c, 0.0)).collect();
    for group in groups {
        let cpus = group_cpus(group, cgroup_cpus, &all);
        let share = group.count as f64 / cpus.len() as f64;
        for cpu in cpus {
            if let Some(l) = load.get_mut(&cpu) {
                *l += share;
            }
        }
    }
    load.into_values().fold(0f64, f64::max).ceil() as u64
}

fn group_cpus(
    group: &Spawn,
    cgroup_cpus: &[(String, String)],
    all: &BTreeSet<u32>,
) -> BTreeSet<u32> {
    let listed = |text: &str| {
        cpulist::parse(text)
            .ok()
            .map(|set| set.intersection(all).copied().collect::<BTreeSet<u32>>())
            .filter(|set| !set.is_empty())
    };
    if let Some(set) = group.affinity.as_deref().and_then(listed) {
        return set;
    }
    // The nearest cgroup on the path from the group's own up to the scenario root.
    let mut path = group.cgroup.as_str();
    loop {
        if let Some((_, cpus)) = cgroup_cpus.iter().find(|(p, _)| p == path) {
            if let Some(set) = listed(cpus) {
                return set;
            }
        }
        match path.rsplit_once('/') {
            Some((parent, _)) => path = parent,
            None => return all.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(count: u64, cgroup: &str, affinity: Option<&str>) -> Spawn {
        Spawn {
            group: "g".into(),
            cgroup: cgroup.into(),
            work: "spin".into(),
            count,
            nice: 0,
            policy: "other".into(),
            prio: None,
            affinity: affinity.map(str::to_string),
            params: Vec::new(),
            expect: None,
            threads: false,
        }
    }

    fn machine(cpus: u32) -> BTreeSet<u32> {
        (0..cpus).collect()
    }

    #[test]
    fn a_host_with_cpus_offline_counts_its_own_numbers() {
        // CPUs 0-1 and 4-5 online: three pinned to 4-5 share them, not the first CPUs.
        let host: BTreeSet<u32> = [0, 1, 4, 5].into();
        let pinned = [group(4, "a", Some("4-5")), group(2, "b", None)];
        assert_eq!(
            runnable_per_cpu(&host, &pinned, &[], &BTreeSet::new()),
            3,
            "4/2 + 2/4 on CPUs 4 and 5"
        );
    }

    #[test]
    fn workers_spread_over_the_cpus_they_may_use() {
        let none = BTreeSet::new();
        assert_eq!(
            runnable_per_cpu(&machine(2), &[group(256, "work", None)], &[], &none),
            128
        );
        assert_eq!(
            runnable_per_cpu(&machine(2), &[group(3, "work", None)], &[], &none),
            2
        );
        assert_eq!(runnable_per_cpu(&machine(2), &[], &[], &none), 0);
        let pinned = [group(4, "a/b", None), group(2, "c", Some("1"))];
        let cpus = [("a".to_string(), "0".to_string())];
        // CPU 0 runs the four under a/ (cpuset inherited), CPU 1 the two pinned there.
        assert_eq!(runnable_per_cpu(&machine(2), &pinned, &cpus, &none), 4);
        let both = [group(4, "a", None), group(4, "c", None)];
        assert_eq!(
            runnable_per_cpu(&machine(2), &both, &cpus, &none),
            6,
            "4 + 4/2 on CPU 0"
        );
    }

    #[test]
    fn cpus_taken_offline_leave_their_workers_to_the_rest() {
        let offline: BTreeSet<u32> = [1].into();
        let pinned = [group(2, "c", Some("1")), group(2, "d", None)];
        // On 2 CPUs with CPU 1 gone, all four share CPU 0.
        assert_eq!(runnable_per_cpu(&machine(2), &pinned, &[], &offline), 4);
        let spread = [group(8, "c", None)];
        assert_eq!(
            runnable_per_cpu(&machine(4), &spread, &[], &offline),
            3,
            "8 over CPUs 0, 2, 3"
        );
        assert_eq!(
            runnable_per_cpu(&machine(2), &spread, &[], &[0].into()),
            4,
            "CPU 0 stays"
        );
    }
}
