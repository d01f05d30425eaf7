//! The cgroup2 tree: `/sys/fs/cgroup/schedbox/<scenario>/<path>`, with the controllers
//! enabled on every cgroup that gets children. In host mode, the run's own cgroup
//! instead: `<cgroup>/scenarios/<scenario>/<path>`, with PID 1's part in
//! `<cgroup>/engine` (platform::host).

use crate::platform::buf::{parse_u64, Buf};
use crate::platform::fail::{Errno, Res};
use crate::platform::host;
use crate::platform::sys;
use crate::topology::cpulist::CpuMask;
use rustix::fs::Mode;
use rustix::io::Errno as E;

/// Room for the longest path: base, scenario name, relative path, control file name.
pub type Path = Buf<352>;

pub const ROOT: &[u8] = b"/sys/fs/cgroup";
pub const BASE: &[u8] = b"/sys/fs/cgroup/schedbox";
/// Hard bound on host mode's `<cgroup>`, so that `<cgroup>/scenarios/` and the longest
/// scenario name and cgroup path still fit a [`Path`].
const HOST_BASE_MAX: usize = 48;
const WANTED: &[&[u8]] = &[b"cpu", b"cpuset", b"memory", b"pids"]; // not vocabulary: controllers
/// How long to wait for killed tasks to leave a cgroup before removing it.
const EMPTY_WAIT_MS: u64 = 2000;
const POLL_MS: u64 = 2;

/// `dir/name` (either may be empty).
pub fn join(dir: &[u8], name: &[u8]) -> Path {
    let mut p = Path::from_bytes(dir);
    if !name.is_empty() {
        if !p.is_empty() && !dir.ends_with(b"/") {
            p.push_byte(b'/');
        }
        p.push(name);
    }
    p
}

/// Writes `+cpu +cpuset ...` to `dir/cgroup.subtree_control` for each wanted
/// controller that `dir/cgroup.controllers` offers. Already-enabled ones are a no-op.
pub fn enable_controllers(dir: &[u8]) -> Res<()> {
    let mut avail = [0u8; 256];
    let path = join(dir, b"cgroup.controllers");
    let n = sys::read_file(path.as_cstr(), &mut avail)
        .map_err(|e| fail!(Cgroup, "read {}: {}", path, Errno(e)))?;
    let mut line: Buf<64> = Buf::new();
    for want in WANTED {
        if avail[..n]
            .split(|c| c.is_ascii_whitespace())
            .any(|c| c == *want)
        {
            if !line.is_empty() {
                line.push_byte(b' ');
            }
            line.push_byte(b'+');
            line.push(want);
        }
    }
    if line.is_empty() {
        return Ok(());
    }
    let path = join(dir, b"cgroup.subtree_control");
    sys::write_file(path.as_cstr(), line.as_bytes())
        .map_err(|e| fail!(Cgroup, "write \"{}\" to {}: {}", line, path, Errno(e)))
}

fn mkdir(path: &Path, exist_ok: bool) -> Res<()> {
    match rustix::fs::mkdir(path.as_cstr(), Mode::from_raw_mode(0o755)) {
        Ok(()) => Ok(()),
        Err(E::EXIST) if exist_ok => Ok(()),
        Err(e) => Err(fail!(Cgroup, "mkdir {}: {}", path, Errno(e))),
    }
}

/// Where the scenarios' cgroups go.
fn base() -> Path {
    if host::active() {
        join(host::cgroup(), host::SCENARIOS_CGROUP)
    } else {
        Path::from_bytes(BASE)
    }
}

/// Enables controllers at the top and creates `/sys/fs/cgroup/schedbox`; in host mode
/// the run's cgroup, with this process moved into its `engine` child.
pub fn setup_base() -> Res<()> {
    if host::active() {
        return setup_host();
    }
    enable_controllers(ROOT)?;
    mkdir(&Path::from_bytes(BASE), true)?;
    enable_controllers(BASE)
}

