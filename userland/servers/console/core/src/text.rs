//! Making text from elsewhere safe to print on a terminal, and cutting a byte stream into lines.
//!
//! Log lines come from other servers and the kernel: they may hold escape sequences (which could
//! move the cursor, recolour or clear the screen, and so corrupt the line being typed), other
//! control characters, or bytes that are not UTF-8. [`terminal_safe`] keeps the text and drops
//! the rest; line breaks become CR LF, which is what a serial terminal needs.

use crate::Sink;
use alloc::vec::Vec;

/// Longest line [`Lines`] collects before it passes it on unfinished.
pub const MAX_PENDING_LINE: usize = 1024;

/// Writes `text` to `out` with every control character dropped except tab and line breaks
/// (written as CR LF); invalid UTF-8 becomes U+FFFD.
pub fn terminal_safe(text: &[u8], out: &mut impl Sink) {
    for chunk in text.utf8_chunks() {
        let valid = chunk.valid();
        let mut start = 0;
        for (at, c) in valid.char_indices() {
            if c == '\t' || !c.is_control() {
                continue;
            }
            out.put(valid.get(start..at).unwrap_or("").as_bytes());
            if c == '\n' {
                out.put(b"\r\n");
            }
            start = at + c.len_utf8();
        }
        out.put(valid.get(start..).unwrap_or("").as_bytes());
        if !chunk.invalid().is_empty() {
            out.put("\u{fffd}".as_bytes());
        }
    }
}

/// Collects a byte stream (the kernel's log) into whole lines.
#[derive(Debug, Default)]
pub struct Lines {
    pending: Vec<u8>,
}

impl Lines {
    /// Nothing collected.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `bytes`; calls `line` with each line they complete (without its line break). A line
    /// longer than [`MAX_PENDING_LINE`] is passed on in pieces of that size.
    pub fn push(&mut self, bytes: &[u8], mut line: impl FnMut(&[u8])) {
        for &byte in bytes {
            match byte {
                b'\n' => {
                    let done = core::mem::take(&mut self.pending);
                    line(strip_cr(&done));
                }
                _ => {
                    self.pending.push(byte);
                    if self.pending.len() >= MAX_PENDING_LINE {
                        let done = core::mem::take(&mut self.pending);
                        line(&done);
                    }
                }
            }
        }
    }

    /// Whether part of a line is waiting for its end.
    pub fn has_partial(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Passes on the unfinished line, if any (for text that will never get its line break).
    pub fn flush(&mut self, mut line: impl FnMut(&[u8])) {
        if !self.pending.is_empty() {
            let done = core::mem::take(&mut self.pending);
            line(strip_cr(&done));
        }
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn safe(text: &[u8]) -> String {
        let mut out = Vec::new();
        terminal_safe(text, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn keeps_text_and_drops_control_characters() {
        assert_eq!(safe(b"plain text"), "plain text");
        assert_eq!(safe("grüße 世界\tx".as_bytes()), "grüße 世界\tx");
        assert_eq!(safe(b"two\nlines"), "two\r\nlines");
        assert_eq!(safe(b"\x1b[2J\x1b[Hgotcha\r\x07"), "[2J[Hgotcha");
        assert_eq!(safe(b"bad \xff\xfe utf8"), "bad \u{fffd}\u{fffd} utf8");
        assert_eq!(safe("c1 \u{9b}31m".as_bytes()), "c1 31m");
        assert_eq!(safe(b""), "");
    }

    #[test]
    fn cuts_a_stream_into_lines() {
        let mut lines = Lines::new();
        let mut got: Vec<String> = Vec::new();
        let mut take = |l: &[u8]| got.push(String::from_utf8_lossy(l).into_owned());
        lines.push(b"[ 0.1] INFO one\n[ 0.2] IN", &mut take);
        assert!(lines.has_partial());
        lines.push(b"FO two\r\n\nthree", &mut take);
        lines.flush(&mut take);
        lines.flush(&mut take);
        assert_eq!(got, ["[ 0.1] INFO one", "[ 0.2] INFO two", "", "three"]);
    }

    #[test]
    fn endless_lines_come_in_pieces() {
        let mut lines = Lines::new();
        let mut sizes = Vec::new();
        lines.push(&vec![b'x'; 2500], |l| sizes.push(l.len()));
        lines.push(b"\n", |l| sizes.push(l.len()));
        assert_eq!(sizes, [MAX_PENDING_LINE, MAX_PENDING_LINE, 452]);
    }
}
