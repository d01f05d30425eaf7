//! How far a worker moved: its migrations, as the kernel counts them
//! (`se.nr_migrations` of `/proc/<pid>/sched`, there with CONFIG_SCHED_DEBUG), and the
//! LLC and node crossings it saw itself make (`Slot::saw_cpu`).

use crate::measure::shared::Slot;
use crate::platform::buf::{parse_u64, Buf};
use crate::platform::sys;
use core::sync::atomic::Ordering::Relaxed;

/// The line of `/proc/<pid>/sched` that counts migrations.
const NR_MIGRATIONS: &[u8] = b"se.nr_migrations";
/// `/proc/<pid>/sched` is about 2 KiB on 6.x kernels; the field is near its top.
const SCHED_FILE_BYTES: usize = 4096;

#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Moves {
    /// None when the kernel does not say (no CONFIG_SCHED_DEBUG, or the task is gone).
    pub migrations: Option<u64>,
    pub llc_crossings: u64,
    pub node_crossings: u64,
}

/// A worker's moves: the kernel's count for `pid`, the crossings from its slot.
pub fn measure(pid: i32, slot: &Slot) -> Moves {
    Moves {
        migrations: nr_migrations(pid),
        llc_crossings: slot.seldom.llc_crossings.load(Relaxed),
        node_crossings: slot.seldom.node_crossings.load(Relaxed),
    }
}

fn nr_migrations(pid: i32) -> Option<u64> {
    let mut path: Buf<48> = Buf::from_bytes(b"/proc/");
    path.push_u64(pid as u64);
    path.push(b"/sched");
    let mut buf = [0u8; SCHED_FILE_BYTES];
    let n = sys::read_file(path.as_cstr(), &mut buf).ok()?;
    field(&buf[..n], NR_MIGRATIONS)
}

/// The number of a `name   :   value` line of a `/proc/<pid>/sched` text.
pub fn field(text: &[u8], name: &[u8]) -> Option<u64> {
    let line = text.split(|&c| c == b'\n').find(|l| {
        l.strip_prefix(name)
            .is_some_and(|rest| rest.first().is_some_and(|c| *c == b' ' || *c == b':'))
    })?;
    let value = &line[line.iter().position(|&c| c == b':')? + 1..];
    let digits = value
        .split(|c| c.is_ascii_whitespace())
        .find(|s| !s.is_empty())?;
    parse_u64(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_migrations_line() {
        let text = b"sbx-spin-0 (57, #threads: 1)\n\
            -------------------------------------------------------------------\n\
            se.exec_start                                :          2047.140340\n\
            se.nr_migrations                             :                   17\n\
            se.nr_migrations_cold                        :                    3\n";
        assert_eq!(field(text, NR_MIGRATIONS), Some(17));
        assert_eq!(field(text, b"se.nr_wakeups"), None);
    }
}
