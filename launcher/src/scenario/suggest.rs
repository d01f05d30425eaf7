//! "Did you mean": the known name nearest to a mistyped one.

/// Edits (insert, delete, replace) that turn `a` into `b`.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let replace = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = replace.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// The candidate nearest to `word`, if it is near enough to be a typo of it: a third
/// of the word's length, at least one edit.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let most = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|&(d, _)| d <= most)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// ` (did you mean "x"?)` for the nearest candidate, or nothing.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    nearest(word, candidates).map_or_else(String::new, |c| format!(" (did you mean {c:?}?)"))
}

/// For a parser message "unknown field `x`, expected one of `a`, `b`" (or "unknown
/// variant" of an op), the nearest expected name as " (did you mean `a`?)".
pub fn unknown_key_hint(message: &str) -> Option<String> {
    let rest = ["unknown field `", "unknown variant `"]
        .iter()
        .find_map(|start| message.split_once(start).map(|(_, rest)| rest))?;
    let (word, expected) = rest.split_once('`')?;
    let expected = expected.split_once("expected")?.1;
    let names = expected.split('`').skip(1).step_by(2);
    nearest(word, names).map(|name| format!(" (did you mean `{name}`?)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_count_edits() {
        assert_eq!(edit_distance("caped", "capped"), 1);
        assert_eq!(edit_distance("cpu.maxx", "cpu.max"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn only_near_names_are_suggested() {
        let known = ["capped", "free", "batch"];
        assert_eq!(nearest("caped", known), Some("capped"));
        assert_eq!(nearest("zzzzzz", known), None);
        assert_eq!(did_you_mean("fre", known), " (did you mean \"free\"?)");
        assert_eq!(did_you_mean("other", known), "");
    }

    #[test]
    fn unknown_keys_get_the_nearest_expected_one() {
        let message = "unknown field `weigth`, expected one of `path`, `cpus`, `weight`";
        assert_eq!(
            unknown_key_hint(message).as_deref(),
            Some(" (did you mean `weight`?)")
        );
        let op = "unknown variant `cgroup-sett`, expected one of `cgroup-add`, `cgroup-set`";
        assert_eq!(
            unknown_key_hint(op).as_deref(),
            Some(" (did you mean `cgroup-set`?)")
        );
        assert_eq!(
            unknown_key_hint("unknown field `zzzzzz`, expected `path`"),
            None
        );
        assert_eq!(unknown_key_hint("invalid type: string"), None);
    }
}
