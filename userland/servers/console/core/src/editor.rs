//! The shell's line editor: bytes from the serial line in, echo out, finished lines as events.
//!
//! It understands what a serial terminal sends: printable ASCII and UTF-8, backspace (BS or
//! DEL), Ctrl-U (clear the line), Ctrl-C (abandon it), Ctrl-L (clear the screen), Enter as CR,
//! LF or CR LF, and the up/down arrows for history. Other control bytes and escape sequences
//! are swallowed, so a stray function key cannot put garbage in a command. The line is bounded
//! ([`MAX_LINE`] bytes); what does not fit is refused with a bell.

use crate::Sink;
use alloc::collections::VecDeque;
use alloc::string::String;

/// The prompt.
pub const PROMPT: &str = "nimbus> ";
/// Longest line, in bytes.
pub const MAX_LINE: usize = 256;
/// Lines kept for the arrow keys.
pub const HISTORY: usize = 16;
/// Longest escape sequence swallowed before giving up on it.
const MAX_ESCAPE: u8 = 16;

/// Erases the current terminal line and returns to its start.
pub const ERASE_LINE: &[u8] = b"\r\x1b[K";

/// What a finished line of input is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Enter: the line (possibly empty).
    Line(String),
    /// Ctrl-C: the line was abandoned.
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escape {
    /// Not in an escape sequence.
    None,
    /// After ESC.
    Start,
    /// In a control sequence (ESC [), this many bytes long.
    Csi(u8),
    /// After ESC O (one more byte ends it).
    Ss3,
}

/// A line being typed.
#[derive(Debug)]
pub struct Editor {
    line: String,
    /// A UTF-8 sequence still missing bytes.
    partial: [u8; 4],
    partial_len: usize,
    escape: Escape,
    /// The last byte was CR: a LF right after it is the same Enter.
    after_cr: bool,
    history: VecDeque<String>,
    /// Which history entry is shown, while browsing.
    browsing: Option<usize>,
    /// The line typed before browsing started.
    stash: String,
}

impl Default for Editor {
    fn default() -> Self {
        Self::new()
    }
}

/// How many bytes a UTF-8 sequence starting with `lead` has (None: not a lead byte).
fn sequence_len(lead: u8) -> Option<usize> {
    match lead {
        0xc2..=0xdf => Some(2),
        0xe0..=0xef => Some(3),
        0xf0..=0xf4 => Some(4),
        _ => None,
    }
}

impl Editor {
    /// An empty line.
    pub fn new() -> Self {
        Self {
            line: String::new(),
            partial: [0; 4],
            partial_len: 0,
            escape: Escape::None,
            after_cr: false,
            history: VecDeque::new(),
            browsing: None,
            stash: String::new(),
        }
    }

    /// What has been typed so far.
    pub fn line(&self) -> &str {
        &self.line
    }

    /// Draws the prompt and the line, on the current terminal line (which must be empty).
    pub fn draw(&self, out: &mut impl Sink) {
        out.put(PROMPT.as_bytes());
        out.put(self.line.as_bytes());
    }

    /// Erases the current terminal line and draws the prompt and the line again.
    pub fn redraw(&self, out: &mut impl Sink) {
        out.put(ERASE_LINE);
        self.draw(out);
    }

    /// Handles one byte from the terminal, echoing what it changes to `out`.
    pub fn feed(&mut self, byte: u8, out: &mut impl Sink) -> Option<Event> {
        let after_cr = core::mem::replace(&mut self.after_cr, false);
        if self.escape != Escape::None {
            self.escape_byte(byte, out);
            return None;
        }
        if self.partial_len > 0 {
            if byte & 0xc0 == 0x80 {
                self.continue_char(byte, out);
                return None;
            }
            // A sequence cut short: drop it, and take this byte on its own.
            self.partial_len = 0;
        }
        match byte {
            b'\r' => {
                self.after_cr = true;
                Some(self.enter(out))
            }
            b'\n' if after_cr => None,
            b'\n' => Some(self.enter(out)),
            0x08 | 0x7f => {
                self.backspace(out);
                None
            }
            0x03 => {
                out.put(b"^C\r\n");
                self.reset_line();
                Some(Event::Cancelled)
            }
            0x15 => {
                self.reset_line();
                self.redraw(out);
                None
            }
            0x0c => {
                out.put(b"\x1b[2J\x1b[H");
                self.draw(out);
                None
            }
            0x1b => {
                self.escape = Escape::Start;
                None
            }
            0x20..=0x7e => {
                let mut utf8 = [0u8; 4];
                self.insert(char::from(byte).encode_utf8(&mut utf8), out);
                None
            }
            lead => {
                if sequence_len(lead).is_some() {
                    self.partial = [lead, 0, 0, 0];
                    self.partial_len = 1;
                }
                // Other control bytes and stray continuation bytes are ignored.
                None
            }
        }
    }

