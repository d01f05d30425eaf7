//! Running a binary from the initramfs as a child of PID 1 (the sched_ext scheduler, a
//! payload): argv and envp built without an allocator, stdout and stderr into a pipe or
//! a pseudo-terminal that PID 1 drains, optionally inside a cgroup, and the child's end
//! described as a status.

use crate::engine::plan::{Lossy, MAX_FIELDS, MAX_LINE};
use crate::platform::buf::Buf;
use crate::platform::fail::{Errno, Res};
use crate::platform::sys;
use core::ffi::CStr;
use linux_raw_sys::general as nr;
use rustix::fd::{AsRawFd, FromRawFd, OwnedFd};
use rustix::process::{Pid, Signal, WaitOptions, WaitStatus};
use schedbox_protocol::vocab::PAYLOAD_KILLED;

/// Every argument comes from one plan line, so they fit in a line's worth of bytes.
const ARGV_BYTES: usize = MAX_LINE + MAX_FIELDS + crate::platform::host::MAX_ROOT;
/// The environment the child starts with: enough for a program that looks up its
/// helpers, and nothing that could differ from run to run.
const ENV: [&CStr; 2] = [c"PATH=/bin:/sbin:/usr/bin:/usr/sbin:/", c"HOME=/"];
/// Exit statuses of a child that could not become the program, as a shell uses them.
const EXIT_SETUP_FAILED: i32 = 126;
const EXIT_EXEC_FAILED: i32 = 127;

/// A program and its arguments as NUL-terminated strings.
pub struct Argv {
    bytes: [u8; ARGV_BYTES],
    starts: [usize; MAX_FIELDS + 1],
    count: usize,
}

impl Argv {
    /// `path` becomes argv[0]; None when the arguments do not fit or hold a NUL.
    pub fn new<'a>(path: &'a [u8], args: impl Iterator<Item = &'a [u8]>) -> Option<Self> {
        let mut a = Argv {
            bytes: [0; ARGV_BYTES],
            starts: [0; MAX_FIELDS + 1],
            count: 0,
        };
        // In host mode the programs the plan names lie under schedbox's directory.
        let root = if path.starts_with(b"/") {
            crate::platform::host::root()
        } else {
            &[]
        };
        let mut used = 0;
        for (i, s) in core::iter::once(path).chain(args).enumerate() {
            let prefix = if i == 0 { root } else { &[] };
            let len = prefix.len() + s.len();
            if s.contains(&0) || a.count == a.starts.len() || used + len + 1 > ARGV_BYTES {
                return None;
            }
            a.starts[a.count] = used;
            a.bytes[used..used + prefix.len()].copy_from_slice(prefix);
            a.bytes[used + prefix.len()..used + len].copy_from_slice(s);
            used += len + 1;
            a.count += 1;
        }
        Some(a)
    }

    pub fn get(&self, i: usize) -> &[u8] {
        let start = self.starts[i];
        let len = self.bytes[start..]
            .iter()
            .position(|&c| c == 0)
            .unwrap_or(0);
        &self.bytes[start..start + len]
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// Where a child's stdout and stderr go.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Output {
    Pipe,
    /// A pseudo-terminal, as in a shell: C programs then buffer by line, so a child
    /// they fork does not replay output they had buffered. A pipe when the kernel has
    /// no pseudo-terminals.
    Terminal,
}

/// A started child: its pid, the read end of its output (non-blocking), and whether
/// that is a terminal.
pub struct Child {
    pub pid: i32,
    pub out: OwnedFd,
    pub terminal: bool,
}

