//! Runnable tasks per CPU, read from the kernel's scheduler statistics while a scenario
//! has an `imbalance` check, and the highest ratio between the busiest and the idlest
//! online CPU that held for a whole window.
//!
//! The statistics are the scheduler debug file (`/sys/kernel/debug/sched/debug`, which
//! was `/proc/sched_debug` before Linux 5.13; `CONFIG_SCHED_DEBUG`): for each online CPU
//! a `cpu#N` section whose first `.nr_running` is the run queue's count of runnable
//! tasks of every class, and a list of the CPU's tasks with their state. PID 1, running
//! while it reads the file, is left out of its CPU's count; the first runnable worker
//! (`sbx-...`) on each CPU is kept, to name one on the busiest.

use crate::platform::buf::{parse_u64, Buf};
use crate::platform::sys::NS_PER_MS;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use schedbox_protocol::checks::{IMBALANCE_SAMPLE_MS, MAX_IMBALANCE_WINDOW_MS};
use schedbox_protocol::limits::MAX_CPUS;

/// Where the kernel's scheduler debug file is, newest first.
const FILES: [&core::ffi::CStr; 2] = [c"/sys/kernel/debug/sched/debug", c"/proc/sched_debug"];
/// Samples a window can hold (one more: the sample that opens it), and the ring's room.
const RING: usize = (MAX_IMBALANCE_WINDOW_MS / IMBALANCE_SAMPLE_MS) as usize + 2;
/// Bytes of a line kept: the fields read are at its start.
const LINE: usize = 256;
const CHUNK: usize = 4096;
const WORKER_PREFIX: &[u8] = b"sbx-";
/// A task name: at most 15 bytes.
pub type Comm = Buf<16>;

/// One look at every online CPU.
#[derive(Clone, Default)]
pub struct Sample {
    pub t_ns: u64,
    /// The busiest CPU's runnable tasks over the idlest's (an idle CPU counting as
    /// one), per mille.
    pub permille: u64,
    pub busiest: (u32, u64),
    pub idlest: (u32, u64),
    /// A worker runnable on the busiest CPU; empty for none.
    pub worker: Comm,
}

/// The highest ratio that held for a window: the lowest sample of that window.
#[derive(Clone, Default)]
pub struct Sustained {
    pub low: Sample,
    pub from_ns: u64,
    pub to_ns: u64,
}

/// What the sampler saw of a scenario.
pub struct Runqueues {
    /// The window, while a scenario has an `imbalance` check; None otherwise.
    window_ns: Option<u64>,
    next_ns: u64,
    ring: [Sample; RING],
    start: usize,
    len: usize,
    pub samples: u64,
    pub first_ns: u64,
    /// Why the file could not be read, when it could not.
    pub unreadable: Option<Errno>,
    pub worst: Option<Sustained>,
}

impl Default for Runqueues {
    fn default() -> Self {
        Runqueues {
            window_ns: None,
            next_ns: 0,
            ring: core::array::from_fn(|_| Sample::default()),
            start: 0,
            len: 0,
            samples: 0,
            first_ns: 0,
            unreadable: None,
            worst: None,
        }
    }
}

impl Runqueues {
    /// A scenario starts: sample it with this window (ms), or not at all.
    pub fn begin(&mut self, window_ms: Option<u64>) {
        *self = Runqueues {
            window_ns: window_ms.map(|ms| ms * NS_PER_MS),
            ..Runqueues::default()
        };
    }

    /// Samples when a scenario asks for it and the last sample is old enough.
    pub fn sample_if_due(&mut self, now: u64) {
        let Some(window) = self.window_ns else { return };
        if now < self.next_ns || self.unreadable.is_some() {
            return;
        }
        self.next_ns = now + IMBALANCE_SAMPLE_MS * NS_PER_MS;
        match read_sample(now) {
            Ok(s) => self.add(s, window),
            Err(e) => self.unreadable = Some(e),
        }
    }

    /// Adds a sample, and the window it closes when it closes one.
    fn add(&mut self, s: Sample, window: u64) {
        if self.samples == 0 {
            self.first_ns = s.t_ns;
        }
        self.samples += 1;
        let t = s.t_ns;
        if self.len == RING {
            self.pop();
        }
        self.ring[(self.start + self.len) % RING] = s;
        self.len += 1;
        // Keep one sample at or before the window's start: it opens the window.
        while self.len >= 2 && self.at(1).t_ns + window <= t {
            self.pop();
        }
        if self.at(0).t_ns + window > t {
            return;
        }
        let low = (0..self.len).map(|i| self.at(i)).min_by_key(|s| s.permille);
        let Some(low) = low else { return };
        if self
            .worst
            .as_ref()
            .is_none_or(|w| low.permille > w.low.permille)
        {
            self.worst = Some(Sustained {
                low: low.clone(),
                from_ns: self.at(0).t_ns,
                to_ns: t,
            });
        }
    }

