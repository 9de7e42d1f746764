//! The console server's logic, kept apart from its system calls so it runs and is tested on the
//! host: the line editor and the screen it shares with log output ([`screen`]), reading shell
//! lines ([`shell`]), the tables the built-in commands print ([`table`]), registered commands
//! ([`registry`]) and making untrusted text safe for a terminal ([`text`]).
//!
//! Everything here treats its input as hostile (bytes from the serial line, text from other
//! servers): nothing panics on any input, and every buffer has a bound.

#![cfg_attr(not(test), no_std)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

extern crate alloc;

pub mod editor;
pub mod registry;
pub mod screen;
pub mod shell;
pub mod table;
pub mod text;

/// Where terminal output goes (the UART on the target, a byte vector in tests).
pub trait Sink {
    /// Writes `bytes` as they are.
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for alloc::vec::Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}
