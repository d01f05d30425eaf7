//! `cgroup-churn`: the worker moves itself from cgroup to cgroup of its scenario (the
//! cgroups at the top of the scenario's tree, its own among them) every `move_us`,
//! writing its pid to the next one's `cgroup.procs`, and reads `/proc/self/cgroup`
//! after each move to see where it landed. The cgroups it saw itself in are counted
//! for its `cgroups_seen`. A cgroup that refuses it (one with children of its own, one
//! removed) is passed over. One iteration is one move.

use super::{burn, Beat, Ctx};
use crate::engine::cgroup::{self, Path, ROOT};
use crate::platform::buf::trim_end;
use crate::platform::sys::{self, now_ns, NS_PER_US};
use core::mem::MaybeUninit;
use core::sync::atomic::Ordering::Relaxed;
use rustix::fs::{FileType, Mode, OFlags, RawDir};

/// Most cgroups it moves between: the bits of its slot's `cgroups_seen`.
const MAX_CGROUPS: usize = 64;
/// What `/proc/self/cgroup` says on a cgroup2-only system: `0::<path>`.
const SELF_PREFIX: &[u8] = b"0::";
/// `/schedbox/<scenario>`: the components of a path that name the scenario's root.
const ROOT_DEPTH: usize = 2;
const WORK_UNITS: u64 = 256;

/// The cgroups it moves between, as absolute paths.
struct Cgroups {
    paths: [Path; MAX_CGROUPS],
    len: usize,
}

pub fn run(ctx: &Ctx) -> ! {
    let step = ctx.param("move_us") * NS_PER_US;
    let cgroups = scenario_cgroups(ctx);
    if cgroups.len < 2 {
        ctx.quit_with(format_args!(
            "its scenario has {} cgroup(s) at the top: it needs two to move between",
            cgroups.len
        ));
    }
    let seen = &ctx.slot.seldom.cgroups_seen;
    let mut beat = Beat::new(ctx);
    let mut next = 0;
    loop {
        let i = next % cgroups.len;
        next += 1;
        let path = &cgroups.paths[i];
        let procs = cgroup::join(path.as_bytes(), b"cgroup.procs");
        if sys::write_file(procs.as_cstr(), b"0").is_ok() {
            if own_cgroup().is_some_and(|own| own.as_bytes() == path.as_bytes()) {
                seen.store(seen.load(Relaxed) | 1 << i, Relaxed);
            }
            burn(WORK_UNITS);
            beat.add(1);
        }
        beat.sleep_until(now_ns() + step);
    }
}

/// The worker's cgroup, as an absolute path under the cgroup2 mount.
fn own_cgroup() -> Option<Path> {
    let mut buf = [0u8; 320];
    let n = sys::read_file(c"/proc/self/cgroup", &mut buf).ok()?;
    let rel = trim_end(&buf[..n]).strip_prefix(SELF_PREFIX)?;
    Some(cgroup::join(ROOT, rel.strip_prefix(b"/").unwrap_or(rel)))
}

/// The directories at the top of the scenario's cgroup tree, found from the worker's
/// own cgroup (the scenario's root is `ROOT_DEPTH` components below the mount).
fn scenario_cgroups(ctx: &Ctx) -> Cgroups {
    let mut out = Cgroups {
        paths: core::array::from_fn(|_| Path::new()),
        len: 0,
    };
    let Some(own) = own_cgroup() else {
        ctx.quit_with(format_args!("cannot read /proc/self/cgroup"));
    };
    let below = &own.as_bytes()[ROOT.len()..];
    let cut = below
        .iter()
        .enumerate()
        .filter(|&(_, &c)| c == b'/')
        .nth(ROOT_DEPTH)
        .map_or(below.len(), |(i, _)| i);
    let root = cgroup::join(ROOT, &below[1.min(cut)..cut]);
    let dir = match rustix::fs::open(
        root.as_cstr(),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(e) => ctx.quit("opening its scenario's cgroup", e),
    };
    let mut buf = [MaybeUninit::<u8>::uninit(); 2048];
    let mut entries = RawDir::new(dir, &mut buf);
    while let Some(entry) = entries.next() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => ctx.quit("listing its scenario's cgroups", e),
        };
        let name = entry.file_name().to_bytes();
        if entry.file_type() != FileType::Directory || name.starts_with(b".") {
            continue;
        }
        if out.len < MAX_CGROUPS {
            out.paths[out.len] = cgroup::join(root.as_bytes(), name);
            out.len += 1;
        }
    }
    out
}
