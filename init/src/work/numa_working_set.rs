//! `numa-working-set`: maps `size_kb` of memory under a NUMA policy (`mbind` to nodes
//! `node`..`node+nodes-1`: `bind`, `preferred` (node `node` alone), `interleave`) and
//! writes every page over and over; one iteration is one page written. After each pass
//! it reads its own `numa_maps` and publishes how many of the mapping's pages sit on
//! the policy's nodes, for the `numa-locality` check.

use super::{page_fault, Beat, Ctx, Params, WorkSpec};
use crate::platform::buf::parse_u64;
use crate::platform::sys;
use core::sync::atomic::Ordering::Relaxed;
use rustix::io::Errno;
use schedbox_protocol::works::{MAX_NODE, MEMPOLICY_INTERLEAVE, MEMPOLICY_PREFERRED};

/// The kernel's `MPOL_*` modes (uapi/linux/mempolicy.h), in the protocol's word order.
const MPOL_BIND: usize = 2;
const MPOL_PREFERRED: usize = 1;
const MPOL_INTERLEAVE: usize = 3;
/// Bits of the node mask passed to `mbind`: one word, nodes 0-63. The kernel reads
/// `maxnode - 1` bits.
const MASK_BITS: usize = 64;
/// A worker's `numa_maps` is a dozen lines (its binary, stack, the shared slots, the
/// working set); this holds them with room to spare.
const NUMA_MAPS_BYTES: usize = 16384;

pub fn check(spec: &WorkSpec, p: &Params) -> Result<(), &'static str> {
    let last = p.get(spec, "node") + p.get(spec, "nodes") - 1;
    if last > MAX_NODE {
        return Err("node + nodes - 1 must name a node of 0..63");
    }
    if p.get(spec, "mempolicy") == MEMPOLICY_PREFERRED && p.get(spec, "nodes") != 1 {
        return Err("preferred takes one node: nodes must be 1");
    }
    Ok(())
}

/// The nodes the policy names, as a mask.
fn node_mask(ctx: &Ctx) -> u64 {
    let node = ctx.param("node");
    let nodes = if ctx.param("mempolicy") == MEMPOLICY_PREFERRED {
        1
    } else {
        ctx.param("nodes")
    };
    (node..node + nodes).fold(0u64, |m, n| m | 1u64.checked_shl(n as u32).unwrap_or(0))
}

fn mode(ctx: &Ctx) -> usize {
    match ctx.param("mempolicy") {
        MEMPOLICY_PREFERRED => MPOL_PREFERRED,
        MEMPOLICY_INTERLEAVE => MPOL_INTERLEAVE,
        _ => MPOL_BIND,
    }
}

/// `mbind(2)` of `[base, base+len)` to the nodes of `mask` under `mode`.
fn mbind(base: *mut u8, len: usize, mode: usize, mask: u64) -> Result<(), Errno> {
    let mask = [mask];
    // SAFETY: the range is a mapping of this process; the kernel reads one u64 of mask.
    let ret = unsafe {
        sys::syscall6(
            linux_raw_sys::general::__NR_mbind,
            [
                base as usize,
                len,
                mode,
                mask.as_ptr() as usize,
                MASK_BITS + 1,
                0,
            ],
        )
    };
    if ret < 0 {
        return Err(Errno::from_raw_os_error(-ret as i32));
    }
    Ok(())
}

pub fn run(ctx: &Ctx) -> ! {
    let len = page_fault::map_len(ctx.param("size_kb"));
    let base = page_fault::map(ctx, len);
    let mask = node_mask(ctx);
    if let Err(e) = mbind(base, len, mode(ctx), mask) {
        ctx.quit("binding its working set with mbind", e);
    }
    let mut beat = Beat::new(ctx);
    let mut round: u8 = 0;
    loop {
        round = round.wrapping_add(1);
        page_fault::write_pages(&mut beat, base, len, round);
        if let Some((pages, local)) = own_locality(base as usize, mask) {
            ctx.slot.seldom.numa_pages.store(pages, Relaxed);
            ctx.slot.seldom.numa_local_pages.store(local, Relaxed);
        }
    }
}

/// The working set's pages in this process's `numa_maps`, and those on `mask`'s nodes.
fn own_locality(base: usize, mask: u64) -> Option<(u64, u64)> {
    let mut buf = [0u8; NUMA_MAPS_BYTES];
    let n = sys::read_file(c"/proc/self/numa_maps", &mut buf).ok()?;
    locality(&buf[..n], base, mask)
}

/// From a `numa_maps` text: the `N<node>=<pages>` of the mapping at `base`, in all and
/// on the nodes of `mask`.
pub fn locality(text: &[u8], base: usize, mask: u64) -> Option<(u64, u64)> {
    let line = text.split(|&c| c == b'\n').find(|l| starts_at(l, base))?;
    let (mut pages, mut local) = (0, 0);
    for field in line.split(|&c| c == b' ') {
        let Some(rest) = field.strip_prefix(b"N") else {
            continue;
        };
        let Some(eq) = rest.iter().position(|&c| c == b'=') else {
            continue;
        };
        let (Some(node), Some(count)) = (parse_u64(&rest[..eq]), parse_u64(&rest[eq + 1..])) else {
            continue;
        };
        pages += count;
        if node < 64 && mask & (1 << node) != 0 {
            local += count;
        }
    }
    Some((pages, local))
}

/// Whether a `numa_maps` line is of the mapping starting at `base` (its first field is
/// the start address in hex, without `0x`).
fn starts_at(line: &[u8], base: usize) -> bool {
    let Some(addr) = line.split(|&c| c == b' ').next() else {
        return false;
    };
    let mut v: usize = 0;
    for &c in addr {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return false,
        };
        v = match v.checked_mul(16) {
            Some(x) => x + usize::from(d),
            None => return false,
        };
    }
    !addr.is_empty() && v == base
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &[u8] = b"00400000 default file=/init mapped=20 N0=20 kernelpagesize_kB=4\n\
        7f0a12300000 bind:1 anon=1024 dirty=1024 N0=24 N1=1000 kernelpagesize_kB=4\n\
        7ffd1000 default stack anon=3 dirty=3 N0=3 kernelpagesize_kB=4\n";

    #[test]
    fn counts_the_working_set_pages_on_the_policy_nodes() {
        assert_eq!(locality(MAPS, 0x7f0a_1230_0000, 0b10), Some((1024, 1000)));
        assert_eq!(locality(MAPS, 0x7f0a_1230_0000, 0b11), Some((1024, 1024)));
        assert_eq!(locality(MAPS, 0x40_0000, 0b10), Some((20, 0)));
        assert_eq!(locality(MAPS, 0x1234, 0b10), None);
    }

    #[test]
    fn a_preferred_policy_names_one_node() {
        let s = crate::work::spec(b"numa-working-set").unwrap();
        let bad = Params::from_fn(s, |k| match k {
            "mempolicy" => Some(&b"preferred"[..]),
            "nodes" => Some(&b"2"[..]),
            _ => None,
        });
        assert!(check(s, &bad).is_err());
        let past = Params::from_fn(s, |k| match k {
            "node" => Some(&b"63"[..]),
            "nodes" => Some(&b"2"[..]),
            _ => None,
        });
        assert!(check(s, &past).is_err());
        assert!(check(s, &Params::from_fn(s, |_| None)).is_ok());
    }
}
