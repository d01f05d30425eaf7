//! `--shard K/N`: a set split into N parts for N CI jobs. The split depends only on
//! each scenario's name and declared duration, never on the order or the paths the set
//! was given in, so every machine computes the same parts; the longest scenarios are
//! dealt first, each to the part with the least time so far, so the parts take about
//! the same time.

use std::collections::BTreeSet;

use crate::cli::Shard;

/// The indices into `keys` (each scenario's name and duration) of those in `shard`.
pub fn part(keys: &[(&str, u64)], shard: Shard) -> BTreeSet<usize> {
    assign(keys, shard.count)
        .into_iter()
        .enumerate()
        .filter(|&(_, part)| part == shard.index - 1)
        .map(|(i, _)| i)
        .collect()
}

/// The part (from 0) of each (name, duration) in `items`, of `count` parts.
pub fn assign(items: &[(&str, u64)], count: u32) -> Vec<u32> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    // Longest first; equal durations by name, which is unique in a set.
    order.sort_by(|&a, &b| {
        let (name_a, ms_a) = items[a];
        let (name_b, ms_b) = items[b];
        ms_b.cmp(&ms_a).then(name_a.cmp(name_b))
    });
    let mut load = vec![0u64; count as usize];
    let mut parts = vec![0u32; items.len()];
    for i in order {
        // The lightest part; ties go to the first.
        let (lightest, _) = load
            .iter()
            .enumerate()
            .min_by_key(|&(at, ms)| (*ms, at))
            .unwrap_or((0, &0));
        load[lightest] += items[i].1;
        parts[i] = lightest as u32;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_balanced_and_independent_of_order() {
        let items = [("a", 1000), ("b", 600), ("c", 600), ("d", 400), ("e", 2000)];
        let parts = assign(&items, 2);
        let time = |p: u32| -> u64 {
            items
                .iter()
                .zip(&parts)
                .filter(|(_, &q)| q == p)
                .map(|((_, ms), _)| ms)
                .sum()
        };
        assert_eq!(parts, [1, 1, 1, 0, 0]);
        assert_eq!((time(0), time(1)), (2400, 2200));
        let mut reversed = items;
        reversed.reverse();
        let mut again = assign(&reversed, 2);
        again.reverse();
        assert_eq!(again, parts, "the same split whatever the order given");
        assert_eq!(assign(&items, 1), [0; 5]);
        assert_eq!(assign(&items[..1], 3), [0]);
    }
}
