//! Builds a real kernel with the schedbox fragment (minutes of CPU): run with
//! `SCHEDBOX_KSRC=<tree> cargo test --test kernel_build -- --ignored --nocapture`.
//! Without SCHEDBOX_KSRC it uses the tree `schedbox kernel fetch-source` leaves.

mod common;
mod kernel_guest;

use std::path::PathBuf;

use kernel_guest::Guest;
use schedbox::kernel::build::{self, BuildOptions};
use schedbox::kernel::config::{self, ConfigSource, KernelConfig};

/// Mounts what a sched_ext scheduler needs, reports the kernel's release, cgroup v2
/// controllers and sched_ext state before, during and after running scx_simple.
const INIT_C: &str = r#"
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
static void show(const char *key, const char *path) {
  char buf[256] = "missing";
  int fd = open(path, O_RDONLY);
  if (fd >= 0) {
    int n = read(fd, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    if (n > 0 && buf[n - 1] == '\n') buf[n - 1] = 0;
    close(fd);
  }
  printf("GUEST %s=%s\n", key, buf);
  fflush(stdout);
}
int main(void) {
  mount("devtmpfs", "/dev", "devtmpfs", 0, 0);
  int fd = open("/dev/console", O_RDWR);
  dup2(fd, 0); dup2(fd, 1); dup2(fd, 2);
  mount("proc", "/proc", "proc", 0, 0);
  mount("sysfs", "/sys", "sysfs", 0, 0);
  mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, 0);
  struct utsname u;
  uname(&u);
  printf("GUEST release=%s\n", u.release);
  show("controllers", "/sys/fs/cgroup/cgroup.controllers");
  show("before", "/sys/kernel/sched_ext/state");
  pid_t pid = fork();
  if (pid == 0) {
    execl("/scx_simple", "scx_simple", (char *)0);
    _exit(127);
  }
  sleep(3);
  show("during", "/sys/kernel/sched_ext/state");
  show("ops", "/sys/kernel/sched_ext/root/ops");
  kill(pid, SIGINT);
  waitpid(pid, 0, 0);
  show("after", "/sys/kernel/sched_ext/state");
  reboot(RB_POWER_OFF);
  return 0;
}
"#;

fn source() -> PathBuf {
    std::env::var_os("SCHEDBOX_KSRC").map_or_else(build::default_source_dir, PathBuf::from)
}

#[test]
#[ignore = "builds a kernel: minutes of CPU"]
fn builds_caches_and_boots_a_sched_ext_kernel() {
    let opts = BuildOptions::default();
    let built = build::build(&source(), &opts).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "built {} ({}) in {:.1?}, reused={}",
        built.image.display(),
        built.key,
        built.elapsed,
        built.reused
    );
    let config = KernelConfig::parse(&std::fs::read_to_string(&built.config).unwrap());
    assert_eq!(config.get("SCHED_CLASS_EXT"), Some("y"));
    assert!(config::unmet(&KernelConfig::parse(build::FRAGMENT), &config).is_empty());

    let features = config::check_image(&built.image).unwrap();
    assert_eq!(features.source, ConfigSource::Ikconfig);
    assert_eq!(features.has_sched_ext, Some(true));
    assert!(features.release.unwrap().starts_with(&built.version));

    let again = build::build(&source(), &opts).unwrap();
    assert!(
        again.reused,
        "second build with the same inputs must come from the cache"
    );
    assert_eq!(again.image, built.image);

    let guest = Guest::new("kbuild", INIT_C);
    // The static scx_simple `make schedulers` puts beside the kernel it was built for.
    let simple = built.image.with_file_name("scx_simple");
    assert!(
        simple.is_file(),
        "{} is missing: run `make schedulers`",
        simple.display()
    );
    std::fs::copy(&simple, guest.root().join("scx_simple")).unwrap();
    let console = {
        let _one_at_a_time = common::one_vm_at_a_time();
        guest.boot(&built.image, 2)
    };
    let version = &built.version;
    for line in [
        format!("Linux version {version}"),
        format!("GUEST release={version}"),
        "GUEST controllers=cpuset cpu memory pids".to_string(),
        "GUEST before=disabled".to_string(),
        "GUEST during=enabled".to_string(),
        "GUEST ops=simple".to_string(),
        "GUEST after=disabled".to_string(),
        "sched_ext: BPF scheduler \"simple\" enabled".to_string(),
    ] {
        assert!(console.contains(&line), "no {line:?} in:\n{console}");
    }
}

/// An option whose dependencies cannot be met is named before any compiling starts.
#[test]
#[ignore = "configures a kernel tree: about a minute of CPU"]
fn options_that_do_not_stick_are_named() {
    let scratch = std::env::temp_dir().join(format!("schedbox-kbuild-{}", std::process::id()));
    let opts = BuildOptions {
        fragment: format!(
            "{}CONFIG_SCHEDBOX_NO_SUCH_OPTION=y\n# CONFIG_PRINTK is not set\n",
            build::FRAGMENT
        ),
        cache_dir: scratch.join("kernels"),
        build_dir: Some(scratch.join("build")),
        ..BuildOptions::default()
    };
    let err = build::build(&source(), &opts).unwrap_err();
    std::fs::remove_dir_all(&scratch).unwrap();
    let build::KbuildError::OptionsDidNotStick { unmet, .. } = &err else {
        panic!("{err}")
    };
    let names: Vec<&str> = unmet.iter().map(|m| m.name.as_str()).collect();
    assert!(names.contains(&"SCHEDBOX_NO_SUCH_OPTION"), "{err}");
    assert!(err
        .to_string()
        .contains("CONFIG_SCHEDBOX_NO_SUCH_OPTION wanted y but it is absent"));
}

/// Untars Debian's linux-source into a fresh folder (installing the package if needed).
#[test]
#[ignore = "untars a kernel tree: a minute and 1.5 GB of disk"]
fn fetches_a_source_tree() {
    let dest = std::env::temp_dir().join(format!("schedbox-fetch-{}", std::process::id()));
    let tree = build::fetch_source(Some(&dest)).unwrap_or_else(|e| panic!("{e}"));
    let version = build::source_version(&tree);
    let again = build::fetch_source(Some(&dest)).unwrap();
    std::fs::remove_dir_all(&dest).unwrap();
    assert_eq!(tree, dest.join("linux-source-6.12"));
    assert_eq!(again, tree);
    assert!(version.unwrap().starts_with("6.12."));
}
