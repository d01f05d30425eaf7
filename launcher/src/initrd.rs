//! The initramfs a schedbox guest boots: the init, the plan, and the few nodes the
//! kernel needs before init mounts devtmpfs.

use schedbox_initramfs::{Archive, Error};

/// Path of the plan inside the guest (docs/protocol.md).
pub const PLAN_PATH: &str = "plan";
/// /dev/console (5:1): the kernel opens it for init's stdin/stdout/stderr.
const CONSOLE_DEV: (u32, u32) = (5, 1);
/// Mount points init uses.
const DIRS: &[&str] = &["dev", "proc", "sys", "tmp", "run"];

pub fn build(init: &[u8], plan: &str) -> Result<Vec<u8>, Error> {
    let mut archive = Archive::new();
    for dir in DIRS {
        archive.dir(dir, 0o755)?;
    }
    archive.char_device("dev/console", 0o600, CONSOLE_DEV.0, CONSOLE_DEV.1)?;
    archive.file("init", 0o755, init.to_vec())?;
    archive.file(PLAN_PATH, 0o644, plan.as_bytes().to_vec())?;
    Ok(archive.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_holds_init_and_plan() {
        let bytes = build(b"\x7fELF-init", "schedbox-plan 1\n").unwrap();
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
}
