//! CPU lists in the kernel's syntax: `0-3,6,8-9`.

use std::collections::BTreeSet;

/// Highest CPU number a list may name; far above any VM schedbox boots.
const MAX_CPU: u32 = 4095;

/// Parses a CPU list into the set of CPUs it names.
pub fn parse(text: &str) -> Result<BTreeSet<u32>, String> {
    let mut cpus = BTreeSet::new();
    if text.trim().is_empty() {
        return Err("empty CPU list".to_string());
    }
    for part in text.split(',') {
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (number(a, text)?, number(b, text)?),
            None => {
                let n = number(part, text)?;
                (n, n)
            }
        };
        if first > last {
            return Err(format!("CPU range {part:?} in {text:?} runs backwards"));
        }
        cpus.extend(first..=last);
    }
    Ok(cpus)
}

fn number(text: &str, list: &str) -> Result<u32, String> {
    let value: u32 = text
        .trim()
        .parse()
        .map_err(|_| format!("{list:?} is not a CPU list like \"0-3,6\""))?;
    if value > MAX_CPU {
        return Err(format!("CPU {value} in {list:?} is out of range"));
    }
    Ok(value)
}

/// Formats a set in the canonical kernel form (ranges collapsed).
pub fn format(cpus: &BTreeSet<u32>) -> String {
    let mut parts = Vec::new();
    let mut iter = cpus.iter().copied().peekable();
    while let Some(first) = iter.next() {
        let mut last = first;
        while iter.peek() == Some(&(last + 1)) {
            last = iter.next().unwrap_or(last);
        }
        parts.push(if first == last {
            first.to_string()
        } else {
            format!("{first}-{last}")
        });
    }
    parts.join(",")
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
        for text in ["", "a", "1-", "3-1", "1,,2", "-1", "99999"] {
            assert!(parse(text).is_err(), "{text:?} accepted");
        }
    }
}
