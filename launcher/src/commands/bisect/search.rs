//! The search of a bisect, apart from running anything: images `0..count` in order, the
//! first one assumed good; a test of one gives good, bad or skip. Between the last image
//! known good and the first known bad (at first, before the list and past its end), the
//! untested image nearest the middle is tested next, so that a found boundary always
//! rests on a tested good image right before a tested bad one, skipped ones aside.

/// What a test of one image said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The scenarios passed (exit 0).
    Good,
    /// A check failed (exit 1).
    Bad,
    /// The image could not be judged (exit 125): neither good nor bad.
    Skip,
}

/// Where the search ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bisected {
    /// `bad` is the first bad image; `good`, right before it, passed.
    Found { good: usize, bad: usize },
    /// The first image, meant to be good, is bad.
    FirstIsBad,
    /// No image failed (`last_good`: the last tested, None if all were skipped).
    NoneBad { last_good: Option<usize> },
    /// Skipped images hide the boundary: the first bad is one of `candidates` (the
    /// last of them is a tested bad image, unless none failed).
    Undecided { candidates: Vec<usize> },
}

/// Bisects `count` images with `test`, which may stop the search (Err).
pub fn search<E>(
    count: usize,
    mut test: impl FnMut(usize) -> Result<Verdict, E>,
) -> Result<Bisected, E> {
    let mut verdicts: Vec<Option<Verdict>> = vec![None; count];
    // Bounds as positions in the list, offset by one so that 0 is "before the first
    // image" (good by assumption) and count + 1 "past the last" (none bad).
    let (mut good, mut bad) = (0usize, count + 1);
    while let Some(next) = next_test(&verdicts, good, bad) {
        let verdict = test(next)?;
        verdicts[next] = Some(verdict);
        match verdict {
            Verdict::Good => good = next + 1,
            Verdict::Bad => bad = next + 1,
            Verdict::Skip => {}
        }
    }
    // The images strictly between the bounds: all skipped once nothing is left to test.
    let mut between: Vec<usize> = (good..bad - 1).collect();
    let tested_bad = (bad <= count).then(|| bad - 1);
    Ok(match (between.is_empty(), tested_bad) {
        (true, Some(0)) => Bisected::FirstIsBad,
        (true, Some(bad)) => Bisected::Found { good: bad - 1, bad },
        (true, None) => Bisected::NoneBad {
            last_good: good.checked_sub(1),
        },
        (false, _) => {
            between.extend(tested_bad);
            Bisected::Undecided {
                candidates: between,
            }
        }
    })
}

/// The untested image nearest the middle of the open range between the bounds (in
/// the offset positions of [`search`]), the lower on a tie; None when none is left.
fn next_test(verdicts: &[Option<Verdict>], good: usize, bad: usize) -> Option<usize> {
    let middle = (good + bad) / 2;
    (good + 1..bad)
        .filter(|&p| verdicts[p - 1].is_none())
        .min_by_key(|&p| (p.abs_diff(middle), p))
        .map(|p| p - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Verdict::{Bad, Good, Skip};

    /// Bisects `list` (each image's verdict); the result and the images tested in order.
    fn bisect(list: &[Verdict]) -> (Bisected, Vec<usize>) {
        let mut tested = Vec::new();
        let found = search(list.len(), |i| {
            tested.push(i);
            Ok::<_, ()>(list[i])
        })
        .unwrap();
        (found, tested)
    }

    #[test]
    fn the_first_bad_image_is_found_in_few_tests() {
        let list = [Good, Good, Good, Good, Good, Bad, Bad, Bad];
        let (found, tested) = bisect(&list);
        assert_eq!(found, Bisected::Found { good: 4, bad: 5 });
        assert!(tested.len() <= 4, "{tested:?}");
        for first_bad in 1..8 {
            let list: Vec<Verdict> = (0..8)
                .map(|i| if i < first_bad { Good } else { Bad })
                .collect();
            let (found, _) = bisect(&list);
            assert_eq!(
                found,
                Bisected::Found {
                    good: first_bad - 1,
                    bad: first_bad
                }
            );
        }
    }

    #[test]
    fn skipped_images_are_searched_around_never_counted_bad() {
        // The middle images are untestable; the search goes on beside them.
        let list = [Good, Good, Skip, Skip, Good, Bad, Bad];
        let (found, tested) = bisect(&list);
        assert_eq!(found, Bisected::Found { good: 4, bad: 5 });
        assert!(tested.contains(&4) && tested.contains(&5), "{tested:?}");
        // A skip right before the first bad one hides which is first.
        let list = [Good, Good, Skip, Bad, Bad];
        assert_eq!(
            bisect(&list).0,
            Bisected::Undecided {
                candidates: vec![2, 3]
            }
        );
        // Skipped images after the last good one, none bad: undecided, not bad.
        let list = [Good, Good, Skip, Skip];
        assert_eq!(
            bisect(&list).0,
            Bisected::Undecided {
                candidates: vec![2, 3]
            }
        );
    }

    #[test]
    fn the_ends_give_their_own_answers() {
        assert_eq!(bisect(&[Bad, Bad, Bad, Bad]).0, Bisected::FirstIsBad);
        assert_eq!(
            bisect(&[Good, Good, Good, Good]).0,
            Bisected::NoneBad { last_good: Some(3) }
        );
        assert_eq!(
            bisect(&[Skip, Skip, Skip]).0,
            Bisected::Undecided {
                candidates: vec![0, 1, 2]
            }
        );
        assert_eq!(
            bisect(&[Skip, Bad, Bad]).0,
            Bisected::Undecided {
                candidates: vec![0, 1]
            }
        );
        assert_eq!(
            bisect(&[Skip, Good, Bad]).0,
            Bisected::Found { good: 1, bad: 2 }
        );
    }

    #[test]
    fn an_error_stops_the_search_at_once() {
        let mut tested = 0;
        let stopped = search(6, |_| {
            tested += 1;
            Err::<Verdict, &str>("interrupted")
        });
        assert_eq!(stopped, Err("interrupted"));
        assert_eq!(tested, 1);
    }
}
