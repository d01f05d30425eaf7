//! Standard output and error that a closed pipe cannot crash: `schedbox run ... | head`
//! and `schedbox --help | true` stop printing quietly, and the exit status still stands
//! (`println!`/`eprintln!` would panic on EPIPE, mid-run, with the VM still up).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Erases the terminal line the cursor is on: back to its start, then clear to its end.
pub const ERASE_LINE: &str = "\r\x1b[K";

/// Whether a progress line stands unfinished on stderr (a terminal): a message written
/// then erases it first, so that the two do not run together.
static LIVE_LINE: AtomicBool = AtomicBool::new(false);

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
    if LIVE_LINE.swap(false, Ordering::Relaxed) {
        let _ = err.write_all(ERASE_LINE.as_bytes());
    }
    let _ = err
        .write_all(line.as_bytes())
        .and_then(|()| err.write_all(b"\n"));
}

/// Shows `line` on stderr in place of the live line before it (no newline: the next
/// one replaces it); `None` only erases it.
pub fn live(line: Option<&str>) {
    let mut err = std::io::stderr().lock();
    let shown = LIVE_LINE.swap(line.is_some(), Ordering::Relaxed);
    let text = match (line, shown) {
        (Some(line), _) => format!("{ERASE_LINE}{}", fit(line, stderr_columns())),
        (None, true) => ERASE_LINE.to_string(),
        (None, false) => return,
    };
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}

/// `line` cut to fit `columns` (less one, where the cursor stays): a live line that
/// wrapped could not be erased whole.
pub fn fit(line: &str, columns: Option<usize>) -> &str {
    match columns {
        Some(columns) if line.chars().count() >= columns => {
            let end = line
                .char_indices()
                .nth(columns.saturating_sub(1))
                .map_or(line.len(), |(at, _)| at);
            &line[..end]
        }
        _ => line,
    }
}

/// The width of the terminal on stderr, if it is one and says.
fn stderr_columns() -> Option<usize> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize into the struct it is given, which lives
    // through the call.
    let ok = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    (ok && size.ws_col > 0).then_some(usize::from(size.ws_col))
}

#[cfg(test)]
mod tests {
    use super::fit;

    #[test]
    fn a_live_line_is_cut_to_the_terminal() {
        assert_eq!(fit("abcdef", Some(4)), "abc");
        assert_eq!(fit("abc", Some(4)), "abc");
        assert_eq!(fit("abcd", Some(4)), "abc");
        assert_eq!(fit("äöü", Some(3)), "äö");
        assert_eq!(fit("abcdef", None), "abcdef");
    }
}