fn setup_host() -> Res<()> {
    let top = host::cgroup();
    if top.len() > HOST_BASE_MAX {
        return Err(fail!(
            Cgroup,
            "cgroup path longer than {} bytes",
            HOST_BASE_MAX
        ));
    }
    let parent = match top.iter().rposition(|&c| c == b'/') {
        Some(0) | None => b"/".as_slice(),
        Some(i) => &top[..i],
    };
    enable_controllers(parent)?;
    mkdir(&Path::from_bytes(top), false)?;
    enable_controllers(top)?;
    let engine = join(top, host::ENGINE_CGROUP);
    mkdir(&engine, false)?;
    let procs = join(engine.as_bytes(), b"cgroup.procs");
    sys::write_file(procs.as_cstr(), b"0")
        .map_err(|e| fail!(Cgroup, "move PID 1 to {}: {}", engine, Errno(e)))?;
    let scenarios = base();
    mkdir(&scenarios, false)?;
    enable_controllers(scenarios.as_bytes())
}

/// Creates the scenario's root cgroup, ready to get children.
pub fn create_scenario_root(name: &[u8]) -> Res<Path> {
    let root = join(base().as_bytes(), name);
    mkdir(&root, false)?;
    enable_controllers(root.as_bytes())?;
    Ok(root)
}

/// `mkdir root/rel`, enabling the controllers on its parent first.
pub fn add(root: &Path, rel: &[u8]) -> Res<()> {
    let path = join(root.as_bytes(), rel);
    let parent = match path.as_bytes().iter().rposition(|&c| c == b'/') {
        Some(i) => Path::from_bytes(&path.as_bytes()[..i]),
        None => root.clone(),
    };
    enable_controllers(parent.as_bytes())?;
    mkdir(&path, false)
}

pub fn remove(root: &Path, rel: &[u8]) -> Res<()> {
    let path = join(root.as_bytes(), rel);
    rustix::fs::rmdir(path.as_cstr()).map_err(|e| fail!(Cgroup, "rmdir {}: {}", path, Errno(e)))
}

/// Writes `value` to `root/rel/file`.
pub fn set(root: &Path, rel: &[u8], file: &[u8], value: &[u8]) -> Res<()> {
    let path = join(join(root.as_bytes(), rel).as_bytes(), file);
    sys::write_file(path.as_cstr(), value).map_err(|e| {
        fail!(
            Cgroup,
            "write {:?} to {}: {}",
            crate::engine::plan::Lossy(value),
            path,
            Errno(e)
        )
    })
}

/// Moves every task listed in `from/cgroup.procs` to `to`.
pub fn move_all(root: &Path, from: &[u8], to: &[u8]) -> Res<()> {
    let src = join(join(root.as_bytes(), from).as_bytes(), b"cgroup.procs");
    let mut buf = [0u8; 8192];
    let n = sys::read_file(src.as_cstr(), &mut buf)
        .map_err(|e| fail!(Cgroup, "read {}: {}", src, Errno(e)))?;
    let dst = join(join(root.as_bytes(), to).as_bytes(), b"cgroup.procs");
    for pid in buf[..n].split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
        match sys::write_file(dst.as_cstr(), pid) {
            Ok(()) | Err(E::SRCH) => {}
            Err(e) => {
                return Err(fail!(
                    Cgroup,
                    "move pid {:?} to {}: {}",
                    crate::engine::plan::Lossy(pid),
                    dst,
                    Errno(e)
                ))
            }
        }
    }
    Ok(())
}

/// Reads `root/rel/file`, without its trailing newline; None when unreadable.
pub fn read<'b>(root: &[u8], rel: &[u8], file: &[u8], buf: &'b mut [u8]) -> Option<&'b [u8]> {
    let path = join(join(root, rel).as_bytes(), file);
    let n = sys::read_file(path.as_cstr(), buf).ok()?;
    Some(crate::platform::buf::trim_end(&buf[..n]))
}

/// `cpuset.cpus.effective`: the CPUs the cgroup's tasks may run on; None without the
/// cpuset controller.
pub fn effective_cpus(root: &[u8], rel: &[u8]) -> Option<CpuMask> {
    let mut buf = [0u8; 512];
    CpuMask::parse(read(root, rel, b"cpuset.cpus.effective", &mut buf)?)
}

