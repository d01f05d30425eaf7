//! `schedbox bisect --source TREE --good REV --bad REV SCENARIO...`: `git bisect` driven
//! in a worktree of TREE (in the cache, kept between bisects so that its build folder
//! makes each build incremental; the user's checkout is not touched). Each commit git
//! checks out is built with the project's config fragment (cached by commit) and judged
//! by the step of an image bisect: a pass is good, a fail bad; a commit that does not
//! build, or whose run cannot be judged, is skipped, never bad. --bad is tested first,
//! so that the first bad commit always has a failing report of its own; --good is taken
//! as good, as `git bisect` takes it.

use std::path::{Path, PathBuf};

use super::git::{self, Git, Said};
use super::search::Verdict;
use super::step::{step, word, Halt};
use crate::cli::{RunOptions, SourceRange};
use crate::commands::kernel::kbuild_stop;
use crate::exit::{Exit, Stop};
use crate::kernel::build::{self, BuildOptions, KbuildError};
use crate::outcome::rundir;
use crate::output;
use crate::pipeline::shapes;
use crate::signals;

/// The cache's folder of bisect worktrees, one per source tree.
const WORKTREES: &str = "bisect";
/// Files every Linux tree the build can use has (as `kernel build` checks a tree).
const KERNEL_TREE_FILES: &[&str] = &["Makefile", "scripts/kconfig/merge_config.sh"];
/// How many hex digits of a commit name its step's folder.
const SHORT_ID: usize = 12;

/// One commit tested: its verdict and its run directory.
struct Tested {
    commit: String,
    verdict: Verdict,
    dir: PathBuf,
}

pub fn bisect(options: &RunOptions, range: &SourceRange) -> Result<Exit, Halt> {
    let usage = |why: String| Halt::Stop(Stop::Usage(why));
    let Some(options) = crate::commands::run::selected(options).map_err(Halt::Stop)? else {
        return Err(usage(
            "this shard has no scenarios: nothing to bisect".into(),
        ));
    };
    shapes::group(&options.vm).map_err(usage)?;
    let (tree, good, bad) = checked(range).map_err(usage)?;
    let path = build::cache_root()
        .join(WORKTREES)
        .join(build::path_id(&tree))
        .join("tree");
    let wt = git::worktree(&Git::at(&tree), &path, &bad).map_err(host)?;
    let parent = rundir::create(options.out.as_deref()).map_err(Halt::Stop)?;
    let mut tested: Vec<Tested> = Vec::new();
    let found = {
        let mut test = |commit: &str| -> Result<Verdict, Halt> {
            if let Some(t) = tested.iter().find(|t| t.commit == commit) {
                return Ok(t.verdict);
            }
            let short = &commit[..SHORT_ID.min(commit.len())];
            let dir = parent
                .path()
                .join(format!("{:02}-{short}", tested.len() + 1));
            output::print(&format!("== bisect: commit {} ==\n", wt.oneline(commit)));
            let verdict = match built(&path)? {
                Some(image) => step(&options, &image, &dir)?,
                None => Verdict::Skip,
            };
            output::print(&format!("schedbox bisect: {short} is {}\n", word(verdict)));
            tested.push(Tested {
                commit: commit.to_string(),
                verdict,
                dir,
            });
            Ok(verdict)
        };
        let outcome = match test(&bad) {
            Ok(Verdict::Bad) => drive(&wt, &good, &bad, &mut test).map(Some),
            other => other.map(|_| None),
        };
        let _ = wt.output(&["bisect", "reset"]);
        outcome?
    };
    let text = summary(&wt, range, &tested, found.as_ref(), parent.path());
    output::print(&text);
    Ok(match found {
        Some(Said::FirstBad(_)) => Exit::Pass,
        _ => Exit::Untestable,
    })
}

