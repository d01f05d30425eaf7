//! The QEMU backend: qemu-system-x86_64 with direct kernel boot, TCG or KVM.
//!
//! COM1 (the kernel console) is QEMU's stdout; COM2 (records) and the virtio console
//! (records, when the guest's kernel drives it) are unix sockets QEMU connects to at
//! startup. Each is read by its own thread and turned into `VmEvent`s.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::tempdir::TempDir;
use crate::topology;
use crate::vm::backend::{
    Backend, BackendError, RecordsChannel, VmEvent, VmExit, VmHandle, VmSpec,
};
use crate::vm::console::{self, Ending};
use crate::vm::lines::LineCutter;

/// The QEMU binary; `$SCHEDBOX_QEMU` overrides it.
pub const DEFAULT_BINARY: &str = "qemu-system-x86_64";
/// How long QEMU may take to start and connect to the record socket.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(10);
/// Bytes read from a port at a time.
const READ_CHUNK: usize = 4096;
/// qboot, a minimal firmware that starts a -kernel faster than SeaBIOS and prints
/// nothing; used when installed (Debian's qemu-system-data ships it).
pub const QBOOT_PATHS: &[&str] = &[
    "/usr/share/qemu/qboot.rom",
    "/usr/local/share/qemu/qboot.rom",
];
/// Bytes of QEMU's stderr kept for error messages.
const STDERR_KEEP: usize = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    Kvm,
    Tcg,
}

#[derive(Debug, Clone)]
pub struct Qemu {
    pub binary: PathBuf,
    pub accel: Accel,
    /// `-cpu`; `None`: QEMU's default under TCG, `host` under KVM.
    pub cpu: Option<String>,
}

impl Qemu {
    pub fn new(accel: Accel) -> Self {
        let binary =
            std::env::var_os("SCHEDBOX_QEMU").map_or_else(|| DEFAULT_BINARY.into(), PathBuf::from);
        Qemu {
            binary,
            accel,
            cpu: None,
        }
    }

    pub fn with_cpu(self, cpu: Option<&str>) -> Self {
        Qemu {
            cpu: cpu.map(str::to_string),
            ..self
        }
    }

    fn args(&self, spec: &VmSpec, initrd: &str, sockets: &Sockets) -> Vec<String> {
        let accel = match self.accel {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        };
        let mut args: Vec<String> = [
            "-nodefaults",
            "-nographic",
            "-no-reboot",
            "-accel",
            accel,
            "-chardev",
            "stdio,id=console,signal=off",
            "-serial",
            "chardev:console",
            "-chardev",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // QEMU option lists split on ',': a literal comma is written twice.
        args.push(format!(
            "socket,id=records,path={}",
            sockets.serial.replace(',', ",,")
        ));
        args.extend(["-serial".into(), "chardev:records".into()]);
        if let Some(virtio) = &sockets.virtio {
            args.extend(virtio_console_args(virtio));
        }
        if let Some(qboot) = QBOOT_PATHS
            .iter()
            .find(|p| std::path::Path::new(p).exists())
        {
            args.extend(["-bios".into(), qboot.to_string()]);
        }
        match (&self.cpu, self.accel) {
            (Some(model), _) => args.extend(["-cpu".into(), model.clone()]),
            (None, Accel::Kvm) => args.extend(["-cpu".into(), "host".into()]),
            (None, Accel::Tcg) => {}
        }
        args.extend(topology::qemu::args(&spec.topology, spec.memory_mib));
        args.extend([
            "-m".into(),
            spec.memory_mib.to_string(),
            "-kernel".into(),
            spec.kernel.display().to_string(),
            "-initrd".into(),
            initrd.to_string(),
            "-append".into(),
            format!("console=ttyS0 {}", spec.cmdline),
        ]);
        args
    }
}

impl Backend for Qemu {
    fn name(&self) -> String {
        match self.accel {
            Accel::Kvm => "qemu-kvm".into(),
            Accel::Tcg => "qemu-tcg".into(),
        }
    }

