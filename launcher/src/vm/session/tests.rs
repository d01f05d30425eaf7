use super::*;
use crate::topology::Shape;
use crate::vm::backend::VmHandle;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread;

/// A VM double: sends its script, then either exits or waits to be killed.
struct Scripted {
    script: Vec<(u64, VmEvent)>,
    exits: bool,
}

struct Handle(Arc<AtomicBool>);

impl VmHandle for Handle {
    fn kill(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Backend for Scripted {
    fn name(&self) -> String {
        "scripted".into()
    }

    fn launch(
        &self,
        _: &VmSpec,
        events: Sender<VmEvent>,
    ) -> Result<Box<dyn VmHandle>, BackendError> {
        let killed = Arc::new(AtomicBool::new(false));
        let (script, exits, flag) = (self.script.clone(), self.exits, killed.clone());
        thread::spawn(move || {
            for (delay_ms, event) in script {
                thread::sleep(Duration::from_millis(delay_ms));
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let _ = events.send(event);
            }
            if exits {
                let _ = events.send(VmEvent::Exited(VmExit::PowerOff));
                return;
            }
            while !flag.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(5));
            }
            let _ = events.send(VmEvent::Exited(VmExit::Killed));
        });
        Ok(Box::new(Handle(killed)))
    }
}

const LIMITS: Limits = Limits {
    timeout: Duration::from_millis(1500),
    silence: Duration::from_millis(400),
    power_off_grace: Duration::from_millis(300),
    stop_at_done: false,
};

fn record(line: &str) -> VmEvent {
    VmEvent::Record(line.to_string())
}

fn watch(script: Vec<(u64, VmEvent)>, exits: bool) -> (Observed, String, String) {
    watch_with(script, exits, &LIMITS)
}

fn watch_with(
    script: Vec<(u64, VmEvent)>,
    exits: bool,
    limits: &Limits,
) -> (Observed, String, String) {
    let spec = VmSpec {
        kernel: "k".into(),
        initramfs: Vec::new(),
        cmdline: String::new(),
        topology: Shape::flat(1),
        memory_mib: 64,
        virtio_records: true,
    };
    let (mut console, mut records) = (Vec::new(), Vec::new());
    let mut sinks = Sinks {
        console: &mut console,
        records: &mut records,
        echo_console: false,
        watcher: None,
    };
    let observed = run(&Scripted { script, exits }, &spec, limits, &mut sinks).unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (observed, text(console), text(records))
}

const BOOT: &str = "SBX1 boot release=6.1 cpus=1 uptime_ms=5 sched_ext=absent";

#[test]
fn a_run_that_powers_off_keeps_everything() {
    let script = vec![
        (
            0,
            VmEvent::Console("\x1b[2J[ 0.5] Kernel panic - not syncing: nope".into()),
        ),
        (0, record(BOOT)),
        (0, record("not a record")),
        (0, record("SBX1 heartbeat t_ms=x")),
        (0, record("SBX1 done status=ok t_ms=9")),
    ];
    let (observed, console, records) = watch(script, true);
    assert_eq!(observed.end, RunEnd::Exited(VmExit::PowerOff));
    assert_eq!(observed.records.len(), 2);
    assert_eq!(observed.malformed.total, 1);
    assert_eq!(observed.panic.as_deref(), Some("nope"));
    assert_eq!(
        observed.console_tail,
        ["[ 0.5] Kernel panic - not syncing: nope"]
    );
    assert!(
        console.starts_with("\x1b[2J"),
        "console.log keeps raw bytes"
    );
    assert_eq!(records.lines().count(), 4, "records.log keeps every line");
    assert!(observed.timings.boot_record_ms.is_some() && observed.timings.done_record_ms.is_some());
}

#[test]
fn a_silent_guest_is_killed() {
    let (observed, _, _) = watch(
        vec![(0, record(BOOT)), (100, record("SBX1 heartbeat t_ms=1"))],
        false,
    );
    assert_eq!(observed.end, RunEnd::Silent(LIMITS.silence));
    assert!(observed.timings.total_ms < LIMITS.timeout.as_millis() as u64);
}

#[test]
fn silence_before_boot_waits_for_the_timeout() {
    let (observed, _, _) = watch(vec![(0, VmEvent::Console("booting".into()))], false);
    assert_eq!(observed.end, RunEnd::TimedOut(LIMITS.timeout));
    assert!(observed.timings.total_ms >= LIMITS.timeout.as_millis() as u64);
}

#[test]
fn heartbeats_do_not_outlive_the_timeout() {
    let beats = (0..40).map(|_| (50, record("SBX1 heartbeat t_ms=1")));
    let script = std::iter::once((0, record(BOOT))).chain(beats).collect();
    let (observed, _, _) = watch(script, false);
    assert_eq!(observed.end, RunEnd::TimedOut(LIMITS.timeout));
}

