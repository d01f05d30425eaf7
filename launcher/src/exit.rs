//! The process's exit status, defined once: what `git bisect run` and CI gates act on.

use std::fmt;

/// `git bisect run` skips a commit on this status: the run could not judge it.
const UNTESTABLE: i32 = 125;
/// A process ended by a signal exits with this plus the signal's number (shell rule).
const SIGNAL_BASE: i32 = 128;

/// How `schedbox` ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: every check passed.
    Pass,
    /// 1: a check failed: the kernel or scheduler under test is bad.
    Fail,
    /// 2: the command line, a scenario or an input file is wrong; nothing was judged.
    Usage,
    /// 125: this host could not run or record the test (skip the commit).
    Untestable,
    /// 128 + the signal that stopped the run (SIGINT 130, SIGTERM 143).
    Interrupted(i32),
}

impl Exit {
    pub const fn code(self) -> i32 {
        match self {
            Exit::Pass => 0,
            Exit::Fail => 1,
            Exit::Usage => 2,
            Exit::Untestable => UNTESTABLE,
            Exit::Interrupted(signal) => SIGNAL_BASE + signal,
        }
    }
}

/// Why a command stopped before it had a verdict; the kind decides the exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The user's to fix (exit 2); the text names the problem and the fix.
    Usage(String),
    /// This host could not do it: a full disk, apt, a download, a kernel build (exit 125).
    Host(String),
}

impl Stop {
    pub fn exit(&self) -> Exit {
        match self {
            Stop::Usage(_) => Exit::Usage,
            Stop::Host(_) => Exit::Untestable,
        }
    }

    /// Prints the reason on stderr and gives the exit status.
    pub fn report(&self) -> Exit {
        crate::output::note(&format!("schedbox: {self}"));
        self.exit()
    }

    /// An I/O failure on the host: a full or failing disk is the host's fault (125), a
    /// path the user named badly (no permission, not a directory...) is theirs (2).
    pub fn io(what: String, error: &std::io::Error) -> Stop {
        if is_host_fault(error) {
            Stop::Host(format!("{what}: {error}"))
        } else {
            Stop::Usage(format!("{what}: {error}"))
        }
    }
}

/// Errors that no choice of path fixes: the disk is full, over quota, or failing.
pub fn is_host_fault(error: &std::io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::ENOSPC | libc::EFBIG | libc::EDQUOT | libc::EIO | libc::ENOMEM)
    )
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stop::Usage(m) => f.write_str(m),
            Stop::Host(m) => write!(f, "{m} (a problem on this host, not a verdict: exit 125)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_the_documented_ones() {
        let codes: Vec<i32> = [
            Exit::Pass,
            Exit::Fail,
            Exit::Usage,
            Exit::Untestable,
            Exit::Interrupted(libc::SIGINT),
            Exit::Interrupted(libc::SIGTERM),
        ]
        .iter()
        .map(|e| e.code())
        .collect();
        assert_eq!(codes, [0, 1, 2, 125, 130, 143]);
    }

    #[test]
    fn a_full_disk_is_the_hosts_fault_a_bad_path_the_users() {
        let full = std::io::Error::from_raw_os_error(libc::ENOSPC);
        let denied = std::io::Error::from_raw_os_error(libc::EACCES);
        let too_big = std::io::Error::from_raw_os_error(libc::EFBIG);
        assert_eq!(Stop::io("w".into(), &full).exit(), Exit::Untestable);
        assert_eq!(Stop::io("w".into(), &too_big).exit(), Exit::Untestable);
        assert_eq!(Stop::io("w".into(), &denied).exit(), Exit::Usage);
    }
}