    fn emulated(&self) -> bool {
        self.accel == Accel::Tcg
    }

    fn stops_at_done(&self) -> bool {
        true
    }

    fn launch(
        &self,
        spec: &VmSpec,
        events: Sender<VmEvent>,
    ) -> Result<Box<dyn VmHandle>, BackendError> {
        let host = |what: &str, e: std::io::Error| BackendError::Host(format!("{what}: {e}"));
        let initrd =
            memfd_with(&spec.initramfs).map_err(|e| host("cannot hold the initramfs", e))?;
        // The directory only holds the socket until QEMU has connected: nothing is left
        // behind however schedbox ends after that.
        let dir =
            TempDir::new("qemu").map_err(|e| host("cannot create a temporary directory", e))?;
        let socket = dir.path().join("records.sock");
        let vsocket = dir.path().join("virtio-records.sock");
        let listener =
            UnixListener::bind(&socket).map_err(|e| host("cannot create the record socket", e))?;
        let vlistener = if spec.virtio_records {
            let bound = UnixListener::bind(&vsocket);
            Some(bound.map_err(|e| host("cannot create the virtio record socket", e))?)
        } else {
            None
        };
        let initrd_path = format!("/proc/self/fd/{}", initrd.as_raw_fd());
        let sockets = Sockets {
            serial: socket.display().to_string(),
            virtio: vlistener.as_ref().map(|_| vsocket.display().to_string()),
        };
        let args = self.args(spec, &initrd_path, &sockets);
        let mut command = Command::new(&self.binary);
        command
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: a terminal's Ctrl-C reaches schedbox, which stops
            // the VM and still writes the report.
            .process_group(0);
        let (parent, fd) = (std::process::id(), initrd.as_raw_fd());
        // SAFETY: the closure makes only async-signal-safe calls (prctl, getppid, fcntl,
        // raise) between fork and exec.
        unsafe {
            command.pre_exec(move || die_with_parent(parent, fd));
        }
        let mut child = command.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => BackendError::Unavailable(format!(
                "{} not found: install it with `make deps` (Debian: apt-get install qemu-system-x86) or set SCHEDBOX_QEMU",
                self.binary.display()
            )),
            _ => host(&format!("cannot start {}", self.binary.display()), e),
        })?;
        drop(initrd);
        let accepted = accept(&listener, &mut child).and_then(|serial| {
            let virtio = vlistener.as_ref().map(|l| accept(l, &mut child));
            Ok((serial, virtio.transpose()?))
        });
        let (records, virtio) = match accepted {
            Ok(streams) => streams,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        drop((listener, vlistener));
        drop(dir);
        Ok(Box::new(Running::start(child, records, virtio, events)))
    }
}

/// The record sockets QEMU connects to: COM2's, and the virtio console's when offered.
struct Sockets {
    serial: String,
    virtio: Option<String>,
}

/// A virtio console on the PCI bus whose port 0 (the guest's hvc0) is a socket. One port
/// only: without the multiport feature the guest creates hvc0 as it probes the device,
/// before init starts, rather than later from the control queue. No ioeventfd: the
/// guest spins until each buffer comes back, so the vCPU that notified must take it at
/// once rather than wait for QEMU's main loop (7× the lines per second under TCG).
fn virtio_console_args(socket: &str) -> Vec<String> {
    vec![
        "-chardev".into(),
        format!("socket,id=vrecords,path={}", socket.replace(',', ",,")),
        "-device".into(),
        "virtio-serial-pci,max_ports=1,ioeventfd=off".into(),
        "-device".into(),
        "virtconsole,chardev=vrecords".into(),
    ]
}

