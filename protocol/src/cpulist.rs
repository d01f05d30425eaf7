//! CPU sets in the kernel's list syntax (`0-3,6,8-9`).

use crate::limits::MAX_CPUS;
use crate::msg::parse_u64;
use core::fmt;

const WORDS: usize = MAX_CPUS / 64;

#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct CpuMask(pub [u64; WORDS]);

impl CpuMask {
    pub fn set(&mut self, cpu: usize) {
        if cpu < MAX_CPUS {
            self.0[cpu / 64] |= 1 << (cpu % 64);
        }
    }

    pub fn has(&self, cpu: usize) -> bool {
        cpu < MAX_CPUS && self.0[cpu / 64] & (1 << (cpu % 64)) != 0
    }

    pub fn count(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// The highest CPU in the set.
    pub fn last(&self) -> Option<usize> {
        (0..MAX_CPUS).rev().find(|&c| self.has(c))
    }

    /// Parses `0-3,6`; None on bad syntax, reversed ranges or CPUs past `MAX_CPUS`.
    pub fn parse(s: &[u8]) -> Option<Self> {
        let mut m = CpuMask::default();
        for part in s.split(|&c| c == b',') {
            let (lo, hi) = match part.iter().position(|&c| c == b'-') {
                Some(i) => (parse_u64(&part[..i])?, parse_u64(&part[i + 1..])?),
                None => {
                    let v = parse_u64(part)?;
                    (v, v)
                }
            };
            if lo > hi || hi as usize >= MAX_CPUS {
                return None;
            }
            for cpu in lo..=hi {
                m.set(cpu as usize);
            }
        }
        Some(m)
    }

    /// Writes the set in list syntax; an empty set writes nothing.
    pub fn write_list(&self, out: &mut impl fmt::Write) -> fmt::Result {
        let mut cpu = 0;
        let mut first = true;
        while cpu < MAX_CPUS {
            if !self.has(cpu) {
                cpu += 1;
                continue;
            }
            let start = cpu;
            while cpu + 1 < MAX_CPUS && self.has(cpu + 1) {
                cpu += 1;
            }
            if !first {
                out.write_char(',')?;
            }
            first = false;
            write!(out, "{start}")?;
            if cpu > start {
                write!(out, "-{cpu}")?;
            }
            cpu += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;

    fn list(m: &CpuMask) -> String {
        let mut s = String::new();
        m.write_list(&mut s).unwrap();
        s
    }

    #[test]
    fn round_trips_kernel_lists() {
        for s in ["0", "0-1", "0-3,6,8-9", "1,3,5", "63-65", "255"] {
            let m = CpuMask::parse(s.as_bytes()).unwrap();
            assert_eq!(list(&m), s);
        }
        assert_eq!(CpuMask::parse(b"0-3,6,8-9").unwrap().count(), 7);
        assert_eq!(CpuMask::parse(b"0-3,6,8-9").unwrap().last(), Some(9));
    }

    #[test]
    fn rejects_bad_lists() {
        for s in ["", "a", "3-1", "1,", "256", "0--1"] {
            assert!(CpuMask::parse(s.as_bytes()).is_none(), "{s}");
        }
    }
}
