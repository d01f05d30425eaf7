//! `schedbox run --source TREE` and `schedbox bisect --source TREE --good REV --bad REV`:
//! what the command line gets wrong is exit 2 before anything is built or booted; and,
//! opt-in (a kernel build takes tens of minutes), a bisect over real commits of the
//! kernel tree the project caches names the commit known to be the first bad one. The
//! driving of `git bisect` itself (skips included) is unit-tested in
//! src/commands/bisect/source.rs.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Scratch, SCHEDBOX};

const SCENARIO: &str =
    "name = \"s\"\nduration_ms = 100\n[[workers]]\ngroup = \"g\"\nwork = \"spin\"\n";

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .env("LC_ALL", "C")
        .output()
        .expect("cannot run git");
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn init(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "--quiet"]);
    git(dir, &["config", "user.name", "schedbox test"]);
    git(dir, &["config", "user.email", "test@schedbox"]);
}

/// A git repository that looks like a kernel tree to the checks (its files, not a
/// buildable kernel), with two commits; the commits' ids, oldest first.
fn fake_kernel_repo(dir: &Path, kernel_files: bool) -> Vec<String> {
    init(dir);
    (0..2)
        .map(|i| {
            if kernel_files {
                std::fs::create_dir_all(dir.join("scripts/kconfig")).unwrap();
                std::fs::write(dir.join("scripts/kconfig/merge_config.sh"), "").unwrap();
            }
            std::fs::write(dir.join("Makefile"), format!("# {i}\n")).unwrap();
            git(dir, &["add", "-A"]);
            git(dir, &["commit", "--quiet", "-m", &format!("commit {i}")]);
            git(dir, &["rev-parse", "HEAD"])
        })
        .collect()
}

fn schedbox(args: &[&str]) -> Output {
    Command::new(SCHEDBOX)
        .args(args)
        .output()
        .expect("cannot run schedbox")
}

/// Runs `args` and asserts exit 2 with `want` in stderr, nothing built (no cache).
fn refused(scratch: &Scratch, args: &[&str], want: &str) {
    let cache = scratch.0.join("cache");
    let output = Command::new(SCHEDBOX)
        .args(args)
        .env("SCHEDBOX_CACHE_DIR", &cache)
        .output()
        .expect("cannot run schedbox");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(want), "{args:?}: {stderr}");
    assert!(!cache.join("bisect").exists(), "{args:?} made a worktree");
}

#[test]
fn source_mistakes_are_usage_errors_before_any_build() {
    let scratch = Scratch::new("bisect-source-usage");
    let scenario = scratch.file("s.toml", SCENARIO);
    let scenario = scenario.to_str().unwrap();
    let plain = scratch.0.join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let repo = scratch.0.join("linux");
    let commits = fake_kernel_repo(&repo, true);
    let not_kernel = scratch.0.join("other");
    fake_kernel_repo(&not_kernel, false);
    let (plain, repo, not_kernel) = (
        plain.to_str().unwrap(),
        repo.to_str().unwrap(),
        not_kernel.to_str().unwrap(),
    );
    let missing = scratch.0.join("missing");
    let missing = missing.to_str().unwrap();
    fn bisect<'a>(tree: &'a str, good: &'a str, bad: &'a str, scenario: &'a str) -> Vec<&'a str> {
        vec![
            "bisect", "--source", tree, "--good", good, "--bad", bad, scenario,
        ]
    }
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            bisect(plain, "v1", "v2", scenario),
            "is not in a git repository",
        ),
        (bisect(missing, "v1", "v2", scenario), "not a directory"),
        (
            bisect(repo, "nope", "HEAD", scenario),
            "--good nope: no such commit",
        ),
        (
            bisect(repo, "HEAD~1", "nope", scenario),
            "--bad nope: no such commit",
        ),
        (
            bisect(repo, "HEAD", "HEAD~1", scenario),
            "is not an ancestor of --bad",
        ),
        (
            bisect(repo, "HEAD", &commits[1], scenario),
            "are the same commit",
        ),
        (
            bisect(not_kernel, "HEAD~1", "HEAD", scenario),
            "is not a Linux source tree",
        ),
        (
            vec!["bisect", "--source", repo, "--bad", "HEAD", scenario],
            "missing --good",
        ),
        (
            vec![
                "bisect",
                "--source",
                repo,
                "--good",
                "HEAD~1",
                "x/none.toml",
            ],
            "missing --bad",
        ),
        (
            vec![
                "bisect",
                "--source",
                repo,
                "--good",
                "HEAD~1",
                "--bad",
                "HEAD",
                "x/none.toml",
            ],
            "none.toml",
        ),
        (
            vec!["run", "--source", missing, scenario],
            "not a directory",
        ),
        (
            vec!["run", "--source", plain, scenario],
            "is not a Linux source tree",
        ),
        (vec!["run", "--source", repo, "x/none.toml"], "none.toml"),
    ];
    for (args, want) in &cases {
        refused(&scratch, args, want);
    }
    // The user's checkout is left as it was.
    assert_eq!(git(Path::new(repo), &["rev-parse", "HEAD"]), commits[1]);
}

#[test]
fn help_names_the_source_forms() {
    let output = schedbox(&["bisect", "--help"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0));
    assert!(
        text.contains("schedbox bisect --source TREE --good REV --bad REV"),
        "{text}"
    );
    assert!(text.contains("--source TREE"), "{text}");
}

