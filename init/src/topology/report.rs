//! What the guest kernel made of the machine, reported at boot so that the host can check
//! it against the shape it asked for: per CPU its package, die, core, thread siblings and
//! last-level cache; per NUMA node its CPUs, memory and distances.

use crate::platform::buf::{parse_u64, trim_end, Buf};
use crate::platform::record::{Record, RecordKind};
use crate::platform::sys;
use crate::topology::cpulist::{CpuMask, MAX_CPUS};
use core::fmt::Write;

/// Cache index directories looked at for the last level (index3 is the L3 on x86).
const MAX_CACHE_INDEX: u64 = 8;
/// Nodes looked for; a VM has far fewer.
const MAX_NODES: u64 = 64;
/// Sysfs values read here are short: a number or a CPU list.
type Value = Buf<256>;
type PathBuf = Buf<128>;

fn read(path: &PathBuf) -> Option<Value> {
    let mut buf = [0u8; 256];
    let n = sys::read_file(path.as_cstr(), &mut buf).ok()?;
    Some(Value::from_bytes(trim_end(&buf[..n])))
}

fn path(args: core::fmt::Arguments<'_>) -> PathBuf {
    let mut p = PathBuf::new();
    let _ = p.write_fmt(args);
    p
}

/// The shared CPU list of the highest cache level CPU `cpu` has.
fn last_level_cache(cpu: u64) -> Option<Value> {
    let mut best: Option<(u64, Value)> = None;
    for index in 0..MAX_CACHE_INDEX {
        let dir = format_args!("/sys/devices/system/cpu/cpu{cpu}/cache/index{index}");
        let Some(level) =
            read(&path(format_args!("{dir}/level"))).and_then(|v| parse_u64(v.as_bytes()))
        else {
            continue;
        };
        let shared = read(&path(format_args!(
            "/sys/devices/system/cpu/cpu{cpu}/cache/index{index}/shared_cpu_list"
        )));
        if let Some(shared) = shared {
            if best.as_ref().is_none_or(|(l, _)| level > *l) {
                best = Some((level, shared));
            }
        }
    }
    best.map(|(_, v)| v)
}

fn report_cpu(cpu: u64, node: Option<u64>) {
    let topo = |file: &str| {
        read(&path(format_args!(
            "/sys/devices/system/cpu/cpu{cpu}/topology/{file}"
        )))
    };
    let Some(package) = topo("physical_package_id") else {
        return;
    };
    let mut r = Record::new(RecordKind::Cpu)
        .num("index", cpu)
        .str("package", package.as_bytes());
    for (key, file) in [
        ("die", "die_id"),
        ("core", "core_id"),
        ("siblings", "thread_siblings_list"),
    ] {
        if let Some(v) = topo(file) {
            r = r.str(key, v.as_bytes());
        }
    }
    let llc = last_level_cache(cpu);
    if let Some(llc) = &llc {
        r = r.str("llc", llc.as_bytes());
    }
    if let Some(node) = node {
        r = r.num("node", node);
    }
    r.send();
    let siblings = topo("thread_siblings_list");
    crate::topology::places::set(
        cpu as usize,
        siblings.as_ref().map(|v| v.as_bytes()),
        llc.as_ref().map(|v| v.as_bytes()),
        node,
    );
}

/// The node CPU `cpu` belongs to: the `nodeN` link in its sysfs directory.
fn node_of(cpu: u64) -> Option<u64> {
    (0..MAX_NODES).find(|n| {
        sys::exists(path(format_args!("/sys/devices/system/cpu/cpu{cpu}/node{n}")).as_cstr())
    })
}

/// MemTotal of a node's meminfo, in kB.
fn node_memory_kb(node: u64) -> Option<u64> {
    let mut buf = [0u8; 2048];
    let file = path(format_args!("/sys/devices/system/node/node{node}/meminfo"));
    let n = sys::read_file(file.as_cstr(), &mut buf).ok()?;
    let text = &buf[..n];
    let at = text.windows(9).position(|w| w == b"MemTotal:")?;
    let rest = &text[at + 9..];
    let digits: &[u8] = rest
        .split(|c| !c.is_ascii_digit())
        .find(|s| !s.is_empty())?;
    parse_u64(digits)
}

fn report_node(node: u64) {
    let dir = |file: &str| {
        read(&path(format_args!(
            "/sys/devices/system/node/node{node}/{file}"
        )))
    };
    let Some(cpus) = dir("cpulist") else {
        return;
    };
    let mut r = Record::new(RecordKind::Node)
        .num("index", node)
        .str("cpus", cpus.as_bytes());
    if let Some(kb) = node_memory_kb(node) {
        r = r.num("memory_kb", kb);
    }
    if let Some(d) = dir("distance") {
        // "10 20" becomes "10,20": values carry no spaces unescaped.
        let mut commas = d.clone();
        commas.clear();
        for &b in d.as_bytes() {
            commas.push_byte(if b == b' ' { b',' } else { b });
        }
        r = r.str("distances", commas.as_bytes());
    }
    r.send();
}

/// Sends a `cpu` record for every CPU and a `node` record for every NUMA node, and
/// keeps each CPU's place for the workers ([`crate::topology::places`]).
///
/// Every number is tried: an offline CPU (a host's, under `run --host`) has no topology
/// directory, and the CPUs after it must still be reported.
pub fn report() {
    let online = read(&path(format_args!("/sys/devices/system/cpu/online")))
        .and_then(|v| CpuMask::parse(v.as_bytes()));
    for cpu in 0..MAX_CPUS {
        if online.as_ref().is_none_or(|m| m.has(cpu)) {
            report_cpu(cpu as u64, node_of(cpu as u64));
        }
    }
    for node in 0..MAX_NODES {
        report_node(node);
    }
}
