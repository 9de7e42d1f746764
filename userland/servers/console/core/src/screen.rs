//! One serial terminal shared by the shell and the log.
//!
//! Log lines arrive at any moment, also while someone is typing. Printing one in the middle of
//! the input line would split it, so the screen first erases the prompt line, prints the log
//! line, then draws the prompt and the partial input again: the input always stays whole on
//! the last line. While a command runs no prompt is shown and lines are simply printed.
//!
//! (The erase only reaches the terminal's current row: a prompt line longer than the terminal
//! is wide leaves its earlier rows behind. The input itself is never changed.)

use crate::Sink;
use crate::editor::{ERASE_LINE, Editor, Event};
use crate::text::terminal_safe;

/// The terminal: the line editor, and whether its prompt is on the screen.
#[derive(Debug, Default)]
pub struct Screen {
    editor: Editor,
    prompt: bool,
}

impl Screen {
    /// A screen with no prompt shown yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the prompt (and the partial input) is on the screen.
    pub fn prompt_shown(&self) -> bool {
        self.prompt
    }

    /// The line being typed.
    pub fn input_line(&self) -> &str {
        self.editor.line()
    }

    /// Prints one log line (without its line break) above the input line.
    pub fn log_line(&mut self, line: &[u8], out: &mut impl Sink) {
        if self.prompt {
            out.put(ERASE_LINE);
        }
        terminal_safe(line, out);
        out.put(b"\r\n");
        if self.prompt {
            self.editor.draw(out);
        }
    }

    /// Prints a command's output (lines separated by `\n`; a missing last line break is added).
    pub fn output(&mut self, text: &str, out: &mut impl Sink) {
        if text.is_empty() {
            return;
        }
        if self.prompt {
            out.put(ERASE_LINE);
        }
        terminal_safe(text.as_bytes(), out);
        if !text.ends_with('\n') {
            out.put(b"\r\n");
        }
        if self.prompt {
            self.editor.draw(out);
        }
    }

    /// Shows the prompt and whatever has been typed, if it is not shown already.
    pub fn show_prompt(&mut self, out: &mut impl Sink) {
        if !self.prompt {
            self.editor.draw(out);
            self.prompt = true;
        }
    }

    /// Handles a byte of input. A finished (or abandoned) line takes the prompt away: the
    /// caller runs it, then calls [`Screen::show_prompt`].
    pub fn input(&mut self, byte: u8, out: &mut impl Sink) -> Option<Event> {
        if !self.prompt {
            self.show_prompt(out);
        }
        let event = self.editor.feed(byte, out);
        if event.is_some() {
            self.prompt = false;
        }
        event
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(out: &[u8]) -> String {
        String::from_utf8_lossy(out).into_owned()
    }

    #[test]
    fn a_log_line_never_splits_the_input() {
        let mut s = Screen::new();
        let mut out = Vec::new();
        s.show_prompt(&mut out);
        for &b in b"rest" {
            assert_eq!(s.input(b, &mut out), None);
        }
        out.clear();
        s.log_line(b"init: INFO  started net", &mut out);
        assert_eq!(
            text(&out),
            "\r\x1b[Kinit: INFO  started net\r\nnimbus> rest"
        );
        out.clear();
        for &b in b"art\r" {
            s.input(b, &mut out);
        }
        assert_eq!(text(&out), "art\r\n");
        assert!(!s.prompt_shown());
    }

    #[test]
    fn while_a_command_runs_lines_are_just_printed() {
        let mut s = Screen::new();
        let mut out = Vec::new();
        s.log_line(b"before the prompt", &mut out);
        s.show_prompt(&mut out);
        for &b in b"ps\r" {
            s.input(b, &mut out);
        }
        out.clear();
        s.log_line(b"a log line \x1b[31mred", &mut out);
        s.output("  PID NAME\n    1 init\n", &mut out);
        s.output("no newline", &mut out);
        s.output("", &mut out);
        s.show_prompt(&mut out);
        s.show_prompt(&mut out);
        assert_eq!(
            text(&out),
            "a log line [31mred\r\n  PID NAME\r\n    1 init\r\nno newline\r\nnimbus> "
        );
    }

    #[test]
    fn typing_brings_the_prompt_back() {
        let mut s = Screen::new();
        let mut out = Vec::new();
        assert_eq!(s.input(b'x', &mut out), None);
        assert_eq!(text(&out), "nimbus> x");
        assert_eq!(s.input(3, &mut out), Some(Event::Cancelled));
        assert!(!s.prompt_shown());
        assert_eq!(s.input_line(), "");
    }
}
