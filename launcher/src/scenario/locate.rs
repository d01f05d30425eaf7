//! Where in a scenario file a field is: validation names fields as people read them
//! (`[[workers]] "spin".count`, `[[step]] 1.ops[0].cpus`), and this finds the line and
//! column of that value in the TOML text, for `file:line:column` messages.

use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// The entry of a table array a field names, and the key that tells its entries apart.
const IDENTIFYING_KEYS: &[(&str, &str)] = &[
    ("workers", "group"),
    ("cgroup", "path"),
    ("check", "name"),
    ("payload", "name"),
];

/// Line and column (from 1) of `field`'s value in `text`, or of the nearest enclosing
/// part of the file that exists (the entry, for a missing key); None when the file does
/// not parse or the field names nothing in it.
pub fn locate(text: &str, field: &str) -> Option<(u32, u32)> {
    let root = DeTable::parse(text).ok()?;
    let root = DeValue::Table(root.into_inner());
    let span = find(&root, field)?;
    Some(line_column(text, span.start))
}

/// Line and column (from 1, in characters) of byte `offset` in `text`.
pub fn line_column(text: &str, offset: usize) -> (u32, u32) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |at| at + 1);
    let column = before[start..].chars().count() + 1;
    (to_u32(line), to_u32(column))
}

/// Files are far shorter than 4 G lines; a count past it is shown as the most.
fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn find(root: &DeValue, field: &str) -> Option<Range<usize>> {
    let Some(rest) = field.strip_prefix("[[") else {
        return path_span(root, &segments(field), None);
    };
    let (array, rest) = rest.split_once("]]")?;
    let entries = match root.get(array)?.get_ref() {
        DeValue::Array(entries) => entries,
        _ => return None,
    };
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    let (label, keys) = split_label(rest);
    let entry = label.and_then(|label| pick(array, entries, label));
    let Some(entry) = entry.and_then(|at| entries.get(at)) else {
        return entries.first().map(|e| first_span(e.get_ref(), e.span()));
    };
    path_span(entry.get_ref(), &segments(keys), Some(entry.span()))
}

/// `"label".keys`, `N.keys` or `.keys` → (label, keys).
fn split_label(rest: &str) -> (Option<&str>, &str) {
    if let Some(quoted) = rest.strip_prefix('"') {
        return match quoted.split_once('"') {
            Some((label, keys)) => (Some(label), keys),
            None => (None, rest),
        };
    }
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    if digits > 0 {
        return (Some(&rest[..digits]), &rest[digits..]);
    }
    (None, rest)
}

/// The index of the entry `label` names: by its identifying key, else by position.
fn pick(array: &str, entries: &[Spanned<DeValue>], label: &str) -> Option<usize> {
    let key = IDENTIFYING_KEYS.iter().find(|(a, _)| *a == array);
    let by_key = key.and_then(|(_, key)| {
        entries.iter().position(|e| {
            e.get_ref()
                .get(*key)
                .is_some_and(|v| matches!(v.get_ref(), DeValue::String(s) if s == label))
        })
    });
    by_key.or_else(|| label.parse().ok().filter(|&at| at < entries.len()))
}

/// `.a[1].b` → ["a", "1", "b"].
fn segments(keys: &str) -> Vec<&str> {
    keys.split(['.', '[', ']'])
        .filter(|s| !s.is_empty())
        .collect()
}

/// The span of the deepest part of `path` that exists under `value`.
fn path_span(value: &DeValue, path: &[&str], own: Option<Range<usize>>) -> Option<Range<usize>> {
    let Some((first, rest)) = path.split_first() else {
        return own.map(|span| first_span(value, span));
    };
    let next = match first.parse::<usize>() {
        Ok(at) => value.get(at),
        Err(_) => value.get(*first),
    };
    match next {
        Some(next) => path_span(next.get_ref(), rest, Some(next.span())).or(own),
        None => own.map(|span| first_span(value, span)),
    }
}

/// An entry of a table array may have no span of its own: then its first value's.
fn first_span(value: &DeValue, span: Range<usize>) -> Range<usize> {
    if !span.is_empty() {
        return span;
    }
    match value {
        DeValue::Table(table) => table
            .iter()
            .map(|(key, _)| key.span())
            .min_by_key(|s| s.start)
            .unwrap_or(span),
        _ => span,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "name = \"s\"\nduration_ms = 5\n\
                        [[workers]]\ngroup = \"a\"\nwork = \"spin\"\n\
                        [[workers]]\ngroup = \"b\"\nwork = \"spin\"\ncgroup = \"caped\"\n\
                        [[step]]\nhold_ms = 10\nops = [{ op = \"spawn\", group = \"a\" },\n  \
                        { op = \"stop\", group = \"a\" }]\n";

    #[test]
    fn fields_are_found_where_they_are_written() {
        assert_eq!(locate(FILE, "duration_ms"), Some((2, 15)));
        assert_eq!(locate(FILE, "[[workers]] \"b\".cgroup"), Some((9, 10)));
        assert_eq!(locate(FILE, "[[workers]] \"b\".work"), Some((8, 8)));
        assert_eq!(locate(FILE, "[[step]] 0.ops[1].group"), Some((13, 26)));
        assert_eq!(locate(FILE, "[[step]] 0.hold_ms"), Some((11, 11)));
    }

    #[test]
    fn a_missing_key_points_at_its_entry() {
        let (line, _) = locate(FILE, "[[workers]] \"b\".count").unwrap();
        assert!((6..=9).contains(&line), "{line}");
        assert_eq!(locate(FILE, "[[check]] \"stall\".limit"), None);
        assert_eq!(locate("not toml =", "name"), None);
    }

    #[test]
    fn columns_count_characters() {
        assert_eq!(line_column("ab\nµx", 5), (2, 2));
        assert_eq!(line_column("", 0), (1, 1));
    }
}
