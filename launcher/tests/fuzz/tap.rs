//! The TAP reader over a payload's output lines.

use schedbox::outcome::verdict::tap;

use crate::driver::Target;

fn tap_output(input: &[u8]) -> String {
    let text = String::from_utf8_lossy(input);
    let lines: Vec<&str> = text.split('\n').collect();
    let read = tap::parse(lines.iter().copied());
    assert!(read.results.len() <= lines.len());
    let problems = read.problems();
    let failing = read.results.iter().any(|r| r.fails());
    let incomplete = match read.plan {
        Some(n) => n != read.results.len() as u64,
        None => read.results.is_empty(),
    };
    assert_eq!(
        problems.is_empty(),
        !failing && read.bail_out.is_none() && !incomplete,
        "TAP {read:?} judged {problems:?}"
    );
    format!(
        "plan={} results={} failing={failing} bail={} problems={}",
        read.plan.is_some(),
        read.results.len().min(3),
        read.bail_out.is_some(),
        problems.len().min(3)
    )
}

pub const TAP: Target = Target {
    name: "tap",
    max_len: 2048,
    dictionary: &[
        b"1..",
        b"ok ",
        b"not ok ",
        b" # SKIP",
        b" # TODO",
        b"Bail out!",
        b"\n",
        b" - ",
        b"#",
        b"\t",
        b"18446744073709551616",
        b"\xff",
    ],
    seeds: || {
        vec![
            b"TAP version 13\n1..2\nok 1 - a\nnot ok 2 - b # SKIP no\n".to_vec(),
            b"ok\nnot ok 7 x # todo later\nBail out! broken\n  ok 1 nested\n".to_vec(),
        ]
    },
    run: tap_output,
    memory: |len| 64 * 1024 + 64 * len,
};
