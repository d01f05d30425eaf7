//! `--host`: no VM. The initramfs is laid out in a temporary directory and its
//! `schedbox-init` runs as a child of schedbox on the running kernel, with that
//! directory and a cgroup of the run's own as its arguments (init's `platform::host`).
//! Its stdout carries the records, its stderr is the "console". Whatever way it ends,
//! everything left in the run's cgroup is killed and the cgroup removed before the end
//! is reported, and a sched_ext state it changed must come back.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::guest::unpack;
use crate::tempdir::TempDir;
use crate::vm::backend::{
    Backend, BackendError, Machine, RecordsChannel, VmEvent, VmExit, VmHandle, VmSpec,
};
use crate::vm::qemu::{on_schedbox_death, read_lines};

/// The unified cgroup hierarchy.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// The kernel's sched_ext state file.
pub const SCHED_EXT_STATE: &str = "/sys/kernel/sched_ext/state";
/// How long killed tasks may take to leave the run's cgroup, and a stopped scheduler
/// to leave the kernel: hard bounds before the run is called a host fault.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(20);

/// Runs the plan on this machine's kernel.
pub struct Host;

/// The name of a host run's cgroup, before the pid of its schedbox.
const CGROUP_PREFIX: &str = "schedbox-";

/// The run's own cgroup: `/sys/fs/cgroup/schedbox-<pid of schedbox>`.
pub fn run_cgroup() -> PathBuf {
    Path::new(CGROUP_ROOT).join(format!("{CGROUP_PREFIX}{}", std::process::id()))
}

/// The kernel's sched_ext state (`disabled`, `enabled`...); None without sched_ext.
pub fn sched_ext_state() -> Option<String> {
    std::fs::read_to_string(SCHED_EXT_STATE)
        .ok()
        .map(|s| s.trim().to_string())
}

impl Backend for Host {
    fn name(&self) -> String {
        "host".into()
    }

    fn machine(&self) -> Machine {
        Machine::Host
    }

    fn launch(
        &self,
        spec: &VmSpec,
        events: Sender<VmEvent>,
    ) -> Result<Box<dyn VmHandle>, BackendError> {
        let dir = TempDir::new("host")
            .map_err(|e| BackendError::Host(format!("cannot create a directory: {e}")))?;
        unpack::unpack(&spec.initramfs, dir.path())
            .map_err(|e| BackendError::Host(format!("cannot lay out the initramfs: {e}")))?;
        for removed in remove_stale_cgroups() {
            let _ = events.send(VmEvent::Console(format!("schedbox: {removed}")));
        }
        let cgroup = run_cgroup();
        if cgroup.exists() {
            return Err(BackendError::Host(format!(
                "{} exists already: remove it (rmdir) if no run of this pid is going on",
                cgroup.display()
            )));
        }
        let sched_ext_before = sched_ext_state();
        let mut command = Command::new(dir.path().join("init"));
        // Relative paths name what the guest has at its root.
        command
            .current_dir(dir.path())
            .arg(dir.path())
            .arg(&cgroup)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SIGTERM, not SIGKILL: init then kills what it started and removes the cgroup,
        // which nobody else would do once schedbox is gone.
        on_schedbox_death(&mut command, libc::SIGTERM);
        let child = command
            .spawn()
            .map_err(|e| BackendError::Host(format!("cannot start schedbox-init: {e}")))?;
        let run = Running::start(
            child,
            events,
            Leftovers {
                _dir: dir,
                cgroup,
                sched_ext_before,
            },
        );
        Ok(Box::new(run))
    }
}

/// What the run leaves on the machine, to undo at its end.
struct Leftovers {
    /// Removed when dropped, after the cgroup.
    _dir: TempDir,
    cgroup: PathBuf,
    sched_ext_before: Option<String>,
}

struct Running {
    child: Arc<Mutex<Child>>,
    killed: Arc<AtomicBool>,
    waiter: Option<JoinHandle<()>>,
}

impl Running {
    fn start(mut child: Child, events: Sender<VmEvent>, leftovers: Leftovers) -> Self {
        let _ = events.send(VmEvent::Channel(RecordsChannel::Pipe));
        let readers = [
            child.stdout.take().map(|out| {
                let events = events.clone();
                thread::spawn(move || read_lines(out, &events, VmEvent::Record))
            }),
            child.stderr.take().map(|err| {
                let events = events.clone();
                thread::spawn(move || read_lines(err, &events, VmEvent::Console))
            }),
        ];
        let child = Arc::new(Mutex::new(child));
        let killed = Arc::new(AtomicBool::new(false));
        let waiter = {
            let (child, killed) = (child.clone(), killed.clone());
            thread::spawn(move || {
                let exit = wait(&child, &killed, leftovers, readers, &events);
                let _ = events.send(VmEvent::Exited(exit));
            })
        };
        Running {
            child,
            killed,
            waiter: Some(waiter),
        }
    }
}

impl VmHandle for Running {
    fn kill(&mut self) {
        self.killed.store(true, Ordering::SeqCst);
        let _ = self.child.lock().unwrap_or_else(|p| p.into_inner()).kill();
    }
}

