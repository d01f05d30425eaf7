//! Boots a kernel under QEMU (TCG) with a throwaway initramfs: a static init compiled from
//! C here, plus whatever files a test adds. Returns the serial console's text.

use std::path::{Path, PathBuf};
use std::process::Command;

const QEMU_TIMEOUT_S: &str = "120";

/// A scratch folder holding the initramfs tree (`root/`), removed on drop.
pub struct Guest {
    pub dir: PathBuf,
}

impl Guest {
    /// A tree with /dev, /proc, /sys and `/init` compiled statically from `init_c`.
    pub fn new(tag: &str, init_c: &str) -> Guest {
        let dir = std::env::temp_dir().join(format!("schedbox-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["dev", "proc", "sys"] {
            std::fs::create_dir_all(dir.join("root").join(sub)).unwrap();
        }
        std::fs::write(dir.join("init.c"), init_c).unwrap();
        run(&dir, "cc", &["-static", "-O1", "-o", "root/init", "init.c"]);
        Guest { dir }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.join("root")
    }

    /// Packs the tree as a newc archive and boots `kernel` on it until it powers off.
    pub fn boot(&self, kernel: &Path, cpus: u32) -> String {
        run(
            &self.root(),
            "sh",
            &["-c", "find . | cpio -o -H newc --quiet > ../initrd"],
        );
        let output = Command::new("timeout")
            .args([
                QEMU_TIMEOUT_S,
                "qemu-system-x86_64",
                "-nographic",
                "-no-reboot",
            ])
            .args(["-m", "256", "-smp", &cpus.to_string(), "-display", "none"])
            .arg("-kernel")
            .arg(kernel)
            .arg("-initrd")
            .arg(self.dir.join("initrd"))
            .args(["-append", "console=ttyS0 panic=-1"])
            .output()
            .expect("qemu-system-x86_64 runs");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn run(dir: &Path, program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(status.success(), "{program} {args:?}");
}
