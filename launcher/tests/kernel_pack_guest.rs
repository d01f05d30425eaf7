//! A packed dynamic program runs in a real guest: /bin/ls with its loader and libraries,
//! started by a tiny static init under QEMU (TCG) with the test kernel (tests/common).

mod common;
mod kernel_guest;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use kernel_guest::Guest;
use schedbox::guest::pack::{self, Entry};

/// Mounts /dev and /proc, runs the payload, reports its exit status, powers off.
const INIT_C: &str = r#"
#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) {
  mount("devtmpfs", "/dev", "devtmpfs", 0, 0);
  int fd = open("/dev/console", O_RDWR);
  dup2(fd, 0); dup2(fd, 1); dup2(fd, 2);
  mount("proc", "/proc", "proc", 0, 0);
  pid_t pid = fork();
  if (pid == 0) {
    execl("/payload/ls/ls", "ls", "-1", "/", (char *)0);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  printf("PAYLOAD status=%d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128);
  fflush(stdout);
  reboot(RB_POWER_OFF);
  return 0;
}
"#;

fn write_entry(root: &Path, entry: &Entry) {
    let path = root.join(entry.path.trim_start_matches('/'));
    if entry.is_dir() {
        std::fs::create_dir_all(&path).unwrap();
    } else if entry.is_symlink() {
        let target = std::str::from_utf8(&entry.data).unwrap();
        std::os::unix::fs::symlink(target, &path).unwrap();
    } else {
        std::fs::write(&path, &entry.data).unwrap();
        let perm = std::fs::Permissions::from_mode(entry.mode & 0o7777);
        std::fs::set_permissions(&path, perm).unwrap();
    }
}

#[test]
fn packed_ls_runs_in_a_guest_without_ld_so_cache() {
    let guest = Guest::new("packguest", INIT_C);
    for entry in pack::pack_binary(Path::new("/bin/ls"), "/payload/ls/ls").unwrap() {
        write_entry(&guest.root(), &entry);
    }
    assert!(!guest.root().join("etc/ld.so.cache").exists());
    let console = {
        let _one_at_a_time = common::one_vm_at_a_time();
        guest.boot(&common::kernel(), 1)
    };
    assert!(console.contains("PAYLOAD status=0"), "{console}");
    // ls listed the guest's root: the packed tree.
    for name in ["init", "lib64", "payload", "usr"] {
        assert!(
            console.lines().any(|l| l.trim() == name),
            "{name} in {console}"
        );
    }
}
