//! Cutting a port's byte stream into lines, the same way for every backend: a line ends
//! at `\n` (one `\r` before it is dropped) or at [`LINE_BUFFER`] bytes, so a guest that never
//! sends a newline cannot make the host buffer without bound.

/// A longer line is cut. Hard bound on what the host buffers per port: twice the
/// protocol's longest line, so a record is never cut and a longer line is reported as
/// malformed.
pub const LINE_BUFFER: usize = 2 * schedbox_protocol::limits::MAX_LINE;

/// The unfinished line of one port.
#[derive(Debug, Default)]
pub struct LineCutter {
    line: Vec<u8>,
}

impl LineCutter {
    /// Takes the next bytes of the stream; `emit` gets each line they complete, lossily
    /// decoded, without its line end.
    pub fn push(&mut self, bytes: &[u8], mut emit: impl FnMut(String)) {
        for &b in bytes {
            if b == b'\n' {
                self.take(&mut emit);
            } else {
                self.line.push(b);
                if self.line.len() >= LINE_BUFFER {
                    self.take(&mut emit);
                }
            }
        }
    }

    /// Ends the stream: an unfinished last line is a line too.
    pub fn finish(&mut self, mut emit: impl FnMut(String)) {
        if !self.line.is_empty() {
            self.take(&mut emit);
        }
    }

    fn take(&mut self, emit: &mut impl FnMut(String)) {
        if self.line.last() == Some(&b'\r') {
            self.line.pop();
        }
        emit(String::from_utf8_lossy(&self.line).into_owned());
        self.line.clear();
    }
}
