//! Reading the kernel console (COM1): panics and how the kernel said it was ending.

/// Text the kernel prints when it panics (kernel/panic.c), first alone, then in the
/// end line; an oops that stops the kernel ("Fatal exception") panics with it too.
const PANIC_MARK: &str = "Kernel panic - not syncing: ";
/// The last line of a panic, after its stack trace: `---[ end Kernel panic - ... ]---`.
const PANIC_END_MARK: &str = "---[ end Kernel panic";
const PANIC_END_TAIL: &str = "]---";

/// Finds the first kernel panic in console lines.
#[derive(Debug, Default)]
pub struct PanicScanner {
    panic: Option<String>,
}

impl PanicScanner {
    pub fn feed(&mut self, line: &str) {
        if self.panic.is_none() {
            if let Some(at) = line.find(PANIC_MARK) {
                let message = line[at + PANIC_MARK.len()..].trim();
                let message = message.strip_suffix(PANIC_END_TAIL).unwrap_or(message);
                self.panic = Some(message.trim().to_string());
            }
        }
    }

    /// The panic message, e.g. "No working init found.  Try passing init= option to kernel."
    pub fn panic(&self) -> Option<String> {
        self.panic.clone()
    }
}

/// Whether the line ends a panic's report: the kernel prints nothing more after it.
pub fn panic_ended(line: &str) -> bool {
    line.contains(PANIC_END_MARK)
}

/// A hint for the person reading a panic message, for panics schedbox itself can cause.
pub fn panic_hint(message: &str) -> Option<&'static str> {
    if message.contains("No working init found") || message.contains("Requested init") {
        Some("the kernel could not run /init from the initramfs: check the init binary")
    } else if message.contains("Attempted to kill init") {
        Some("schedbox-init exited or crashed: see the console lines before the panic")
    } else if message.contains("VFS: Unable to mount root fs") {
        Some("the kernel did not unpack the initramfs: it may lack CONFIG_BLK_DEV_INITRD, or the memory is too small")
    } else {
        None
    }
}

/// A console line without terminal escape sequences and control characters (firmware
/// clears the screen over serial), fit for reports.
pub fn clean(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ parameters... final byte in '@'..='~'; otherwise ESC + one char.
            if chars.next_if_eq(&'[').is_some() {
                for p in chars.by_ref() {
                    if ('@'..='~').contains(&p) {
                        break;
                    }
                }
            } else {
                chars.next();
            }
        } else if !c.is_control() || c == '\t' {
            out.push(c);
        }
    }
    out
}

/// How the kernel says it is ending, as printed by kernel/reboot.c.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    PowerOff,
    Restart,
}

pub fn ending(line: &str) -> Option<Ending> {
    if line.contains("reboot: Power down") {
        Some(Ending::PowerOff)
    } else if line.contains("reboot: Restarting system") {
        Some(Ending::Restart)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_panic_message_is_kept() {
        let mut scanner = PanicScanner::default();
        scanner.feed("[    0.9] Run /init as init process");
        assert_eq!(scanner.panic(), None);
        scanner.feed("[    1.0] Kernel panic - not syncing: No working init found.  Try passing init= option to kernel. ");
        scanner.feed("[    1.1] Kernel panic - not syncing: second");
        let message = scanner.panic().unwrap();
        assert_eq!(
            message,
            "No working init found.  Try passing init= option to kernel."
        );
        assert!(panic_hint(&message).unwrap().contains("/init"));
    }

    #[test]
    fn a_panic_is_known_by_its_end_line_too() {
        let end = "[ 2.1] ---[ end Kernel panic - not syncing: sysrq triggered crash ]---";
        assert!(panic_ended(end));
        assert!(!panic_ended(
            "[ 2.0] Kernel panic - not syncing: sysrq triggered crash"
        ));
        let mut scanner = PanicScanner::default();
        scanner.feed(end);
        assert_eq!(scanner.panic().as_deref(), Some("sysrq triggered crash"));
    }

    #[test]
    fn escapes_are_removed() {
        let line = "\x1bc\x1b[?7l\x1b[2JSeaBIOS (version 1.16)\r";
        assert_eq!(clean(line), "SeaBIOS (version 1.16)");
        assert_eq!(clean("[ 1.0] ok\tthen"), "[ 1.0] ok\tthen");
    }

    #[test]
    fn endings_are_recognised() {
        assert_eq!(
            ending("[    2.7] reboot: Power down"),
            Some(Ending::PowerOff)
        );
        assert_eq!(
            ending("[    2.7] reboot: Restarting system"),
            Some(Ending::Restart)
        );
        assert_eq!(ending("reboot"), None);
    }
}
