//! What a spawn's workers are expected to meet: a limit the kernel enforces on them.

use schedbox_protocol::vocab::{EXPECT_FORK_REFUSED, EXPECT_OOM_KILLED};

/// An effect a spawn's workers are meant to meet (a limit the kernel enforces on them),
/// which is then their work's outcome rather than an error: the `expect` check counts
/// the workers that did not meet it.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub enum Expect {
    #[default]
    Nothing,
    /// `fork-refused`: forks fail with EAGAIN (`pids.max`); a fork-churn worker counts
    /// them and goes on.
    ForkRefused,
    /// `oom-killed`: the kernel's OOM killer ends the worker (`memory.max`).
    OomKilled,
}

impl Expect {
    const NAMES: [(Expect, &'static str); 2] = [
        (Expect::ForkRefused, EXPECT_FORK_REFUSED),
        (Expect::OomKilled, EXPECT_OOM_KILLED),
    ];

    pub fn parse(v: &[u8]) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(_, n)| n.as_bytes() == v)
            .map(|(e, _)| *e)
    }

    /// What happened to a worker that met it, for check details.
    pub fn past(self) -> &'static str {
        match self {
            Expect::Nothing => "",
            Expect::ForkRefused => "refused a fork",
            Expect::OomKilled => "OOM-killed",
        }
    }

    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(e, _)| *e == self)
            .map_or("", |(_, n)| n)
    }
}