    fn continue_char(&mut self, byte: u8, out: &mut impl Sink) {
        if let Some(slot) = self.partial.get_mut(self.partial_len) {
            *slot = byte;
            self.partial_len += 1;
        }
        let want = self.partial.first().copied().and_then(sequence_len);
        if want.is_some_and(|want| self.partial_len >= want) {
            let bytes = self.partial;
            let len = self.partial_len;
            self.partial_len = 0;
            let decoded = bytes
                .get(..len)
                .and_then(|b| core::str::from_utf8(b).ok())
                .filter(|s| !s.chars().any(char::is_control));
            if let Some(text) = decoded {
                self.insert(text, out);
            }
        }
    }

    fn escape_byte(&mut self, byte: u8, out: &mut impl Sink) {
        self.escape = match self.escape {
            Escape::Start => match byte {
                b'[' => Escape::Csi(0),
                b'O' => Escape::Ss3,
                _ => Escape::None,
            },
            Escape::Csi(len) => match byte {
                0x40..=0x7e => {
                    self.key(byte, out);
                    Escape::None
                }
                _ if len >= MAX_ESCAPE => Escape::None,
                _ => Escape::Csi(len + 1),
            },
            Escape::Ss3 => {
                self.key(byte, out);
                Escape::None
            }
            Escape::None => Escape::None,
        };
    }

    /// The final byte of a cursor-key sequence.
    fn key(&mut self, key: u8, out: &mut impl Sink) {
        match key {
            b'A' => self.history_back(out),
            b'B' => self.history_forward(out),
            _ => {}
        }
    }

    fn insert(&mut self, text: &str, out: &mut impl Sink) {
        if self.line.len() + text.len() > MAX_LINE {
            out.put(b"\x07");
            return;
        }
        self.line.push_str(text);
        out.put(text.as_bytes());
    }

    fn backspace(&mut self, out: &mut impl Sink) {
        match self.line.pop() {
            Some(c) if c.is_ascii() => out.put(b"\x08 \x08"),
            // A wide or combining character: how far to move back is the terminal's business.
            Some(_) => self.redraw(out),
            None => {}
        }
    }

    fn reset_line(&mut self) {
        self.line.clear();
        self.partial_len = 0;
        self.browsing = None;
    }

    fn enter(&mut self, out: &mut impl Sink) -> Event {
        out.put(b"\r\n");
        let line = core::mem::take(&mut self.line);
        self.reset_line();
        let trimmed = line.trim();
        if !trimmed.is_empty() && self.history.back().map(String::as_str) != Some(trimmed) {
            if self.history.len() >= HISTORY {
                self.history.pop_front();
            }
            self.history.push_back(trimmed.into());
        }
        Event::Line(line)
    }

    fn show_history(&mut self, index: Option<usize>, out: &mut impl Sink) {
        self.browsing = index;
        self.line = match index.and_then(|i| self.history.get(i)) {
            Some(entry) => entry.clone(),
            None => core::mem::take(&mut self.stash),
        };
        self.redraw(out);
    }

    fn history_back(&mut self, out: &mut impl Sink) {
        let index = match self.browsing {
            None if self.history.is_empty() => return,
            None => {
                self.stash = self.line.clone();
                self.history.len() - 1
            }
            Some(i) => i.saturating_sub(1),
        };
        self.show_history(Some(index), out);
    }