/// The planted regression: /proc/version gains this word.
const PLANTED: &str = "schedbox-planted-regression";

/// A scenario whose payload fails where /proc/version has [`PLANTED`] (shell builtins
/// only: the guest has the host's /bin/sh packed, nothing else); a sleeper beside it,
/// so that the payload gets the one vCPU in time.
fn planted_scenario() -> String {
    format!(
        "name = \"banner\"\nduration_ms = 2000\n\n[[workers]]\ngroup = \"sleeper\"\n\
         work = \"sleep-wake\"\nsleep_us = 10000\n\n[[payload]]\nname = \"probe\"\npath = \"/bin/sh\"\n\
         args = [\"-c\", \"read v < /proc/version; case \\\"$v\\\" in *{PLANTED}*) exit 1;; esac\"]\n"
    )
}

/// Commits of the cached kernel tree in a repository of their own (the cache is not
/// touched): the tree as it is, a documentation change, the regression (a word added to
/// /proc/version, in init/version.c), another documentation change. Fixed dates make
/// the ids the same on every run, so that a second run finds its kernels cached.
fn kernel_history(repo: &Path, source: &Path) -> Vec<String> {
    if repo.join(".git").exists() {
        let ids = git(repo, &["rev-list", "--reverse", "HEAD"]);
        let ids: Vec<String> = ids.lines().map(str::to_string).collect();
        if ids.len() == 4 {
            return ids;
        }
        std::fs::remove_dir_all(repo).unwrap();
    }
    init(repo);
    // The cached tree's files go into this repository's index, from where they are;
    // every one of them (Debian's .gitignore ignores its own tree).
    let git_dir = format!("--git-dir={}", repo.join(".git").display());
    let work_tree = format!("--work-tree={}", source.display());
    git(source, &[&git_dir, &work_tree, "add", "-A", "--force"]);
    git(
        repo,
        &["commit", "--quiet", "-m", "linux as the project caches it"],
    );
    let change = |path: &str, text: String, message: &str| {
        let blob = Command::new("git")
            .arg("-C")
            .arg(repo)
            .args(["hash-object", "-w", "--stdin"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(text.as_bytes())?;
                child.wait_with_output()
            })
            .unwrap();
        let blob = String::from_utf8_lossy(&blob.stdout).trim().to_string();
        git(
            repo,
            &[
                "update-index",
                "--cacheinfo",
                &format!("100644,{blob},{path}"),
            ],
        );
        git(repo, &["commit", "--quiet", "-m", message]);
    };
    let readme = std::fs::read_to_string(source.join("README")).unwrap();
    change(
        "README",
        format!("{readme}\nA first change.\n"),
        "README: a change",
    );
    let version = std::fs::read_to_string(source.join("init/version.c")).unwrap();
    let planted = version.replacen(
        "\" (\" LINUX_COMPILER \") %s\\n\";",
        &format!("\" (\" LINUX_COMPILER \") %s {PLANTED}\\n\";"),
        1,
    );
    assert_ne!(
        planted, version,
        "init/version.c has changed: plant elsewhere"
    );
    change("init/version.c", planted, "version: the planted regression");
    change(
        "README",
        format!("{readme}\nA second change.\n"),
        "README: another",
    );
    let ids = git(repo, &["rev-list", "--reverse", "HEAD"]);
    ids.lines().map(str::to_string).collect()
}

#[test]
#[ignore = "builds the cached kernel tree (tens of minutes the first time, then a few \
            per commit): run with --ignored when there is time"]
fn bisect_over_real_kernel_commits_names_the_planted_regression() {
    let source = schedbox::kernel::build::default_source_dir();
    assert!(
        source.join("Makefile").is_file(),
        "no cached kernel tree at {}: run `schedbox kernel fetch-source`",
        source.display()
    );
    // Kept between runs: the same commits, worktree, build folder and kernels.
    let home = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bisect-source");
    let repo = home.join("linux");
    let commits = kernel_history(&repo, &source);
    let scratch = Scratch::new("bisect-source-real");
    let scenario = scratch.file("banner.toml", &planted_scenario());
    let out = scratch.0.join("bisect");
    // No VM turn is held: the builds take most of the time, and the verdict is a
    // payload's exit status, which load does not change.
    let started = std::time::Instant::now();
    let output = Command::new(SCHEDBOX)
        .args(["bisect", "--source"])
        .arg(&repo)
        .args([
            "--good",
            &commits[0],
            "--bad",
            "HEAD",
            "--accel",
            "tcg",
            "--cpus",
            "1",
        ])
        .arg("--out")
        .arg(&out)
        .arg(&scenario)
        .env("SCHEDBOX_CACHE_DIR", home.join("cache"))
        .env_remove("SCHEDBOX_SKIP_KVM_PROBE")
        .output()
        .expect("cannot run schedbox");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let all = format!(
        "took {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        started.elapsed(),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("{all}");
    assert_eq!(output.status.code(), Some(0), "{all}");
    let first_bad = format!("FIRST BAD: commit {} (", commits[2]);
    assert!(stdout.contains(&first_bad), "{all}");
    let report = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("failing report: "))
        .unwrap_or_else(|| panic!("no failing report: {all}"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    assert_eq!(report["outcome"], "fail", "{report:#}");
}
