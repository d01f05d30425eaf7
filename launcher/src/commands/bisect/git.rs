//! The git a source bisect needs, run as the `git` program in the C locale (so that its
//! words can be read): the tree and its revisions checked, the worktree the commits are
//! built in, and `git bisect` driven one verdict at a time.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Says which commit `git bisect` found first bad.
const FIRST_BAD: &str = " is the first bad commit";
/// Says that only skipped commits are left between the last good and the first bad.
const ONLY_SKIPPED: &str = "only 'skip'ped commits left";
/// Heads the list of candidates when only skipped commits are left.
const COULD_BE_ANY: &str = "could be any of:";

/// git in one folder.
pub struct Git {
    dir: PathBuf,
}

/// What git said after a verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said {
    /// It checked out the next commit to test.
    Next,
    /// This commit is the first bad one.
    FirstBad(String),
    /// Skipped commits hide the boundary: the first bad is one of these.
    Undecided(Vec<String>),
}

impl Git {
    pub fn at(dir: &Path) -> Git {
        Git {
            dir: dir.to_path_buf(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("git");
        command
            .arg("-C")
            .arg(&self.dir)
            .args(args)
            .env("LC_ALL", "C")
            .env("GIT_TERMINAL_PROMPT", "0");
        command
    }

    /// Runs git; its output (stdout then stderr), and whether it succeeded. Err: git
    /// could not be run at all.
    pub fn output(&self, args: &[&str]) -> Result<(bool, String), String> {
        let out = self
            .command(args)
            .output()
            .map_err(|e| format!("cannot run git (is it installed?): {e}"))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok((out.status.success(), text.trim().to_string()))
    }

    /// Runs git, which must succeed; its output.
    pub fn run(&self, args: &[&str]) -> Result<String, String> {
        match self.output(args)? {
            (true, text) => Ok(text),
            (false, text) => Err(format!(
                "`git -C {} {}` failed: {text}",
                self.dir.display(),
                args.join(" ")
            )),
        }
    }

    /// The top of the work tree `dir` is in; None when it is in none.
    pub fn toplevel(&self) -> Option<PathBuf> {
        let out = self.command(&["rev-parse", "--show-toplevel"]).output();
        let out = out.ok().filter(|o| o.status.success())?;
        Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    }

    /// The full commit id `rev` names; None when it names no commit.
    pub fn commit(&self, rev: &str) -> Option<String> {
        let spec = format!("{rev}^{{commit}}");
        let out = self
            .command(&["rev-parse", "--verify", "--quiet", &spec])
            .output();
        let out = out.ok().filter(|o| o.status.success())?;
        Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Whether `ancestor` is an ancestor of `of`.
    pub fn is_ancestor(&self, ancestor: &str, of: &str) -> bool {
        self.command(&["merge-base", "--is-ancestor", ancestor, of])
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Whether `commit` has a file at `path`.
    pub fn has_file(&self, commit: &str, path: &str) -> bool {
        self.command(&["cat-file", "-e", &format!("{commit}:{path}")])
            .status()
            .is_ok_and(|s| s.success())
    }

    /// A commit in one line: its short id and subject.
    pub fn oneline(&self, commit: &str) -> String {
        self.run(&["log", "-1", "--format=%h %s", commit])
            .unwrap_or_else(|_| commit.to_string())
    }

    /// The commit checked out.
    pub fn head(&self) -> Result<String, String> {
        self.run(&["rev-parse", "HEAD"])
    }
}

/// A worktree of `tree` at `path` with `commit` checked out, for building commits
/// without touching the user's checkout; one left there by an earlier bisect is
/// reused (its build folder makes the builds incremental), any bisect in it ended.
pub fn worktree(tree: &Git, path: &Path, commit: &str) -> Result<Git, String> {
    let wt = Git::at(path);
    let ours = wt.toplevel().is_some_and(|top| same(&top, path));
    if ours {
        let _ = wt.output(&["bisect", "reset"]);
    } else {
        let _ = std::fs::remove_dir_all(path);
        let _ = tree.output(&["worktree", "prune"]);
        let parent = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        let where_ = path.to_string_lossy();
        tree.run(&["worktree", "add", "--detach", "--force", &where_, commit])?;
    }
    wt.run(&["checkout", "--quiet", "--detach", "--force", commit])?;
    Ok(wt)
}

fn same(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Reads what `git bisect start`, `good`, `bad` or `skip` printed.
pub fn said(text: &str) -> Said {
    if let Some(line) = text.lines().find(|l| l.ends_with(FIRST_BAD)) {
        return Said::FirstBad(line.trim_end_matches(FIRST_BAD).trim().to_string());
    }
    if text.contains(ONLY_SKIPPED) {
        let after = text.split_once(COULD_BE_ANY).map_or("", |(_, rest)| rest);
        let ids = after
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|w| w.len() >= 7 && w.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(str::to_string)
            .collect();
        return Said::Undecided(ids);
    }
    Said::Next
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_git_bisect_says_is_read() {
        let next = "Bisecting: 3 revisions left to test after this (roughly 2 steps)\n\
                    [0123456789abcdef0123456789abcdef01234567] sched: a change";
        assert_eq!(said(next), Said::Next);
        let found = "0123456789abcdef0123456789abcdef01234567 is the first bad commit\n\
                     commit 0123456789abcdef0123456789abcdef01234567\nAuthor: A <a@b>\n";
        assert_eq!(
            said(found),
            Said::FirstBad("0123456789abcdef0123456789abcdef01234567".into())
        );
        let skipped = "There are only 'skip'ped commits left to test.\n\
                       The first bad commit could be any of:\n\
                       1111111111111111111111111111111111111111\n\
                       2222222222222222222222222222222222222222\n\
                       We cannot bisect more!";
        assert_eq!(
            said(skipped),
            Said::Undecided(vec!["1".repeat(40), "2".repeat(40)])
        );
    }
}
