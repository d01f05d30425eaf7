//! CPU sets in the kernel's list syntax (`0-3,6,8-9`): the protocol crate's, since plans
//! carry them too.

pub use schedbox_protocol::cpulist::CpuMask;
pub use schedbox_protocol::limits::MAX_CPUS;

/// The set as the kernel's affinity calls take it.
pub fn to_cpuset(m: &CpuMask) -> rustix::thread::CpuSet {
    let mut set = rustix::thread::CpuSet::new();
    for cpu in 0..MAX_CPUS.min(rustix::thread::CpuSet::MAX_CPU) {
        if m.has(cpu) {
            set.set(cpu);
        }
    }
    set
}

/// The set an affinity call returned.
pub fn from_cpuset(set: &rustix::thread::CpuSet) -> CpuMask {
    let mut m = CpuMask::default();
    for cpu in 0..MAX_CPUS.min(rustix::thread::CpuSet::MAX_CPU) {
        if set.is_set(cpu) {
            m.set(cpu);
        }
    }
    m
}
