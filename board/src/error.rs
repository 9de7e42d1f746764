//! Errors for a blob that cannot be used at all.
//!
//! Anything that is merely odd inside an otherwise well-formed tree (a missing
//! memory node, an unknown UART, a dangling phandle) is *not* an error: it is
//! reported in [`crate::Platform`] (often as an [`crate::Unsupported`] note).
//! A `DtError` means the blob itself is unusable, so the caller should fall
//! back (for example, the kernel prints the message and halts).

use core::fmt;

/// Why a blob was rejected. Every variant carries enough detail to fix the
/// blob or the loader that produced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtError {
    /// Fewer than the 40 bytes of an FDT header are available.
    TooShort,
    /// The first word is not `0xd00dfeed` (for example, ATAGS at 0x100 on a
    /// Raspberry Pi booted without `-dtb`).
    BadMagic(u32),
    /// The header's version fields say this parser cannot read the blob.
    UnsupportedVersion {
        /// `version` from the header.
        version: u32,
        /// `last_comp_version` from the header.
        last_comp_version: u32,
    },
    /// The header's `totalsize` is larger than the bytes we were given.
    Truncated {
        /// `totalsize` from the header.
        totalsize: u32,
        /// Bytes actually available.
        available: usize,
    },
    /// Header offsets or sizes point outside the blob, overlap, or are
    /// misaligned. The text names the offending field.
    BadLayout(&'static str),
    /// The structure block (or reservation map) is broken at `offset`
    /// (bytes from the start of the blob).
    Malformed {
        /// Byte offset from the start of the blob.
        offset: u32,
        /// What is wrong there.
        what: &'static str,
    },
    /// Nodes nest deeper than [`crate::MAX_DEPTH`] levels.
    TooDeep {
        /// Byte offset of the node that is too deep.
        offset: u32,
        /// The depth limit.
        limit: usize,
    },
    /// Well-formed FDT that this parser deliberately refuses because the
    /// underlying `fdt` 0.1.5 crate would mis-parse or panic on it (for
    /// example `FDT_NOP` tokens between properties, left behind by in-place
    /// editors). Re-pack the blob (`dtc -I dtb -O dtb`) to remove them.
    Unsupported {
        /// Byte offset from the start of the blob.
        offset: u32,
        /// What construct is not supported.
        what: &'static str,
    },
}

impl fmt::Display for DtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DtError::TooShort => f.write_str(
                "device tree: fewer than 40 bytes available, too short for an FDT header",
            ),
            DtError::BadMagic(m) => write!(
                f,
                "device tree: bad magic {m:#010x} (expected 0xd00dfeed); the boot loader did not pass a DTB at this address"
            ),
            DtError::UnsupportedVersion {
                version,
                last_comp_version,
            } => write!(
                f,
                "device tree: FDT version {version} (last compatible {last_comp_version}) is not supported; need version 17 with last_comp_version <= 17 (recompile with dtc)"
            ),
            DtError::Truncated {
                totalsize,
                available,
            } => write!(
                f,
                "device tree: header says totalsize is {totalsize} bytes but only {available} bytes are available; the blob was truncated when copied"
            ),
            DtError::BadLayout(what) => write!(f, "device tree: bad header layout: {what}"),
            DtError::Malformed { offset, what } => {
                write!(f, "device tree: malformed at byte {offset:#x}: {what}")
            }
            DtError::TooDeep { offset, limit } => write!(
                f,
                "device tree: node at byte {offset:#x} is nested more than {limit} levels deep"
            ),
            DtError::Unsupported { offset, what } => write!(
                f,
                "device tree: unsupported construct at byte {offset:#x}: {what}; re-pack it with `dtc -I dtb -O dtb`"
            ),
        }
    }
}
