//! Shell commands served by servers: what the console calls when someone types a command a
//! server registered with [`crate::console::Console::register_command`].
//!
//! Output travels in pages of at most [`MAX_OUTPUT`] bytes, so a reply always fits one message:
//! the console asks for page 0, then 1, 2, ... while [`Output::more`] says more follows (up to
//! [`MAX_PAGES`]). [`Output::page`] cuts a whole text into such pages, so a server can compute
//! its output for every call and answer statelessly.

use serde::{Deserialize, Serialize};

/// Most text bytes in one page of output (what remains of the IPC buffer after the framing).
pub const MAX_OUTPUT: usize = 4000;
/// Most pages the console fetches for one command (about 64 KiB of text).
pub const MAX_PAGES: u16 = 16;
/// Longest argument string the console passes (a whole shell line is shorter).
pub const MAX_ARGS: usize = 512;

/// One page of a command's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output<'a> {
    /// The text, lines separated by `\n`; at most [`MAX_OUTPUT`] bytes.
    pub text: &'a str,
    /// Another page follows.
    pub more: bool,
}

impl<'a> Output<'a> {
    /// A single-page output (cut to [`MAX_OUTPUT`] bytes if longer).
    pub fn text(text: &'a str) -> Self {
        Self {
            text: crate::truncate(text, MAX_OUTPUT),
            more: false,
        }
    }

    /// Page `page` of `full`: pages are at most [`MAX_OUTPUT`] bytes, end after a line break
    /// where there is one in reach, and never split a character. A page past the end is empty.
    pub fn page(full: &'a str, page: u16) -> Self {
        let mut rest = full;
        for _ in 0..page {
            let (_, tail) = split_page(rest);
            rest = tail;
        }
        let (text, tail) = split_page(rest);
        Self {
            text,
            more: !tail.is_empty(),
        }
    }
}

/// The first page of `text` and what follows it.
fn split_page(text: &str) -> (&str, &str) {
    if text.len() <= MAX_OUTPUT {
        return (text, "");
    }
    let window = crate::truncate(text, MAX_OUTPUT);
    let end = match window.rfind('\n') {
        Some(at) if at > 0 => at + 1,
        _ => window.len(),
    };
    text.split_at_checked(end).unwrap_or((text, ""))
}

nimbus_protocol::protocol! {
    /// A server's shell commands.
    pub protocol Command: id = 0x0002, version = 1 {
        /// Runs command `name` (a server may register several names on one endpoint) with
        /// `args`, the rest of the shell line with surrounding blanks removed; returns page
        /// `page` of its output. The console calls with a timeout: a command must answer within
        /// a few seconds.
        fn run(name: &str, args: &str, page: u16) -> Output<'_>;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_output_is_one_page() {
        assert_eq!(
            Output::page("hello\n", 0),
            Output {
                text: "hello\n",
                more: false
            }
        );
        assert_eq!(
            Output::page("hello\n", 1),
            Output {
                text: "",
                more: false
            }
        );
        assert_eq!(Output::text("x").text, "x");
        assert_eq!(Output::text(&"y".repeat(5000)).text.len(), MAX_OUTPUT);
    }

    #[test]
    fn long_output_is_cut_after_lines() {
        let line = "0123456789abcdefghi\n"; // 20 bytes
        let full = line.repeat(450); // 9000 bytes
        let mut joined = String::new();
        let mut page = 0;
        loop {
            let out = Output::page(&full, page);
            assert!(out.text.len() <= MAX_OUTPUT);
            assert!(out.text.ends_with('\n'));
            joined.push_str(out.text);
            if !out.more {
                break;
            }
            page += 1;
        }
        assert_eq!(page, 2);
        assert_eq!(joined, full);
    }

    #[test]
    fn long_lines_are_cut_on_character_boundaries() {
        let full = "世".repeat(3000); // 9000 bytes, no line breaks
        let first = Output::page(&full, 0);
        assert!(first.more);
        assert_eq!(first.text.len(), 3999);
        let all: String = (0..3).map(|p| Output::page(&full, p).text).collect();
        assert_eq!(all, full);
        assert!(!Output::page(&full, 2).more);
    }
}