/// Forks and execs `argv`, joining `procs` (a `cgroup.procs` path) first when given.
/// The child's failures before exec go to its output and its exit status (126, 127).
pub fn spawn(argv: &Argv, procs: Option<&CStr>, output: Output) -> Res<Child> {
    let terminal = match output {
        Output::Terminal => terminal().ok(),
        Output::Pipe => None,
    };
    let is_terminal = terminal.is_some();
    let (rd, wr) = match terminal {
        Some(ends) => ends,
        None => pipe().map_err(|e| fail!(Exec, "pipe: {}", Errno(e)))?,
    };
    rustix::io::ioctl_fionbio(&rd, true)
        .map_err(|e| fail!(Exec, "non-blocking pipe: {}", Errno(e)))?;
    // Pointers into `argv`, valid in the child too: fork copies the address space.
    let mut ptrs = [core::ptr::null::<u8>(); MAX_FIELDS + 2];
    for (p, &start) in ptrs.iter_mut().zip(&argv.starts[..argv.count]) {
        *p = argv.bytes[start..].as_ptr();
    }
    let envp = [
        ENV[0].as_ptr().cast::<u8>(),
        ENV[1].as_ptr().cast(),
        core::ptr::null(),
    ];
    let pid =
        sys::fork().map_err(|e| fail!(Exec, "fork for {:?}: {}", Lossy(argv.get(0)), Errno(e)))?;
    if pid == 0 {
        crate::platform::host::die_with_parent();
        child(argv.get(0), &ptrs, &envp, wr.as_raw_fd(), procs);
    }
    Ok(Child {
        pid,
        out: rd,
        terminal: is_terminal,
    })
}

/// A pseudo-terminal's two ends, (master, terminal), both close-on-exec: the child gets
/// the terminal as stdout and stderr. Output is passed through as written (no `\r`
/// before each newline), as a pipe would.
fn terminal() -> rustix::io::Result<(OwnedFd, OwnedFd)> {
    use rustix::pty::{ioctl_tiocgptpeer, openpt, unlockpt, OpenptFlags};
    use rustix::termios::{tcgetattr, tcsetattr, OptionalActions, OutputModes};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
    unlockpt(&master)?;
    let tty = ioctl_tiocgptpeer(
        &master,
        OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC,
    )?;
    let mut modes = tcgetattr(&tty)?;
    modes.output_modes.remove(OutputModes::OPOST);
    tcsetattr(&tty, OptionalActions::Now, &modes)?;
    Ok((master, tty))
}

/// The child between fork and exec: only system calls, nothing that allocates.
fn child(path: &[u8], argv: &[*const u8], envp: &[*const u8], out: i32, procs: Option<&CStr>) -> ! {
    let say = |what: &str, e: rustix::io::Errno| {
        let mut m: Buf<320> = Buf::from_bytes(b"schedbox-init: ");
        let _ = core::fmt::Write::write_fmt(
            &mut m,
            format_args!("{} {:?}: {}\n", what, Lossy(path), Errno(e)),
        );
        crate::platform::record::write_all(2, m.as_bytes());
    };
    // stdin from /dev/null; stdout and stderr into the pipe (dup2 clears CLOEXEC).
    if let Ok(null) = rustix::fs::open(
        c"/dev/null",
        rustix::fs::OFlags::RDONLY,
        rustix::fs::Mode::empty(),
    ) {
        let _ = dup2(null.as_raw_fd(), 0);
    }
    // The pipe may have got fd 1 or 2 (PID 1 starts without them), where dup2 would
    // keep its close-on-exec flag: copy it above the standard fds first.
    // SAFETY: fcntl(F_DUPFD) takes an fd and a minimum fd number.
    let high = unsafe {
        sys::syscall6(
            nr::__NR_fcntl,
            [out as usize, nr::F_DUPFD as usize, 3, 0, 0, 0],
        )
    };
    let out = if high >= 0 { high as i32 } else { out };
    let _ = dup2(out, 1);
    let _ = dup2(out, 2);
    if let Some(procs) = procs {
        if let Err(e) = sys::write_file(procs, b"0") {
            say("joining the cgroup before running", e);
            sys::exit(EXIT_SETUP_FAILED);
        }
    }
    // SAFETY: path is NUL-terminated in the Argv buffer; argv and envp are
    // NULL-terminated arrays of NUL-terminated strings, alive until exec.
    let ret = unsafe {
        sys::syscall6(
            nr::__NR_execve,
            [
                argv[0] as usize,
                argv.as_ptr() as usize,
                envp.as_ptr() as usize,
                0,
                0,
                0,
            ],
        )
    };
    say("execve", rustix::io::Errno::from_raw_os_error(-ret as i32));
    sys::exit(EXIT_EXEC_FAILED)
}

