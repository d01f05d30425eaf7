//! What a spawn's workers are expected to meet: a limit the kernel enforces on them.

use schedbox_protocol::vocab::{self, Word};

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
    pub fn parse(v: &[u8]) -> Option<Self> {
        match vocab::Expect::parse(v)? {
            vocab::Expect::ForkRefused => Some(Expect::ForkRefused),
            vocab::Expect::OomKilled => Some(Expect::OomKilled),
        }
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
        match self {
            Expect::Nothing => "",
            Expect::ForkRefused => vocab::Expect::ForkRefused.word(),
            Expect::OomKilled => vocab::Expect::OomKilled.word(),
        }
    }
}
