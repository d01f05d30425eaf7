//! The command line's words: the error a user's mistake is, help requests, numbers.

use std::ffi::OsString;
use std::path::PathBuf;

use lexopt::prelude::*;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (see `schedbox help`)", self.0)
    }
}

impl From<lexopt::Error> for UsageError {
    fn from(e: lexopt::Error) -> Self {
        UsageError(e.to_string())
    }
}

/// What a parse loop returns when it meets `-h` or `--help`: not an error, the caller
/// turns it into [`Command::HelpFor`].
pub(super) const HELP_ASKED: &str = "help asked";

pub(super) fn help_asked() -> UsageError {
    UsageError(HELP_ASKED.to_string())
}

/// Whether a command-line item asks for help.
fn is_help(arg: &lexopt::Arg) -> bool {
    matches!(arg, Short('h') | Long("help"))
}

/// The next item, or the help request it is.
pub(super) fn next_arg<'a>(
    parser: &'a mut lexopt::Parser,
) -> Result<Option<lexopt::Arg<'a>>, UsageError> {
    match parser.next()? {
        Some(arg) if is_help(&arg) => Err(help_asked()),
        other => Ok(other),
    }
}

pub(super) fn number(option: &str, text: &str) -> Result<u64, UsageError> {
    text.parse()
        .map_err(|_| UsageError(format!("--{option} {text:?} is not a whole number")))
}

/// A path on the command line: an empty one names nothing (a shell variable that was
/// not set), and is refused rather than read as the current directory.
pub(super) fn path(what: &str, value: OsString) -> Result<PathBuf, UsageError> {
    if value.is_empty() {
        return Err(UsageError(format!(
            "{what} is empty: give a path (an unset shell variable expands to nothing)"
        )));
    }
    Ok(value.into())
}
