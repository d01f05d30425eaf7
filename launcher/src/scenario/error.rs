//! A scenario that cannot run: every problem of a file, each at its line and column.

use std::fmt;

use super::locate;

/// Problems of one file listed at once; past this many the rest are only counted
/// (policy: enough to fix a file in one pass, few enough to read).
pub const MAX_REPORTED: usize = 20;

/// A scenario that cannot run, naming the file, the field and what to do; with the
/// file's other problems, so that one pass shows them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub source: String,
    /// The field at fault, e.g. `[[workers]] "spin".count`; empty for file-level problems.
    pub field: String,
    pub message: String,
    /// Line and column (from 1) of the field in the file, when known.
    pub at: Option<(u32, u32)>,
    /// The file's further problems, in the order found.
    pub more: Vec<ScenarioError>,
    /// Problems past [`MAX_REPORTED`], counted but not listed.
    pub unlisted: u32,
}

impl ScenarioError {
    pub fn new(source: &str, field: impl Into<String>, message: impl Into<String>) -> Self {
        ScenarioError {
            source: source.to_string(),
            field: field.into(),
            message: message.into(),
            at: None,
            more: Vec::new(),
            unlisted: 0,
        }
    }

    /// One error listing `problems` (not empty) in file order, the first as its own,
    /// each located in `text` where the field can be found.
    pub(super) fn all(mut problems: Vec<ScenarioError>, text: &str) -> ScenarioError {
        for problem in &mut problems {
            problem.at = problem.at.or_else(|| locate::locate(text, &problem.field));
        }
        // In file order, as an editor walks them; those without a place last.
        problems.sort_by_key(|p| p.at.unwrap_or((u32::MAX, u32::MAX)));
        let unlisted = problems.len().saturating_sub(MAX_REPORTED) as u32;
        problems.truncate(MAX_REPORTED);
        let mut first = problems.remove(0);
        first.more = problems;
        first.unlisted = unlisted;
        first
    }

    fn fmt_one(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)?;
        if let Some((line, column)) = self.at {
            write!(f, ":{line}:{column}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_one(f)?;
        for other in &self.more {
            writeln!(f)?;
            other.fmt_one(f)?;
        }
        if self.unlisted > 0 {
            write!(
                f,
                "\n{}: {} more problems not listed: fix these first",
                self.source, self.unlisted
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}