/// In the QEMU child before exec: dies with schedbox (SIGKILL when the thread that
/// started it ends: this is the main thread, which lives as long as the process), and
/// keeps the initramfs descriptor open across exec.
fn die_with_parent(parent: u32, initrd: RawFd) -> std::io::Result<()> {
    parent_death_signal(parent, libc::SIGKILL)?;
    // SAFETY: fcntl is async-signal-safe and takes no pointers.
    if unsafe { libc::fcntl(initrd, libc::F_SETFD, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Makes a QEMU that `command` will start die with schedbox, as the backend's does: for
/// the bench's own QEMU processes.
pub fn dies_with_schedbox(command: &mut Command) {
    on_schedbox_death(command, libc::SIGKILL);
}

/// Sends `signal` to the process `command` will start when schedbox's thread that
/// starts it ends: SIGKILL for a VM; a signal it handles for a process that has
/// something to undo first.
pub fn on_schedbox_death(command: &mut Command, signal: i32) {
    let parent = std::process::id();
    // SAFETY: the closure makes only async-signal-safe calls (prctl, getppid, raise)
    // between fork and exec.
    unsafe {
        command.pre_exec(move || parent_death_signal(parent, signal));
    }
}

/// `signal` to this (child) process when its parent's starting thread ends.
fn parent_death_signal(parent: u32, signal: i32) -> std::io::Result<()> {
    // SAFETY: prctl, getppid and raise are async-signal-safe and take no pointers.
    unsafe {
        if libc::prctl(libc::PR_SET_PDEATHSIG, signal) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // The parent died before prctl took effect: the signal will never come.
        if libc::getppid() as u32 != parent {
            libc::raise(libc::SIGKILL);
        }
    }
    Ok(())
}

/// An anonymous in-memory file holding `bytes`, for QEMU's `-initrd /proc/self/fd/N`.
fn memfd_with(bytes: &[u8]) -> std::io::Result<OwnedFd> {
    // SAFETY: memfd_create takes a NUL-terminated name; the descriptor it returns is ours.
    let fd = unsafe { libc::memfd_create(c"schedbox-initramfs".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd was just returned by memfd_create and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut file = std::fs::File::from(fd);
    file.write_all(bytes)?;
    Ok(file.into())
}

/// Waits for QEMU to connect to the record socket, or to die trying.
fn accept(listener: &UnixListener, child: &mut Child) -> Result<UnixStream, BackendError> {
    listener
        .set_nonblocking(true)
        .map_err(|e| BackendError::Host(format!("record socket: {e}")))?;
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(false);
                return Ok(stream);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(BackendError::Host(format!("record socket: {e}"))),
        }
        if let Ok(Some(status)) = child.try_wait() {
            let stderr = child.stderr.take().map(read_tail).unwrap_or_default();
            return Err(startup_error(status, &stderr));
        }
        if Instant::now() > deadline {
            return Err(BackendError::Host(format!(
                "QEMU did not open its serial ports within {} s",
                CONNECT_TIMEOUT.as_secs()
            )));
        }
        thread::sleep(POLL);
    }
}

fn startup_error(status: ExitStatus, stderr: &str) -> BackendError {
    let text = format!("QEMU exited at startup ({status}): {}", stderr.trim());
    if stderr.contains("kvm") || stderr.contains("KVM") {
        BackendError::Unavailable(format!("{text}; try --accel tcg"))
    } else {
        BackendError::Host(text)
    }
}

fn read_tail(mut stderr: ChildStderr) -> String {
    let mut text = String::new();
    let _ = stderr.read_to_string(&mut text);
    let cut = text.len().saturating_sub(STDERR_KEEP);
    let cut = (cut..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    text[cut..].to_string()
}

/// A running QEMU and the threads reading it.
struct Running {
    child: Arc<Mutex<Child>>,
    killed: Arc<AtomicBool>,
}

impl Running {
    fn start(
        mut child: Child,
        records: UnixStream,
        virtio: Option<UnixStream>,
        events: Sender<VmEvent>,
    ) -> Self {
        let ending: Arc<Mutex<Option<Ending>>> = Arc::default();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let console_reader = {
            let (events, ending) = (events.clone(), ending.clone());
            thread::spawn(move || {
                if let Some(out) = stdout {
                    read_lines(out, &events, |line| {
                        if let Some(e) = console::ending(&line) {
                            *ending.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                        }
                        VmEvent::Console(line)
                    });
                }
            })
        };
        let mut readers = vec![console_reader];
        let channels = [
            (Some(records), RecordsChannel::Serial),
            (virtio, RecordsChannel::Virtio),
        ];
        for (stream, channel) in channels {
            let Some(stream) = stream else { continue };
            let events = events.clone();
            readers.push(thread::spawn(move || {
                read_records(stream, &events, channel)
            }));
        }
        let stderr_reader = thread::spawn(move || stderr.map(read_tail).unwrap_or_default());
        let child = Arc::new(Mutex::new(child));
        let killed = Arc::new(AtomicBool::new(false));
        let waiter = Waiter {
            child: child.clone(),
            killed: killed.clone(),
            ending,
            readers,
            stderr: stderr_reader,
        };
        thread::spawn(move || {
            let exit = waiter.wait();
            let _ = events.send(VmEvent::Exited(exit));
        });
        Running { child, killed }
    }
}

impl VmHandle for Running {
    fn kill(&mut self) {
        self.killed.store(true, Ordering::SeqCst);
        let _ = self.child.lock().unwrap_or_else(|p| p.into_inner()).kill();
    }
}

/// Sends each line (cut as [`LineCutter`] cuts them) as an event until EOF.
pub fn read_lines(
    mut source: impl Read,
    events: &Sender<VmEvent>,
    mut event: impl FnMut(String) -> VmEvent,
) {
    let mut cutter = LineCutter::default();
    let mut buf = [0u8; READ_CHUNK];
    let mut listened = true;
    while listened {
        let n = match source.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        cutter.push(&buf[..n], |line| {
            listened &= events.send(event(line)).is_ok();
        });
    }
    cutter.finish(|line| {
        let _ = events.send(event(line));
    });
}

/// Sends the records of one channel, announcing the channel before its first line.
pub fn read_records(source: impl Read, events: &Sender<VmEvent>, channel: RecordsChannel) {
    let mut announced = false;
    read_lines(source, events, |line| {
        if !announced {
            announced = true;
            let _ = events.send(VmEvent::Channel(channel));
        }
        VmEvent::Record(line)
    });
}

/// Collects QEMU's end once its output has closed.
struct Waiter {
    child: Arc<Mutex<Child>>,
    killed: Arc<AtomicBool>,
    ending: Arc<Mutex<Option<Ending>>>,
    readers: Vec<JoinHandle<()>>,
    stderr: JoinHandle<String>,
}

impl Waiter {
    fn wait(self) -> VmExit {
        for reader in self.readers {
            let _ = reader.join();
        }
        // Not `wait()` under the lock: `kill` must be able to take it meanwhile.
        let status = loop {
            let polled = self
                .child
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .try_wait();
            match polled {
                Ok(Some(status)) => break Some(status),
                Ok(None) => thread::sleep(POLL),
                Err(_) => break None,
            }
        };
        let stderr = self.stderr.join().unwrap_or_default();
        let ending = *self.ending.lock().unwrap_or_else(|p| p.into_inner());
        classify(self.killed.load(Ordering::SeqCst), status, ending, &stderr)
    }
}

/// How QEMU ended, from its status and what the kernel said last.
fn classify(
    killed: bool,
    status: Option<ExitStatus>,
    ending: Option<Ending>,
    stderr: &str,
) -> VmExit {
    if killed {
        return VmExit::Killed;
    }
    // With -no-reboot a reset, a panic's included, ends QEMU with status 0 like a power-off.
    match (status, ending) {
        (Some(s), Some(Ending::PowerOff)) if s.success() => VmExit::PowerOff,
        (Some(s), Some(Ending::Restart)) if s.success() => VmExit::Reset,
        (Some(s), None) if s.success() => VmExit::Stopped,
        (Some(s), _) => match s.signal() {
            Some(signal) => VmExit::Crashed(format!(
                "QEMU was killed by signal {signal}, not by schedbox: {}",
                stderr.trim()
            )),
            None => VmExit::Crashed(format!("QEMU exited with {s}: {}", stderr.trim())),
        },
        (None, _) => VmExit::Crashed("lost track of the QEMU process".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_boots_directly_with_two_serial_ports() {
        let spec = VmSpec {
            kernel: "/k/bzImage".into(),
            initramfs: Vec::new(),
            cmdline: "rdinit=/init quiet".into(),
            topology: crate::topology::Shape::flat(3),
            memory_mib: 300,
            virtio_records: true,
        };
        let qemu = Qemu {
            binary: DEFAULT_BINARY.into(),
            accel: Accel::Tcg,
            cpu: None,
        };
        let sockets = Sockets {
            serial: "/t,x/rec.sock".into(),
            virtio: Some("/t/v.sock".into()),
        };
        let args = qemu.args(&spec, "/t/initrd", &sockets);
        let after = |flag: &str| -> Vec<&str> {
            args.windows(2)
                .filter(|w| w[0] == flag)
                .map(|w| w[1].as_str())
                .collect()
        };
        for flag in ["-nodefaults", "-nographic", "-no-reboot"] {
            assert!(args.iter().any(|a| a == flag), "{flag} missing: {args:?}");
        }
        assert_eq!(after("-accel"), ["tcg"]);
        assert_eq!(after("-serial"), ["chardev:console", "chardev:records"]);
        assert_eq!(
            after("-chardev")[1..],
            [
                "socket,id=records,path=/t,,x/rec.sock",
                "socket,id=vrecords,path=/t/v.sock"
            ]
        );
        assert_eq!(
            after("-device"),
            [
                "virtio-serial-pci,max_ports=1,ioeventfd=off",
                "virtconsole,chardev=vrecords"
            ]
        );
        assert_eq!(after("-smp"), ["3,sockets=1,cores=3,threads=1"]);
        assert_eq!(after("-m"), ["300"]);
        assert_eq!(after("-kernel"), ["/k/bzImage"]);
        assert_eq!(after("-initrd"), ["/t/initrd"]);
        assert_eq!(after("-append"), ["console=ttyS0 rdinit=/init quiet"]);
        assert!(after("-cpu").is_empty(), "TCG keeps the default CPU model");
        let svm = qemu.with_cpu(Some("EPYC,+svm"));
        let serial_only = Sockets {
            serial: "/t/rec.sock".into(),
            virtio: None,
        };
        let args = svm.args(&spec, "/t/initrd", &serial_only);
        assert!(!args.iter().any(|a| a == "-device"), "{args:?}");
        let cpu: Vec<&String> = args.iter().skip_while(|a| *a != "-cpu").take(2).collect();
        assert_eq!(cpu, ["-cpu", "EPYC,+svm"]);
    }

    #[test]
    fn ends_are_named_by_what_was_seen() {
        let ok = ExitStatus::from_raw(0);
        let killed = ExitStatus::from_raw(libc::SIGKILL);
        let power_off = classify(false, Some(ok), Some(Ending::PowerOff), "");
        assert_eq!(power_off, VmExit::PowerOff);
        let reset = classify(false, Some(ok), Some(Ending::Restart), "");
        assert_eq!(reset, VmExit::Reset);
        assert_eq!(classify(false, Some(ok), None, ""), VmExit::Stopped);
        assert_eq!(classify(true, Some(killed), None, ""), VmExit::Killed);
        let VmExit::Crashed(why) = classify(false, Some(killed), None, "") else {
            panic!("a QEMU killed from outside is a crash")
        };
        assert!(why.contains("signal 9, not by schedbox"), "{why}");
    }
}