    fn at(&self, i: usize) -> &Sample {
        &self.ring[(self.start + i) % RING]
    }

    fn pop(&mut self) {
        self.start = (self.start + 1) % RING;
        self.len -= 1;
    }
}

/// Reads the debug file once: the first that opens.
fn read_sample(now: u64) -> Result<Sample, Errno> {
    let mut err = Errno::NOENT;
    for path in FILES {
        match rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) {
            Ok(fd) => {
                let mut parse = Parser::default();
                read_lines(&fd, |line| parse.line(line))?;
                return parse.sample(now).ok_or(Errno::NODATA);
            }
            Err(e) => err = e,
        }
    }
    Err(err)
}

/// Calls `each` with every line of the file (cut at `LINE` bytes).
fn read_lines(fd: &rustix::fd::OwnedFd, mut each: impl FnMut(&[u8])) -> Result<(), Errno> {
    let mut chunk = [0u8; CHUNK];
    let mut line = [0u8; LINE];
    let mut len = 0;
    loop {
        let n = match rustix::io::read(fd, &mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        };
        for &c in &chunk[..n] {
            if c == b'\n' {
                each(&line[..len]);
                len = 0;
            } else if len < LINE {
                line[len] = c;
                len += 1;
            }
        }
    }
    if len > 0 {
        each(&line[..len]);
    }
    Ok(())
}

/// What the debug file says, line by line.
struct Parser {
    cpu: Option<usize>,
    /// Whether the current CPU's run queue count was read (later `.nr_running` lines
    /// are its class queues').
    counted: bool,
    in_tasks: bool,
    online: [bool; MAX_CPUS],
    runnable: [u64; MAX_CPUS],
    worker: [Comm; MAX_CPUS],
}

impl Default for Parser {
    fn default() -> Self {
        Parser {
            cpu: None,
            counted: false,
            in_tasks: false,
            online: [false; MAX_CPUS],
            runnable: [0; MAX_CPUS],
            worker: core::array::from_fn(|_| Comm::new()),
        }
    }
}

impl Parser {
    fn line(&mut self, line: &[u8]) {
        if let Some(rest) = line.strip_prefix(b"cpu#") {
            let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
            self.cpu = parse_u64(&rest[..digits])
                .and_then(|c| usize::try_from(c).ok())
                .filter(|&c| c < MAX_CPUS);
            self.counted = false;
            self.in_tasks = false;
            return;
        }
        let Some(cpu) = self.cpu else { return };
        if line.starts_with(b"runnable tasks:") {
            self.in_tasks = true;
        } else if self.in_tasks {
            self.task(cpu, line);
        } else if !self.counted {
            if let Some(n) = field(line, b".nr_running") {
                self.online[cpu] = true;
                self.runnable[cpu] = n;
                self.counted = true;
            }
        }
    }

    /// A task line: `>R` (running) or ` <state>`, the name, the PID, ...
    fn task(&mut self, cpu: usize, line: &[u8]) {
        if line.get(1) != Some(&b'R') {
            return;
        }
        let mut words = line[2..].split(|&c| c == b' ').filter(|w| !w.is_empty());
        let (Some(comm), Some(pid)) = (words.next(), words.next()) else {
            return;
        };
        if parse_u64(pid) == Some(1) {
            self.runnable[cpu] = self.runnable[cpu].saturating_sub(1);
        } else if comm.starts_with(WORKER_PREFIX) && self.worker[cpu].is_empty() {
            self.worker[cpu] = Comm::from_bytes(comm);
        }
    }

    /// The busiest and the idlest online CPU; None when no CPU was read.
    fn sample(&self, now: u64) -> Option<Sample> {
        let online = || (0..MAX_CPUS).filter(|&c| self.online[c]);
        let busiest = online().max_by_key(|&c| (self.runnable[c], core::cmp::Reverse(c)))?;
        let idlest = online().min_by_key(|&c| (self.runnable[c], c))?;
        let (hi, lo) = (self.runnable[busiest], self.runnable[idlest]);
        Some(Sample {
            t_ns: now,
            permille: hi.saturating_mul(1000) / lo.max(1),
            busiest: (busiest as u32, hi),
            idlest: (idlest as u32, lo),
            worker: self.worker[busiest].clone(),
        })
    }
}

