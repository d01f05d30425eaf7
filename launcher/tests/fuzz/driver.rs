//! A small mutation fuzzer on stable Rust: replays a target's seeds, its corpus and every
//! input that once found a bug, then mutates them for a time budget. An input is kept
//! when it gives an outcome not seen before: a coverage proxy (the class of result or
//! error message a target reports), not real branch coverage.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, Instant};

use crate::alloc;

/// Seconds of random inputs per target under `cargo test`; `make fuzz` sets more.
const DEFAULT_SECONDS: f64 = 0.3;
/// One input taking longer than this is a hang (or close enough to one).
const SLOW_INPUT: Duration = Duration::from_secs(5);
/// Inputs kept in memory per target, beyond which new outcomes are only counted.
const MAX_CORPUS: usize = 4096;
/// Inputs with new outcomes one run adds to `fuzz/corpus/<target>/` when asked to.
const MAX_SAVED: usize = 50;
/// Characters of a failure's message and input shown in the test's output.
const SHOWN: usize = 600;
/// Attempts to shrink an input that failed before it is saved.
const MINIMIZE_TRIES: usize = 2000;

/// One fuzz target: what it feeds, how big its inputs get, what it may allocate.
pub struct Target {
    pub name: &'static str,
    pub max_len: usize,
    /// Tokens mutations insert: the syntax the target's parser looks for.
    pub dictionary: &'static [&'static [u8]],
    /// Built-in seeds, beside the files of `fuzz/corpus/<name>/`.
    pub seeds: fn() -> Vec<Vec<u8>>,
    /// Feeds one input; returns its outcome class and panics on an invariant breach.
    pub run: fn(&[u8]) -> String,
    /// Bytes the target may hold at once for an input of `len` bytes.
    pub memory: fn(usize) -> usize,
}

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn env_seconds(name: &str) -> Option<f64> {
    std::env::var(name).ok()?.parse::<f64>().ok()
}

/// The time for random inputs per target: `SCHEDBOX_FUZZ_TOTAL_SECONDS` split over the
/// `targets`, else `SCHEDBOX_FUZZ_SECONDS` each, else the default.
fn budget(targets: usize) -> Duration {
    let seconds = env_seconds("SCHEDBOX_FUZZ_TOTAL_SECONDS")
        .map(|total| total / targets.max(1) as f64)
        .or_else(|| env_seconds("SCHEDBOX_FUZZ_SECONDS"))
        .unwrap_or(DEFAULT_SECONDS);
    Duration::from_secs_f64(seconds.max(0.0))
}

fn seed() -> u64 {
    std::env::var("SCHEDBOX_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            t.as_nanos() as u64 | 1
        })
}

/// xorshift64*: fast, reproducible from its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (0 when n is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Reads bytes of an input as choices, for targets that build structured values; past
/// the end it gives zeros.
pub struct Choices<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Choices<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Choices { data, at: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.at >= self.data.len()
    }

    pub fn byte(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    /// True about once in `n` times.
    pub fn one_in(&mut self, n: u8) -> bool {
        self.byte().is_multiple_of(n)
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            usize::from(self.u16()) % n
        }
    }

    /// Up to `max` of the remaining bytes.
    pub fn bytes(&mut self, max: usize) -> &'a [u8] {
        let start = self.at.min(self.data.len());
        let end = start.saturating_add(max).min(self.data.len());
        self.at = end;
        &self.data[start..end]
    }
}

/// An error message as an outcome class: the first and last two words of its text before
/// any quoted part, numbers blanked, so that `bad key "X"` and `bad key "Y"`, or `value of
/// a is not UTF-8` and `value of b is not UTF-8`, are one class.
pub fn shape(message: &str) -> String {
    let unquoted: String = message
        .chars()
        .take_while(|&c| c != '"')
        .map(|c| if c.is_ascii_digit() { 'N' } else { c })
        .collect();
    let words: Vec<&str> = unquoted.split_whitespace().collect();
    if words.len() <= 4 {
        words.join(" ")
    } else {
        format!(
            "{} {} … {} {}",
            words[0],
            words[1],
            words[words.len() - 2],
            words[words.len() - 1]
        )
    }
}

