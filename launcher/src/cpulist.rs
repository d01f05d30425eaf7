//! CPU lists in the kernel's syntax: `0-3,6,8-9`, as sets. What a list may say is the
//! shared protocol's grammar ([`CpuMask::parse`], the one the guest uses); this module
//! adds the host's reading (whitespace allowed, an error that says what is wrong) and
//! sets of numbers.

use std::collections::BTreeSet;

use schedbox_protocol::cpulist::CpuMask;
use schedbox_protocol::limits::MAX_CPUS;

/// Parses a CPU list into the set of CPUs it names.
pub fn parse(text: &str) -> Result<BTreeSet<u32>, String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return Err("empty CPU list".to_string());
    }
    let mask = CpuMask::parse(compact.as_bytes()).ok_or_else(|| why_not(&compact, text))?;
    Ok((0..MAX_CPUS)
        .filter(|&cpu| mask.has(cpu))
        .map(|cpu| cpu as u32)
        .collect())
}

/// Why the protocol's grammar refused `compact` (`text` as the user wrote it).
fn why_not(compact: &str, text: &str) -> String {
    for part in compact.split(',') {
        let bounds: Vec<Option<u64>> = part.splitn(2, '-').map(|n| n.parse().ok()).collect();
        match bounds.as_slice() {
            [Some(lo), Some(hi)] if lo > hi => {
                return format!("CPU range {part:?} in {text:?} runs backwards")
            }
            [.., Some(n)] if *n >= MAX_CPUS as u64 => {
                return format!(
                    "CPU {n} in {text:?} is out of range (CPUs are numbered below {MAX_CPUS})"
                )
            }
            _ => {}
        }
    }
    format!("{text:?} is not a CPU list like \"0-3,6\"")
}

/// Formats a set in the canonical kernel form (ranges collapsed).
pub fn format(cpus: &BTreeSet<u32>) -> String {
    let mut mask = CpuMask::default();
    for &cpu in cpus {
        mask.set(cpu as usize);
    }
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = mask.write_list(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_and_format_canonically() {
        let cpus = parse("0-3,6,8-9").unwrap();
        assert_eq!(
            cpus.iter().copied().collect::<Vec<_>>(),
            [0, 1, 2, 3, 6, 8, 9]
        );
        assert_eq!(format(&cpus), "0-3,6,8-9");
        assert_eq!(format(&parse("3,1,2").unwrap()), "1-3");
    }

    #[test]
    fn bad_lists_are_rejected() {
        for (text, why) in [
            ("", "empty"),
            ("a", "is not a CPU list"),
            ("1-", "is not a CPU list"),
            ("3-1", "runs backwards"),
            ("1,,2", "is not a CPU list"),
            ("-1", "is not a CPU list"),
            ("99999", "out of range"),
            ("256", "out of range"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(why), "{text:?}: {err}");
        }
        assert_eq!(format(&parse(" 0-1, 3\n").unwrap()), "0-1,3");
    }
}
