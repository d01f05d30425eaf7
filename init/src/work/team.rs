//! Teams: workers that work together (a ping-pong pair, a fan-out group, the contenders
//! for a lock). PID 1 builds each team as it forks the members: the first one leads,
//! and its slot holds the team's futex words and member list; pipes are made before
//! the first fork so that every member inherits them.

use super::ctx::{Params, WorkSpec};
use super::link::{Link, Teams, MAX_FDS, NO_FD};
use crate::measure::shared::Shared;
use crate::platform::fail::{Errno, Res};
use core::sync::atomic::Ordering::Relaxed;

/// PID 1's side: puts a spawn's workers into teams as it forks them.
pub struct TeamSetup {
    spec: &'static WorkSpec,
    size: u32,
    lead: usize,
    /// The slot of the member that joined last, whose `next_mate` the next one fills.
    last: usize,
    fds: [i32; MAX_FDS],
}

impl TeamSetup {
    /// Checks that a spawn of `count` workers of `spec` can be built.
    pub fn new(spec: &'static WorkSpec, count: u32, params: &Params) -> Res<Self> {
        if spec.teams == Teams::Pairs && !count.is_multiple_of(2) {
            return Err(fail!(
                Spawn,
                "work {} pairs workers up: count must be even, not {}",
                spec.name,
                count
            ));
        }
        if let Some(check) = spec.check {
            check(spec, params).map_err(|m| fail!(Spawn, "work {}: {}", spec.name, m))?;
        }
        let size = match spec.teams {
            Teams::Solo => 1,
            Teams::Pairs => 2,
            Teams::Spawn => count.max(1),
        };
        Ok(TeamSetup {
            spec,
            size,
            lead: 0,
            last: 0,
            fds: [NO_FD; MAX_FDS],
        })
    }

    /// Joins worker `index`, about to be forked into the freshly reset slot `slot`, to
    /// its team; a team's first worker makes the team's pipes.
    pub fn join(&mut self, shared: &Shared, index: u32, slot: usize) -> Res<Link> {
        if index.is_multiple_of(self.size) {
            self.lead = slot;
            self.last = slot;
            if let Some(prepare) = self.spec.prepare {
                prepare(&mut self.fds).map_err(|e| {
                    fail!(
                        Spawn,
                        "setting up {} for worker {}: {}",
                        self.spec.name,
                        index,
                        Errno(e)
                    )
                })?;
            }
        }
        if slot != self.lead {
            shared
                .slot(self.last)
                .next_mate
                .store(slot as u32 + 1, Relaxed);
            self.last = slot;
        }
        Ok(Link {
            lead: shared.slot(self.lead),
            slots: shared.slots(),
            fds: self.fds,
        })
    }

    /// After worker `index` is forked: once the team's last member has the pipes,
    /// PID 1 closes its own copies.
    pub fn forked(&mut self, index: u32) {
        if index % self.size == self.size - 1 {
            self.close();
        }
    }

    fn close(&mut self) {
        for fd in &mut self.fds {
            if *fd != NO_FD {
                // SAFETY: an fd `prepare` opened and only this setup owns in PID 1.
                unsafe { rustix::io::close(*fd) };
                *fd = NO_FD;
            }
        }
    }
}

impl Drop for TeamSetup {
    /// A spawn that failed half-way does not leak the team's pipes.
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::shared::Slot;
    use crate::platform::sys;
    use crate::work::{spec, Params};

    fn setup(work: &str, count: u32) -> Res<TeamSetup> {
        let s = spec(work.as_bytes()).unwrap();
        TeamSetup::new(s, count, &Params::from_fn(s, |_| None))
    }

    fn size(work: &str, count: u32) -> u32 {
        setup(work, count).ok().unwrap().size
    }

    #[test]
    fn pairs_need_an_even_count() {
        let e = setup("pipe-pingpong", 3).err().unwrap();
        assert!(
            e.msg.to_string().contains("count must be even, not 3"),
            "{}",
            e.msg
        );
        assert!(setup("futex-pingpong", 4).is_ok());
        assert!(setup("futex-fanout", 3).is_ok());
    }

