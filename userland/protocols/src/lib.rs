//! The protocols Nimbus servers speak to each other, each declared once with
//! [`nimbus_protocol::protocol!`], so clients and servers share one definition of every message.
//!
//! | protocol            | id       | served by              | called by                       |
//! |---------------------|----------|------------------------|---------------------------------|
//! | [`console::Console`] | `0x0001` | the console server     | any server that `uses` console |
//! | [`command::Command`] | `0x0002` | a server with commands | the console's shell            |
//! | [`init::Init`]       | `0x0003` | init                   | servers that `uses` init       |
//! | [`entropy::Entropy`] | `0x0004` | the entropy server     | servers that `uses` entropy    |
//!
//! Protocol ids are allocated here, in one table, so two protocols never share one.
//!
//! Every message body fits the IPC buffer ([`nimbus_abi::ipc::IPC_DATA_SIZE`] bytes): texts and
//! lists have stated maxima, and anything longer travels in pages (command output, the server
//! list). Types that a server decodes from an untrusted client never allocate: strings and lists
//! are borrowed from the buffer or bounded (`heapless`).
//!
//! With the `rt` feature, [`rt::Kernel`] is the transport over the real kernel for programs
//! built on `nimbus-rt`.

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

pub mod command;
pub mod console;
pub mod entropy;
pub mod init;
#[cfg(feature = "rt")]
pub mod rt;

pub use nimbus_protocol::{Handle, IpcBuffer, ProtocolError, Transport};

/// Protocol ids, one per protocol of the system.
pub mod ids {
    /// [`crate::console::Console`].
    pub const CONSOLE: u16 = 0x0001;
    /// [`crate::command::Command`].
    pub const COMMAND: u16 = 0x0002;
    /// [`crate::init::Init`].
    pub const INIT: u16 = 0x0003;
    /// [`crate::entropy::Entropy`].
    pub const ENTROPY: u16 = 0x0004;
}

/// The longest prefix of `text` that is at most `max` bytes and ends on a character boundary.
pub fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_on_character_boundaries() {
        assert_eq!(truncate("hello", 10), "hello");
        assert_eq!(truncate("hello", 3), "hel");
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("世界", 4), "世");
        assert_eq!(truncate("世界", 0), "");
    }

    #[test]
    fn ids_are_distinct_and_match_the_declarations() {
        assert_eq!(console::Console::ID, ids::CONSOLE);
        assert_eq!(command::Command::ID, ids::COMMAND);
        assert_eq!(init::Init::ID, ids::INIT);
        assert_eq!(entropy::Entropy::ID, ids::ENTROPY);
        let all = [ids::CONSOLE, ids::COMMAND, ids::INIT, ids::ENTROPY];
        for (i, a) in all.iter().enumerate() {
            assert!(all.iter().skip(i + 1).all(|b| a != b));
        }
    }
}
