//! Standard output that a closed pipe cannot crash: `schedbox run ... | head` and
//! `schedbox --help | true` stop printing quietly, and the exit status still stands.

use std::io::Write;

/// Prints `text` on stdout; a reader that went away (EPIPE) or any other write error
/// only ends the printing: the run's files and exit status do not depend on stdout.
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}