    #[test]
    fn team_sizes_follow_the_work() {
        assert_eq!(size("spin", 4), 1);
        assert_eq!(size("futex-pingpong", 4), 2);
        assert_eq!(size("mutex", 5), 5);
        assert_eq!(size("futex-fanout", 0), 1);
    }

    #[test]
    fn bad_work_keys_are_named() {
        let s = spec(b"cache").unwrap();
        let p = Params::from_fn(s, |k| (k == "stride").then_some(&b"0"[..]));
        let e = TeamSetup::new(s, 1, &p).err().unwrap();
        assert!(e.msg.to_string().contains("stride"), "{}", e.msg);
    }

    #[test]
    fn pairs_share_the_lead_slot_and_know_their_mates() {
        let shared = Shared::map().ok().unwrap();
        let mut t = setup("pipe-pingpong", 4).ok().unwrap();
        let slots = [5, 9, 70, 3];
        let mut links = Vec::new();
        for (i, &slot) in slots.iter().enumerate() {
            shared.slot(slot).reset();
            links.push(t.join(&shared, i as u32, slot).ok().unwrap());
            assert!(t.fds.iter().all(|&fd| fd >= 0), "pipes made for the pair");
            t.forked(i as u32);
            assert_eq!(
                t.fds[0] == NO_FD,
                i % 2 == 1,
                "closed once the pair has them"
            );
        }
        assert!(core::ptr::eq(links[1].lead, shared.slot(5)));
        assert!(core::ptr::eq(links[3].lead, shared.slot(70)));
        let mut mates = Vec::new();
        links[2].for_each_mate(shared.slot(70), |s| mates.push(s as *const Slot));
        assert_eq!(mates, [shared.slot(3) as *const Slot]);
    }

    #[test]
    fn a_spawn_team_lists_its_members_on_any_slots() {
        let shared = Shared::map().ok().unwrap();
        let mut t = setup("mutex", 4).ok().unwrap();
        let slots = [4095, 7, 300, 2048];
        let mut links = Vec::new();
        for (i, &slot) in slots.iter().enumerate() {
            shared.slot(slot).reset();
            links.push(t.join(&shared, i as u32, slot).ok().unwrap());
            t.forked(i as u32);
        }
        for (i, link) in links.iter().enumerate() {
            let next = shared.slot(slots[(i + 1) % slots.len()]);
            let me = shared.slot(slots[i]);
            assert!(core::ptr::eq(link.next_in_ring(me), next), "after {i}");
        }
        for (link, &me) in links.iter().zip(&slots) {
            assert!(core::ptr::eq(link.lead, shared.slot(4095)));
            let mut mates = Vec::new();
            link.for_each_mate(shared.slot(me), |s| mates.push(s as *const Slot));
            let others = slots.iter().filter(|&&s| s != me);
            let want: Vec<*const Slot> = others.map(|&s| shared.slot(s) as *const Slot).collect();
            assert_eq!(mates, want, "mates of slot {me}");
        }
    }

    #[test]
    fn a_stamped_wake_up_gives_its_latency() {
        let shared = Shared::map().ok().unwrap();
        let slot = shared.slot(0);
        slot.reset();
        let mut beat = crate::work::Beat::of(slot, shared.wakes(0));
        let ((), late) = beat.block(|| {
            assert_eq!(
                slot.sleep_until_ns.load(Relaxed),
                crate::measure::shared::BLOCKED
            );
            slot.stamp_wake(sys::now_ns() - 5_000_000);
        });
        assert!(late.is_some_and(|ns| ns >= 5_000_000), "{late:?}");
        assert_eq!(slot.sleep_until_ns.load(Relaxed), 0);
        // A stamp on a worker that is not blocked is dropped.
        slot.stamp_wake(1);
        assert_eq!(slot.sleep_until_ns.load(Relaxed), 0);
        let ((), late) = beat.block(|| ());
        assert_eq!(late, None);
    }
}
