//! What judging a check gives: pass or fail, the value measured and a detail naming
//! what is to blame; and the ways the checks build one.

use crate::engine::worker::Outcome;
use crate::platform::buf::Buf;
use core::fmt::Write;

/// What a check's detail says: who or what is to blame, or why it could not be judged.
pub type Detail = Buf<256>;

pub struct Verdict {
    pub pass: bool,
    pub value: u64,
    /// Empty for none.
    pub detail: Detail,
}

pub fn detail(args: core::fmt::Arguments<'_>) -> Detail {
    let mut d = Detail::new();
    let _ = d.write_fmt(args);
    d
}

/// A check that could not be judged: it fails, saying why.
pub fn cannot(why: core::fmt::Arguments<'_>) -> Verdict {
    Verdict {
        pass: false,
        value: 0,
        detail: detail(why),
    }
}

/// At most the limit passes.
pub fn at_most(value: u64, limit: u64, detail: Detail) -> Verdict {
    Verdict {
        pass: value <= limit,
        value,
        detail,
    }
}

/// A worker by the name the kernel knows it by: `sbx-<group>-<index> (pid N)`.
pub struct Sbx<'a>(pub &'a Outcome);

impl core::fmt::Display for Sbx<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let name = crate::engine::worker::comm(self.0.group.as_bytes(), self.0.index);
        write!(f, "{name} (pid {})", self.0.pid)
    }
}
