//! The cgroup2 tree: `/sys/fs/cgroup/schedbox/<scenario>/<path>`, with the controllers
//! enabled on every cgroup that gets children.

use crate::buf::Buf;
use crate::fail::{Errno, Res};
use crate::{fail, sys};
use rustix::fs::Mode;
use rustix::io::Errno as E;

pub type Path = Buf<320>;

pub const ROOT: &[u8] = b"/sys/fs/cgroup";
pub const BASE: &[u8] = b"/sys/fs/cgroup/schedbox";
const WANTED: &[&[u8]] = &[b"cpu", b"cpuset", b"memory", b"pids"];
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
        .map_err(|e| fail!("cgroup", "read {}: {}", path, Errno(e)))?;
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
        .map_err(|e| fail!("cgroup", "write \"{}\" to {}: {}", line, path, Errno(e)))
}

fn mkdir(path: &Path, exist_ok: bool) -> Res<()> {
    match rustix::fs::mkdir(path.as_cstr(), Mode::from_raw_mode(0o755)) {
        Ok(()) => Ok(()),
        Err(E::EXIST) if exist_ok => Ok(()),
        Err(e) => Err(fail!("cgroup", "mkdir {}: {}", path, Errno(e))),
    }
}

/// Enables controllers at the top and creates `/sys/fs/cgroup/schedbox`.
pub fn setup_base() -> Res<()> {
    enable_controllers(ROOT)?;
    mkdir(&Path::from_bytes(BASE), true)?;
    enable_controllers(BASE)
}

/// Creates the scenario's root cgroup, ready to get children.
pub fn create_scenario_root(name: &[u8]) -> Res<Path> {
    let root = join(BASE, name);
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
    rustix::fs::rmdir(path.as_cstr()).map_err(|e| fail!("cgroup", "rmdir {}: {}", path, Errno(e)))
}

/// Writes `value` to `root/rel/file`.
pub fn set(root: &Path, rel: &[u8], file: &[u8], value: &[u8]) -> Res<()> {
    let path = join(join(root.as_bytes(), rel).as_bytes(), file);
    sys::write_file(path.as_cstr(), value).map_err(|e| {
        fail!(
            "cgroup",
            "write {:?} to {}: {}",
            crate::plan::Lossy(value),
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
        .map_err(|e| fail!("cgroup", "read {}: {}", src, Errno(e)))?;
    let dst = join(join(root.as_bytes(), to).as_bytes(), b"cgroup.procs");
    for pid in buf[..n].split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
        match sys::write_file(dst.as_cstr(), pid) {
            Ok(()) | Err(E::SRCH) => {}
            Err(e) => {
                return Err(fail!(
                    "cgroup",
                    "move pid {:?} to {}: {}",
                    crate::plan::Lossy(pid),
                    dst,
                    Errno(e)
                ))
            }
        }
    }
    Ok(())
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
            .map_err(|e| fail!("cgroup", "write 1 to {}: {}", kill, Errno(e)))?;
        let deadline = sys::now_ms() + EMPTY_WAIT_MS;
        while populated(root.as_bytes()) {
            if sys::now_ms() > deadline {
                return Err(fail!(
                    "cgroup",
                    "{} still has tasks {} ms after cgroup.kill",
                    root,
                    EMPTY_WAIT_MS
                ));
            }
            crate::worker::reap_strays();
            sys::sleep_ns(POLL_MS * sys::NS_PER_MS);
        }
    }
    for rel in created.iter().rev() {
        match rustix::fs::rmdir(join(root.as_bytes(), rel.as_bytes()).as_cstr()) {
            Ok(()) | Err(E::NOENT) => {}
            Err(e) => return Err(fail!("cgroup", "rmdir {}/{}: {}", root, rel, Errno(e))),
        }
    }
    rustix::fs::rmdir(root.as_cstr()).map_err(|e| fail!("cgroup", "rmdir {}: {}", root, Errno(e)))
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
}
