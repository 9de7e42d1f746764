//! The console server's protocol: log lines, and shell commands served by other servers.
//!
//! Servers usually log through `nimbus-rt`'s logger, which sends each finished line to the
//! console endpoint as a raw message (`nimbus_rt::logger::LOG_LINE_LABEL`, a send rather than a
//! call, so logging never waits for the console). [`Console::log`] is the typed, acknowledged
//! alternative: the console prefixes the line with the caller's server name, which it learns from
//! the badge of the caller's handle, so a server cannot log under another's name.
//!
//! A server adds a shell command with [`Console::register_command`], handing over a send right to
//! an endpoint where it serves [`crate::command::Command`]. Registrations belong to the server
//! that made them: registering a name again from the same server replaces the old registration
//! (a restarted server simply registers again), another server's name is refused.

use nimbus_protocol::Handle;
use serde::{Deserialize, Serialize};

/// Longest command name, in bytes.
pub const MAX_COMMAND_NAME: usize = 16;
/// Longest help text of a command, in bytes (one line of `help`).
pub const MAX_COMMAND_HELP: usize = 96;
/// Most commands the console keeps registered (for all servers together).
pub const MAX_COMMANDS: usize = 32;
/// Longest log line the console prints; longer ones are cut at a character boundary.
pub const MAX_LOG_LINE: usize = 1024;

/// How important a log line is (the `log` crate's levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Level {
    /// Something failed.
    Error,
    /// Something looks wrong.
    Warn,
    /// What is going on.
    Info,
    /// Details for whoever debugs the server.
    Debug,
    /// Everything.
    Trace,
}

impl Level {
    /// The name printed in a log line, padded like the runtime's logger (`INFO `).
    pub const fn label(self) -> &'static str {
        match self {
            Self::Error => "ERROR",
            Self::Warn => "WARN ",
            Self::Info => "INFO ",
            Self::Debug => "DEBUG",
            Self::Trace => "TRACE",
        }
    }
}

/// Why a command could not be registered or unregistered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandError {
    /// The name is empty, longer than [`MAX_COMMAND_NAME`], or has characters other than
    /// `a-z`, `0-9`, `-` and `_` (it must start with a letter).
    BadName,
    /// The help text is longer than `max` bytes.
    HelpTooLong {
        /// [`MAX_COMMAND_HELP`].
        max: u16,
    },
    /// A built-in command, or another server's command, has this name.
    Taken,
    /// The console already holds `max` commands.
    Full {
        /// [`MAX_COMMANDS`].
        max: u16,
    },
    /// The handle is not an endpoint the console may call.
    BadEndpoint,
    /// The caller has no command of that name.
    NotRegistered,
}

impl core::fmt::Display for CommandError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BadName => write!(
                f,
                "a command name is 1-{MAX_COMMAND_NAME} characters: a letter, then a-z, 0-9, '-' or '_'"
            ),
            Self::HelpTooLong { max } => write!(f, "the help text is longer than {max} bytes"),
            Self::Taken => f.write_str("that name is taken"),
            Self::Full { max } => write!(f, "the console already has {max} commands"),
            Self::BadEndpoint => f.write_str("the handle is not an endpoint the console can call"),
            Self::NotRegistered => f.write_str("no such command of yours"),
        }
    }
}

/// Whether `name` is a well-formed command name (see [`CommandError::BadName`]).
pub fn check_command_name(name: &str) -> Result<(), CommandError> {
    let bytes = name.as_bytes();
    let first_ok = bytes.first().is_some_and(u8::is_ascii_lowercase);
    let rest_ok = bytes
        .iter()
        .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if first_ok && rest_ok && bytes.len() <= MAX_COMMAND_NAME {
        Ok(())
    } else {
        Err(CommandError::BadName)
    }
}

/// Whether `help` is acceptable help text.
pub fn check_command_help(help: &str) -> Result<(), CommandError> {
    if help.len() > MAX_COMMAND_HELP {
        return Err(CommandError::HelpTooLong {
            max: MAX_COMMAND_HELP as u16,
        });
    }
    Ok(())
}

nimbus_protocol::protocol! {
    /// The console server: prints log lines and runs the shell on the serial console.
    pub protocol Console: id = 0x0001, version = 1 {
        /// Prints `text` as a log line of the calling server at `level` (cut to
        /// [`MAX_LOG_LINE`] bytes, one line: line breaks become spaces).
        fn log(level: Level, text: &str);
        /// Adds the shell command `name` with one line of `help`, run by calling
        /// [`crate::command::Command::run`] on `endpoint`. Send a handle with only the SEND right
        /// (and TRANSFER, which sending needs): the console keeps it until the command is
        /// unregistered or the server is gone. Answers whether the name is new to this console:
        /// false when it replaced the caller's own earlier registration. (A console that was
        /// restarted has forgotten every registration; servers register again to come back.)
        fn register_command(name: &str, help: &str, endpoint: Handle) -> Result<bool, CommandError>;
        /// Removes the caller's command `name`.
        fn unregister_command(name: &str) -> Result<(), CommandError>;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_names() {
        for good in ["ps", "net-stat", "a", "x_1", "abcdefghijklmnop"] {
            assert_eq!(check_command_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "Ps",
            "1ps",
            "-x",
            "has space",
            "abcdefghijklmnopq",
            "ünï",
            "a/b",
        ] {
            assert_eq!(check_command_name(bad), Err(CommandError::BadName), "{bad}");
        }
        assert_eq!(check_command_help(&"h".repeat(MAX_COMMAND_HELP)), Ok(()));
        assert_eq!(
            check_command_help(&"h".repeat(MAX_COMMAND_HELP + 1)),
            Err(CommandError::HelpTooLong { max: 96 })
        );
    }

    #[test]
    fn levels_print_like_the_runtime_logger() {
        assert_eq!(Level::Info.label(), "INFO ");
        assert_eq!(Level::Error.label(), "ERROR");
        assert!(Level::Error < Level::Trace);
        assert!(CommandError::Full { max: 32 }.to_string().contains("32"));
    }
}