/// The top of TREE, and the commits of --good and --bad: a git kernel tree, two
/// commits, the good one an ancestor of the bad one.
fn checked(range: &SourceRange) -> Result<(PathBuf, String, String), String> {
    let given = &range.tree;
    if !given.is_dir() {
        return Err(format!(
            "--source {}: not a directory; give the top of a git kernel tree",
            given.display()
        ));
    }
    let top = Git::at(given).toplevel().ok_or_else(|| {
        format!(
            "--source {} is not in a git repository: bisect --source drives `git bisect`; \
             build a tree without history with `schedbox run --source`, or bisect built \
             images with --images",
            given.display()
        )
    })?;
    let git = Git::at(&top);
    let commit = |option: &str, rev: &str| {
        git.commit(rev).ok_or_else(|| {
            format!(
                "{option} {rev}: no such commit in {} (`git log` lists them)",
                top.display()
            )
        })
    };
    let good = commit("--good", &range.good)?;
    let bad = commit("--bad", &range.bad)?;
    // The commits are built, not the checkout: the tree is judged at --bad.
    if !KERNEL_TREE_FILES.iter().all(|f| git.has_file(&bad, f)) {
        return Err(format!(
            "--source {}: --bad {} is not a Linux source tree (no {}): give a kernel \
             tree's git repository",
            given.display(),
            range.bad,
            KERNEL_TREE_FILES.join(" and ")
        ));
    }
    if good == bad {
        return Err(format!(
            "--good {} and --bad {} are the same commit: give the last revision known to \
             pass and the first known to fail",
            range.good, range.bad
        ));
    }
    if !git.is_ancestor(&good, &bad) {
        return Err(format!(
            "--good {} is not an ancestor of --bad {}: give the older, passing revision \
             as --good",
            range.good, range.bad
        ));
    }
    Ok((top, good, bad))
}

/// Drives `git bisect` from `good` to `bad` (already judged bad), `test` judging each
/// commit git checks out, until git names the first bad commit or only skipped ones
/// are left.
fn drive(
    wt: &Git,
    good: &str,
    bad: &str,
    test: &mut impl FnMut(&str) -> Result<Verdict, Halt>,
) -> Result<Said, Halt> {
    let mut said = git::said(&wt.run(&["bisect", "start", bad, good]).map_err(host)?);
    while said == Said::Next {
        let head = wt.head().map_err(host)?;
        let verdict = test(&head)?;
        let word = match verdict {
            Verdict::Good => "good",
            Verdict::Bad => "bad",
            Verdict::Skip => "skip",
        };
        let (ok, text) = wt.output(&["bisect", word]).map_err(host)?;
        said = git::said(&text);
        if !ok && said == Said::Next {
            return Err(host(format!("`git bisect {word}` failed: {text}")));
        }
        if let Some(line) = text.lines().find(|l| l.starts_with("Bisecting:")) {
            output::note(&format!("schedbox bisect: {line}"));
        }
    }
    Ok(said)
}

/// The kernel of the commit checked out in `tree`, built or from the cache; None when
/// it does not build (a commit to skip). A host that cannot build at all stops the
/// bisect, and so does a signal.
fn built(tree: &Path) -> Result<Option<PathBuf>, Halt> {
    let result = build::build(tree, &BuildOptions::default());
    if let Some(signal) = signals::received() {
        return Err(Halt::Signal(signal));
    }
    match result {
        Ok(kernel) => {
            let how = if kernel.reused { "cached" } else { "built" };
            output::note(&format!("schedbox: {how} kernel {}", kernel.key));
            Ok(Some(kernel.image))
        }
        Err(
            e @ (KbuildError::Command { .. }
            | KbuildError::OptionsDidNotStick { .. }
            | KbuildError::NotAKernelTree { .. }),
        ) => {
            output::note(&format!(
                "schedbox bisect: this commit does not build, skipped: {e}"
            ));
            Ok(None)
        }
        Err(e) => Err(Halt::Stop(kbuild_stop("bisect --source", e))),
    }
}

fn host(why: String) -> Halt {
    Halt::Stop(Stop::Host(why))
}

