//! Standard output and error that a closed pipe cannot crash: `schedbox run ... | head`
//! and `schedbox --help | true` stop printing quietly, and the exit status still stands
//! (`println!`/`eprintln!` would panic on EPIPE, mid-run, with the VM still up).

use std::io::Write;

/// Prints `text` on stdout; a reader that went away (EPIPE) or any other write error
/// only ends the printing: the run's files and exit status do not depend on stdout.
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Writes one line on stderr (a message or the echoed console); errors are ignored, as
/// for [`print`].
pub fn note(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err
        .write_all(line.as_bytes())
        .and_then(|()| err.write_all(b"\n"));
}
