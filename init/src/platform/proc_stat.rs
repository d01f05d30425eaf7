//! Where /proc keeps a worker's task, and its stat file as the monitor reads it: its
//! state and last CPU.

use crate::platform::buf::Buf;
use crate::platform::sys;
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags};

/// A path under a task's /proc directory.
pub type ProcPath = Buf<64>;

/// `file` of a worker's task: `/proc/<pid>/<file>` for a process, and for a thread
/// `/proc/<tgid>/task/<tid>/<file>`, the thread's own (the process's directory sums
/// some figures over its threads).
pub fn task_path(pid: i32, tgid: Option<i32>, file: &[u8]) -> ProcPath {
    let mut path = ProcPath::from_bytes(b"/proc/");
    if let Some(tgid) = tgid {
        path.push_u64(tgid as u64);
        path.push(b"/task/");
    }
    path.push_u64(pid as u64);
    path.push(b"/");
    path.push(file);
    path
}

/// The fields of /proc/<pid>/stat a stall record needs.
#[derive(Clone, Copy, Default)]
pub struct ProcStat {
    pub state: u8,
    pub cpu: u64,
}

/// A worker's /proc/<pid>/stat, opened on its first read and kept open: a `pread` of
/// the open file skips the path walk and the open and close that most of a read costs
/// PID 1 under TCG, a read per waiting worker every few samples.
#[derive(Default)]
pub struct StatFile {
    fd: Option<OwnedFd>,
}

/// Policy: stat files kept open at once. PID 1 has 1024 descriptors; the rest stay for
/// its other reads (the final measurement of each worker among them), so a scenario
/// with more workers reads theirs by open, read and close.
const MAX_KEPT_OPEN: usize = 512;

/// Stat files open now, across all workers.
static KEPT_OPEN: AtomicUsize = AtomicUsize::new(0);

impl StatFile {
    /// State and last CPU of `pid` (a thread of `tgid`: [`task_path`]); state `?` if
    /// unreadable. Beyond [`MAX_KEPT_OPEN`] or without a descriptor to spare the file
    /// is opened for this read only.
    pub fn read(&mut self, pid: i32, tgid: Option<i32>) -> ProcStat {
        let mut buf = [0u8; STAT_BYTES];
        if self.fd.is_none() {
            let path = task_path(pid, tgid, b"stat");
            if KEPT_OPEN.load(Relaxed) >= MAX_KEPT_OPEN {
                return read_once(&path, &mut buf);
            }
            match rustix::fs::open(
                path.as_cstr(),
                OFlags::RDONLY | OFlags::CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => {
                    KEPT_OPEN.fetch_add(1, Relaxed);
                    self.fd = Some(fd);
                }
                Err(rustix::io::Errno::MFILE | rustix::io::Errno::NFILE) => {
                    return read_once(&path, &mut buf);
                }
                Err(_) => return ProcStat::UNREADABLE,
            }
        }
        let Some(fd) = &self.fd else {
            return ProcStat::UNREADABLE;
        };
        match rustix::io::pread(fd, &mut buf, 0) {
            Ok(n) => parse_stat(&buf[..n]),
            Err(_) => ProcStat::UNREADABLE,
        }
    }
}

impl Drop for StatFile {
    fn drop(&mut self) {
        if self.fd.take().is_some() {
            KEPT_OPEN.fetch_sub(1, Relaxed);
        }
    }
}

fn read_once(path: &ProcPath, buf: &mut [u8; STAT_BYTES]) -> ProcStat {
    match sys::read_file(path.as_cstr(), buf) {
        Ok(n) => parse_stat(&buf[..n]),
        Err(_) => ProcStat::UNREADABLE,
    }
}

/// Enough for any /proc/<pid>/stat line (52 numbers and a 16-byte comm).
const STAT_BYTES: usize = 1024;

impl ProcStat {
    const UNREADABLE: ProcStat = ProcStat {
        state: b'?',
        cpu: 0,
    };
}

/// State and last CPU from the text of /proc/<pid>/stat.
fn parse_stat(text: &[u8]) -> ProcStat {
    /// `processor` is field 39; the state is field 3, the first after the comm.
    const CPU_AFTER_STATE: usize = 36;
    let mut out = ProcStat::UNREADABLE;
    // The comm may contain spaces and parentheses: fields start after the last ')'.
    let Some(close) = text.iter().rposition(|&c| c == b')') else {
        return out;
    };
    let mut fields = text[close + 1..]
        .split(|&c| c == b' ')
        .filter(|f| !f.is_empty());
    if let Some(s) = fields.next() {
        out.state = s[0];
    }
    if let Some(cpu) = fields.nth(CPU_AFTER_STATE - 1) {
        out.cpu = crate::platform::buf::parse_u64(cpu).unwrap_or(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_is_read_from_its_process_task_directory() {
        assert_eq!(task_path(40, None, b"stat").as_bytes(), b"/proc/40/stat");
        assert_eq!(
            task_path(42, Some(40), b"schedstat").as_bytes(),
            b"/proc/40/task/42/schedstat"
        );
    }

    #[test]
    fn reads_this_thread_through_its_task_directory() {
        let me = rustix::process::getpid().as_raw_nonzero().get();
        let tid = rustix::thread::gettid().as_raw_nonzero().get();
        let stat = StatFile::default().read(tid, Some(me));
        assert_eq!(stat.state, b'R');
    }
}