/// The commits tested, then the answer: the first bad commit and its failing report,
/// or why there is none.
fn summary(
    wt: &Git,
    range: &SourceRange,
    tested: &[Tested],
    found: Option<&Said>,
    dir: &Path,
) -> String {
    let mut out = String::from("schedbox bisect: commits tested\n");
    for (i, t) in tested.iter().enumerate() {
        let what = word(t.verdict);
        out += &format!("  {:>2}  {what:<22} {}\n", i + 1, wt.oneline(&t.commit));
    }
    let report = |commit: &str| {
        tested.iter().find(|t| t.commit == commit).map_or_else(
            || "none (not tested)".to_string(),
            |t| t.dir.join(rundir::REPORT).display().to_string(),
        )
    };
    out += &match found {
        Some(Said::FirstBad(commit)) => format!(
            "FIRST BAD: commit {commit} ({})\n  failing report: {}\n",
            wt.oneline(commit),
            report(commit)
        ),
        Some(Said::Undecided(candidates)) => format!(
            "UNDECIDED: commits that do not build or could not be judged hide the \
             boundary: the first bad is one of {}\n",
            candidates.join(", ")
        ),
        _ => format!(
            "UNDECIDED: --bad {} does not fail (it is {}): nothing to bisect\n",
            range.bad,
            tested.first().map_or("not tested", |t| word(t.verdict))
        ),
    };
    out + &format!("bisect directory {}\n", dir.display())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tempdir::TempDir;

    /// A git repository of `count` commits, one file changed in each; their ids, oldest
    /// first.
    fn history(dir: &Path, count: usize) -> Vec<String> {
        let git = Git::at(dir);
        git.run(&["init", "--quiet"]).unwrap();
        for (key, value) in [("user.name", "t"), ("user.email", "t@t")] {
            git.run(&["config", key, value]).unwrap();
        }
        (0..count)
            .map(|i| {
                std::fs::write(dir.join("file"), format!("{i}\n")).unwrap();
                git.run(&["add", "file"]).unwrap();
                git.run(&["commit", "--quiet", "-m", &format!("change {i}")])
                    .unwrap();
                git.head().unwrap()
            })
            .collect()
    }

    /// Drives a bisect over `verdicts` (one a commit, the first taken as good); what git
    /// said and the commits tested.
    fn bisected(verdicts: &[Verdict]) -> (Said, Vec<usize>, Vec<String>) {
        let dir = TempDir::new("bisect-git").unwrap();
        let tree = dir.path().join("tree");
        std::fs::create_dir(&tree).unwrap();
        let commits = history(&tree, verdicts.len());
        let last = commits.last().unwrap().clone();
        let wt = git::worktree(&Git::at(&tree), &dir.path().join("wt"), &last).unwrap();
        let mut tested = Vec::new();
        let said = drive(&wt, &commits[0], &last, &mut |commit: &str| {
            let at = commits.iter().position(|c| c == commit).unwrap();
            tested.push(at);
            Ok(verdicts[at])
        })
        .unwrap_or_else(|_| panic!("the bisect stopped"));
        let _ = wt.output(&["bisect", "reset"]);
        (said, tested, commits)
    }

    #[test]
    fn git_bisect_is_driven_to_the_first_bad_commit() {
        use Verdict::{Bad, Good};
        let (said, tested, commits) = bisected(&[Good, Good, Good, Good, Bad, Bad, Bad, Bad]);
        assert_eq!(said, Said::FirstBad(commits[4].clone()), "{tested:?}");
        assert!(!tested.contains(&0) && !tested.contains(&7), "{tested:?}");
        assert!(tested.len() <= 3, "{tested:?}");
    }

    #[test]
    fn a_skipped_commit_is_never_taken_for_bad() {
        use Verdict::{Bad, Good, Skip};
        // The commits around the boundary do not build: git cannot tell which is first.
        let (said, tested, commits) = bisected(&[Good, Good, Skip, Skip, Bad]);
        let Said::Undecided(candidates) = said else {
            panic!("{said:?} {tested:?}")
        };
        for at in [2, 3, 4] {
            assert!(
                candidates
                    .iter()
                    .any(|c| commits[at].starts_with(c.as_str())),
                "{candidates:?}"
            );
        }
        // A skip away from the boundary is searched around.
        let (said, _, commits) = bisected(&[Good, Skip, Good, Good, Bad, Bad]);
        assert_eq!(said, Said::FirstBad(commits[4].clone()));
    }
}