    fn history_forward(&mut self, out: &mut impl Sink) {
        let Some(i) = self.browsing else { return };
        let next = (i + 1 < self.history.len()).then_some(i + 1);
        self.show_history(next, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input`; returns the events and the echo.
    fn typed(editor: &mut Editor, input: &[u8]) -> (Vec<Event>, String) {
        let mut out = Vec::new();
        let events = input
            .iter()
            .filter_map(|&b| editor.feed(b, &mut out))
            .collect();
        (events, String::from_utf8_lossy(&out).into_owned())
    }

    fn line(text: &str) -> Event {
        Event::Line(text.into())
    }

    #[test]
    fn types_and_echoes_a_line() {
        let mut e = Editor::new();
        let (events, echo) = typed(&mut e, b"ps\r");
        assert_eq!(events, [line("ps")]);
        assert_eq!(echo, "ps\r\n");
        assert_eq!(e.line(), "");
    }

    #[test]
    fn enter_is_cr_lf_or_crlf_once() {
        let mut e = Editor::new();
        let (events, _) = typed(&mut e, b"a\r\nb\nc\r\r\n");
        assert_eq!(events, [line("a"), line("b"), line("c"), line("")]);
    }

    #[test]
    fn backspace_and_delete() {
        let mut e = Editor::new();
        let (events, echo) = typed(&mut e, b"psx\x7f\x08s\r");
        assert_eq!(events, [line("ps")]);
        assert_eq!(echo, "psx\x08 \x08\x08 \x08s\r\n");
        // Backspace on an empty line does nothing.
        let (_, echo) = typed(&mut e, b"\x7f\x7f");
        assert_eq!(echo, "");
    }

    #[test]
    fn utf8_in_and_out() {
        let mut e = Editor::new();
        let (events, echo) = typed(&mut e, "echo 世界 ü\r".as_bytes());
        assert_eq!(events, [line("echo 世界 ü")]);
        assert_eq!(echo, "echo 世界 ü\r\n");
        // Backspace over a wide character redraws the line.
        let (_, echo) = typed(&mut e, "a世".as_bytes());
        assert_eq!(echo, "a世");
        let (_, echo) = typed(&mut e, b"\x7f");
        assert_eq!(echo, "\r\x1b[Knimbus> a");
        assert_eq!(e.line(), "a");
    }

    #[test]
    fn broken_utf8_is_dropped() {
        let mut e = Editor::new();
        // A lead byte without its continuation, stray continuations, an overlong form, a C1
        // control, a surrogate.
        let input = b"a\xe4b\x80\x80c\xc0\xafd\xc2\x85e\xed\xa0\x80f\xf4\x90\x80\x80g\r";
        let (events, _) = typed(&mut e, input);
        assert_eq!(events, [line("abcdefg")]);
    }

    #[test]
    fn ctrl_u_clears_and_ctrl_c_abandons() {
        let mut e = Editor::new();
        let (events, echo) = typed(&mut e, b"kill all\x15ps");
        assert!(events.is_empty());
        assert_eq!(echo, "kill all\r\x1b[Knimbus> ps");
        assert_eq!(e.line(), "ps");
        let (events, echo) = typed(&mut e, b"x\x03");
        assert_eq!(events, [Event::Cancelled]);
        assert!(echo.ends_with("^C\r\n"));
        assert_eq!(e.line(), "");
    }

    #[test]
    fn control_bytes_and_escape_sequences_are_swallowed() {
        let mut e = Editor::new();
        // Tab, NUL, BEL, F5 (ESC [ 1 5 ~), right arrow, ESC O P (F1), Alt-x (ESC x).
        let input = b"p\t\0\x07\x1b[15~\x1b[C\x1bOP\x1bxs\r";
        let (events, echo) = typed(&mut e, input);
        assert_eq!(events, [line("ps")]);
        assert_eq!(echo, "ps\r\n");
        // An endless escape sequence is given up, not kept forever.
        let mut e = Editor::new();
        let mut long = b"\x1b[".to_vec();
        long.extend([b'1'; 40]);
        long.extend(b"ok\r");
        let (events, _) = typed(&mut e, &long);
        // ESC [ and 17 bytes are swallowed; the rest is typed.
        assert_eq!(events, [line(&format!("{}ok", "1".repeat(40 - 17)))]);
    }

    #[test]
    fn lines_are_bounded() {
        let mut e = Editor::new();
        let mut input = vec![b'x'; MAX_LINE + 10];
        input.push(b'\r');
        let (events, echo) = typed(&mut e, &input);
        assert_eq!(events, [line(&"x".repeat(MAX_LINE))]);
        assert_eq!(echo.matches('\x07').count(), 10);
        // A multi-byte character that would cross the bound is refused whole.
        let mut e = Editor::new();
        let mut input = vec![b'x'; MAX_LINE - 1];
        input.extend("世\r".as_bytes());
        let (events, _) = typed(&mut e, &input);
        assert_eq!(events, [line(&"x".repeat(MAX_LINE - 1))]);
    }

    #[test]
    fn history_with_the_arrow_keys() {
        let mut e = Editor::new();
        typed(&mut e, b"ps\rmem\rmem\r\r");
        typed(&mut e, b"part");
        let (_, echo) = typed(&mut e, b"\x1b[A");
        assert_eq!(e.line(), "mem");
        assert!(echo.ends_with("nimbus> mem"));
        typed(&mut e, b"\x1b[A\x1b[A\x1b[A");
        assert_eq!(e.line(), "ps");
        typed(&mut e, b"\x1bOB");
        assert_eq!(e.line(), "mem");
        typed(&mut e, b"\x1b[B");
        assert_eq!(e.line(), "part");
        let (events, _) = typed(&mut e, b"\x1b[A\r");
        assert_eq!(events, [line("mem")]);
        // Bounded.
        for i in 0..40 {
            typed(&mut e, format!("cmd{i}\r").as_bytes());
        }
        assert_eq!(e.history.len(), HISTORY);
    }

    #[test]
    fn any_bytes_never_panic() {
        let mut e = Editor::new();
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut out = Vec::new();
        for _ in 0..200_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let _ = e.feed(seed as u8, &mut out);
            assert!(e.line().len() <= MAX_LINE);
            out.clear();
        }
    }
}
