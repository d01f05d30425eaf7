//! Work types: what a worker group can run, with the keys a spawn of each may carry,
//! their defaults and their ranges.

use crate::vocab::Policy;

/// One work key: `spawn ... <name>=<value>`.
pub struct Key {
    pub name: &'static str,
    pub default: u64,
    /// Allowed values, inclusive.
    pub min: u64,
    pub max: u64,
    /// For a key whose plan value is a word: the words, whose index is the value
    /// (`default`, `min` and `max` are indices then). Empty for a number.
    pub words: &'static [&'static str],
}

/// A workload a worker group can run.
pub struct Work {
    pub name: &'static str,
    pub keys: &'static [Key],
    /// Workers pair up, so a spawn's count must be even.
    pub paired: bool,
}

/// Most keys one work type takes (the guest keeps their values in a fixed array).
pub const MAX_KEYS: usize = 4;

const fn key(name: &'static str, default: u64, min: u64, max: u64) -> Key {
    Key {
        name,
        default,
        min,
        max,
        words: &[],
    }
}

/// A key whose value is one of `words`; the first is the default.
const fn word_key(name: &'static str, words: &'static [&'static str]) -> Key {
    Key {
        name,
        default: 0,
        min: 0,
        max: words.len() as u64 - 1,
        words,
    }
}

const fn solo(name: &'static str, keys: &'static [Key]) -> Work {
    Work {
        name,
        keys,
        paired: false,
    }
}

const fn paired(name: &'static str) -> Work {
    paired_with(name, &[])
}

const fn paired_with(name: &'static str, keys: &'static [Key]) -> Work {
    Work {
        name,
        keys,
        paired: true,
    }
}

/// `mempolicy=` of `numa-working-set`, in the order of [`MEMPOLICIES`].
pub const MEMPOLICY_BIND: u64 = 0;
pub const MEMPOLICY_PREFERRED: u64 = 1;
pub const MEMPOLICY_INTERLEAVE: u64 = 2;
pub const MEMPOLICIES: &[&str] = &["bind", "preferred", "interleave"];

const SPIN_US: Key = key("spin_us", 1000, 1, 1_000_000);
const BURST_MS: Key = key("burst_ms", 10, 1, 10_000);
const SLEEP_MS: Key = key("sleep_ms", 10, 1, 10_000);
const SLEEP_US: Key = key("sleep_us", 1000, 1, 10_000_000);
/// Working sets from a page to 4 GiB.
const PAGE_FAULT_KB: Key = key("size_kb", 1024, 4, 4 << 20);
const CACHE_KB: Key = key("size_kb", 4096, 4, 4 << 20);
const STRIDE: Key = key("stride", 64, 1, 1 << 20);
const HOLD_US: Key = key("hold_us", 10, 1, 1_000_000);
/// NUMA nodes a working set may name: the guest reports at most 64.
pub const MAX_NODE: u64 = 63;
const NUMA_KB: Key = key("size_kb", 4096, 4, 4 << 20);
/// The first node of a working set's policy, and how many nodes from it.
const NODE: Key = key("node", 0, 0, MAX_NODE);
const NODES: Key = key("nodes", 1, 1, MAX_NODE + 1);
const MEMPOLICY: Key = word_key("mempolicy", MEMPOLICIES);
/// CPU time a handler spends on one request.
const REQUEST_US: Key = key("request_us", 100, 1, 1_000_000);
const PERIOD_US: Key = key("period_us", 1000, 1, 10_000_000);
/// CPU time per item on each side of a producer-consumer pair: by default the consumer
/// is the slower, so the producer fills the pipe and waits for room.
const PRODUCE_US: Key = key("produce_us", 10, 1, 1_000_000);
const CONSUME_US: Key = key("consume_us", 30, 1, 1_000_000);
const INTERVAL_US: Key = key("interval_us", 1000, 1, 10_000_000);
/// Short sleeps: the wake-ups of a preempt storm come thick and fast.
const STORM_SLEEP_US: Key = key("sleep_us", 200, 1, 10_000_000);
/// The shortest sleep of an idle churn (its sleeps are 1 to 8 times this).
const IDLE_SLEEP_US: Key = key("sleep_us", 50, 1, 1_000_000);
/// CPU time each worker of a fan-out spends on its part of a round.
const WORK_US: Key = key("work_us", 500, 1, 1_000_000);
/// `lock=` of `priority-inversion`, in the order of [`LOCKS`]: a plain futex mutex, or a
/// priority-inheriting one (`FUTEX_LOCK_PI`).
pub const LOCK_PLAIN: u64 = 0;
pub const LOCK_PI: u64 = 1;
pub const LOCKS: &[&str] = &["plain", "pi"];
const LOCK: Key = word_key("lock", LOCKS);
/// How long the low-priority holder keeps the lock, how long each medium spins once the
/// high-priority waiter wakes it, and how often the waiter comes for the lock.
const INVERSION_HOLD_US: Key = key("hold_us", 1000, 1, 1_000_000);
const MEDIUM_SPIN_US: Key = key("spin_us", 5000, 1, 1_000_000);
const INVERSION_PERIOD_US: Key = key("period_us", 20_000, 1, 10_000_000);
/// `hog_policy=` of `rt-starvation`, in the order of [`HOG_POLICIES`].
pub const HOG_FIFO: u64 = 0;
pub const HOG_RR: u64 = 1;
pub const HOG_POLICIES: &[&str] = &[Policy::Fifo.word(), Policy::Rr.word()];
const HOG_POLICY: Key = word_key("hog_policy", HOG_POLICIES);
/// RT hogs among a spawn's workers (the first ones); the rest are fair sleepers.
const HOGS: Key = key("hogs", 1, 1, crate::limits::MAX_WORKERS as u64);
/// How often a `cgroup-churn` worker moves to the next cgroup.
const MOVE_US: Key = key("move_us", 1000, 1, 10_000_000);
/// How long a `stress-mix` worker stays on a CPU before it re-pins itself to the next.
const PIN_US: Key = key("pin_us", 10_000, 1, 10_000_000);

pub const SPIN: Work = solo("spin", &[]);
pub const YIELD: Work = solo("yield", &[]);
pub const MIXED: Work = solo("mixed", &[SPIN_US]);
pub const BURSTY: Work = solo("bursty", &[BURST_MS, SLEEP_MS]);
pub const SLEEP_WAKE: Work = solo("sleep-wake", &[SLEEP_US]);
pub const PIPE_PINGPONG: Work = paired("pipe-pingpong");
pub const FUTEX_PINGPONG: Work = paired("futex-pingpong");
pub const FUTEX_FANOUT: Work = solo("futex-fanout", &[]);
pub const FORK_CHURN: Work = solo("fork-churn", &[]);
pub const NICE_SWEEP: Work = solo("nice-sweep", &[]);
pub const AFFINITY_CHURN: Work = solo("affinity-churn", &[]);
pub const POLICY_CHURN: Work = solo("policy-churn", &[]);
pub const PAGE_FAULT: Work = solo("page-fault", &[PAGE_FAULT_KB]);
pub const CACHE: Work = solo("cache", &[CACHE_KB, STRIDE]);
pub const MUTEX: Work = solo("mutex", &[HOLD_US]);
pub const SMT_SIBLING_SPIN: Work = paired("smt-sibling-spin");
pub const CROSS_LLC_PINGPONG: Work = paired("cross-llc-pingpong");
pub const NUMA_WORKING_SET: Work = solo("numa-working-set", &[NUMA_KB, NODE, NODES, MEMPOLICY]);
pub const REQUEST_LOOP: Work = solo("request-loop", &[REQUEST_US]);
pub const THUNDERING_HERD: Work = solo("thundering-herd", &[PERIOD_US]);
pub const WAKE_CHAIN: Work = solo("wake-chain", &[]);
pub const PRODUCER_CONSUMER: Work = paired_with("producer-consumer", &[PRODUCE_US, CONSUME_US]);
pub const TIMER_LATENCY: Work = solo("timer-latency", &[INTERVAL_US]);
pub const EPOLL_STORM: Work = solo("epoll-storm", &[]);
pub const SIGNAL_STORM: Work = solo("signal-storm", &[]);
pub const PREEMPT_STORM: Work = solo("preempt-storm", &[STORM_SLEEP_US]);
pub const IDLE_CHURN: Work = solo("idle-churn", &[IDLE_SLEEP_US]);
pub const FAN_OUT_COMPUTE: Work = solo("fan-out-compute", &[WORK_US]);
pub const PRIORITY_INVERSION: Work = solo(
    "priority-inversion",
    &[LOCK, INVERSION_HOLD_US, MEDIUM_SPIN_US, INVERSION_PERIOD_US],
);
pub const RT_STARVATION: Work = solo("rt-starvation", &[HOGS, HOG_POLICY, SLEEP_US]);
pub const CGROUP_CHURN: Work = solo("cgroup-churn", &[MOVE_US]);
pub const STRESS_MIX: Work = solo("stress-mix", &[PIN_US]);

/// Every work type of protocol version 1.
pub const WORKS: &[Work] = &[
    SPIN,
    YIELD,
    MIXED,
    BURSTY,
    SLEEP_WAKE,
    PIPE_PINGPONG,
    FUTEX_PINGPONG,
    FUTEX_FANOUT,
    FORK_CHURN,
    NICE_SWEEP,
    AFFINITY_CHURN,
    POLICY_CHURN,
    PAGE_FAULT,
    CACHE,
    MUTEX,
    SMT_SIBLING_SPIN,
    CROSS_LLC_PINGPONG,
    NUMA_WORKING_SET,
    REQUEST_LOOP,
    THUNDERING_HERD,
    WAKE_CHAIN,
    PRODUCER_CONSUMER,
    TIMER_LATENCY,
    EPOLL_STORM,
    SIGNAL_STORM,
    PREEMPT_STORM,
    IDLE_CHURN,
    FAN_OUT_COMPUTE,
    PRIORITY_INVERSION,
    RT_STARVATION,
    CGROUP_CHURN,
    STRESS_MIX,
];

/// The work types whose workers time their wake-ups (how late each ran after its
/// timer fired or a teammate woke it): what the `latency` check judges.
pub const LATENCY_WORKS: &[&Work] = &[
    &BURSTY,
    &SLEEP_WAKE,
    &PIPE_PINGPONG,
    &FUTEX_PINGPONG,
    &FUTEX_FANOUT,
    &MUTEX,
    &REQUEST_LOOP,
    &THUNDERING_HERD,
    &WAKE_CHAIN,
    &PRODUCER_CONSUMER,
    &TIMER_LATENCY,
    &EPOLL_STORM,
    &SIGNAL_STORM,
    &PRIORITY_INVERSION,
    &RT_STARVATION,
];

/// The work types a spawn may run as threads of one process (`threads=1`): loops that
/// keep no state of their own process, fork nothing, execute nothing, signal no
/// teammate and change no cgroup (teams among them meet on futex words in the shared
/// mapping), so that N of them in one thread group behave as N processes would, except
/// for how schedulers that look at thread groups treat them.
pub const THREAD_WORKS: &[&Work] = &[
    &SPIN,
    &YIELD,
    &MIXED,
    &BURSTY,
    &SLEEP_WAKE,
    &TIMER_LATENCY,
    &IDLE_CHURN,
    &PREEMPT_STORM,
    &CACHE,
    &FUTEX_PINGPONG,
    &FUTEX_FANOUT,
    &FAN_OUT_COMPUTE,
    &MUTEX,
    &REQUEST_LOOP,
    &THUNDERING_HERD,
    &WAKE_CHAIN,
];

impl Work {
    /// Whether a spawn may run its workers as threads ([`THREAD_WORKS`]).
    pub fn runs_as_threads(&self) -> bool {
        THREAD_WORKS.iter().any(|w| w.name == self.name)
    }

    /// Whether its workers time their wake-ups ([`LATENCY_WORKS`]).
    pub fn measures_latency(&self) -> bool {
        LATENCY_WORKS.iter().any(|w| w.name == self.name)
    }
}

pub fn work(name: &[u8]) -> Option<&'static Work> {
    WORKS.iter().find(|w| w.name.as_bytes() == name)
}