#[test]
fn a_guest_that_does_not_power_off_after_done_is_killed() {
    let (observed, _, _) = watch(
        vec![(0, record(BOOT)), (0, record("SBX1 done status=ok t_ms=9"))],
        false,
    );
    assert_eq!(observed.end, RunEnd::NoPowerOff);
}

#[test]
fn a_vm_is_stopped_as_soon_as_done_is_in_when_asked() {
    let stop = Limits {
        stop_at_done: true,
        ..LIMITS
    };
    // The guest would take a second to power off: the stop comes first.
    let shutting_down = (0..10).map(|_| (100, VmEvent::Console("shutting down".into())));
    let script = [(0, record(BOOT)), (0, record("SBX1 done status=ok t_ms=9"))]
        .into_iter()
        .chain(shutting_down)
        .chain([(0, VmEvent::Console("reboot: Power down".into()))])
        .collect();
    let (observed, console, _) = watch_with(script, false, &stop);
    assert_eq!(observed.end, RunEnd::StoppedAtDone);
    assert_eq!(observed.records.len(), 2);
    assert!(observed.timings.total_ms < 500, "{:?}", observed.timings);
    assert!(!console.contains("Power down"), "{console}");
    assert_eq!(
        RunEnd::StoppedAtDone.to_string(),
        "schedbox stopped the VM after its done record"
    );
}

#[test]
fn a_guest_that_powers_off_before_the_stop_is_said_to_have() {
    let stop = Limits {
        stop_at_done: true,
        ..LIMITS
    };
    // Done and the power-off in one burst: the VM has ended by itself when the stop
    // is asked for, and the end says so.
    let script = vec![(0, record(BOOT)), (0, record("SBX1 done status=ok t_ms=9"))];
    let (observed, _, _) = watch_with(script, true, &stop);
    assert_eq!(observed.end, RunEnd::Exited(VmExit::PowerOff));
}

#[test]
fn ends_say_what_happened_and_no_more() {
    let said = |end: RunEnd| end.to_string();
    assert_eq!(said(RunEnd::Exited(VmExit::PowerOff)), "the VM powered off");
    assert_eq!(said(RunEnd::Exited(VmExit::Reset)), "the VM reset");
    let stopped = said(RunEnd::Exited(VmExit::Stopped));
    assert!(stopped.contains("powered off or reset"), "{stopped}");
    for end in [VmExit::PowerOff, VmExit::Reset, VmExit::Stopped] {
        assert!(!said(RunEnd::Exited(end)).contains("panic"));
    }
    assert!(said(RunEnd::Interrupted(libc::SIGINT)).contains("SIGINT"));
}

#[test]
fn a_host_runs_ends_name_no_vm() {
    let host = |end: RunEnd| end.describe(crate::vm::backend::Machine::Host);
    assert_eq!(
        host(RunEnd::Exited(VmExit::PowerOff)),
        "schedbox-init exited"
    );
    assert_eq!(
        host(RunEnd::Interrupted(libc::SIGTERM)),
        "schedbox got SIGTERM and stopped schedbox-init"
    );
    let ends = [
        RunEnd::Exited(VmExit::Killed),
        RunEnd::Exited(VmExit::Crashed(
            "schedbox-init ended with exit status: 3".into(),
        )),
        RunEnd::NoPowerOff,
        RunEnd::Panicked,
        RunEnd::HostFault("disk full".into()),
    ];
    for end in ends {
        let said = host(end);
        assert!(!said.contains("VM") && !said.contains("power"), "{said}");
    }
}

#[test]
fn a_panic_stops_a_guest_that_would_hang() {
    let panic = || VmEvent::Console("[ 1.0] Kernel panic - not syncing: Fatal exception".into());
    let end =
        VmEvent::Console("[ 1.1] ---[ end Kernel panic - not syncing: Fatal exception ]---".into());
    for script in [vec![(0, panic())], vec![(0, panic()), (0, end)]] {
        let (observed, _, _) = watch(script, false);
        assert_eq!(observed.end, RunEnd::Panicked);
        assert_eq!(observed.panic.as_deref(), Some("Fatal exception"));
    }
}

/// A disk that is full.
struct Full;

impl Write for Full {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::from_raw_os_error(libc::ENOSPC))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_log_that_cannot_be_written_stops_the_run_as_a_host_fault() {
    let spec = VmSpec {
        kernel: "k".into(),
        initramfs: Vec::new(),
        cmdline: String::new(),
        topology: Shape::flat(1),
        memory_mib: 64,
        virtio_records: true,
    };
    let mut console = Vec::new();
    let mut sinks = Sinks {
        console: &mut console,
        records: &mut Full,
        echo_console: false,
        watcher: None,
    };
    let backend = Scripted {
        script: vec![(0, record(BOOT))],
        exits: false,
    };
    let observed = run(&backend, &spec, &LIMITS, &mut sinks).unwrap();
    let RunEnd::HostFault(why) = &observed.end else {
        panic!("{:?}", observed.end)
    };
    assert!(
        why.contains("record log") && why.contains("No space left"),
        "{why}"
    );
}