/// `usage_usec` of `cpu.stat`: CPU time the cgroup's tasks used since it was made.
pub fn usage_usec(root: &[u8], rel: &[u8]) -> Option<u64> {
    let mut buf = [0u8; 1024];
    let text = read(root, rel, b"cpu.stat", &mut buf)?;
    let line = text
        .split(|&c| c == b'\n')
        .find(|l| l.starts_with(b"usage_usec "))?;
    parse_u64(&line[b"usage_usec ".len()..])
}

/// `oom_kill` of `memory.events`: tasks in the cgroup (or below) the OOM killer ended.
pub fn oom_kills(root: &[u8], rel: &[u8]) -> Option<u64> {
    let mut buf = [0u8; 512];
    let text = read(root, rel, b"memory.events", &mut buf)?;
    let line = text
        .split(|&c| c == b'\n')
        .find(|l| l.starts_with(b"oom_kill "))?;
    parse_u64(&line[b"oom_kill ".len()..])
}

/// `cpu.max` as (quota, period) in µs; the quota is None for `max` (no limit).
pub fn cpu_max(root: &[u8], rel: &[u8]) -> Option<(Option<u64>, u64)> {
    let mut buf = [0u8; 64];
    let text = read(root, rel, b"cpu.max", &mut buf)?;
    let mut parts = text.split(|&c| c == b' ');
    let quota = parts.next()?;
    let period = parse_u64(parts.next()?)?;
    if quota == b"max" {
        Some((None, period))
    } else {
        Some((Some(parse_u64(quota)?), period))
    }
}

/// `cpu.weight` (1..10000, 100 by default).
pub fn weight(root: &[u8], rel: &[u8]) -> Option<u64> {
    let mut buf = [0u8; 32];
    parse_u64(read(root, rel, b"cpu.weight", &mut buf)?)
}

/// True while `dir` or a descendant still has tasks (`populated 1` in cgroup.events).
fn populated(dir: &[u8]) -> bool {
    let mut buf = [0u8; 256];
    let path = join(dir, b"cgroup.events");
    match sys::read_file(path.as_cstr(), &mut buf) {
        Ok(n) => buf[..n].split(|&c| c == b'\n').any(|l| l == b"populated 1"),
        Err(_) => false,
    }
}

/// Kills whatever is left in the scenario's tree and removes its cgroups, deepest
/// first (`created` in creation order), then the root.
pub fn destroy_scenario(root: &Path, created: &[Path]) -> Res<()> {
    if populated(root.as_bytes()) {
        let kill = join(root.as_bytes(), b"cgroup.kill");
        sys::write_file(kill.as_cstr(), b"1")
            .map_err(|e| fail!(Cgroup, "write 1 to {}: {}", kill, Errno(e)))?;
        let deadline = sys::now_ms() + EMPTY_WAIT_MS;
        while populated(root.as_bytes()) {
            if sys::now_ms() > deadline {
                return Err(fail!(
                    Cgroup,
                    "{} still has tasks {} ms after cgroup.kill",
                    root,
                    EMPTY_WAIT_MS
                ));
            }
            sys::reap_strays();
            sys::sleep_ns(POLL_MS * sys::NS_PER_MS);
        }
    }
    for rel in created.iter().rev() {
        match rustix::fs::rmdir(join(root.as_bytes(), rel.as_bytes()).as_cstr()) {
            Ok(()) | Err(E::NOENT) => {}
            Err(e) => return Err(fail!(Cgroup, "rmdir {}/{}: {}", root, rel, Errno(e))),
        }
    }
    rustix::fs::rmdir(root.as_cstr()).map_err(|e| fail!(Cgroup, "rmdir {}: {}", root, Errno(e)))
}

/// Subdirectory levels [`remove_host_tree`] descends: the run's cgroup, `scenarios`, a
/// scenario, and its declared cgroups' depth, with room to spare.
const HOST_TREE_DEPTH: u32 = 16;