/// The number of a `  .<name>   : <n>` line.
fn field(line: &[u8], name: &[u8]) -> Option<u64> {
    let rest = line.trim_ascii_start().strip_prefix(name)?;
    let value = rest.trim_ascii_start().strip_prefix(b":")?;
    parse_u64(value.trim_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two CPUs as Linux 6.12 prints them: CPU 0 runs PID 1 and has three workers
    /// queued, CPU 1 one kernel thread.
    const DEBUG: &str = "Sched Debug Version: v0.11, 6.12.118 #1
ktime                                   : 5160.811234

sysctl_sched
  .sysctl_sched_base_slice                 : 3.000000

cpu#0, 2994.376 MHz
  .nr_running                    : 4
  .nr_switches                   : 3270

cfs_rq[0]:/
  .nr_running                    : 3
  .h_nr_running                  : 3

runnable tasks:
 S            task   PID       vruntime   eligible    deadline
-------------------------------------------------------------------
 S        kthreadd     2         3.1   E   6.1
>R  schedbox-init     1         0.0   E   0.0
 R       sbx-hog-0    40       400.1   E   403.1
 R       sbx-hog-1    41       400.2   E   403.2
 S   sbx-sleeper-0    43       400.2   E   403.2
 R       sbx-hog-2    42       400.3   E   403.3

cpu#1, 2994.376 MHz
  .nr_running                    : 1
  .nr_switches                   : 2110

runnable tasks:
 S            task   PID       vruntime   eligible    deadline
-------------------------------------------------------------------
>R     kworker/1:1    30         1.0   E   3.0
";

    fn parsed(text: &str) -> Parser {
        let mut p = Parser::default();
        for line in text.lines() {
            p.line(line.as_bytes());
        }
        p
    }

    #[test]
    fn reads_each_cpus_run_queue_less_pid_1_and_a_worker_runnable_there() {
        let p = parsed(DEBUG);
        assert_eq!((p.runnable[0], p.runnable[1]), (3, 1));
        assert!(p.online[0] && p.online[1] && !p.online[2]);
        assert_eq!(p.worker[0].as_bytes(), b"sbx-hog-0");
        assert!(p.worker[1].is_empty());
        let s = p.sample(7).unwrap();
        assert_eq!((s.permille, s.busiest, s.idlest), (3000, (0, 3), (1, 1)));
        assert_eq!(s.worker.as_bytes(), b"sbx-hog-0");
        assert!(parsed("no cpus here\n").sample(7).is_none());
    }

    fn sample(t_ms: u64, permille: u64) -> Sample {
        Sample {
            t_ns: t_ms * NS_PER_MS,
            permille,
            ..Sample::default()
        }
    }

    #[test]
    fn the_worst_ratio_is_the_highest_that_held_a_whole_window() {
        let mut r = Runqueues::default();
        let window = 300 * NS_PER_MS;
        // A spike of one sample, then 4000 held from 400 to 700 ms.
        for (t, p) in [(0, 1000), (100, 9000), (200, 1000), (300, 1000)] {
            r.add(sample(t, p), window);
        }
        assert_eq!(r.worst.as_ref().unwrap().low.permille, 1000);
        for (t, p) in [
            (400, 4000),
            (500, 5000),
            (600, 4000),
            (700, 4000),
            (800, 1000),
        ] {
            r.add(sample(t, p), window);
        }
        let w = r.worst.as_ref().unwrap();
        assert_eq!(w.low.permille, 4000);
        assert_eq!((w.from_ns, w.to_ns), (400 * NS_PER_MS, 700 * NS_PER_MS));
        assert_eq!(r.samples, 9);
    }

    #[test]
    fn a_scenario_shorter_than_the_window_has_no_ratio() {
        let mut r = Runqueues::default();
        for t in [0, 100, 200] {
            r.add(sample(t, 8000), 1000 * NS_PER_MS);
        }
        assert!(r.worst.is_none());
    }

    #[test]
    fn the_ring_never_overflows_with_the_longest_window() {
        let mut r = Runqueues::default();
        let window = MAX_IMBALANCE_WINDOW_MS * NS_PER_MS;
        for i in 0..(RING as u64 * 3) {
            r.add(sample(i * IMBALANCE_SAMPLE_MS, 2000), window);
        }
        assert_eq!(r.worst.as_ref().unwrap().low.permille, 2000);
    }
}