impl Drop for Running {
    /// The run is not over before its cgroup is gone: wait for the clean-up.
    fn drop(&mut self) {
        if let Some(waiter) = self.waiter.take() {
            let _ = waiter.join();
        }
    }
}

/// Waits for init to end, cleans up, and tells how it ended.
fn wait(
    child: &Mutex<Child>,
    killed: &AtomicBool,
    leftovers: Leftovers,
    readers: [Option<JoinHandle<()>>; 2],
    events: &Sender<VmEvent>,
) -> VmExit {
    // Not `wait()` under the lock: `kill` must be able to take it meanwhile.
    let status = loop {
        match child.lock().unwrap_or_else(|p| p.into_inner()).try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) => thread::sleep(POLL),
            Err(_) => break None,
        }
    };
    // Workers hold init's stdout too: the readers end once they are gone.
    let cleaned = remove_cgroup(&leftovers.cgroup)
        .and_then(|()| sched_ext_restored(leftovers.sched_ext_before.as_deref()));
    for reader in readers.into_iter().flatten() {
        let _ = reader.join();
    }
    if let Err(why) = cleaned {
        let _ = events.send(VmEvent::Console(format!("schedbox: {why}")));
        return VmExit::Crashed(why);
    }
    match status {
        _ if killed.load(Ordering::SeqCst) => VmExit::Killed,
        Some(s) if s.success() => VmExit::PowerOff,
        Some(s) => VmExit::Crashed(format!("schedbox-init ended with {s}")),
        None => VmExit::Crashed("schedbox-init could not be waited for".into()),
    }
}

/// The cgroups of earlier host runs whose schedbox is gone (killed with SIGKILL, so it
/// could not remove its own): their tasks died with it, the directories stay. Each is
/// removed; returns what was done, for the console log.
pub fn remove_stale_cgroups() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(CGROUP_ROOT) else {
        return Vec::new();
    };
    let stale = entries.filter_map(Result::ok).filter_map(|e| {
        let name = e.file_name().into_string().ok()?;
        let pid: i32 = name.strip_prefix(CGROUP_PREFIX)?.parse().ok()?;
        // SAFETY: kill with signal 0 only checks whether the process exists.
        let gone = unsafe { libc::kill(pid, 0) } != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        gone.then(|| e.path())
    });
    stale
        .map(|path| match remove_cgroup(&path) {
            Ok(()) => format!("removed {} of a host run that was killed", path.display()),
            Err(e) => format!("a killed host run's cgroup stays: {e}"),
        })
        .collect()
}

/// Kills every task left in `top` and removes it with its descendants, deepest first.
pub fn remove_cgroup(top: &Path) -> Result<(), String> {
    if !top.exists() {
        return Ok(());
    }
    let kill = top.join("cgroup.kill");
    let start = Instant::now();
    while populated(top) {
        // cgroup.kill (Linux 5.14) reaches every task below, also those forked meanwhile.
        let _ = std::fs::write(&kill, "1");
        if start.elapsed() > DRAIN_LIMIT {
            return Err(format!(
                "{} still has tasks {} s after cgroup.kill",
                top.display(),
                DRAIN_LIMIT.as_secs()
            ));
        }
        thread::sleep(POLL);
    }
    remove_tree(top).map_err(|e| format!("cannot remove {}: {e}", top.display()))
}

fn populated(cgroup: &Path) -> bool {
    std::fs::read_to_string(cgroup.join("cgroup.events"))
        .is_ok_and(|text| text.lines().any(|l| l == "populated 1"))
}

/// rmdir of a cgroup and its children: a cgroup's control files go with it.
fn remove_tree(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            remove_tree(&entry.path())?;
        }
    }
    std::fs::remove_dir(dir)
}

/// Waits until sched_ext is back in the state it had before the run (a scheduler that
/// was killed leaves it a moment later).
fn sched_ext_restored(before: Option<&str>) -> Result<(), String> {
    let start = Instant::now();
    loop {
        let now = sched_ext_state();
        if now.as_deref() == before {
            return Ok(());
        }
        if start.elapsed() > DRAIN_LIMIT {
            return Err(format!(
                "sched_ext's state is {:?} {} s after the run, {:?} before it",
                now.unwrap_or_default(),
                DRAIN_LIMIT.as_secs(),
                before.unwrap_or_default()
            ));
        }
        thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_a_tree_of_plain_directories_deepest_first() {
        // Plain directories stand in for cgroups: no cgroup.events, so nothing to kill.
        let dir = TempDir::new("host-test").unwrap();
        let top = dir.path().join("schedbox-1");
        std::fs::create_dir_all(top.join("engine")).unwrap();
        std::fs::create_dir_all(top.join("scenarios/a/b")).unwrap();
        remove_cgroup(&top).unwrap();
        assert!(!top.exists());
        // Nothing there is nothing to do.
        remove_cgroup(&top).unwrap();
    }

    #[test]
    fn names_the_run_cgroup_after_this_process() {
        let path = run_cgroup();
        assert_eq!(path.parent().unwrap(), Path::new(CGROUP_ROOT));
        assert_eq!(
            path.file_name().unwrap().to_str().unwrap(),
            format!("schedbox-{}", std::process::id())
        );
    }
}
