//! The initramfs a schedbox guest boots: the init, the plan, the few nodes the kernel
//! needs before init mounts devtmpfs, and the programs the plan runs (scheduler, payloads).

use schedbox_initramfs::{Archive, Error};

use crate::guest::pack::Entry;

/// Path of the plan inside the guest (docs/protocol.md).
pub const PLAN_PATH: &str = "plan";
/// /dev/console (5:1): the kernel opens it for init's stdin/stdout/stderr.
const CONSOLE_DEV: (u32, u32) = (5, 1);
/// Mount points init uses.
const DIRS: &[&str] = &["dev", "proc", "sys", "tmp", "run"];
/// The permission bits of an `st_mode`.
const PERMISSIONS: u32 = 0o7777;

/// The archive of init, the plan and the programs the plan runs; `programs` must list
/// parent directories before their contents, as `programs::collect` returns them.
pub fn build(init: &[u8], plan: &str, programs: &[Entry]) -> Result<Vec<u8>, Error> {
    let mut archive = Archive::new();
    for dir in DIRS {
        archive.dir(dir, 0o755)?;
    }
    archive.char_device("dev/console", 0o600, CONSOLE_DEV.0, CONSOLE_DEV.1)?;
    archive.file("init", 0o755, init.to_vec())?;
    archive.file(PLAN_PATH, 0o644, plan.as_bytes().to_vec())?;
    for entry in programs {
        let perm = entry.mode & PERMISSIONS;
        if entry.is_dir() {
            archive.dir(&entry.path, perm)?;
        } else if entry.is_symlink() {
            archive.symlink(&entry.path, &String::from_utf8_lossy(&entry.data))?;
        } else {
            archive.file(&entry.path, perm, entry.data.clone())?;
        }
    }
    Ok(archive.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_holds_init_and_plan() {
        let bytes = build(b"\x7fELF-init", "schedbox-plan 1\n", &[]).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for name in [
            "dev/console\0",
            "init\0",
            "plan\0",
            "\x7fELF-init",
            "schedbox-plan 1\n",
            "TRAILER!!!",
        ] {
            assert!(text.contains(name), "{name:?} missing");
        }
        // The plan must come before the trailer and init must be executable (0o100755).
        assert!(text.find("schedbox-plan").unwrap() < text.find("TRAILER!!!").unwrap());
        assert!(text.contains("000081ED"), "no 0o100755 mode");
    }

    #[test]
    fn programs_are_packed_with_their_links() {
        let programs =
            crate::guest::pack::pack_binary(std::path::Path::new("/bin/ls"), "/payload/ls/ls")
                .unwrap();
        let bytes = build(b"init", "plan", &programs).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("payload/ls/ls\0"));
        assert!(text.contains("libc.so.6\0"), "no libc");
        let links = programs.iter().filter(|e| e.is_symlink()).count();
        // A symlink's mode is 0o120777 (the loader is reached through one on Debian).
        assert!(links > 0);
        assert!(text.matches("0000A1FF").count() >= links);
    }
}