/// Host mode, once schedbox is gone (its parent-death signal): nobody else will remove
/// the run's cgroup. This process leaves it for its parent, kills every task in it (the
/// scheduler, payloads, workers), waits for them to leave and removes the tree, leaves
/// first. Raw system calls and stack buffers only: it runs in a signal handler.
pub fn remove_host_tree() {
    let top = host::cgroup();
    let parent = match top.iter().rposition(|&c| c == b'/') {
        Some(0) | None => b"/".as_slice(),
        Some(i) => &top[..i],
    };
    if sys::write_file(join(parent, b"cgroup.procs").as_cstr(), b"0").is_err() {
        // Still inside, so cgroup.kill on the top would end this process first: the
        // scenarios' tasks die now, the rest with this process, and the next host run
        // removes the directories.
        let _ = sys::write_file(join(base().as_bytes(), b"cgroup.kill").as_cstr(), b"1");
        return;
    }
    let _ = sys::write_file(join(top, b"cgroup.kill").as_cstr(), b"1");
    let deadline = sys::now_ms() + EMPTY_WAIT_MS;
    while populated(top) && sys::now_ms() < deadline {
        sys::reap_strays();
        sys::sleep_ns(POLL_MS * sys::NS_PER_MS);
    }
    remove_tree(&Path::from_bytes(top), HOST_TREE_DEPTH);
}

/// rmdir of `dir` after its subdirectories, `depth` levels down at most.
fn remove_tree(dir: &Path, depth: u32) {
    // One child at a time, the directory read again after each: nothing is removed
    // under an open reader.
    if depth > 0 {
        while let Some(child) = first_subdirectory(dir) {
            remove_tree(&child, depth - 1);
            if sys::exists(child.as_cstr()) {
                break;
            }
        }
    }
    let _ = rustix::fs::rmdir(dir.as_cstr());
}

fn first_subdirectory(dir: &Path) -> Option<Path> {
    use core::mem::MaybeUninit;
    use rustix::fs::{FileType, OFlags, RawDir};
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let fd = rustix::fs::open(dir.as_cstr(), flags, Mode::empty()).ok()?;
    let mut buf = [MaybeUninit::<u8>::uninit(); 1024];
    let mut entries = RawDir::new(fd, &mut buf);
    while let Some(Ok(entry)) = entries.next() {
        let name = entry.file_name().to_bytes();
        if entry.file_type() == FileType::Directory && name != b"." && name != b".." {
            return Some(join(dir.as_bytes(), name));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_paths() {
        assert_eq!(join(b"/a", b"b").as_bytes(), b"/a/b");
        assert_eq!(join(b"/a/", b"b").as_bytes(), b"/a/b");
        assert_eq!(join(b"/a", b"").as_bytes(), b"/a");
    }

    #[test]
    fn reads_cpu_controller_files() {
        let dir = std::env::temp_dir().join(format!("sbx-cgroup-{}", std::process::id()));
        let cg = dir.join("g");
        std::fs::create_dir_all(&cg).unwrap();
        let files = [
            (
                "cpu.stat",
                "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n",
            ),
            ("cpu.max", "20000 100000\n"),
            ("cpu.weight", "400\n"),
            ("cpuset.cpus.effective", "0-1\n"),
            (
                "memory.events",
                "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n",
            ),
        ];
        for (f, text) in files {
            std::fs::write(cg.join(f), text).unwrap();
        }
        let root = dir.to_str().unwrap().as_bytes();
        assert_eq!(usage_usec(root, b"g"), Some(1500));
        assert_eq!(cpu_max(root, b"g"), Some((Some(20000), 100_000)));
        assert_eq!(weight(root, b"g"), Some(400));
        assert_eq!(oom_kills(root, b"g"), Some(1));
        assert_eq!(effective_cpus(root, b"g"), CpuMask::parse(b"0-1"));
        std::fs::write(cg.join("cpu.max"), "max 100000\n").unwrap();
        assert_eq!(cpu_max(root, b"g"), Some((None, 100_000)));
        assert_eq!(weight(root, b"missing"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn removes_a_tree_of_directories_leaves_first() {
        let dir = std::env::temp_dir().join(format!("sbx-tree-{}", std::process::id()));
        for sub in ["engine", "scenarios/a/b/c", "scenarios/d"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let path = Path::from_bytes(dir.to_str().unwrap().as_bytes());
        remove_tree(&path, HOST_TREE_DEPTH);
        assert!(!dir.exists());
        // Too deep to descend: the top stays, as rmdir of a non-empty directory fails.
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        remove_tree(&path, 1);
        assert!(dir.join("a/b").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