impl Work {
    pub fn key(&self, name: &str) -> Option<&'static Key> {
        self.keys.iter().find(|k| k.name == name)
    }
}

impl Key {
    /// The value a plan's text gives this key: a number, or a word's index. None when
    /// it is neither (range is checked apart).
    pub fn value_of(&self, text: &[u8]) -> Option<u64> {
        if self.words.is_empty() {
            crate::msg::parse_u64(text)
        } else {
            self.words
                .iter()
                .position(|w| w.as_bytes() == text)
                .map(|i| i as u64)
        }
    }

    /// The word a value stands for, for a word key.
    pub fn word(&self, value: u64) -> Option<&'static str> {
        self.words.get(usize::try_from(value).ok()?).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = include_str!("../../docs/protocol.md");

    #[test]
    fn the_protocol_doc_lists_every_work_key_with_its_default_and_range() {
        for w in WORKS {
            let row = DOC
                .lines()
                .find(|l| l.starts_with("| `") && l.contains(&std::format!("`{}`", w.name)))
                .unwrap_or_else(|| panic!("docs/protocol.md lists no work {}", w.name));
            for k in w.keys {
                let cell = match k.word(k.default) {
                    Some(word) => std::format!("`{}` ({word}; {})", k.name, k.words.join(", ")),
                    None => std::format!("`{}` ({}; {}..{})", k.name, k.default, k.min, k.max),
                };
                assert!(row.contains(&cell), "{}: {row} lacks {cell}", w.name);
            }
        }
    }

    #[test]
    fn word_keys_take_their_words_and_number_keys_numbers() {
        assert_eq!(
            MEMPOLICY.value_of(b"interleave"),
            Some(MEMPOLICY_INTERLEAVE)
        );
        assert_eq!(MEMPOLICY.value_of(b"2"), None);
        assert_eq!(MEMPOLICY.word(MEMPOLICY_PREFERRED), Some("preferred"));
        assert_eq!(NODE.value_of(b"1"), Some(1));
        assert_eq!(NODE.value_of(b"bind"), None);
    }

    #[test]
    fn keys_fit_the_guest_and_defaults_fit_their_ranges() {
        for w in WORKS {
            assert!(w.keys.len() <= MAX_KEYS, "{}", w.name);
            for k in w.keys {
                assert!(
                    (k.min..=k.max).contains(&k.default),
                    "{}.{}",
                    w.name,
                    k.name
                );
            }
        }
    }
}