fn pipe() -> Result<(OwnedFd, OwnedFd), rustix::io::Errno> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 writes two fds into the array it is given.
    let ret = unsafe {
        sys::syscall6(
            nr::__NR_pipe2,
            [
                fds.as_mut_ptr() as usize,
                nr::O_CLOEXEC as usize,
                0,
                0,
                0,
                0,
            ],
        )
    };
    if ret < 0 {
        return Err(rustix::io::Errno::from_raw_os_error(-ret as i32));
    }
    // SAFETY: the kernel just gave us these two fds; nothing else owns them.
    unsafe { Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))) }
}

fn dup2(old: i32, new: i32) -> isize {
    // SAFETY: dup2 takes two plain fd numbers.
    unsafe { sys::syscall6(nr::__NR_dup2, [old as usize, new as usize, 0, 0, 0, 0]) }
}

/// How a child ended, as the records write it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum End {
    Exit(i32),
    Signal(i32),
    /// PID 1 killed it (timeout, end of scenario, end of run).
    Killed,
    /// Reaped by someone else before its status could be read.
    Unknown,
}

impl End {
    pub fn from_status(s: WaitStatus) -> Self {
        match (s.exit_status(), s.terminating_signal()) {
            (Some(code), _) => End::Exit(code),
            (_, Some(sig)) => End::Signal(sig),
            _ => End::Unknown,
        }
    }

    /// `0`, `signal:9`, `killed`, `unknown`.
    pub fn write(self, out: &mut Buf<24>) {
        match self {
            End::Exit(c) => out.push_u64(c as u64),
            End::Signal(s) => {
                out.push(b"signal:");
                out.push_u64(s as u64);
            }
            End::Killed => out.push(PAYLOAD_KILLED.as_bytes()),
            End::Unknown => out.push(b"unknown"),
        }
    }

    pub fn text(self) -> Buf<24> {
        let mut b = Buf::new();
        self.write(&mut b);
        b
    }
}

/// The child's end if it has ended (reaping it), None while it runs.
pub fn try_reap(pid: i32) -> Option<End> {
    match rustix::process::waitpid(Pid::from_raw(pid), WaitOptions::NOHANG) {
        Ok(None) => None,
        Ok(Some((_, st))) => Some(End::from_status(st)),
        Err(rustix::io::Errno::INTR) => None,
        Err(_) => Some(End::Unknown),
    }
}

/// SIGKILLs a child and reaps it.
pub fn kill(pid: i32) {
    signal(pid, Signal::KILL);
    while let Err(rustix::io::Errno::INTR) =
        rustix::process::waitpid(Pid::from_raw(pid), WaitOptions::empty())
    {}
}

pub fn signal(pid: i32, sig: Signal) {
    if let Some(p) = Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(p, sig);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_packs_path_and_args() {
        let args: [&[u8]; 2] = [b"-t", b"10"];
        let a = Argv::new(b"/payload/scx_qmap", args.into_iter()).unwrap();
        assert_eq!(a.len(), 3);
        assert_eq!(a.get(0), b"/payload/scx_qmap");
        assert_eq!(a.get(2), b"10");
        assert!(Argv::new(b"/x", [&b"a\0b"[..]].into_iter()).is_none());
        let many = vec![&b"a"[..]; MAX_FIELDS + 1];
        assert!(Argv::new(b"/x", many.into_iter()).is_none());
    }

    #[test]
    fn ends_are_written_as_the_protocol_says() {
        assert_eq!(End::Exit(1).text().as_bytes(), b"1");
        assert_eq!(End::Signal(9).text().as_bytes(), b"signal:9");
        assert_eq!(End::Killed.text().as_bytes(), PAYLOAD_KILLED.as_bytes());
    }
}