thread_local! {
    static LAST_PANIC: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    static IN_TARGET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Panics inside a target are reported by the driver with their input, not printed as
/// they happen; others as usual.
fn quiet_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let usual = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if IN_TARGET.with(std::cell::Cell::get) {
                let text = info.to_string();
                let _ = LAST_PANIC.try_with(|p| *p.borrow_mut() = text);
            } else {
                usual(info);
            }
        }))
    });
}

/// Why one input failed.
struct Failure(String);

fn check(target: &Target, input: &[u8]) -> Result<String, Failure> {
    let started = Instant::now();
    IN_TARGET.with(|t| t.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        alloc::peak_during(|| (target.run)(input))
    }));
    IN_TARGET.with(|t| t.set(false));
    let (outcome, peak) = result.map_err(|_| Failure(LAST_PANIC.with(|p| p.borrow().clone())))?;
    let allowed = (target.memory)(input.len());
    if peak > allowed {
        return Err(Failure(format!(
            "held {peak} bytes at once for a {}-byte input (allowed {allowed})",
            input.len()
        )));
    }
    if started.elapsed() > SLOW_INPUT {
        return Err(Failure(format!(
            "took {:.1} s for one input",
            started.elapsed().as_secs_f64()
        )));
    }
    Ok(outcome)
}

/// Removes chunks of a failing input while it still fails, for a readable regression.
fn minimize(target: &Target, input: &[u8]) -> Vec<u8> {
    let mut best = input.to_vec();
    let mut tries = 0;
    let mut chunk = best.len() / 2;
    while chunk > 0 && tries < MINIMIZE_TRIES {
        let mut at = 0;
        while at < best.len() && tries < MINIMIZE_TRIES {
            let mut shorter = best[..at].to_vec();
            shorter.extend_from_slice(&best[(at + chunk).min(best.len())..]);
            tries += 1;
            if check(target, &shorter).is_err() {
                best = shorter;
            } else {
                at += chunk;
            }
        }
        chunk /= 2;
    }
    best
}

fn hash(input: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    input.hash(&mut h);
    h.finish()
}

/// Saves a failing input where every later run replays it, and fails the test.
fn report(target: &Target, input: &[u8], why: &Failure, origin: &str) -> ! {
    let small = minimize(target, input);
    let message = check(target, &small).err().map_or(why.0.clone(), |f| f.0);
    let message: String = message.chars().take(SHOWN).collect();
    let shown = String::from_utf8_lossy(&small[..small.len().min(SHOWN)]).into_owned();
    let dir = fuzz_dir().join("regressions").join(target.name);
    let path = dir.join(format!("{:016x}", hash(&small)));
    let saved = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, &small));
    let place = match saved {
        Ok(()) => format!("saved as {}", path.display()),
        Err(e) => format!("could not save it to {}: {e}", path.display()),
    };
    panic!(
        "fuzz {}: {origin} input failed: {message}\n  input ({} bytes, minimized from {}): {shown:?}\n  {place}",
        target.name,
        small.len(),
        input.len(),
    );
}

fn files(dir: &Path) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
    paths.sort();
    paths
        .iter()
        .filter(|p| p.is_file())
        .filter_map(|p| std::fs::read(p).ok())
        .collect()
}

