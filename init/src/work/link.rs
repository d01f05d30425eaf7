//! A team as its workers see it: how a spawn groups into teams, and each worker's link
//! to its mates (the lead's slot with the team's futex words, the pipes they share).

use crate::measure::shared::{Slot, NO_MATE};
use crate::platform::sys;
use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// Pipe ends a team may share.
pub const MAX_FDS: usize = 4;
pub const NO_FD: i32 = -1;

/// How a spawn's workers group into teams.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Teams {
    Solo,
    /// Workers 2k and 2k+1; the spawn's count must be even.
    Pairs,
    /// The whole spawn, led by worker 0.
    Spawn,
}

/// Makes what a team shares besides its futex words (pipes). Runs in PID 1.
pub type PrepareFn = fn(&mut [i32; MAX_FDS]) -> Result<(), rustix::io::Errno>;

/// A worker's view of its team.
#[derive(Clone, Copy)]
pub struct Link {
    /// The lead's slot (a solo worker's own).
    pub lead: &'static Slot,
    pub(super) slots: &'static [Slot],
    /// The team's pipe ends, `NO_FD` where unused.
    pub fds: [i32; MAX_FDS],
}

impl Link {
    /// Futex word `i` of the team.
    pub fn word(&self, i: usize) -> &'static AtomicU32 {
        &self.lead.seldom.team.words[i]
    }

    /// Calls `f` on every member of the team but `me`.
    pub fn for_each_mate(&self, me: &Slot, mut f: impl FnMut(&'static Slot)) {
        let mut s = self.lead;
        // A list has at most one member per slot: the bound only guards the walk.
        for _ in 0..self.slots.len() {
            if !core::ptr::eq(s, me) {
                f(s);
            }
            match s.next_mate.load(Relaxed) {
                NO_MATE => return,
                next => s = &self.slots[next as usize - 1],
            }
        }
    }

    /// The member after `me` in the team's list, the lead after the last: a ring. Only
    /// once the whole team has joined is the ring closed.
    pub fn next_in_ring(&self, me: &Slot) -> &'static Slot {
        match me.next_mate.load(Relaxed) {
            NO_MATE => self.lead,
            next => &self.slots[next as usize - 1],
        }
    }

    /// Marks every blocked teammate but `me` as woken now; call just before waking them.
    pub fn stamp_mates(&self, me: &Slot) {
        let now = sys::now_ns();
        self.for_each_mate(me, |s| s.stamp_wake(now));
    }
}
