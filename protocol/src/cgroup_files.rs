//! The cgroup v2 interface files the kernel has for the controllers schedbox enables
//! (cpu, cpuset, memory, pids, io) and the core `cgroup.*` files, as
//! Documentation/admin-guide/cgroup-v2.rst lists them for non-root cgroups, with
//! whether a write to each can succeed. A scenario may set only files named here, so a
//! mistyped name is refused on the host instead of failing in the guest.

/// One interface file of a cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CgroupFile {
    pub name: &'static str,
    /// False for files that only report (a write fails with EACCES or EINVAL).
    pub writable: bool,
}

const fn rw(name: &'static str) -> CgroupFile {
    CgroupFile {
        name,
        writable: true,
    }
}

const fn ro(name: &'static str) -> CgroupFile {
    CgroupFile {
        name,
        writable: false,
    }
}

/// Every file, core first, then by controller.
pub const CGROUP_FILES: &[CgroupFile] = &[
    // Core: present in every cgroup, whatever its controllers.
    rw("cgroup.type"),
    rw("cgroup.procs"),
    rw("cgroup.threads"),
    ro("cgroup.controllers"),
    rw("cgroup.subtree_control"),
    ro("cgroup.events"),
    rw("cgroup.max.descendants"),
    rw("cgroup.max.depth"),
    ro("cgroup.stat"),
    rw("cgroup.freeze"),
    rw("cgroup.kill"),
    rw("cgroup.pressure"),
    ro("cpu.stat"),
    ro("cpu.stat.local"),
    // Pressure (PSI) files take trigger writes.
    rw("cpu.pressure"),
    rw("memory.pressure"),
    rw("io.pressure"),
    rw("irq.pressure"),
    // cpu
    rw("cpu.weight"),
    rw("cpu.weight.nice"),
    rw("cpu.max"),
    rw("cpu.max.burst"),
    rw("cpu.uclamp.min"),
    rw("cpu.uclamp.max"),
    rw("cpu.idle"),
    // cpuset
    rw("cpuset.cpus"),
    ro("cpuset.cpus.effective"),
    rw("cpuset.cpus.exclusive"),
    ro("cpuset.cpus.exclusive.effective"),
    rw("cpuset.cpus.partition"),
    rw("cpuset.mems"),
    ro("cpuset.mems.effective"),
    // memory
    ro("memory.current"),
    rw("memory.min"),
    rw("memory.low"),
    rw("memory.high"),
    rw("memory.max"),
    rw("memory.reclaim"),
    rw("memory.peak"),
    rw("memory.oom.group"),
    ro("memory.events"),
    ro("memory.events.local"),
    ro("memory.stat"),
    ro("memory.numa_stat"),
    ro("memory.swap.current"),
    rw("memory.swap.high"),
    rw("memory.swap.peak"),
    rw("memory.swap.max"),
    ro("memory.swap.events"),
    ro("memory.zswap.current"),
    rw("memory.zswap.max"),
    rw("memory.zswap.writeback"),
    // pids
    ro("pids.current"),
    rw("pids.max"),
    ro("pids.peak"),
    ro("pids.events"),
    ro("pids.events.local"),
    // io
    ro("io.stat"),
    rw("io.weight"),
    rw("io.max"),
    rw("io.latency"),
    rw("io.prio.class"),
    rw("io.bfq.weight"),
];

/// The file of that name, if the kernel has one.
pub fn cgroup_file(name: &str) -> Option<&'static CgroupFile> {
    CGROUP_FILES.iter().find(|f| f.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_name_their_controller() {
        for (i, file) in CGROUP_FILES.iter().enumerate() {
            assert!(
                CGROUP_FILES[..i].iter().all(|f| f.name != file.name),
                "{} twice",
                file.name
            );
            let (prefix, _) = file.name.split_once('.').expect("controller.file");
            assert!(
                ["cgroup", "cpu", "cpuset", "memory", "pids", "io", "irq"].contains(&prefix),
                "{}",
                file.name
            );
        }
    }

    #[test]
    fn the_files_scenarios_set_are_writable() {
        for name in [
            "cpu.max",
            "cpu.weight",
            "cpuset.cpus",
            "memory.max",
            "pids.max",
        ] {
            assert!(cgroup_file(name).is_some_and(|f| f.writable), "{name}");
        }
        assert!(cgroup_file("cgroup.freeze").is_some_and(|f| f.writable));
        assert!(!cgroup_file("cpu.stat").unwrap().writable);
        assert_eq!(cgroup_file("cpu.maxx"), None);
    }
}
