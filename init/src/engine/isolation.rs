//! Whether a worker stayed on the CPUs its cgroup allows: each sample's CPUs against
//! the cgroup's effective cpuset, once a change of cpuset has settled.

use crate::topology::cpulist::CpuMask;

/// The isolation watch of one worker.
#[derive(Clone, Copy, Default)]
pub struct Isolation {
    /// The effective cpuset of the worker's cgroup, read when it changes; empty when
    /// unknown (no cpuset controller), which turns the watch off.
    pub cpuset: CpuMask,
    /// Samples in which the worker had run on a CPU outside it, and the first such CPU.
    pub violations: u64,
    pub bad_cpu: Option<usize>,
    /// The worker's progress when its cpuset last changed, while a CPU it read before
    /// the change may still come in: it notes its CPU after storing its progress, so
    /// a CPU read before a migration can land after the monitor cleared the old ones.
    unsettled_at: Option<u64>,
    /// The worker's progress at the previous sample.
    last_progress: u64,
}

impl Isolation {
    /// A new cpuset, taken at the worker's `progress`.
    pub fn changed(&mut self, cpuset: CpuMask, progress: u64) {
        self.cpuset = cpuset;
        self.unsettled_at = Some(progress);
        self.last_progress = progress;
    }

    /// Counts a sample whose CPUs `seen` leave the cpuset; `progress` was read before
    /// `seen` was taken. Once a previous sample saw progress past the change, every CPU
    /// read before it has been cleared: from then on samples are judged.
    pub fn observe(&mut self, seen: &CpuMask, progress: u64) {
        let settled = match self.unsettled_at {
            Some(at) if self.last_progress <= at => false,
            _ => {
                self.unsettled_at = None;
                true
            }
        };
        self.last_progress = progress;
        if !settled || self.cpuset.is_empty() {
            return;
        }
        let outside = seen
            .0
            .iter()
            .zip(self.cpuset.0.iter())
            .enumerate()
            .find(|(_, (s, c))| *s & !*c != 0);
        if let Some((i, (s, c))) = outside {
            self.violations += 1;
            let cpu = i * 64 + (s & !c).trailing_zeros() as usize;
            self.bad_cpu.get_or_insert(cpu);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolation_counts_samples_outside_the_cpuset() {
        let mask = |s: &[u8]| CpuMask::parse(s).unwrap();
        let mut iso = Isolation::default();
        iso.changed(mask(b"0-1"), 0);
        // Progress 0 at the change: the first sample may hold a CPU read before it.
        iso.observe(&mask(b"5"), 3);
        iso.observe(&mask(b"0"), 4);
        iso.observe(&mask(b"0-1"), 5);
        iso.observe(&CpuMask::default(), 5);
        assert_eq!((iso.violations, iso.bad_cpu), (0, None));
        iso.observe(&mask(b"1,3"), 6);
        iso.observe(&mask(b"70"), 7);
        assert_eq!((iso.violations, iso.bad_cpu), (2, Some(3)));
        let mut unknown = Isolation::default();
        unknown.observe(&mask(b"5"), 1);
        unknown.observe(&mask(b"5"), 2);
        assert_eq!(unknown.violations, 0, "no cpuset known, nothing to judge");
    }

    #[test]
    fn after_a_cpuset_change_samples_wait_for_the_workers_progress() {
        let mask = |s: &[u8]| CpuMask::parse(s).unwrap();
        let mut iso = Isolation::default();
        iso.changed(mask(b"0"), 10);
        // A worker that has not progressed since the change: its CPUs are not judged.
        iso.observe(&mask(b"1"), 10);
        iso.observe(&mask(b"1"), 10);
        // It progressed before this sample, but the CPU it read before the move may
        // have been noted after the previous one.
        iso.observe(&mask(b"1"), 11);
        assert_eq!(iso.violations, 0);
        // The previous sample saw progress past the change: judged from here.
        iso.observe(&mask(b"1"), 12);
        assert_eq!((iso.violations, iso.bad_cpu), (1, Some(1)));
    }
}
