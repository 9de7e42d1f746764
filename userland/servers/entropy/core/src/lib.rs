//! The entropy server's logic, kept apart from its system calls so it is tested on the host:
//! recognising the entropy device among virtio-mmio transports ([`probe`]) and the shell's
//! `random [N]` command ([`parse_count`], [`hex`]).
//!
//! The command's arguments come from whoever types at the serial console: nothing here panics on
//! any input.

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

use alloc::string::String;
use core::fmt::Write;
use nimbus_protocols::entropy::MAX_FILL;

/// The virtio-mmio registers the probe reads (virtio 1.2, section 4.2.2).
pub mod virtio {
    /// Offset of the magic value.
    pub const MAGIC_OFFSET: u64 = 0x000;
    /// Offset of the device ID.
    pub const DEVICE_ID_OFFSET: u64 = 0x008;
    /// The magic value: "virt" in little-endian.
    pub const MAGIC: u32 = 0x7472_6976;
    /// Device ID of an entropy source.
    pub const ENTROPY_DEVICE: u32 = 4;
    /// Size of one transport's registers (header and device configuration) on QEMU's `virt`.
    pub const REGION_SIZE: u64 = 0x200;
}

/// What a virtio-mmio transport holds, by its magic value and device ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// The registers are not a virtio-mmio transport.
    NotVirtio,
    /// A transport with no device behind it (device ID 0: the driver must ignore it).
    Empty,
    /// An entropy source.
    Entropy,
    /// Another kind of virtio device.
    Other(u32),
}

/// Classifies a transport from its `magic` and `device_id` registers.
pub fn probe(magic: u32, device_id: u32) -> Probe {
    match (magic, device_id) {
        (m, _) if m != virtio::MAGIC => Probe::NotVirtio,
        (_, 0) => Probe::Empty,
        (_, virtio::ENTROPY_DEVICE) => Probe::Entropy,
        (_, other) => Probe::Other(other),
    }
}

/// The shell command's name.
pub const COMMAND: &str = "random";
/// Its line in `help` (at most `MAX_COMMAND_HELP` bytes).
pub const HELP: &str =
    "random [N]: N random bytes from the entropy device, in hex (default 16, max 256)";
/// Bytes `random` prints without an argument.
pub const DEFAULT_COUNT: usize = 16;
/// Bytes per line of [`hex`] output.
pub const BYTES_PER_LINE: usize = 16;

/// Why `random`'s argument was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountError<'a> {
    /// Not a decimal number.
    NotANumber(&'a str),
    /// A number, but not from 1 to [`MAX_FILL`].
    OutOfRange(&'a str),
    /// More than one argument.
    TooManyArguments,
}

impl core::fmt::Display for CountError<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotANumber(text) => write!(
                f,
                "`{text}` is not a number of bytes (usage: random [N], N from 1 to {MAX_FILL})"
            ),
            Self::OutOfRange(text) => {
                write!(f, "{text} bytes: N must be from 1 to {MAX_FILL}")
            }
            Self::TooManyArguments => f.write_str("too many arguments (usage: random [N])"),
        }
    }
}

/// How many bytes `random`'s arguments ask for: none means [`DEFAULT_COUNT`], else one decimal
/// number from 1 to [`MAX_FILL`].
pub fn parse_count(args: &str) -> Result<usize, CountError<'_>> {
    let mut words = args.split_whitespace();
    let Some(word) = words.next() else {
        return Ok(DEFAULT_COUNT);
    };
    if words.next().is_some() {
        return Err(CountError::TooManyArguments);
    }
    if !word.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CountError::NotANumber(word));
    }
    match word.parse::<usize>() {
        Ok(n) if (1..=MAX_FILL).contains(&n) => Ok(n),
        _ => Err(CountError::OutOfRange(word)),
    }
}

/// `bytes` as lowercase hex pairs separated by spaces, [`BYTES_PER_LINE`] to a line, each line
/// ending in a line break.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for line in bytes.chunks(BYTES_PER_LINE) {
        for (i, byte) in line.iter().enumerate() {
            let sep = if i == 0 { "" } else { " " };
            let _ = write!(out, "{sep}{byte:02x}");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use nimbus_protocols::console::{check_command_help, check_command_name};

    #[test]
    fn counts() {
        assert_eq!(parse_count(""), Ok(16));
        assert_eq!(parse_count("  "), Ok(16));
        assert_eq!(parse_count("8"), Ok(8));
        assert_eq!(parse_count(" 256 "), Ok(256));
        assert_eq!(parse_count("1"), Ok(1));
        assert_eq!(parse_count("0"), Err(CountError::OutOfRange("0")));
        assert_eq!(parse_count("257"), Err(CountError::OutOfRange("257")));
        let huge = "99999999999999999999999999";
        assert_eq!(parse_count(huge), Err(CountError::OutOfRange(huge)));
        for bad in ["nonsense", "-1", "+3", "0x10", "8b", "ü"] {
            assert_eq!(parse_count(bad), Err(CountError::NotANumber(bad)), "{bad}");
        }
        assert_eq!(parse_count("1 2"), Err(CountError::TooManyArguments));
    }

    #[test]
    fn errors_say_what_is_wanted() {
        let e = CountError::NotANumber("nonsense").to_string();
        assert!(e.contains("`nonsense` is not a number"), "{e}");
        assert!(e.contains("1 to 256"), "{e}");
        assert!(CountError::OutOfRange("0").to_string().contains("1 to 256"));
        assert!(CountError::TooManyArguments.to_string().contains("usage"));
    }

    #[test]
    fn hex_lines() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "00 0f a5 ff\n");
        assert_eq!(hex(&[]), "");
        let bytes: Vec<u8> = (0..=255).collect();
        let text = hex(&bytes);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 16);
        assert!(lines.iter().all(|l| l.len() == 16 * 3 - 1));
        assert_eq!(lines[1], "10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f");
        assert_eq!(hex(&bytes[..17]).lines().nth(1), Some("10"));
    }

    #[test]
    fn probes() {
        assert_eq!(probe(virtio::MAGIC, 4), Probe::Entropy);
        assert_eq!(probe(virtio::MAGIC, 0), Probe::Empty);
        assert_eq!(probe(virtio::MAGIC, 2), Probe::Other(2));
        assert_eq!(probe(0, 4), Probe::NotVirtio);
        assert_eq!(probe(0xffff_ffff, 0), Probe::NotVirtio);
    }

    #[test]
    fn the_command_is_one_the_console_accepts() {
        assert_eq!(check_command_name(COMMAND), Ok(()));
        assert_eq!(check_command_help(HELP), Ok(()));
    }
}