const INTERESTING: &[u8] = &[
    0, 1, 0x7f, 0x80, 0xff, b'\n', b'\r', b' ', b'=', b'%', b'"', b'#',
];
const INTERESTING_WORDS: &[u64] = &[
    0,
    1,
    0x7f,
    0xff,
    0x100,
    0x7fff,
    0xffff,
    0x8000_0000,
    0xffff_ffff,
    u64::MAX,
    1 << 32,
];

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, target: &Target, other: &[u8]) {
    let len = input.len();
    let at = rng.below(len + 1);
    match rng.below(11) {
        0 if len > 0 => input[at.min(len - 1)] ^= 1 << rng.below(8),
        1 if len > 0 => input[at.min(len - 1)] = rng.next() as u8,
        2 if len > 0 => input[at.min(len - 1)] = INTERESTING[rng.below(INTERESTING.len())],
        3 if len > 0 => {
            let n = 1 + rng.below((len - at.min(len - 1)).min(64));
            input.drain(at.min(len - 1)..(at.min(len - 1) + n).min(len));
        }
        4 if len > 0 => {
            let from = rng.below(len);
            let n = 1 + rng.below((len - from).min(64));
            let copy = input[from..from + n].to_vec();
            input.splice(at..at, copy);
        }
        5 => {
            let n = 1 + rng.below(16);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            input.splice(at..at, bytes);
        }
        6 | 7 if !target.dictionary.is_empty() => {
            let token = target.dictionary[rng.below(target.dictionary.len())];
            if rng.below(2) == 0 || at + token.len() > len {
                input.splice(at..at, token.iter().copied());
            } else {
                input[at..at + token.len()].copy_from_slice(token);
            }
        }
        8 if !other.is_empty() => {
            let from = rng.below(other.len());
            let n = 1 + rng.below(other.len() - from);
            input.splice(at..at, other[from..from + n].iter().copied());
        }
        9 if len >= 8 => {
            let word = INTERESTING_WORDS[rng.below(INTERESTING_WORDS.len())];
            let width = [1, 2, 4, 8][rng.below(4)];
            let at = rng.below(len - width + 1);
            input[at..at + width].copy_from_slice(&word.to_le_bytes()[..width]);
        }
        10 if len > 0 => input.truncate(at),
        _ => input.push(rng.next() as u8),
    }
    input.truncate(target.max_len);
}

/// Writes inputs with new outcomes to the target's corpus in the tree, when
/// `SCHEDBOX_FUZZ_SAVE` is set (to grow the corpus that every run replays).
struct Saver {
    dir: Option<PathBuf>,
    saved: usize,
}

impl Saver {
    fn new(target: &Target) -> Self {
        let dir = std::env::var_os("SCHEDBOX_FUZZ_SAVE")
            .map(|_| fuzz_dir().join("corpus").join(target.name));
        Saver { dir, saved: 0 }
    }

    fn save(&mut self, input: &[u8]) {
        let Some(dir) = &self.dir else { return };
        if self.saved < MAX_SAVED {
            let path = dir.join(format!("{:016x}", hash(input)));
            if std::fs::create_dir_all(dir)
                .and_then(|()| std::fs::write(path, input))
                .is_ok()
            {
                self.saved += 1;
            }
        }
    }
}

/// Replays the target's seeds, corpus and regressions, then fuzzes it for its share of
/// the budget (one of `targets`).
pub fn fuzz(target: &Target, targets: usize) {
    quiet_panics();
    let dir = fuzz_dir();
    let mut corpus = (target.seeds)();
    corpus.extend(files(&dir.join("corpus").join(target.name)));
    let regressions = files(&dir.join("regressions").join(target.name));
    let replayed = corpus.len() + regressions.len();
    let mut outcomes = HashSet::new();
    for input in regressions.iter().chain(&corpus) {
        match check(target, input) {
            Ok(outcome) => outcomes.insert(outcome),
            Err(why) => report(target, input, &why, "a corpus or regression"),
        };
    }
    corpus.extend(regressions);
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }
    let seeds = corpus.len();
    let seed = seed();
    let mut rng = Rng::new(seed);
    let deadline = Instant::now() + budget(targets);
    let mut tried = 0u64;
    let mut saver = Saver::new(target);
    while Instant::now() < deadline {
        for _ in 0..64 {
            let mut input = corpus[rng.below(corpus.len())].clone();
            let other = corpus[rng.below(corpus.len())].clone();
            for _ in 0..1 + rng.below(4) {
                mutate(&mut rng, &mut input, target, &other);
            }
            tried += 1;
            match check(target, &input) {
                Ok(outcome) => {
                    if outcomes.insert(outcome) && corpus.len() < MAX_CORPUS {
                        saver.save(&input);
                        corpus.push(input);
                    }
                }
                Err(why) => report(target, &input, &why, &format!("a random (seed {seed})")),
            }
        }
    }
    eprintln!(
        "fuzz {:<14} {:>9} random inputs + {:>4} replayed, corpus {:>5} ({} seeds and files + {} new), {} distinct outcomes (seed {seed})",
        target.name,
        tried,
        replayed,
        corpus.len(),
        seeds,
        corpus.len() - seeds,
        outcomes.len()
    );
}
