//! Payloads: binaries a step runs in a cgroup (`op payload`), alongside the workers.
//! Started without waiting; their output forwarded; their end reported, or they are
//! killed at their timeout or when their scenario ends.

use crate::engine::cgroup::{self, Path};
use crate::engine::plan::{Line, Lossy};
use crate::engine::worker::Name;
use crate::platform::capture::Capture;
use crate::platform::exec::{self, Argv, End};
use crate::platform::fail::Res;
use crate::platform::record::{self, OutputPart, OutputSource, Record, RecordKind};
use crate::platform::sys;
use crate::platform::table::Table;

pub use schedbox_protocol::limits::MAX_PAYLOADS;
use schedbox_protocol::limits::PAYLOAD_OUTPUT_BYTES;

#[derive(Default)]
struct Payload {
    name: Name,
    pid: i32,
    out: Capture,
    /// `CLOCK_BOOTTIME` ns at which it is killed; `u64::MAX` for none.
    deadline_ns: u64,
}

#[derive(Default)]
pub struct Payloads {
    live: Table<Payload, MAX_PAYLOADS>,
}

impl Payloads {
    /// Starts an `op payload` line's binary, in its cgroup under the scenario `root`
    /// when the line names one.
    pub fn start(&mut self, root: &Path, line: &Line<'_>) -> Res<()> {
        let name = line.get("name").unwrap_or_default();
        let path = line.get("path").unwrap_or_default();
        if self.live.len() == MAX_PAYLOADS {
            return Err(fail!(
                Payload,
                "more than {} payloads running at once",
                MAX_PAYLOADS
            ));
        }
        let argv = Argv::new(path, line.all("arg"))
            .ok_or_else(|| fail!(Payload, "arguments of {:?} do not fit", Lossy(path)))?;
        // Without a cgroup it stays in PID 1's (the scenario root takes no tasks: its
        // controllers are enabled for its children).
        let procs = line
            .get("cgroup")
            .map(|c| cgroup::join(cgroup::join(root.as_bytes(), c).as_bytes(), b"cgroup.procs"));
        let procs = procs.as_ref().map(|p| p.as_cstr());
        let child = exec::spawn(&argv, procs, exec::Output::Terminal)?;
        let deadline_ns = line.num("timeout_ms").map_or(u64::MAX, |ms| {
            sys::now_ns().saturating_add(ms.saturating_mul(sys::NS_PER_MS))
        });
        let p = Payload {
            name: Name::from_bytes(name),
            pid: child.pid,
            out: Capture::with_byte_cap(child.out, PAYLOAD_OUTPUT_BYTES),
            deadline_ns,
        };
        // Checked for room above.
        let _ = self.live.push(p);
        Ok(())
    }

    /// One look at each payload, every monitor sample: its output, whether it ended,
    /// whether its time is up.
    pub fn poll(&mut self, scenario: &[u8], now_ns: u64) {
        let mut i = 0;
        while i < self.live.len() {
            let p = &mut self.live.as_mut_slice()[i];
            let name = &p.name;
            p.out.drain(&mut |text| output(scenario, name, text));
            let end = exec::try_reap(p.pid).or_else(|| {
                (now_ns >= p.deadline_ns).then(|| {
                    exec::kill(p.pid);
                    End::Killed
                })
            });
            match end {
                Some(end) => finish(scenario, self.live.swap_remove(i), end),
                None => i += 1,
            }
        }
    }

    /// A payload printed since the last look: its terminal (4 KiB) fills long before the
    /// next sample, so the monitor looks again sooner.
    pub fn printing(&self) -> bool {
        self.live.as_slice().iter().any(|p| p.out.flowing())
    }

    /// No payload is running.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// The scenario ends: payloads still running are killed.
    pub fn end(&mut self, scenario: &[u8]) {
        self.poll(scenario, sys::now_ns());
        while !self.live.is_empty() {
            let p = self.live.swap_remove(0);
            exec::kill(p.pid);
            finish(scenario, p, End::Killed);
        }
    }

    /// Kills every payload without reporting (the error path).
    pub fn kill_all(&mut self) {
        for p in self.live.as_slice() {
            exec::kill(p.pid);
        }
        self.live.clear();
    }
}

fn finish(scenario: &[u8], mut p: Payload, end: End) {
    let name = &p.name;
    p.out.finish(&mut |text| output(scenario, name, text));
    let tail = p
        .out
        .held_back_tail(&mut |text| output_tail(scenario, name, text));
    // How many `output` records it got, so that the host knows none went missing.
    let sent = u64::from(p.out.lines) + tail;
    let mut r = Record::new(RecordKind::Payload)
        .str("scenario", scenario)
        .str("name", p.name.as_bytes())
        .num("pid", p.pid as u64)
        .str("status", end.text().as_bytes())
        .num("t_ms", sys::now_ms())
        .num("lines", sent);
    if p.out.dropped > 0 {
        r = r.num("dropped", p.out.dropped);
    }
    r.str("output", p.out.tail().as_bytes()).send();
}

fn output(scenario: &[u8], name: &Name, text: &[u8]) {
    record::send_with(RecordKind::Output, |r| {
        output_fields(r, scenario, name, text);
    });
}

/// A line from the end of the output, after lines that were not sent.
fn output_tail(scenario: &[u8], name: &Name, text: &[u8]) {
    record::send_with(RecordKind::Output, |r| {
        output_fields(r, scenario, name, text).add_word("part", OutputPart::Tail);
    });
}

fn output_fields<'r>(
    r: &'r mut Record,
    scenario: &[u8],
    name: &Name,
    text: &[u8],
) -> &'r mut Record {
    r.add_word("source", OutputSource::Payload)
        .add_str("scenario", scenario)
        .add_str("name", name.as_bytes())
        .add_str("text", text)
}
